"""Responses API spans (``responses.create`` / ``parse`` / ``stream``), sync and async, against the demo server.

Operation ``chat`` with ``openai.api.type=responses``; the finish reason comes from the response status.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from llmtel import semconv as sc
from llmtel.demo.server import DEFAULT_REPLY, MODEL_SUFFIX, REASONING_TOKENS, RESPONSE_FAILED, STREAM_ERROR
from tests.openai.helpers import drain, run

MODEL = "gpt-4o-mini"
INPUT = "What is the weather"  # 4 input tokens
REPLY_TOKENS = len(DEFAULT_REPLY.split())  # 10
TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}
SCHEMA_TEXT = {
    "format": {
        "type": "json_schema",
        "name": "weather",
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    }
}


def expected(server: Any, n: int, model: str = MODEL, **overrides: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        sc.OPENAI_API_TYPE: sc.OpenaiApiTypeValues.RESPONSES,
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.CHAT,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.OPENAI,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.GEN_AI_RESPONSE_ID: f"resp_{n}",
        sc.GEN_AI_RESPONSE_MODEL: model + MODEL_SUFFIX,
        sc.OPENAI_RESPONSE_SERVICE_TIER: "default",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        sc.GEN_AI_USAGE_INPUT_TOKENS: 4,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: REPLY_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
        sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 0,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 0,
    }
    attrs.update(overrides)
    return attrs


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("plain", {}, {}),
    (
        "sampling",
        {"temperature": 0.3, "top_p": 0.8, "max_output_tokens": 100},
        {sc.GEN_AI_REQUEST_TEMPERATURE: 0.3, sc.GEN_AI_REQUEST_TOP_P: 0.8, sc.GEN_AI_REQUEST_MAX_TOKENS: 100},
    ),
    (
        "reasoning",
        {"reasoning": {"effort": "high"}},
        {
            sc.GEN_AI_REQUEST_REASONING_LEVEL: "high",
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: REPLY_TOKENS + REASONING_TOKENS,
            sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: REASONING_TOKENS,
        },
    ),
    ("previous", {"previous_response_id": "resp_0"}, {sc.GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID: "resp_0"}),
    ("conversation", {"conversation": "conv_123"}, {sc.GEN_AI_CONVERSATION_ID: "conv_123"}),
    ("conversation_obj", {"conversation": {"id": "conv_456"}}, {sc.GEN_AI_CONVERSATION_ID: "conv_456"}),
    (
        "json_schema",
        {"text": SCHEMA_TEXT},
        # the reply is '{"city": "demo"}': 2 words
        {sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.JSON, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2},
    ),
    (
        "json_object",
        {"text": {"format": {"type": "json_object"}}},
        {sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.JSON, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 11},
    ),
    ("text", {"text": {"format": {"type": "text"}}}, {sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.TEXT}),
    ("tier_auto", {"service_tier": "auto"}, {sc.OPENAI_RESPONSE_SERVICE_TIER: "auto"}),
    (
        "tier_flex",
        {"service_tier": "flex"},
        {sc.OPENAI_REQUEST_SERVICE_TIER: "flex", sc.OPENAI_RESPONSE_SERVICE_TIER: "flex"},
    ),
    ("cache", {"prompt_cache_key": "user-1"}, {sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 2}),
    # instructions count as input on the server: 4 + 2 words
    ("instructions", {"instructions": "Be brief"}, {sc.GEN_AI_USAGE_INPUT_TOKENS: 6}),
    (
        "incomplete",
        {"max_output_tokens": 3},
        {
            sc.GEN_AI_REQUEST_MAX_TOKENS: 3,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("length",),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3,
        },
    ),
    (
        "tool_call",
        {"tools": [TOOL]},
        {sc.GEN_AI_RESPONSE_FINISH_REASONS: ("tool_call",), sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2},
    ),
]


@pytest.mark.parametrize(("kwargs", "extra"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_create_attributes(otel: Any, server: Any, sdk: Any, kwargs: dict[str, Any], extra: Any) -> None:
    otel.instrument()
    result = await run(sdk.responses.create(model=MODEL, input=INPUT, **kwargs))
    n = len(server.requests)
    assert result.id == f"resp_{n}"
    span = otel.span()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == expected(server, n, **extra)


class Weather(BaseModel):
    city: str
    temperature: int


async def test_parse(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    result = await run(sdk.responses.parse(model=MODEL, input=INPUT, text_format=Weather))
    assert result.output_parsed == Weather(city="demo", temperature=1)
    span = otel.span()
    assert span.name == "chat gpt-4o-mini"
    # '{"city": "demo", "temperature": 1}': 4 words
    assert dict(span.attributes) == expected(
        server,
        len(server.requests),
        **{sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.JSON, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 4},
    )


def _streamed(span: Any) -> dict[str, Any]:
    """The span's attributes without the time to first chunk, after checking it."""
    attrs = dict(span.attributes)
    ttfc = attrs.pop(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    assert isinstance(ttfc, float)
    assert 0 < ttfc <= (span.end_time - span.start_time) / 1e9
    return attrs


async def test_stream(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    events = await drain(await run(sdk.responses.create(model=MODEL, input=INPUT, stream=True)))
    assert events[-1].type == "response.completed"
    span = otel.span()
    assert span.name == "chat gpt-4o-mini"
    assert _streamed(span) == expected(server, len(server.requests), **{sc.GEN_AI_REQUEST_STREAM: True})
    (point,) = otel.points(sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name)
    assert point.count == 1
    assert point.sum == span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]


async def test_stream_incomplete_and_tool_call(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    await drain(await run(sdk.responses.create(model=MODEL, input=INPUT, stream=True, max_output_tokens=3)))
    n1 = len(server.requests)
    await drain(await run(sdk.responses.create(model=MODEL, input=INPUT, stream=True, tools=[TOOL])))
    n2 = len(server.requests)
    first, second = otel.spans()
    assert _streamed(first) == expected(
        server,
        n1,
        **{
            sc.GEN_AI_REQUEST_STREAM: True,
            sc.GEN_AI_REQUEST_MAX_TOKENS: 3,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("length",),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3,
        },
    )
    assert _streamed(second) == expected(
        server,
        n2,
        **{
            sc.GEN_AI_REQUEST_STREAM: True,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("tool_call",),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2,
        },
    )


async def test_stream_helper(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    if isinstance(sdk, openai.AsyncOpenAI):
        async with sdk.responses.stream(model=MODEL, input=INPUT) as stream:
            events = [event async for event in stream]
            final = await stream.get_final_response()
    else:
        with sdk.responses.stream(model=MODEL, input=INPUT) as stream:
            events = list(stream)
            final = stream.get_final_response()
    assert events[-1].type == "response.completed"
    assert final.output_text == DEFAULT_REPLY
    span = otel.span()
    assert span.name == "chat gpt-4o-mini"
    assert _streamed(span) == expected(server, len(server.requests), **{sc.GEN_AI_REQUEST_STREAM: True})


async def test_response_failed(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    result = await run(sdk.responses.create(model=RESPONSE_FAILED, input=INPUT))
    assert result.status == "failed"  # no exception: the failure is in-band
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "failed"
    usage = {sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS}
    usage |= {sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS}
    usage.add(sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS)
    base = expected(server, len(server.requests), model=RESPONSE_FAILED)
    assert dict(span.attributes) == {
        **{k: v for k, v in base.items() if k not in usage},
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("error",),
        sc.ERROR_TYPE: "server_error",
    }


async def test_response_failed_stream(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    events = await drain(await run(sdk.responses.create(model=RESPONSE_FAILED, input=INPUT, stream=True)))
    assert events[-1].type == "response.failed"
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "failed"
    usage = {sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS}
    usage |= {sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS}
    usage.add(sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS)
    base = expected(server, len(server.requests), model=RESPONSE_FAILED)
    assert _streamed(span) == {
        **{k: v for k, v in base.items() if k not in usage},
        sc.GEN_AI_REQUEST_STREAM: True,
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("error",),
        sc.ERROR_TYPE: "server_error",
    }


async def test_stream_error_event(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    events = await drain(await run(sdk.responses.create(model=STREAM_ERROR, input=INPUT, stream=True)))
    assert events[-1].type == "error"
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "stream failed"
    # the stream never completed: what the created event told, and the error
    assert _streamed(span) == {
        sc.OPENAI_API_TYPE: sc.OpenaiApiTypeValues.RESPONSES,
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.CHAT,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.OPENAI,
        sc.GEN_AI_REQUEST_MODEL: STREAM_ERROR,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.GEN_AI_REQUEST_STREAM: True,
        sc.GEN_AI_RESPONSE_ID: f"resp_{len(server.requests)}",
        sc.GEN_AI_RESPONSE_MODEL: STREAM_ERROR + MODEL_SUFFIX,
        sc.ERROR_TYPE: "stream_error",
    }


async def test_status_error(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    with pytest.raises(openai.NotFoundError):
        await run(sdk.responses.create(model="does-not-exist", input=INPUT))
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes) == {
        sc.OPENAI_API_TYPE: sc.OpenaiApiTypeValues.RESPONSES,
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.CHAT,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.OPENAI,
        sc.GEN_AI_REQUEST_MODEL: "does-not-exist",
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.ERROR_TYPE: "404",
    }
