"""Metrics: the same instruments and attribute keys as the OpenAI provider (one dashboard serves both), with
exact points for a complete call, a stream and a failed call."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from llmtel import semconv as sc
from tests.anthropic.helpers import DURATION, INPUT_TOKENS, MODEL, REPLY_TOKENS, TOKENS, TPOC, TTFC, create, drain

RESPONSE_MODEL = MODEL + "-2026-01-01"


def base(server: Any) -> dict[str, Any]:
    return {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: MODEL,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
    }


async def test_complete_call_points(otel: Any, server: Any, llm: Any) -> None:
    otel.instrument("anthropic")
    await create(llm, system=[{"type": "text", "text": "Be exact", "cache_control": {"type": "ephemeral"}}])
    attrs = {**base(server), sc.GEN_AI_RESPONSE_MODEL: RESPONSE_MODEL}
    [duration] = otel.points(DURATION)
    assert dict(duration.attributes) == attrs and duration.count == 1
    tokens = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p for p in otel.points(TOKENS)}
    assert {k: (dict(p.attributes), p.sum) for k, p in tokens.items()} == {
        "input": ({**attrs, sc.GEN_AI_TOKEN_TYPE: "input"}, INPUT_TOKENS + 2),  # cached ones included
        "output": ({**attrs, sc.GEN_AI_TOKEN_TYPE: "output"}, REPLY_TOKENS),
    }
    assert otel.points(TTFC) == [] and otel.points(TPOC) == []


async def test_stream_points(otel: Any, server: Any, llm: Any) -> None:
    otel.instrument("anthropic")
    await drain(await create(llm, stream=True, extra_body={"x_chunks": 3}))
    attrs = {**base(server), sc.GEN_AI_RESPONSE_MODEL: RESPONSE_MODEL}
    [duration] = otel.points(DURATION)
    assert dict(duration.attributes) == attrs
    [ttfc] = otel.points(TTFC)
    [tpoc] = otel.points(TPOC)
    # the chunk metrics take the response model from message_start, the first event
    assert dict(ttfc.attributes) == attrs and dict(tpoc.attributes) == attrs
    assert ttfc.count == 1 and tpoc.count == 7  # 8 events
    assert sorted(p.sum for p in otel.points(TOKENS)) == [INPUT_TOKENS, REPLY_TOKENS]


@pytest.mark.parametrize(("model", "error_type"), [("rate-limited", "429"), ("stream-error", "overloaded_error")])
async def test_failed_call_points(otel: Any, server: Any, llm: Any, model: str, error_type: str) -> None:
    otel.instrument("anthropic")
    with pytest.raises(anthropic.APIStatusError):
        await drain(await create(llm, model=model, stream=True))
    [duration] = otel.points(DURATION)
    expected = {**base(server), sc.GEN_AI_REQUEST_MODEL: model, sc.ERROR_TYPE: error_type}
    if model == "stream-error":
        expected[sc.GEN_AI_RESPONSE_MODEL] = model + "-2026-01-01"
    assert dict(duration.attributes) == expected
