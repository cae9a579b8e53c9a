"""``GoogleGenAIInstrumentor``: the ``opentelemetry-instrument`` entry point ``llmtel_google_genai``."""

from __future__ import annotations

from llmtel.core.instrumentor import Instrumentor
from llmtel.providers.google_genai import _INSTALLER, MIN_VERSION


class GoogleGenAIInstrumentor(Instrumentor):
    """Instruments the ``google-genai`` SDK (see :class:`llmtel.core.instrumentor.Instrumentor`)."""

    installer = _INSTALLER
    dependencies = (f"google-genai >= {'.'.join(map(str, MIN_VERSION))}",)
