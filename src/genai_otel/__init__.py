"""genai-otel: OpenTelemetry instrumentation for LLM client SDKs, following the GenAI semantic conventions.

Under ``opentelemetry-instrument`` nothing needs calling: the ``genai_*`` instrumentor entry points do it.
Apps that set OpenTelemetry up in code call :func:`instrument` once after creating their providers.
"""

from __future__ import annotations

from typing import Any

from genai_otel.version import __version__

__all__ = ["__version__", "instrument", "uninstrument"]


def _installers() -> list[Any]:
    """One installer module per supported SDK. They import nothing of their SDK (post-import hooks), so an SDK
    that is not installed, or that the app never imports, costs nothing."""
    from genai_otel.providers import openai

    return [openai]


def instrument(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
) -> None:
    """Instrument every supported SDK that is installed. Idempotent: a second call changes nothing.

    Providers default to the global ones. Configuration comes from the environment (see the README).
    """
    for installer in _installers():
        installer.install(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
        )


def uninstrument() -> None:
    """Restore every instrumented SDK exactly. Idempotent."""
    for installer in _installers():
        installer.uninstall()
