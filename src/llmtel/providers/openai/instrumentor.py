"""``OpenAIInstrumentor``: the ``opentelemetry-instrument`` entry point ``llmtel_openai``, a standard
``BaseInstrumentor`` (dependency check, ``instrument()`` / ``uninstrument()``) over this package's installer."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from llmtel.providers import openai as installer


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the ``openai`` SDK. Keyword arguments: ``tracer_provider``, ``meter_provider``,
    ``logger_provider`` (default: the global ones) and ``config`` (default: from the environment)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.40",)

    # The installer holds the state, so that llmtel.instrument()/uninstrument() and this class agree.
    @property
    def _is_instrumented_by_opentelemetry(self) -> bool:
        return installer.installed()

    @_is_instrumented_by_opentelemetry.setter
    def _is_instrumented_by_opentelemetry(self, value: bool) -> None:
        pass

    def _instrument(self, **kwargs: Any) -> None:
        installer.install(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
            config=kwargs.get("config"),
        )

    def _uninstrument(self, **kwargs: Any) -> None:
        installer.uninstall()
