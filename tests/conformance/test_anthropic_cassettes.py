"""Replay of the recorded Anthropic cassettes (``../shared/cassettes/anthropic``, recorded from api.anthropic.com
with anthropic 0.75) through today's ``anthropic`` SDK and its real HTTP stack (the replay transport of
:mod:`tests.conformance.cassettes`), with exact span attributes, metric points and content.

The expected values are read from the recording itself (the response JSON, or the SSE events), independently of
the instrumentation's code: the input total is ``input_tokens`` plus both cache counts (the conventions, §10.3).
Each replay also checks that today's SDK sent the body that was recorded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from llmtel import semconv as sc
from tests.conformance.cassettes import AsyncReplayTransport, Cassette, ReplayTransport
from tests.conformance.shared import SHARED_DIR

DIRECTORY = SHARED_DIR / "cassettes" / "anthropic"
if not DIRECTORY.is_dir():
    pytest.skip(
        f"../shared/cassettes not found beside the clone ({DIRECTORY}): cassette tests skipped", allow_module_level=True
    )

CONTENT = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"}
DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"
TTFC = "gen_ai.response.time_to_first_chunk"
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_call"}

COMPLETE = [
    "test_sync_messages_create_basic",
    "test_sync_messages_create_aggregates_cache_tokens",
    "test_sync_messages_create_captures_content",
    "test_sync_messages_create_captures_thinking_content",
    "test_sync_messages_create_captures_tool_use_content",
    "test_sync_messages_create_event_only_no_content_in_span",
    "test_sync_messages_create_stop_reason",
    "test_sync_messages_create_token_usage",
    "test_sync_messages_create_with_all_params",
]
STREAMED = [
    "test_stream_wrapper_finalize_idempotent",
    "test_sync_messages_create_instrumentation_error_swallowed",
    "test_sync_messages_create_stream_propagation_error",
    "test_sync_messages_create_streaming",
    "test_sync_messages_create_streaming_aggregates_cache_tokens",
    "test_sync_messages_create_streaming_captures_content",
    "test_sync_messages_create_streaming_delegates_response_attribute",
    "test_sync_messages_create_streaming_iteration",
]
HELPER = [
    "test_sync_messages_stream",
    "test_sync_messages_stream_captures_content",
    "test_sync_messages_stream_delegates_response_attribute",
]


def load(name: str) -> Cassette:
    return Cassette(name, DIRECTORY)


def client(cassette: Cassette, is_async: bool = False) -> Any:
    if is_async:
        http: Any = anthropic.DefaultAsyncHttpxClient(transport=AsyncReplayTransport(cassette))
        return anthropic.AsyncAnthropic(api_key="test_anthropic_api_key", max_retries=0, http_client=http)
    http = anthropic.DefaultHttpxClient(transport=ReplayTransport(cassette))
    return anthropic.Anthropic(api_key="test_anthropic_api_key", max_retries=0, http_client=http)


def kwargs_of(cassette: Cassette) -> dict[str, Any]:
    """The recorded request as today's SDK takes it: sampling parameters go in ``extra_body`` (2.x dropped the
    keyword arguments; the body sent is the same)."""
    body = dict(cassette.request_json())
    extra = {k: body.pop(k) for k in ("temperature", "top_p", "top_k") if k in body}
    if extra:
        body["extra_body"] = extra
    return body


# -- what the recording says -------------------------------------------------------------------------------------


def request_attributes(body: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: body["model"],
        sc.GEN_AI_REQUEST_MAX_TOKENS: body["max_tokens"],
        sc.SERVER_ADDRESS: "api.anthropic.com",
        sc.SERVER_PORT: 443,
    }
    for key, attribute in (
        ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", sc.GEN_AI_REQUEST_TOP_P),
        ("top_k", sc.GEN_AI_REQUEST_TOP_K),
    ):
        if key in body:
            attrs[attribute] = body[key]
    if "stop_sequences" in body:
        attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(body["stop_sequences"])
    if body.get("stream"):
        attrs[sc.GEN_AI_REQUEST_STREAM] = True
    return attrs


def usage_attributes(usage: Mapping[str, Any]) -> dict[str, Any]:
    read, write = usage.get("cache_read_input_tokens") or 0, usage.get("cache_creation_input_tokens") or 0
    return {
        sc.GEN_AI_USAGE_INPUT_TOKENS: usage["input_tokens"] + read + write,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage["output_tokens"],
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: read,
        sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: write,
    }


def response_attributes(message: Mapping[str, Any], usage: Mapping[str, Any]) -> dict[str, Any]:
    return {
        sc.GEN_AI_RESPONSE_ID: message["id"],
        sc.GEN_AI_RESPONSE_MODEL: message["model"],
        sc.GEN_AI_RESPONSE_FINISH_REASONS: (message["stop_reason"],),
        **usage_attributes(usage),
    }


def streamed_message(cassette: Cassette) -> tuple[dict[str, Any], dict[str, Any]]:
    """(message, final usage) from the recorded events: message_start's message, its stop reason and content
    from the later events, its usage updated by message_delta's."""
    events = [json.loads(line[5:]) for line in cassette[0].body.decode().splitlines() if line.startswith("data:")]
    message: dict[str, Any] = {}
    usage: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    for event in events:
        if event["type"] == "message_start":
            message = dict(event["message"])
            usage.update(message["usage"])
        elif event["type"] == "message_delta":
            message["stop_reason"] = event["delta"]["stop_reason"]
            usage.update({k: v for k, v in event["usage"].items() if v is not None})
        elif event["type"] == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta":
            blocks[event["index"]]["text"] += event["delta"]["text"]
    message["content"] = [blocks[i] for i in sorted(blocks)]
    return message, usage


def output_parts(content: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in content:
        if block["type"] == "text":
            parts.append({"type": "text", "content": block["text"]})
        elif block["type"] == "thinking":
            parts.append({"type": "reasoning", "content": block["thinking"]})
        elif block["type"] == "tool_use":
            parts.append({"type": "tool_call", "id": block["id"], "name": block["name"], "arguments": block["input"]})
    return parts


def check(otel: Any, expected: dict[str, Any], status: StatusCode = StatusCode.UNSET) -> Any:
    span = otel.span()
    assert span.kind is SpanKind.CLIENT
    assert span.name == f"chat {expected[sc.GEN_AI_REQUEST_MODEL]}"
    assert span.status.status_code is status
    attrs = dict(span.attributes or {})
    if expected.get(sc.GEN_AI_REQUEST_STREAM):
        first_chunk = attrs.pop(TTFC, None)  # none for a stream that failed before its first event
        assert first_chunk is None or first_chunk > 0
    keys = (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_TOOL_DEFINITIONS)
    content = {k: json.loads(attrs.pop(k)) for k in keys if k in attrs}
    assert attrs == expected
    metric = {
        k: v
        for k, v in expected.items()
        if k
        in (
            sc.GEN_AI_OPERATION_NAME,
            sc.GEN_AI_PROVIDER_NAME,
            sc.GEN_AI_REQUEST_MODEL,
            sc.GEN_AI_RESPONSE_MODEL,
            sc.SERVER_ADDRESS,
            sc.SERVER_PORT,
            sc.ERROR_TYPE,
        )
    }
    [duration] = otel.points(DURATION)
    assert dict(duration.attributes) == metric
    tokens = sorted((p.attributes[sc.GEN_AI_TOKEN_TYPE], p.sum) for p in otel.points(TOKENS))
    if sc.GEN_AI_USAGE_INPUT_TOKENS in expected:
        assert tokens == [
            ("input", expected[sc.GEN_AI_USAGE_INPUT_TOKENS]),
            ("output", expected[sc.GEN_AI_USAGE_OUTPUT_TOKENS]),
        ]
    else:
        assert tokens == []
    return content


# -- replays -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", COMPLETE)
def test_complete_message(otel: Any, name: str) -> None:
    cassette = load(name)
    otel.instrument("anthropic", **CONTENT)
    with client(cassette) as llm:
        message = llm.messages.create(**kwargs_of(cassette))
    cassette.assert_same_requests()
    recorded = cassette.response_json()
    assert message.id == recorded["id"]
    expected = {**request_attributes(cassette.request_json()), **response_attributes(recorded, recorded["usage"])}
    content = check(otel, expected)
    [output] = content[sc.GEN_AI_OUTPUT_MESSAGES]
    assert output == {
        "role": "assistant",
        "parts": output_parts(recorded["content"]),
        "finish_reason": FINISH[recorded["stop_reason"]],
    }


@pytest.mark.parametrize("name", STREAMED)
def test_streamed_create(otel: Any, name: str) -> None:
    cassette = load(name)
    otel.instrument("anthropic", **CONTENT)
    with client(cassette) as llm:
        events = list(llm.messages.create(**kwargs_of(cassette)))
    cassette.assert_same_requests()
    assert events[-1].type == "message_stop"
    message, usage = streamed_message(cassette)
    content = check(otel, {**request_attributes(cassette.request_json()), **response_attributes(message, usage)})
    [output] = content[sc.GEN_AI_OUTPUT_MESSAGES]
    assert output["parts"] == output_parts(message["content"])


@pytest.mark.parametrize("name", HELPER)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper(otel: Any, name: str, is_async: bool) -> None:
    cassette = load(name)
    otel.instrument("anthropic", **CONTENT)
    body = {k: v for k, v in kwargs_of(cassette).items() if k != "stream"}
    if is_async:
        async with client(cassette, True) as llm, llm.messages.stream(**body) as stream:
            final = await stream.get_final_message()
    else:
        with client(cassette) as llm, llm.messages.stream(**body) as stream:
            final = stream.get_final_message()
    cassette.assert_same_requests()
    message, usage = streamed_message(cassette)
    assert final.id == message["id"]
    content = check(otel, {**request_attributes(cassette.request_json()), **response_attributes(message, usage)})
    assert content[sc.GEN_AI_OUTPUT_MESSAGES][0]["parts"] == output_parts(message["content"])


@pytest.mark.parametrize("name", ["test_sync_messages_create_api_error", "test_sync_messages_stream_api_error"])
def test_api_error(otel: Any, name: str) -> None:
    cassette = load(name)
    otel.instrument("anthropic")
    body = kwargs_of(cassette)
    with client(cassette) as llm, pytest.raises(anthropic.NotFoundError):
        if name.endswith("stream_api_error"):
            with llm.messages.stream(**{k: v for k, v in body.items() if k != "stream"}):
                pass
        else:
            llm.messages.create(**body)
    cassette.assert_same_requests()
    check(otel, {**request_attributes(cassette.request_json()), sc.ERROR_TYPE: "404"}, StatusCode.ERROR)


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("test_sync_messages_stream_closed_early_by_caller", "close"),
        ("test_sync_messages_stream_interrupted_mid_iteration", "break"),
        ("test_sync_messages_stream_user_exception", "raise"),
        ("test_sync_messages_create_streaming_user_exception", "raise-create"),
    ],
)
def test_stream_left_early(otel: Any, name: str, how: str) -> None:
    """A stream the app leaves early: the span ends then, with what the events so far told and no stop reason."""
    cassette = load(name)
    otel.instrument("anthropic")
    body = kwargs_of(cassette)
    with client(cassette) as llm:
        if how == "raise-create":
            with pytest.raises(ValueError, match="the app's"), llm.messages.create(**body) as events:
                for _ in events:
                    raise ValueError("the app's own error")
        else:
            manager = llm.messages.stream(**{k: v for k, v in body.items() if k != "stream"})
            try:
                with manager as stream:
                    for _ in stream.text_stream:
                        if how == "raise":
                            raise ValueError("the app's own error")
                        if how == "close":
                            stream.close()
                        break
            except ValueError:
                assert how == "raise"
    message, _ = streamed_message(cassette)
    expected = {
        **request_attributes(cassette.request_json()),
        sc.GEN_AI_RESPONSE_ID: message["id"],
        sc.GEN_AI_RESPONSE_MODEL: message["model"],
    }
    if how != "raise-create":  # the first text came after message_start, with its usage
        start = json.loads(
            next(line[5:] for line in cassette[0].body.decode().splitlines() if line.startswith("data:"))
        )
        expected.update(usage_attributes(start["message"]["usage"]))
    else:
        start = json.loads(
            next(line[5:] for line in cassette[0].body.decode().splitlines() if line.startswith("data:"))
        )
        expected.update(usage_attributes(start["message"]["usage"]))
    error = how.startswith("raise")
    if error:
        expected[sc.ERROR_TYPE] = "ValueError"
    check(otel, expected, StatusCode.ERROR if error else StatusCode.UNSET)
