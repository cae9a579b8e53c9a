"""``OpenAIInstrumentor``: the ``opentelemetry-instrument`` entry point ``llmtel_openai``."""

from __future__ import annotations

from llmtel.core.instrumentor import Instrumentor
from llmtel.providers.openai import _INSTALLER, MIN_VERSION


class OpenAIInstrumentor(Instrumentor):
    """Instruments the ``openai`` SDK (see :class:`llmtel.core.instrumentor.Instrumentor`)."""

    installer = _INSTALLER
    dependencies = (f"openai >= {'.'.join(map(str, MIN_VERSION))}",)
