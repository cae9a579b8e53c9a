"""``AnthropicInstrumentor``: the ``opentelemetry-instrument`` entry point ``llmtel_anthropic``."""

from __future__ import annotations

from llmtel.core.instrumentor import Instrumentor
from llmtel.providers.anthropic import _INSTALLER, MIN_VERSION


class AnthropicInstrumentor(Instrumentor):
    """Instruments the ``anthropic`` SDK (see :class:`llmtel.core.instrumentor.Instrumentor`)."""

    installer = _INSTALLER
    dependencies = (f"anthropic >= {'.'.join(map(str, MIN_VERSION))}",)
