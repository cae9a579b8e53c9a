"""The ``opentelemetry-instrument`` entry point of a provider: a standard ``BaseInstrumentor`` (dependency check,
``instrument()`` / ``uninstrument()``) over that provider's one :class:`~llmtel.core.install.Installer`.

A provider subclasses :class:`Instrumentor` with its installer and its dependency line; nothing else differs. The
installer holds the state, so :func:`llmtel.instrument` / :func:`llmtel.uninstrument` and the entry point agree,
and the SDK is wrapped once either way. Only the entry point loads ``opentelemetry.instrumentation``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, ClassVar

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

if TYPE_CHECKING:
    from llmtel.core.install import Installer


class Instrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments one SDK. Keyword arguments: ``tracer_provider``, ``meter_provider``, ``logger_provider``
    (default: the global ones) and ``config`` (default: from the environment, read once for every provider)."""

    installer: ClassVar[Installer]
    dependencies: ClassVar[tuple[str, ...]] = ()

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.dependencies

    @property
    def _is_instrumented_by_opentelemetry(self) -> bool:
        return self.installer.installed

    @_is_instrumented_by_opentelemetry.setter
    def _is_instrumented_by_opentelemetry(self, value: bool) -> None:
        pass  # the installer's state is the truth (BaseInstrumentor sets this after _instrument)

    def _instrument(self, **kwargs: Any) -> None:
        self.installer.install(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
            config=kwargs.get("config"),
        )

    def _uninstrument(self, **kwargs: Any) -> None:
        self.installer.uninstall()
