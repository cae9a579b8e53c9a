"""The GenAI client metrics: exact points, attribute sets, buckets and units, and agreement with the span."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from llmtel import semconv as sc
from llmtel.demo.server import DEFAULT_REPLY, MODEL_SUFFIX
from tests.openai.helpers import drain, run

MODEL = "gpt-4o-mini"
MESSAGES: list[Any] = [{"role": "user", "content": "What is the weather"}]  # 4 input tokens
REPLY_TOKENS = len(DEFAULT_REPLY.split())  # 10
DURATION = sc.GEN_AI_CLIENT_OPERATION_DURATION
TOKENS = sc.GEN_AI_CLIENT_TOKEN_USAGE
TTFC = sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
TPOC = sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK


def base(server: Any, operation: str = sc.GenAiOperationNameValues.CHAT, model: str = MODEL) -> dict[str, Any]:
    """The attributes every client metric point of a call carries (no response yet)."""
    return {
        sc.GEN_AI_OPERATION_NAME: operation,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.OPENAI,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
    }


def with_response(server: Any, operation: str = sc.GenAiOperationNameValues.CHAT, model: str = MODEL) -> dict[str, Any]:
    return {**base(server, operation, model), sc.GEN_AI_RESPONSE_MODEL: model + MODEL_SUFFIX}


def span_seconds(span: Any) -> float:
    return float((span.end_time - span.start_time) / 1e9)


def token_points(otel: Any) -> dict[str, Any]:
    """Token usage points by token type (asserting there is at most one per type)."""
    points = otel.points(TOKENS.name)
    by_type = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p for p in points}
    assert len(by_type) == len(points)
    return by_type


async def test_chat_duration(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES))
    span = otel.span()
    metric = otel.metric(DURATION.name)
    assert metric.unit == "s"
    (point,) = metric.data.data_points
    assert dict(point.attributes) == {
        **with_response(server),
        sc.OPENAI_RESPONSE_SERVICE_TIER: "default",
        # openai.response.system_fingerprint is on the span but deliberately not a metric dimension
    }
    assert sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT in span.attributes
    assert point.count == 1
    assert tuple(point.explicit_bounds) == DURATION.buckets
    assert point.sum == pytest.approx(span_seconds(span), abs=1e-9)  # one clock for span and metric
    assert point.min == point.max == point.sum


async def test_chat_token_usage(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, reasoning_effort="low"))
    metric = otel.metric(TOKENS.name)
    assert metric.unit == "{token}"
    points = token_points(otel)
    assert set(points) == {sc.GenAiTokenTypeValues.INPUT, sc.GenAiTokenTypeValues.OUTPUT}
    common = {**with_response(server), sc.OPENAI_RESPONSE_SERVICE_TIER: "default"}
    for token_type, total in ((sc.GenAiTokenTypeValues.INPUT, 4), (sc.GenAiTokenTypeValues.OUTPUT, 17)):
        point = points[token_type]
        assert dict(point.attributes) == {**common, sc.GEN_AI_TOKEN_TYPE: token_type}
        assert (point.count, point.sum) == (1, total)  # output includes the 7 reasoning tokens
        assert tuple(point.explicit_bounds) == TOKENS.buckets


async def test_points_aggregate_across_calls(otel: Any, sdk: Any) -> None:
    otel.instrument()
    for _ in range(3):
        await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES))
    spans = otel.spans()
    (point,) = otel.points(DURATION.name)
    assert point.count == 3
    assert point.sum == pytest.approx(sum(span_seconds(s) for s in spans), abs=3e-9)
    points = token_points(otel)
    assert points[sc.GenAiTokenTypeValues.INPUT].sum == 12
    assert points[sc.GenAiTokenTypeValues.OUTPUT].sum == 3 * REPLY_TOKENS


@pytest.mark.parametrize(("model", "error_type"), [("does-not-exist", "404"), ("server-error", "500")])
async def test_error_duration_only(otel: Any, server: Any, sdk: Any, model: str, error_type: str) -> None:
    otel.instrument()
    with pytest.raises(openai.APIStatusError):
        await run(sdk.chat.completions.create(model=model, messages=MESSAGES))
    span = otel.span()
    (point,) = otel.points(DURATION.name)
    assert dict(point.attributes) == {**base(server, model=model), sc.ERROR_TYPE: error_type}
    assert point.count == 1
    assert point.sum == pytest.approx(span_seconds(span), abs=1e-9)
    assert otel.points(TOKENS.name) == []
    assert otel.points(TTFC.name) == []
    assert otel.points(TPOC.name) == []


async def test_success_has_no_error_type(otel: Any, sdk: Any) -> None:
    otel.instrument()
    await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES))
    for name in (DURATION.name, TOKENS.name):
        assert all(sc.ERROR_TYPE not in p.attributes for p in otel.points(name))


async def test_non_stream_has_no_chunk_metrics(otel: Any, sdk: Any) -> None:
    otel.instrument()
    await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES))
    assert otel.points(TTFC.name) == []
    assert otel.points(TPOC.name) == []


@pytest.mark.parametrize("usage", [False, True], ids=["no_usage", "include_usage"])
async def test_chat_stream(otel: Any, server: Any, sdk: Any, usage: bool) -> None:
    otel.instrument()
    options = {"stream_options": {"include_usage": True}} if usage else {}
    chunks = await drain(await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, **options)))
    # role chunk + 5 content chunks + finish chunk (+ the usage chunk the caller asked for)
    assert len(chunks) == (8 if usage else 7)
    span = otel.span()
    chunk_attrs = with_response(server)  # the chunk metrics take no provider-specific attributes

    (ttfc,) = otel.points(TTFC.name)
    assert dict(ttfc.attributes) == chunk_attrs
    assert ttfc.count == 1
    assert ttfc.sum == span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert tuple(ttfc.explicit_bounds) == TTFC.buckets
    assert otel.metric(TTFC.name).unit == "s"

    (tpoc,) = otel.points(TPOC.name)
    assert dict(tpoc.attributes) == chunk_attrs
    assert tpoc.count == len(chunks) - 1  # one per chunk after the first
    assert otel.metric(TPOC.name).unit == "s"
    (duration,) = otel.points(DURATION.name)
    assert duration.sum == pytest.approx(span_seconds(span), abs=1e-9)
    assert ttfc.sum + tpoc.sum <= duration.sum + 1e-9

    points = token_points(otel)
    if usage:
        assert {t: p.sum for t, p in points.items()} == {
            sc.GenAiTokenTypeValues.INPUT: 4,
            sc.GenAiTokenTypeValues.OUTPUT: REPLY_TOKENS,
        }
    else:
        assert points == {}  # no usage in the stream: nothing counted


async def test_stream_usage_option_records_tokens(otel: Any, sdk: Any) -> None:
    otel.instrument(LLMTEL_OPENAI_STREAM_USAGE="true")
    chunks = await drain(await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)))
    assert len(chunks) == 7  # the usage chunk we asked for is hidden from the caller...
    (tpoc,) = otel.points(TPOC.name)
    assert tpoc.count == 6  # ...and is not an output chunk
    points = token_points(otel)
    assert {t: p.sum for t, p in points.items()} == {
        sc.GenAiTokenTypeValues.INPUT: 4,
        sc.GenAiTokenTypeValues.OUTPUT: REPLY_TOKENS,
    }


async def test_responses_stream(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    events = await drain(await run(sdk.responses.create(model=MODEL, input="What is the weather", stream=True)))
    span = otel.span()
    (ttfc,) = otel.points(TTFC.name)
    assert ttfc.count == 1
    assert dict(ttfc.attributes) == with_response(server)
    (tpoc,) = otel.points(TPOC.name)
    assert tpoc.count == len(events) - 1
    (duration,) = otel.points(DURATION.name)
    assert dict(duration.attributes) == {**with_response(server), sc.OPENAI_RESPONSE_SERVICE_TIER: "default"}
    assert duration.sum == pytest.approx(span_seconds(span), abs=1e-9)
    points = token_points(otel)
    assert {t: p.sum for t, p in points.items()} == {
        sc.GenAiTokenTypeValues.INPUT: 4,
        sc.GenAiTokenTypeValues.OUTPUT: REPLY_TOKENS,
    }


async def test_embeddings_input_tokens_only(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    await run(sdk.embeddings.create(model="text-embedding-3-small", input="hello brave world", dimensions=4))
    span = otel.span()
    attrs = with_response(server, sc.GenAiOperationNameValues.EMBEDDINGS, "text-embedding-3-small")
    (duration,) = otel.points(DURATION.name)
    assert dict(duration.attributes) == attrs  # dimension.count is a span attribute only
    assert duration.sum == pytest.approx(span_seconds(span), abs=1e-9)
    (point,) = otel.points(TOKENS.name)
    assert dict(point.attributes) == {**attrs, sc.GEN_AI_TOKEN_TYPE: sc.GenAiTokenTypeValues.INPUT}
    assert (point.count, point.sum) == (1, 3)


async def test_completions(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    await run(sdk.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say something nice"))
    attrs = with_response(server, sc.GenAiOperationNameValues.TEXT_COMPLETION, "gpt-3.5-turbo-instruct")
    (duration,) = otel.points(DURATION.name)
    assert dict(duration.attributes) == attrs
    points = token_points(otel)
    assert {t: (dict(p.attributes), p.sum) for t, p in points.items()} == {
        sc.GenAiTokenTypeValues.INPUT: ({**attrs, sc.GEN_AI_TOKEN_TYPE: sc.GenAiTokenTypeValues.INPUT}, 3),
        sc.GenAiTokenTypeValues.OUTPUT: ({**attrs, sc.GEN_AI_TOKEN_TYPE: sc.GenAiTokenTypeValues.OUTPUT}, 10),
    }
