"""Provider-neutral core: the only code that talks to OpenTelemetry."""
