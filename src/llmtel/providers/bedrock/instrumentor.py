"""``BedrockInstrumentor``: the ``opentelemetry-instrument`` entry point ``llmtel_bedrock``."""

from __future__ import annotations

from llmtel.core.instrumentor import Instrumentor
from llmtel.providers.bedrock import _INSTALLER, MIN_VERSION


class BedrockInstrumentor(Instrumentor):
    """Instruments AWS Bedrock calls made with ``boto3`` / ``botocore`` (see
    :class:`llmtel.core.instrumentor.Instrumentor`)."""

    installer = _INSTALLER
    dependencies = (f"botocore >= {'.'.join(map(str, MIN_VERSION))}",)
