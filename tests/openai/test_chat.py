"""Chat Completions spans: name, kind and the complete attribute set, sync and async, against the demo server.

Token counts follow the demo server's rules: input = whitespace words of the messages' text, output = words of the
reply (the default reply has 10), reasoning adds ``REASONING_TOKENS``, ``prompt_cache_key`` caches half the input.
"""

from __future__ import annotations

import socket
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from llmtel import semconv as sc
from llmtel.demo.server import DEFAULT_REPLY, MODEL_SUFFIX, REASONING_TOKENS, STALL
from tests.openai.helpers import drain, run

MODEL = "gpt-4o-mini"
MESSAGES: list[Any] = [{"role": "user", "content": "What is the weather"}]  # 4 input tokens
REPLY_TOKENS = len(DEFAULT_REPLY.split())  # 10
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TOOL_2 = {"type": "function", "function": {**TOOL["function"], "name": "get_time"}}  # type: ignore[dict-item]
SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "weather",
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def expected(server: Any, n: int, **overrides: Any) -> dict[str, Any]:
    """The span attributes of a plain successful ``chat`` call (request number ``n`` on the demo server)."""
    attrs: dict[str, Any] = {
        sc.OPENAI_API_TYPE: sc.OpenaiApiTypeValues.CHAT_COMPLETIONS,
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.CHAT,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.OPENAI,
        sc.GEN_AI_REQUEST_MODEL: MODEL,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.GEN_AI_RESPONSE_ID: f"chatcmpl-{n}",
        sc.GEN_AI_RESPONSE_MODEL: MODEL + MODEL_SUFFIX,
        sc.OPENAI_RESPONSE_SERVICE_TIER: "default",
        sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_demo",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        sc.GEN_AI_USAGE_INPUT_TOKENS: 4,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: REPLY_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 0,
    }
    attrs.update(overrides)
    return attrs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- successful calls: the complete attribute dict --------------------------------------------------------------

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("plain", {}, {}),
    (
        "sampling",
        {
            "temperature": 0.2,
            "top_p": 0.9,
            "presence_penalty": 0.5,
            "frequency_penalty": -0.25,
            "seed": 42,
            "stop": "END",
            "max_tokens": 50,
            "max_completion_tokens": 100,
        },
        {
            sc.GEN_AI_REQUEST_TEMPERATURE: 0.2,
            sc.GEN_AI_REQUEST_TOP_P: 0.9,
            sc.GEN_AI_REQUEST_PRESENCE_PENALTY: 0.5,
            sc.GEN_AI_REQUEST_FREQUENCY_PENALTY: -0.25,
            sc.GEN_AI_REQUEST_SEED: 42,
            sc.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
            sc.GEN_AI_REQUEST_MAX_TOKENS: 100,  # max_completion_tokens wins over the deprecated max_tokens
        },
    ),
    ("max_tokens", {"max_tokens": 50}, {sc.GEN_AI_REQUEST_MAX_TOKENS: 50}),
    ("stop_list", {"stop": ["END", "STOP"]}, {sc.GEN_AI_REQUEST_STOP_SEQUENCES: ("END", "STOP")}),
    (
        "n2",
        {"n": 2},
        {
            sc.GEN_AI_REQUEST_CHOICE_COUNT: 2,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop", "stop"),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2 * REPLY_TOKENS,
        },
    ),
    ("n1", {"n": 1}, {}),
    (
        "json_object",
        {"response_format": {"type": "json_object"}},
        # the reply is json.dumps({"reply": DEFAULT_REPLY}): 11 words
        {sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.JSON, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 11},
    ),
    (
        "json_schema",
        {"response_format": SCHEMA_FORMAT},
        # the reply is '{"city": "demo"}': 2 words
        {sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.JSON, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2},
    ),
    ("text_format", {"response_format": {"type": "text"}}, {sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.TEXT}),
    (
        "reasoning",
        {"reasoning_effort": "low"},
        {
            sc.GEN_AI_REQUEST_REASONING_LEVEL: "low",
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: REPLY_TOKENS + REASONING_TOKENS,
            sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: REASONING_TOKENS,
        },
    ),
    # "auto" is the default tier: not recorded on the request side; the response reports what it got.
    ("tier_auto", {"service_tier": "auto"}, {sc.OPENAI_RESPONSE_SERVICE_TIER: "auto"}),
    (
        "tier_flex",
        {"service_tier": "flex"},
        {sc.OPENAI_REQUEST_SERVICE_TIER: "flex", sc.OPENAI_RESPONSE_SERVICE_TIER: "flex"},
    ),
    ("cache", {"prompt_cache_key": "user-1"}, {sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 2}),
    ("top_k", {"extra_body": {"top_k": 5}}, {sc.GEN_AI_REQUEST_TOP_K: 5}),
    (
        "tool_call",
        {"tools": [TOOL]},
        # the tool call's arguments '{"city": "Paris"}' count 2 words
        {sc.GEN_AI_RESPONSE_FINISH_REASONS: ("tool_calls",), sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2},
    ),
    (
        "parallel_tool_calls",
        {"tools": [TOOL, TOOL_2]},
        {sc.GEN_AI_RESPONSE_FINISH_REASONS: ("tool_calls",), sc.GEN_AI_USAGE_OUTPUT_TOKENS: 4},
    ),
]


@pytest.mark.parametrize(("kwargs", "extra"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_create_attributes(otel: Any, server: Any, sdk: Any, kwargs: dict[str, Any], extra: Any) -> None:
    otel.instrument()
    result = await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, **kwargs))
    n = len(server.requests)
    span = otel.span()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == expected(server, n, **extra)
    assert result.id == f"chatcmpl-{n}"  # the server numbering the expectation relies on


async def test_tool_call_result_untouched(otel: Any, sdk: Any) -> None:
    otel.instrument()
    result = await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, tools=[TOOL]))
    call = result.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')
    assert otel.span().attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)


def test_literal_wire_names(otel: Any, server: Any, client: openai.OpenAI) -> None:
    """The only place attribute names are spelled out: the constants must hold the conventions' names."""
    otel.instrument()
    client.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0.5)
    attrs = otel.span().attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2026-01-01"
    assert attrs["gen_ai.usage.input_tokens"] == 4
    assert attrs["gen_ai.usage.output_tokens"] == 10
    assert attrs["server.port"] == server.port
    assert attrs["openai.api.type"] == "chat_completions"


class Weather(BaseModel):
    city: str
    temperature: int


async def test_parse_pydantic(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    result = await run(sdk.chat.completions.parse(model=MODEL, messages=MESSAGES, response_format=Weather))
    assert result.choices[0].message.parsed == Weather(city="demo", temperature=1)
    span = otel.span()  # exactly one span: parse is not counted twice
    assert span.name == "chat gpt-4o-mini"
    # the reply is '{"city": "demo", "temperature": 1}': 4 words
    assert dict(span.attributes) == expected(
        server,
        len(server.requests),
        **{sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.JSON, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 4},
    )


# -- streams ----------------------------------------------------------------------------------------------------


async def test_stream_attributes(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    stream = await run(
        sdk.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}, n=2
        )
    )
    chunks = await drain(stream)
    assert chunks[-1].usage is not None and chunks[-1].choices == []  # the caller sees the usage it asked for
    span = otel.span()
    attrs = dict(span.attributes)
    ttfc = attrs.pop(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    assert isinstance(ttfc, float)
    assert 0 < ttfc <= (span.end_time - span.start_time) / 1e9
    assert attrs == expected(
        server,
        len(server.requests),
        **{
            sc.GEN_AI_REQUEST_STREAM: True,
            sc.GEN_AI_REQUEST_CHOICE_COUNT: 2,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop", "stop"),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2 * REPLY_TOKENS,
        },
    )


async def test_stream_without_usage(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    await drain(await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, tools=[TOOL])))
    attrs = dict(otel.span().attributes)
    del attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    usage = (
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    )
    base = {k: v for k, v in expected(server, len(server.requests)).items() if k not in usage}
    assert attrs == {
        **base,
        sc.GEN_AI_REQUEST_STREAM: True,
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("tool_calls",),
    }


async def test_stream_usage_option_hides_the_chunk_it_adds(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument(LLMTEL_OPENAI_STREAM_USAGE="true")
    chunks = await drain(await run(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)))
    assert server.requests[-1].body["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)  # the usage-only chunk the caller did not ask for is hidden
    attrs = otel.span().attributes
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 4
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == REPLY_TOKENS


# -- errors -----------------------------------------------------------------------------------------------------

ERRORS = [
    ("does-not-exist", openai.NotFoundError, "404", "The model `does-not-exist` does not exist"),
    (
        "rate-limited",
        openai.RateLimitError,
        "429",
        "Rate limit reached for rate-limited in organization demo-org on requests per min (RPM): "
        "Limit 1, Used 1, Requested 1.",
    ),
    (
        "server-error",
        openai.InternalServerError,
        "500",
        "The server had an error while processing your request. Sorry about that!",
    ),
]


def error_attrs(model: str, port: int, error_type: str) -> dict[str, Any]:
    return {
        sc.OPENAI_API_TYPE: sc.OpenaiApiTypeValues.CHAT_COMPLETIONS,
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.CHAT,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.OPENAI,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: port,
        sc.ERROR_TYPE: error_type,
    }


@pytest.mark.parametrize(("model", "exc_type", "error_type", "message"), ERRORS, ids=[e[2] for e in ERRORS])
async def test_status_errors(
    otel: Any, server: Any, sdk: Any, model: str, exc_type: type[Exception], error_type: str, message: str
) -> None:
    otel.instrument()
    with pytest.raises(exc_type) as caught:
        await run(sdk.chat.completions.create(model=model, messages=MESSAGES))
    assert caught.value.body["message"] == message  # type: ignore[attr-defined]
    span = otel.span()
    assert span.name == f"chat {model}"
    assert dict(span.attributes) == error_attrs(model, server.port, error_type)
    assert span.status.status_code is StatusCode.ERROR
    # the SDK's exception text, which carries the server's message
    assert span.status.description == f"Error code: {error_type} - {message}" == str(caught.value)


async def test_connection_error(otel: Any) -> None:
    port = free_port()
    otel.instrument()
    async with openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0) as aclient:
        with pytest.raises(openai.APIConnectionError):
            await aclient.chat.completions.create(model=MODEL, messages=MESSAGES)
    with (
        openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0) as client,
        pytest.raises(openai.APIConnectionError),
    ):
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    spans = otel.spans()
    assert len(spans) == 2
    for span in spans:
        assert dict(span.attributes) == error_attrs(MODEL, port, "openai.APIConnectionError")
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "Connection error."


async def test_timeout(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    with pytest.raises(openai.APITimeoutError):
        await run(
            sdk.chat.completions.create(model=STALL, messages=MESSAGES, timeout=0.05, extra_body={"x_delay_ms": 1000})
        )
    span = otel.span()
    assert dict(span.attributes) == error_attrs(STALL, server.port, "openai.APITimeoutError")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "Request timed out."
    assert (span.end_time - span.start_time) / 1e9 < 0.5  # ended when the client gave up, not with the server


def test_no_span_when_uninstrumented(otel: Any, client: openai.OpenAI) -> None:
    otel.instrument()
    otel.uninstrument()
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert otel.spans() == []
