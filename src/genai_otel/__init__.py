"""genai-otel: OpenTelemetry instrumentation for LLM client SDKs, following the GenAI semantic conventions.

Under ``opentelemetry-instrument`` nothing needs calling: the ``genai_*`` instrumentor entry points do it.
Apps that set OpenTelemetry up in code call :func:`instrument` once after creating their providers.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from genai_otel.version import __version__

__all__ = ["__version__", "instrument", "uninstrument"]


def _instrumentors() -> list[Any]:
    """The instrumentors of the SDKs that are installed (the SDKs themselves are not imported here)."""
    found: list[Any] = []
    if importlib.util.find_spec("openai") is not None:
        from genai_otel.providers.openai import OpenAIInstrumentor

        found.append(OpenAIInstrumentor())
    return found


def instrument(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
) -> None:
    """Instrument every supported SDK that is installed. Idempotent: a second call changes nothing.

    Providers default to the global ones. Configuration comes from the environment (see the README).
    """
    for instrumentor in _instrumentors():
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(
                tracer_provider=tracer_provider,
                meter_provider=meter_provider,
                logger_provider=logger_provider,
            )


def uninstrument() -> None:
    """Restore every instrumented SDK exactly. Idempotent."""
    for instrumentor in _instrumentors():
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
