"""Embeddings spans (``embeddings.create``), sync and async, against the demo server."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from llmtel import semconv as sc
from llmtel.demo.server import MODEL_SUFFIX
from tests.openai.helpers import run

MODEL = "text-embedding-3-small"


def expected(server: Any, **overrides: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.EMBEDDINGS,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.OPENAI,
        sc.GEN_AI_REQUEST_MODEL: MODEL,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.GEN_AI_RESPONSE_MODEL: MODEL + MODEL_SUFFIX,
        sc.GEN_AI_USAGE_INPUT_TOKENS: 3,
    }
    attrs.update(overrides)
    return attrs


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # The SDK asks the wire for base64 when the caller names no format; the caller requested none, so none is
    # recorded.
    ("plain", {}, {}),
    (
        "dimensions_base64",
        {"dimensions": 4, "encoding_format": "base64"},
        {sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 4, sc.GEN_AI_REQUEST_ENCODING_FORMATS: ("base64",)},
    ),
    ("float", {"encoding_format": "float"}, {sc.GEN_AI_REQUEST_ENCODING_FORMATS: ("float",)}),
    # two inputs: 3 + 2 words
    ("batch", {"input": ["hello brave world", "good bye"]}, {sc.GEN_AI_USAGE_INPUT_TOKENS: 5}),
]


@pytest.mark.parametrize(("kwargs", "extra"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_create_attributes(otel: Any, server: Any, sdk: Any, kwargs: dict[str, Any], extra: Any) -> None:
    otel.instrument()
    result = await run(sdk.embeddings.create(**{"model": MODEL, "input": "hello brave world", **kwargs}))
    assert len(result.data) == len(kwargs.get("input", [None]))  # the caller's result is untouched
    span = otel.span()
    assert span.name == "embeddings text-embedding-3-small"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == expected(server, **extra)


async def test_not_found(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    with pytest.raises(openai.NotFoundError):
        await run(sdk.embeddings.create(model="does-not-exist", input="hello", dimensions=4))
    span = otel.span()
    assert span.name == "embeddings does-not-exist"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "Error code: 404 - The model `does-not-exist` does not exist"
    assert dict(span.attributes) == {
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.EMBEDDINGS,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.OPENAI,
        sc.GEN_AI_REQUEST_MODEL: "does-not-exist",
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 4,
        sc.ERROR_TYPE: "404",
    }
