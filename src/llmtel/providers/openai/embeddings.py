"""Embeddings (``embeddings.create``): SDK fields → GenAI facts. No content is defined for embeddings."""

from __future__ import annotations

from typing import Any

from llmtel import semconv as sc
from llmtel.core.adapter import RequestTable, UsageTable, integer, string, string_fields, usage_attributes
from llmtel.core.invocation import Invocation
from llmtel.providers.openai._common import Api

_RESPONSE_STRINGS = (("model", sc.GEN_AI_RESPONSE_MODEL),)
_USAGE: UsageTable = (("prompt_tokens", None, sc.GEN_AI_USAGE_INPUT_TOKENS),)


def _encodings(value: Any) -> list[str] | None:
    encoding = string(value)
    return [encoding] if encoding else None


class EmbeddingsApi(Api):
    operation = sc.GenAiOperationNameValues.EMBEDDINGS

    requests: RequestTable = {
        "dimensions": (sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, integer),
        "encoding_format": (sc.GEN_AI_REQUEST_ENCODING_FORMATS, _encodings),
    }

    def response(self, inv: Invocation, result: Any) -> None:
        fields = string_fields(result, _RESPONSE_STRINGS, inv.response)
        usage_attributes(fields.get("usage"), _USAGE, inv.response)
