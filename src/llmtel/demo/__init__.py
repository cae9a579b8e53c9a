"""Demo helpers: a deterministic OpenAI-compatible server used by the demo and the test suite."""
