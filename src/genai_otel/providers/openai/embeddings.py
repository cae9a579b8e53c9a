"""Embeddings (``embeddings.create``): SDK fields → GenAI facts. No content is defined for embeddings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from genai_otel import semconv as sc
from genai_otel.core.invocation import Invocation
from genai_otel.providers.openai._common import Api, field, integer, put, string


class EmbeddingsApi(Api):
    operation = sc.GenAiOperationNameValues.EMBEDDINGS

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        put(attrs, sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, integer(kwargs.get("dimensions")))
        encoding = string(kwargs.get("encoding_format"))
        if encoding:
            attrs[sc.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]

    def response(self, inv: Invocation, result: Any) -> None:
        resp = inv.response
        put(resp, sc.GEN_AI_RESPONSE_MODEL, string(field(result, "model")))
        put(resp, sc.GEN_AI_USAGE_INPUT_TOKENS, integer(field(field(result, "usage"), "prompt_tokens")))
