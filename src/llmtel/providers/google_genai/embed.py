"""``models.embed_content`` (sync and ``aio``): SDK fields → GenAI facts (operation ``embeddings``). No content
is defined for embeddings.

Input tokens: ``usage_metadata.prompt_token_count`` where the service reports it (the Gemini API, Vertex AI's
``embedContent``), else the sum of the embeddings' ``statistics.token_count`` (Vertex AI's ``predict``; a float
in the SDK's types, counted only when every one is a whole number). The response names no model.
"""

from __future__ import annotations

from typing import Any

from llmtel import semconv as sc
from llmtel.core.adapter import field, integer, put, view
from llmtel.core.invocation import Invocation
from llmtel.core.values import token_count
from llmtel.providers.google_genai._common import Api, ConfigTable, config_attributes

_CONFIG = ConfigTable({"output_dimensionality": (sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, integer)})


def _statistics_tokens(embeddings: Any) -> int | None:
    if not isinstance(embeddings, list) or not embeddings:
        return None
    total = 0
    for embedding in embeddings:
        count = field(field(embedding, "statistics"), "token_count")
        if isinstance(count, float) and count.is_integer() and count >= 0:
            count = int(count)
        if token_count(count) is None:
            return None
        total += count
    return token_count(total)


class EmbedContentApi(Api):
    operation = sc.GenAiOperationNameValues.EMBEDDINGS

    def request(self, kwargs: Any, attrs: dict[str, Any]) -> None:
        config_attributes(kwargs.get("config"), _CONFIG, attrs)

    def response(self, inv: Invocation, result: Any) -> None:
        fields = view(result)
        tokens = token_count(field(fields.get("usage_metadata"), "prompt_token_count"))
        if tokens is None:
            tokens = _statistics_tokens(fields.get("embeddings"))
        put(inv.response, sc.GEN_AI_USAGE_INPUT_TOKENS, tokens)
