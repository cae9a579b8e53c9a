"""``llmtel.setup()``: what ``opentelemetry-instrument`` does for an app, as one call in the app's own code.

For apps that cannot be started under the wrapper (notebooks, serverless handlers, embedded interpreters). It
configures OpenTelemetry exactly the way ``opentelemetry-instrument`` would: the installed distro first (the
``opentelemetry-distro`` of ``llmtel[otlp]`` defaults the exporters to OTLP, as the wrapper does; a vendor distro
keeps its own defaults), then the installed configurator, which reads the ``OTEL_*`` variables and sets the global
tracer, meter and logger providers. Then it instruments every installed LLM SDK, as :func:`llmtel.instrument`.

It deliberately does not load the other instrumentors installed in the environment (``opentelemetry-instrument``
would): an app that calls ``llmtel.setup()`` asked for LLM telemetry, not for every HTTP client and web
framework it happens to have. The distro is loaded by the wrapper's own loader
(``opentelemetry.instrumentation.auto_instrumentation._load``), and the configurator is chosen by the wrapper's
rule (``OTEL_PYTHON_CONFIGURATOR``, else the first installed), so both paths read configuration identically; the
configurator is run here rather than by that loader only because the loader logs a traceback before re-raising,
where we owe the app one warning.
"""

from __future__ import annotations

import logging
from typing import Any

_log = logging.getLogger("llmtel")


class _Done:
    configured = False


def setup() -> bool:
    """Configure OpenTelemetry from the ``OTEL_*`` variables (unless the app already has), then instrument.

    Returns whether this call configured the OpenTelemetry SDK. Never raises: a configuration that cannot be
    applied (no SDK installed, an unknown exporter name …) is logged once as a warning, and the LLM SDKs are
    instrumented anyway, against whatever providers are global.
    """
    import llmtel

    configured = False
    if not _Done.configured:
        _Done.configured = True
        configured = _configure()
    llmtel.instrument()
    return configured


def _configure() -> bool:
    from opentelemetry import trace

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        # The app (or opentelemetry-instrument) configured OpenTelemetry already; configuring again would
        # replace nothing (the globals are set once) and only warn.
        _log.debug("llmtel.setup(): OpenTelemetry is already configured; instrumenting only")
        return False
    try:
        import opentelemetry.sdk  # noqa: F401
        from opentelemetry.instrumentation.auto_instrumentation import _load
    except ImportError:
        _log.warning(
            "llmtel.setup(): the OpenTelemetry SDK is not installed, so nothing is exported "
            "(pip install 'llmtel[otlp]'); instrumenting with the global providers"
        )
        return False
    try:
        distro: Any = _load._load_distro()
        distro.configure()
        _run_configurator()
    except Exception as exc:
        _log.warning(
            "llmtel.setup(): OpenTelemetry could not be configured from the environment (%s: %s); "
            "instrumenting with the global providers",
            exc.__class__.__name__,
            exc,
        )
        return False
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        _log.warning(
            "llmtel.setup(): no OpenTelemetry configurator is installed, so nothing is exported "
            "(pip install 'llmtel[otlp]' brings opentelemetry-distro); instrumenting with the global providers"
        )
        return False
    return True


def _run_configurator() -> None:
    """Run the configurator ``opentelemetry-instrument`` would run; raises what it raises."""
    import os
    from importlib.metadata import entry_points

    from opentelemetry.instrumentation.version import __version__ as auto_version

    wanted = os.environ.get("OTEL_PYTHON_CONFIGURATOR")
    for entry_point in entry_points(group="opentelemetry_configurator"):
        if wanted is None or entry_point.name == wanted:
            entry_point.load()().configure(auto_instrumentation_version=auto_version)
            return
