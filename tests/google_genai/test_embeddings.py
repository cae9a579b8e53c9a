"""``embed_content`` spans (operation ``embeddings``): the Gemini API's ``batchEmbedContents`` and Vertex AI's
``predict`` (text embedding models) and ``embedContent`` (Gemini embedding models), sync and async."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import errors, types

from llmtel import semconv as sc
from llmtel.demo.wire.gemini import NOT_FOUND
from tests.google_genai.helpers import run


def expected(server: Any, model: str, provider: str = sc.GenAiProviderNameValues.GCP_GEMINI, **extra: Any) -> Any:
    return {
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.EMBEDDINGS,
        sc.GEN_AI_PROVIDER_NAME: provider,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        **extra,
    }


@pytest.mark.parametrize(
    "config",
    [{"output_dimensionality": 4}, {"outputDimensionality": 4}, types.EmbedContentConfig(output_dimensionality=4)],
    ids=["dict", "camel", "model"],
)
async def test_gemini_api(otel: Any, server: Any, models: Any, config: Any) -> None:
    otel.instrument("google_genai")
    result = await run(models.embed_content(model="text-embedding-004", contents=["a b", "c"], config=config))
    assert [len(e.values) for e in result.embeddings] == [4, 4]
    span = otel.span()
    assert span.name == "embeddings text-embedding-004"
    # google-genai < 3 drops the Gemini API's usage metadata of embeddings: then there is no count to tell
    tokens = {sc.GEN_AI_USAGE_INPUT_TOKENS: 3} if getattr(result, "usage_metadata", None) is not None else {}
    assert dict(span.attributes) == expected(
        server, "text-embedding-004", **{sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 4, **tokens}
    )


@pytest.mark.parametrize(
    ("model", "contents", "tokens"),
    [
        ("text-embedding-005", ["a b", "c"], 3),  # predict: the sum of the embeddings' statistics
        ("gemini-embedding-001", "a b c", 3),  # embedContent: usage metadata
    ],
)
@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_vertex_ai(
    otel: Any, server: Any, vertex: Any, model: str, contents: Any, tokens: int, flavour: str
) -> None:
    otel.instrument("google_genai")
    models = vertex.models if flavour == "sync" else vertex.aio.models
    await run(models.embed_content(model=model, contents=contents))
    assert dict(otel.span().attributes) == expected(
        server, model, sc.GenAiProviderNameValues.GCP_VERTEX_AI, **{sc.GEN_AI_USAGE_INPUT_TOKENS: tokens}
    )


async def test_not_found(otel: Any, server: Any, models: Any) -> None:
    otel.instrument("google_genai")
    with pytest.raises(errors.ClientError):
        await run(models.embed_content(model=NOT_FOUND, contents=["a"]))
    assert dict(otel.span().attributes) == expected(server, NOT_FOUND, **{sc.ERROR_TYPE: "404"})


def test_statistics_tokens_only_whole_counts() -> None:
    from llmtel.providers.google_genai.embed import _statistics_tokens

    def stats(count: Any) -> Any:
        return {"statistics": {"token_count": count}}

    assert _statistics_tokens([stats(2.0), stats(3)]) == 5
    assert _statistics_tokens([stats(2.5), stats(3.0)]) is None
    assert _statistics_tokens([stats(-1.0)]) is None
    assert _statistics_tokens([stats(None)]) is None
    assert _statistics_tokens([]) is None
    assert _statistics_tokens("junk") is None
