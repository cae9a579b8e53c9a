"""Messages spans: name, kind and the complete attribute set, sync and async, for create, create(stream=True),
the stream() helper, parse() and beta.messages, against the demo server's Messages wire format.

Token counts follow the demo server's rules (llmtel.demo.wire.anthropic): input = whitespace words of the
messages' and the system's text, output = words of the reply (the default reply has 10), thinking adds the words
of its text; with ``cache_control`` half the input words are cache reads and a quarter cache writes, which the
span's input total includes (Anthropic reports them apart).
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from llmtel import semconv as sc
from llmtel.demo.wire.anthropic import THINKING
from tests.anthropic.helpers import (
    INPUT_TOKENS,
    MAX_TOKENS,
    MESSAGES,
    MODEL,
    REPLY_TOKENS,
    create,
    drain,
    expected,
    helper,
    request_n,
    run,
    without_ttfc,
)

THINKING_TOKENS = len(THINKING.split())
TOOL = {"name": "get_weather", "description": "The weather", "input_schema": {"type": "object"}}

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("plain", {}, {}),
    (
        "sampling-in-extra-body",  # anthropic 2.x takes them only there
        {"extra_body": {"temperature": 0.2, "top_p": 0.9, "top_k": 40}},
        {sc.GEN_AI_REQUEST_TEMPERATURE: 0.2, sc.GEN_AI_REQUEST_TOP_P: 0.9, sc.GEN_AI_REQUEST_TOP_K: 40},
    ),
    (
        "stop-sequence-hit",
        {"stop_sequences": ["deterministic"]},
        {
            sc.GEN_AI_REQUEST_STOP_SEQUENCES: ("deterministic",),
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop_sequence",),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3,  # "This is a"
        },
    ),
    (
        "max-tokens-hit",
        {"max_tokens": 4},
        {
            sc.GEN_AI_REQUEST_MAX_TOKENS: 4,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("max_tokens",),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 4,
        },
    ),
    (
        "effort-and-json",
        {"output_config": {"effort": "high", "format": {"type": "json_schema", "schema": {"type": "object"}}}},
        {sc.GEN_AI_REQUEST_REASONING_LEVEL: "high", sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.JSON},
    ),
    (
        "tool-use",
        {"tools": [TOOL]},
        {sc.GEN_AI_RESPONSE_FINISH_REASONS: ("tool_use",), sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2},
    ),
    (
        "thinking",
        {"thinking": {"type": "enabled", "budget_tokens": 50}},
        {
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: REPLY_TOKENS + THINKING_TOKENS,
            sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: THINKING_TOKENS,
        },
    ),
    (
        "cache",
        {"system": [{"type": "text", "text": "You are terse and exact", "cache_control": {"type": "ephemeral"}}]},
        # 4 + 5 words: 4 read, 2 written, 3 uncached; the input total is all 9
        {
            sc.GEN_AI_USAGE_INPUT_TOKENS: 9,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 4,
            sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 2,
        },
    ),
]


@pytest.mark.parametrize(("kwargs", "extra"), [(k, e) for _, k, e in CASES], ids=[c[0] for c in CASES])
async def test_create_span_has_exactly_these_attributes(
    otel: Any, server: Any, llm: Any, kwargs: dict[str, Any], extra: dict[str, Any]
) -> None:
    otel.instrument("anthropic")
    message = await create(llm, **kwargs)
    assert isinstance(message, anthropic.types.Message)
    span = otel.span()
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == expected(server, request_n(server), extra)
    assert otel.logs() == []  # no content, no event by default


@pytest.mark.parametrize(("kwargs", "extra"), [(k, e) for _, k, e in CASES], ids=[c[0] for c in CASES])
async def test_streamed_create_gives_the_same_attributes(
    otel: Any, server: Any, llm: Any, kwargs: dict[str, Any], extra: dict[str, Any]
) -> None:
    otel.instrument("anthropic")
    events = await drain(await create(llm, stream=True, **kwargs))
    assert [e.type for e in events][:2] == ["message_start", "content_block_start"]
    span = otel.span()
    attrs = dict(span.attributes or {})
    assert 0 < attrs["gen_ai.response.time_to_first_chunk"] < 5
    assert without_ttfc(attrs) == expected(server, request_n(server), {sc.GEN_AI_REQUEST_STREAM: True, **extra})


async def test_stream_helper_span(otel: Any, server: Any, llm: Any, is_async: bool) -> None:
    otel.instrument("anthropic")
    text = await helper(llm.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES), "get_final_text")
    assert text.startswith("This is a deterministic reply")
    attrs = without_ttfc(otel.span().attributes)
    assert attrs == expected(server, request_n(server), {sc.GEN_AI_REQUEST_STREAM: True})


class City(BaseModel):
    city: str


async def test_parse_span(otel: Any, server: Any, llm: Any) -> None:
    otel.instrument("anthropic")
    parsed = await run(
        llm.messages.parse(
            model=MODEL,
            max_tokens=MAX_TOKENS,
            messages=MESSAGES,
            output_format=City,
            extra_body={"x_reply": '{"city": "Paris"}'},
        )
    )
    assert parsed.parsed_output == City(city="Paris")
    attrs = dict(otel.span().attributes or {})
    assert attrs == expected(
        server, request_n(server), {sc.GEN_AI_OUTPUT_TYPE: "json", sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2}
    )


async def test_beta_messages(otel: Any, server: Any, llm: Any, is_async: bool) -> None:
    otel.instrument("anthropic")
    message = await run(llm.beta.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES))
    assert isinstance(message, anthropic.types.beta.BetaMessage)
    first = request_n(server)
    events = await drain(
        await run(llm.beta.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES, stream=True))
    )
    assert events[-1].type == "message_stop"
    final = await helper(
        llm.beta.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES), "get_final_message"
    )
    assert isinstance(final, anthropic.types.beta.BetaMessage)
    spans = otel.spans()
    assert [without_ttfc(s.attributes) for s in spans] == [
        expected(server, first),
        expected(server, first + 1, {sc.GEN_AI_REQUEST_STREAM: True}),
        expected(server, first + 2, {sc.GEN_AI_REQUEST_STREAM: True}),
    ]


# -- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "exc", "error_type"),
    [
        ("does-not-exist", anthropic.NotFoundError, "404"),
        ("rate-limited", anthropic.RateLimitError, "429"),
        ("server-error", anthropic.InternalServerError, "500"),
        ("overloaded", anthropic.OverloadedError, "529"),
    ],
)
async def test_http_errors_are_the_status(
    otel: Any, server: Any, llm: Any, model: str, exc: type, error_type: str
) -> None:
    otel.instrument("anthropic")
    with pytest.raises(exc):
        await create(llm, model=model)
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {}) == {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.GEN_AI_REQUEST_MAX_TOKENS: MAX_TOKENS,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.ERROR_TYPE: error_type,
    }
    [point] = otel.points("gen_ai.client.operation.duration")
    assert point.attributes[sc.ERROR_TYPE] == error_type


async def test_connection_error_is_the_sdk_class(otel: Any, is_async: bool) -> None:
    otel.instrument("anthropic")
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    client = cls(base_url="http://127.0.0.1:9", api_key="k", max_retries=0)
    with pytest.raises(anthropic.APIConnectionError):
        await create(client)
    await run(client.close())
    attrs = otel.span().attributes or {}
    assert attrs[sc.ERROR_TYPE] == "anthropic.APIConnectionError"
    assert (attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT]) == ("127.0.0.1", 9)


async def test_stream_error_event_is_its_error_type(otel: Any, server: Any, llm: Any) -> None:
    otel.instrument("anthropic")
    stream = await create(llm, model="stream-error", stream=True, extra_body={"x_chunks": 3})
    with pytest.raises(anthropic.APIStatusError) as info:
        await drain(stream)
    assert info.value.status_code == 200  # the response that opened the stream was fine
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert without_ttfc(span.attributes) == expected(
        server,
        request_n(server),
        {
            sc.GEN_AI_REQUEST_STREAM: True,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: None,  # no message_delta came
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1,  # message_start's count
            sc.ERROR_TYPE: "overloaded_error",
        },
        model="stream-error",
    )


# -- platforms --------------------------------------------------------------------------------------------------


async def test_vertex_client_is_gcp_vertex_ai(otel: Any, server: Any, is_async: bool) -> None:
    otel.instrument("anthropic")
    cls = anthropic.AsyncAnthropicVertex if is_async else anthropic.AnthropicVertex
    client = cls(
        region="us-east5", project_id="demo", access_token="t", base_url=f"{server.root_url}/v1", max_retries=0
    )
    await create(client)
    await drain(await create(client, stream=True))
    await run(client.close())
    n = request_n(server)
    vertex = {sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.GCP_VERTEX_AI}
    assert [without_ttfc(s.attributes) for s in otel.spans()] == [
        expected(server, n - 1, vertex),
        expected(server, n, {**vertex, sc.GEN_AI_REQUEST_STREAM: True}),
    ]


async def test_bedrock_client_is_aws_bedrock(otel: Any, is_async: bool) -> None:
    # No Bedrock runtime here (its wire format is botocore's): the call fails to connect, and its span still
    # names the platform and the server the client talks to. The guardrail (InvokeModel's header) is recorded;
    # the conventions mark its attribute required on Bedrock spans.
    otel.instrument("anthropic")
    cls = anthropic.AsyncAnthropicBedrock if is_async else anthropic.AnthropicBedrock
    client = cls(
        aws_region="us-east-1", aws_access_key="a", aws_secret_key="b", base_url="http://127.0.0.1:9", max_retries=0
    )
    guardrail = {"X-Amzn-Bedrock-GuardrailIdentifier": "gr-1", "X-Amzn-Bedrock-GuardrailVersion": "1"}
    with pytest.raises(anthropic.APIConnectionError):
        await create(client, model="anthropic.claude-sonnet-4-5-v1:0", extra_headers=guardrail)
    await run(client.close())
    attrs = dict(otel.span().attributes or {})
    assert attrs[sc.AWS_BEDROCK_GUARDRAIL_ID] == "gr-1"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == sc.GenAiProviderNameValues.AWS_BEDROCK
    assert (attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT]) == ("127.0.0.1", 9)


def test_default_platform_endpoints() -> None:
    """The platform clients' own default base URLs give their hosts (no call made)."""
    from llmtel.config import from_env
    from llmtel.core.invocation import Telemetry
    from llmtel.providers.anthropic._common import endpoint_of

    telemetry = Telemetry(from_env({}))
    bedrock = anthropic.AnthropicBedrock(aws_region="eu-west-1", aws_access_key="a", aws_secret_key="b")
    vertex = anthropic.AnthropicVertex(region="us-east5", project_id="p", access_token="t")
    plain = anthropic.Anthropic(api_key="k")
    assert endpoint_of(bedrock.messages, telemetry)[:3] == (
        "aws.bedrock",
        "bedrock-runtime.eu-west-1.amazonaws.com",
        443,
    )
    assert endpoint_of(vertex.messages, telemetry)[:3] == ("gcp.vertex_ai", "us-east5-aiplatform.googleapis.com", 443)
    assert endpoint_of(plain.messages, telemetry)[:3] == ("anthropic", "api.anthropic.com", 443)


# -- what is not ours --------------------------------------------------------------------------------------------


async def test_count_tokens_makes_no_span(otel: Any, llm: Any) -> None:
    otel.instrument("anthropic")
    counted = await run(llm.messages.count_tokens(model=MODEL, messages=MESSAGES))
    assert counted.input_tokens == INPUT_TOKENS
    assert otel.spans() == []


async def test_uninstrument_restores_the_sdk(otel: Any, llm: Any) -> None:
    before = anthropic.resources.messages.Messages.create
    otel.instrument("anthropic")
    assert anthropic.resources.messages.Messages.create is not before
    otel.uninstrument()
    assert anthropic.resources.messages.Messages.create is before
    await create(llm)
    assert otel.spans() == []
