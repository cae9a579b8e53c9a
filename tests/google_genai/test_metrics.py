"""The GenAI client metrics for Gemini calls: the same instruments, attribute keys and buckets as every provider
(one dashboard serves all), exact points, and agreement with the span. Hostile replies (negative and beyond-int64
counts, lone surrogates, an unknown finish reason) export cleanly through the real OTLP encoder."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from llmtel import semconv as sc
from llmtel.demo.wire.gemini import MALFORMED, THOUGHT_TOKENS
from tests.core.test_values import attributes, exported_logs, exported_points, exported_spans
from tests.google_genai.helpers import CAPTURE, MODEL, PROMPT, REPLY_TOKENS, run, stream_of

DURATION = sc.GEN_AI_CLIENT_OPERATION_DURATION
TOKENS = sc.GEN_AI_CLIENT_TOKEN_USAGE
TTFC = sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
TPOC = sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK
FFFD = "\ufffd"


def base(server: Any, model: str = MODEL, operation: str = sc.GenAiOperationNameValues.GENERATE_CONTENT) -> Any:
    return {
        sc.GEN_AI_OPERATION_NAME: operation,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.GCP_GEMINI,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
    }


def with_response(server: Any, model: str = MODEL) -> dict[str, Any]:
    return {**base(server, model), sc.GEN_AI_RESPONSE_MODEL: f"{model}-001"}


async def test_generate_content_points(otel: Any, server: Any, models: Any) -> None:
    otel.instrument("google_genai")
    config = {"thinking_config": {"thinking_budget": 128}}
    await run(models.generate_content(model=MODEL, contents=PROMPT, config=config))
    span = otel.span()
    metric = otel.metric(DURATION.name)
    assert metric.unit == "s"
    [point] = metric.data.data_points
    assert dict(point.attributes) == with_response(server)
    assert point.count == 1
    assert point.sum == pytest.approx((span.end_time - span.start_time) / 1e9, abs=1e-6)
    assert list(point.explicit_bounds) == list(DURATION.buckets)
    tokens = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p for p in otel.points(TOKENS.name)}
    assert {k: (p.count, p.sum) for k, p in tokens.items()} == {
        "input": (1, 5),
        "output": (1, REPLY_TOKENS + THOUGHT_TOKENS),  # the thinking tokens are output tokens
    }
    assert dict(tokens["input"].attributes) == {**with_response(server), sc.GEN_AI_TOKEN_TYPE: "input"}
    assert list(tokens["input"].explicit_bounds) == list(TOKENS.buckets)
    assert otel.points(TTFC.name) == [] and otel.points(TPOC.name) == []


async def test_stream_points(otel: Any, server: Any, models: Any) -> None:
    otel.instrument("google_genai")
    await stream_of(models, model=MODEL, contents=PROMPT)
    [ttfc] = otel.points(TTFC.name)
    [tpoc] = otel.points(TPOC.name)
    assert (ttfc.count, tpoc.count) == (1, 4)
    assert dict(ttfc.attributes) == with_response(server)
    assert dict(tpoc.attributes) == with_response(server)
    assert ttfc.sum == pytest.approx(otel.span().attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK])
    assert list(ttfc.explicit_bounds) == list(TTFC.buckets)
    tokens = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p.sum for p in otel.points(TOKENS.name)}
    assert tokens == {"input": 5, "output": REPLY_TOKENS}


async def test_embeddings_points(otel: Any, server: Any, models: Any) -> None:
    otel.instrument("google_genai")
    result = await run(models.embed_content(model="text-embedding-004", contents=["a b", "c"]))
    [duration] = otel.points(DURATION.name)
    assert dict(duration.attributes) == base(server, "text-embedding-004", sc.GenAiOperationNameValues.EMBEDDINGS)
    if getattr(result, "usage_metadata", None) is None:  # google-genai < 3 drops the Gemini API's usage of embeddings
        assert otel.points(TOKENS.name) == []
        return
    [tokens] = otel.points(TOKENS.name)
    assert (tokens.sum, tokens.attributes[sc.GEN_AI_TOKEN_TYPE]) == (3, "input")


# The SDK itself warns about the unknown finish reason the hostile server sends: that warning is the SDK's, expected.
@pytest.mark.filterwarnings("ignore:NOT_A_REASON is not a valid FinishReason:UserWarning")
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_hostile_reply_exports_cleanly(
    otel: Any, server: Any, gemini: Any, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    otel.instrument("google_genai", **{CAPTURE: "SPAN_AND_EVENT"})
    with caplog.at_level(logging.DEBUG, logger="opentelemetry"):
        if stream:
            chunks = await stream_of(gemini.models, model=MALFORMED, contents=PROMPT)
            result = chunks[-1]
        else:
            result = gemini.models.generate_content(model=MALFORMED, contents=PROMPT)
        assert result.usage_metadata.prompt_token_count == -5  # the app sees what was sent
        [span] = exported_spans(otel)
        assert span.name == f"generate_content {MALFORMED}"
        exported = attributes(span.attributes)
        exported.pop(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, None)
        output = json.loads(exported.pop(sc.GEN_AI_OUTPUT_MESSAGES))
        assert output == [
            {"role": "assistant", "parts": [{"type": "text", "content": "odd"}], "finish_reason": "not_a_reason"}
        ]
        exported.pop(sc.GEN_AI_INPUT_MESSAGES)
        expected = {
            **base(server, MALFORMED),
            sc.GEN_AI_RESPONSE_ID: f"id{FFFD}",
            sc.GEN_AI_RESPONSE_MODEL: f"bad{FFFD}model",
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ["not_a_reason"],
            # -5 input, 2**70 candidates, -1 thoughts: none is a count, so none is recorded
        }
        if stream:
            expected[sc.GEN_AI_REQUEST_STREAM] = True
        assert exported == expected
        [record] = exported_logs(otel)
        assert attributes(record.attributes)[sc.GEN_AI_RESPONSE_MODEL] == f"bad{FFFD}model"
        assert exported_points(otel, TOKENS.name) == []
        [duration] = exported_points(otel, DURATION.name)
        assert attributes(duration.attributes)[sc.GEN_AI_RESPONSE_MODEL] == f"bad{FFFD}model"
    assert [r for r in caplog.records if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING] == []


def test_usage_sums_that_do_not_fit_are_left_out() -> None:
    from llmtel.providers.google_genai.generate import usage_attributes

    resp: dict[str, Any] = {}
    big = 2**62
    usage = {
        "prompt_token_count": big,
        "tool_use_prompt_token_count": big,
        "candidates_token_count": 3,
        "thoughts_token_count": True,  # a bool is no count
        "cached_content_token_count": "7",  # nor a string of digits
    }
    usage_attributes(usage, resp)
    assert resp == {sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3}
    resp = {}
    usage_attributes({"prompt_token_count": 4, "tool_use_prompt_token_count": 6, "thoughts_token_count": 2}, resp)
    assert resp == {
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 2,
    }
