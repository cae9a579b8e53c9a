"""Recorded OpenAI traffic replayed through the real SDK: exact spans, metric points and details events.

Each test calls the SDK with the kwargs the cassette's request was recorded with (read from the recorded
body), the replay transport answers with the recorded response, and the test asserts the telemetry in full:
every span attribute (values taken from the recorded response), the metric points with exact token sums, and
for the content cassettes the decoded content attributes and the details event that mirrors the span.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from tests.conformance.cassettes import CASSETTE_DIR, Cassette
from tests.conftest import dropped_async_generators_closed

if not CASSETTE_DIR.is_dir():
    pytest.skip(
        f"../shared/cassettes not found beside the clone ({CASSETTE_DIR}): cassette tests skipped",
        allow_module_level=True,
    )

CONTENT = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_AND_EVENT"}
# A few streams were recorded from an app that did not ask for usage. llmtel asks api.openai.com for it by
# default, which changes the request; replaying such a recording byte for byte needs that turned off.
AS_RECORDED = {"LLMTEL_OPENAI_STREAM_USAGE": "false"}
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
CONTENT_KEYS = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
    }
)
TTFC = "gen_ai.response.time_to_first_chunk"
# Attributes the client metrics carry (besides error.type and gen_ai.token.type).
METRIC_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "openai.response.service_tier",
    "server.address",
    "server.port",
)
OPENAI = {"gen_ai.provider.name": "openai", "server.address": "api.openai.com", "server.port": 443}

WEATHER_TOOL_PARAMETERS = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. Boston, MA"},
    },
    "required": ["location"],
    "additionalProperties": False,
}
WEATHER_TOOL_DEFINITION = {
    "type": "function",
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": WEATHER_TOOL_PARAMETERS,
}


class _Positive:
    """Equal to any positive float (durations we cannot know in advance)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, float) and other > 0

    def __repr__(self) -> str:
        return "<positive float>"


POSITIVE = _Positive()


# -- reading what was produced -------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Attribute values as JSON-like Python: tuples become lists, mappings dicts."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def span_attributes(span: Any) -> dict[str, Any]:
    """The span's attributes, content attributes decoded from their JSON strings."""
    out: dict[str, Any] = {}
    for key, value in (span.attributes or {}).items():
        if key in CONTENT_KEYS:
            assert isinstance(value, str), f"{key} on the span must be a JSON string"
            out[key] = json.loads(value)
        else:
            out[key] = plain(value)
    return out


def details_events(otel: Any) -> list[Any]:
    return [r.log_record for r in otel.logs() if r.log_record.event_name == DETAILS_EVENT]


def check_span(span: Any, expected: dict[str, Any], *, error: str | None = None) -> None:
    assert span.kind is SpanKind.CLIENT
    model = expected.get("gen_ai.request.model")
    assert span.name == f"{expected['gen_ai.operation.name']} {model}"
    assert span.instrumentation_scope.name == "llmtel"
    assert span_attributes(span) == expected
    if error is None:
        assert span.status.status_code is StatusCode.UNSET
    else:
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == error
    if TTFC in expected:
        assert span.attributes[TTFC] <= (span.end_time - span.start_time) / 1e9


def check_event(otel: Any, span: Any) -> None:
    """The details event mirrors the span exactly, with content as structured values, in the span's context."""
    events = [e for e in details_events(otel) if e.span_id == span.context.span_id]
    assert len(events) == 1
    event = events[0]
    assert event.trace_id == span.context.trace_id
    assert event.timestamp == span.end_time
    attributes = dict(event.attributes)
    for key in CONTENT_KEYS & attributes.keys():
        assert not isinstance(attributes[key], str), f"{key} on the event must be structured, not a string"
    assert plain(attributes) == span_attributes(span)


def metric_attributes(expected: Mapping[str, Any]) -> dict[str, Any]:
    return {k: expected[k] for k in METRIC_KEYS if k in expected}


def check_metrics(
    otel: Any,
    expected: Mapping[str, Any],
    *,
    calls: int = 1,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    error: str | None = None,
    streamed: bool = False,
) -> None:
    """One series per metric with exactly these attributes; exact token sums over ``calls`` calls."""
    attrs = metric_attributes(expected)
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes) == ({**attrs, "error.type": error} if error else attrs)
    assert duration.count == calls
    if calls == 1:
        (span,) = otel.spans()
        assert duration.sum == pytest.approx((span.end_time - span.start_time) / 1e9, abs=1e-9)

    usage = {p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")}
    expected_usage = {}
    if input_tokens is not None:
        expected_usage["input"] = (input_tokens, calls)
    if output_tokens is not None:
        expected_usage["output"] = (output_tokens, calls)
    assert {k: (p.sum, p.count) for k, p in usage.items()} == expected_usage
    for kind, point in usage.items():
        assert dict(point.attributes) == {**attrs, "gen_ai.token.type": kind}

    ttfc = otel.points("gen_ai.client.operation.time_to_first_chunk")
    if streamed:
        (point,) = ttfc
        chunk_attrs = {k: v for k, v in attrs.items() if k != "openai.response.service_tier"}
        assert dict(point.attributes) == chunk_attrs
        assert point.count == calls
    else:
        assert ttfc == []


# -- expected attributes from the recording ------------------------------------------------------------------


def chat_request(model: str, **extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "openai.api.type": "chat_completions",
        "gen_ai.request.model": model,
        **OPENAI,
        **extra,
    }


def chat_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "gen_ai.usage.input_tokens": usage["prompt_tokens"],
        "gen_ai.usage.output_tokens": usage["completion_tokens"],
        "gen_ai.usage.cache_read.input_tokens": usage["prompt_tokens_details"]["cached_tokens"],
        "gen_ai.usage.reasoning.output_tokens": usage["completion_tokens_details"]["reasoning_tokens"],
    }


def chat_response(body: Mapping[str, Any]) -> dict[str, Any]:
    out = {
        "gen_ai.response.id": body["id"],
        "gen_ai.response.model": body["model"],
        "gen_ai.response.finish_reasons": [c["finish_reason"] for c in body["choices"]],
        **chat_usage(body["usage"]),
    }
    if body.get("system_fingerprint"):
        out["openai.response.system_fingerprint"] = body["system_fingerprint"]
    if body.get("service_tier"):
        out["openai.response.service_tier"] = body["service_tier"]
    return out


def chat_stream_response(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What a complete chat stream amounts to, read from its chunks."""
    first = events[0]
    out: dict[str, Any] = {
        "gen_ai.response.id": first["id"],
        "gen_ai.response.model": first["model"],
        TTFC: POSITIVE,
    }
    reasons: dict[int, str] = {}
    for event in events:
        for choice in event["choices"]:
            if choice.get("finish_reason"):
                reasons[choice["index"]] = choice["finish_reason"]
        if event.get("usage"):
            out.update(chat_usage(event["usage"]))
        if event.get("system_fingerprint"):
            out["openai.response.system_fingerprint"] = event["system_fingerprint"]
        if event.get("service_tier"):
            out["openai.response.service_tier"] = event["service_tier"]
    out["gen_ai.response.finish_reasons"] = [reasons[i] for i in sorted(reasons)]
    return out


def stream_text(events: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(
        c["delta"].get("content") or "" for e in events for c in e["choices"] if c["index"] == index and c.get("delta")
    )


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"type": "text", "content": text}]}


def assistant(parts: list[dict[str, Any]], finish_reason: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "parts": parts}
    if finish_reason is not None:
        msg["finish_reason"] = finish_reason
    return msg


def text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


# -- chat completions ----------------------------------------------------------------------------------------


def test_chat_with_content(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = Cassette("test_chat_completion_with_content")
    with cassette.client() as client:
        result = client.chat.completions.create(**cassette.request_json())
    cassette.assert_same_requests()
    body = cassette.response_json()
    assert result.id == body["id"]

    span = otel.span()
    expected = {
        **chat_request("gpt-4o-mini"),
        **chat_response(body),
        "gen_ai.input.messages": [user("Say this is a test")],
        "gen_ai.output.messages": [assistant([text(body["choices"][0]["message"]["content"])], "stop")],
    }
    assert expected["gen_ai.usage.input_tokens"] == 12  # the recording, read independently
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=12, output_tokens=5)


async def test_async_chat_with_content(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = Cassette("test_async_chat_completion_with_content")
    async with cassette.async_client() as client:
        await client.chat.completions.create(**cassette.request_json())
    cassette.assert_same_requests()
    body = cassette.response_json()

    span = otel.span()
    expected = {
        **chat_request("gpt-4o-mini"),
        **chat_response(body),
        "gen_ai.input.messages": [user("Say this is a test")],
        "gen_ai.output.messages": [
            assistant([text("This is a test. How can I assist you further?")], "stop"),
        ],
    }
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=12, output_tokens=12)


def test_chat_extra_params(otel: Any) -> None:
    otel.instrument()
    cassette = Cassette("test_chat_completion_extra_params")
    request = cassette.request_json()
    assert request["service_tier"] == "default" and request["response_format"] == {"type": "text"}
    with cassette.client() as client:
        client.chat.completions.create(**request)
    cassette.assert_same_requests()
    body = cassette.response_json()

    span = otel.span()
    expected = {
        **chat_request(
            "gpt-4o-mini",
            **{
                "gen_ai.request.max_tokens": 50,
                "gen_ai.request.seed": 42,
                "gen_ai.request.temperature": 0.5,
                "gen_ai.output.type": "text",
                "openai.request.service_tier": "default",
            },
        ),
        **chat_response(body),
    }
    assert expected["openai.response.service_tier"] == "default"
    assert expected["openai.response.system_fingerprint"] == "fp_0705bf87c0"
    check_span(span, expected)
    assert details_events(otel) == []  # no content capture: no details event by default
    check_metrics(otel, expected, input_tokens=12, output_tokens=12)


def test_chat_multiple_choices(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = Cassette("test_chat_completion_multiple_choices")
    with cassette.client() as client:
        client.chat.completions.create(**cassette.request_json())
    cassette.assert_same_requests()
    body = cassette.response_json()

    span = otel.span()
    expected = {
        **chat_request("gpt-4o-mini", **{"gen_ai.request.choice.count": 2}),
        **chat_response(body),
        "gen_ai.input.messages": [user("Say this is a test")],
        "gen_ai.output.messages": [
            assistant([text(c["message"]["content"])], c["finish_reason"]) for c in body["choices"]
        ],
    }
    assert expected["gen_ai.response.finish_reasons"] == ["stop", "stop"]
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=12, output_tokens=24)


def test_chat_tool_calls_two_requests(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = Cassette("test_chat_completion_tool_calls_with_content")
    with cassette.client() as client:
        first = client.chat.completions.create(**cassette.request_json(0))
        # the follow-up carries the model's tool calls and the tool results, as the recording did
        client.chat.completions.create(**cassette.request_json(1))
    cassette.assert_same_requests()
    assert [c.id for c in first.choices[0].message.tool_calls or []] == [
        "call_JpNb8OiAkbIbHzDggfpdDHpi",
        "call_vaFQc3zK6hHTRZKXRI5Eo2cJ",
    ]
    body1, body2 = cassette.response_json(0), cassette.response_json(1)

    spans = sorted(otel.spans(), key=lambda s: s.start_time)
    assert len(spans) == 2
    system = {"role": "system", "parts": [text("You're a helpful assistant.")]}
    question = user("What's the weather in Seattle and San Francisco today?")
    calls = [
        tool_call("call_JpNb8OiAkbIbHzDggfpdDHpi", "get_current_weather", {"location": "Seattle, WA"}),
        tool_call("call_vaFQc3zK6hHTRZKXRI5Eo2cJ", "get_current_weather", {"location": "San Francisco, CA"}),
    ]
    expected1 = {
        **chat_request("gpt-4o-mini"),
        **chat_response(body1),
        "gen_ai.input.messages": [system, question],
        "gen_ai.output.messages": [assistant(calls, "tool_calls")],
        "gen_ai.tool.definitions": [WEATHER_TOOL_DEFINITION],
    }
    expected2 = {
        **chat_request("gpt-4o-mini"),
        **chat_response(body2),
        "gen_ai.input.messages": [
            system,
            question,
            assistant(calls),
            {
                "role": "tool",
                "parts": [
                    {
                        "type": "tool_call_response",
                        "id": "call_JpNb8OiAkbIbHzDggfpdDHpi",
                        "response": "50 degrees and raining",
                    }
                ],
            },
            {
                "role": "tool",
                "parts": [
                    {
                        "type": "tool_call_response",
                        "id": "call_vaFQc3zK6hHTRZKXRI5Eo2cJ",
                        "response": "70 degrees and sunny",
                    }
                ],
            },
        ],
        "gen_ai.output.messages": [assistant([text(body2["choices"][0]["message"]["content"])], "stop")],
    }
    check_span(spans[0], expected1)
    check_span(spans[1], expected2)
    check_event(otel, spans[0])
    check_event(otel, spans[1])
    assert spans[0].context.trace_id != spans[1].context.trace_id  # two separate calls, no common parent
    check_metrics(otel, expected1, calls=2, input_tokens=75 + 99, output_tokens=51 + 25)


def test_chat_streaming_with_usage(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = Cassette("test_chat_completion_streaming")
    request = cassette.request_json()
    assert request["stream_options"] == {"include_usage": True}
    with cassette.client() as client:
        chunks = list(client.chat.completions.create(**request))
    cassette.assert_same_requests()
    events = cassette[0].sse_events()
    assert len(chunks) == len(events)  # nothing hidden, nothing added
    assert len(cassette.piece_sizes[0]) == len(events) + 1  # streamed frame by frame (+ [DONE])

    span = otel.span()
    expected = {
        **chat_request("gpt-4", **{"gen_ai.request.stream": True}),
        **chat_stream_response(events),
        "gen_ai.input.messages": [user("Say this is a test")],
        "gen_ai.output.messages": [assistant([text(stream_text(events))], "stop")],
    }
    assert stream_text(events) == '"This is a test."'
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=12, output_tokens=5, streamed=True)


async def test_async_chat_streaming_with_usage(otel: Any) -> None:
    otel.instrument()
    cassette = Cassette("test_async_chat_completion_streaming")
    async with cassette.async_client() as client:
        stream = await client.chat.completions.create(**cassette.request_json())
        chunks = [chunk async for chunk in stream]
    cassette.assert_same_requests()
    events = cassette[0].sse_events()
    assert len(chunks) == len(events)

    span = otel.span()
    expected = {
        **chat_request("gpt-4", **{"gen_ai.request.stream": True}),
        **chat_stream_response(events),
    }
    check_span(span, expected)
    check_metrics(otel, expected, input_tokens=12, output_tokens=5, streamed=True)


def not_complete_expected(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A chat stream the caller left after three chunks (role, "This", " is")."""
    assert stream_text(events[:3]) == "This is"
    return {
        **chat_request("gpt-4", **{"gen_ai.request.stream": True}),
        "gen_ai.response.id": events[0]["id"],
        "gen_ai.response.model": events[0]["model"],
        TTFC: POSITIVE,
        "gen_ai.input.messages": [user("Say this is a test")],
        # no finish reason arrived: none is reported on the span, and the message says so
        "gen_ai.output.messages": [assistant([text(stream_text(events[:3]))], "error")],
    }


def test_chat_streaming_not_complete(otel: Any) -> None:
    otel.instrument(**CONTENT, **AS_RECORDED)
    cassette = Cassette("test_chat_completion_streaming_not_complete")
    with cassette.client() as client:
        stream = client.chat.completions.create(**cassette.request_json())
        seen = []
        for chunk in stream:
            seen.append(chunk)
            if len(seen) == 3:  # then the caller stops reading
                break
        assert otel.spans() == []  # still open until the caller closes the stream
        stream.close()
    cassette.assert_same_requests()
    # the rest of the body was never read from the transport
    assert len(cassette.piece_sizes[0]) < len(cassette[0].pieces())

    span = otel.span()
    expected = not_complete_expected(cassette[0].sse_events())
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, streamed=True)


async def test_async_chat_streaming_not_complete_dropped(otel: Any) -> None:
    """The caller breaks out and drops the stream without closing it: the span ends when it is collected."""
    otel.instrument(**CONTENT, **AS_RECORDED)
    cassette = Cassette("test_async_chat_completion_streaming_not_complete")
    async with cassette.async_client() as client:
        stream = await client.chat.completions.create(**cassette.request_json())
        count = 0
        async for _ in stream:
            count += 1
            if count == 3:
                break
        del stream, _
        gc.collect()
        await dropped_async_generators_closed()
        (span,) = otel.spans()
    cassette.assert_same_requests()

    expected = not_complete_expected(cassette[0].sse_events())
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, streamed=True)


def test_chat_multiple_tools_streaming(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = Cassette("test_chat_completion_multiple_tools_streaming_with_content")
    with cassette.client() as client:
        chunks = list(client.chat.completions.create(**cassette.request_json()))
    cassette.assert_same_requests()
    events = cassette[0].sse_events()
    assert len(chunks) == len(events)

    ids = {}
    for event in events:
        for choice in event["choices"]:
            for call in (choice.get("delta") or {}).get("tool_calls") or ():
                if call.get("id"):
                    ids[call["index"]] = call["id"]
    assert len(ids) == 2

    span = otel.span()
    expected = {
        **chat_request("gpt-4o-mini", **{"gen_ai.request.stream": True}),
        **chat_stream_response(events),
        "gen_ai.input.messages": [
            {"role": "system", "parts": [text("You're a helpful assistant.")]},
            user("What's the weather in Seattle and San Francisco today?"),
        ],
        "gen_ai.output.messages": [
            assistant(
                [
                    tool_call(ids[0], "get_current_weather", {"location": "Seattle, WA"}),
                    tool_call(ids[1], "get_current_weather", {"location": "San Francisco, CA"}),
                ],
                "tool_calls",
            )
        ],
        "gen_ai.tool.definitions": [WEATHER_TOOL_DEFINITION],
    }
    assert expected["gen_ai.response.finish_reasons"] == ["tool_calls"]
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=75, output_tokens=51, streamed=True)


def test_chat_with_raw_response(otel: Any) -> None:
    otel.instrument()
    cassette = Cassette("test_chat_completion_with_raw_response")
    with cassette.client() as client:
        raw = client.chat.completions.with_raw_response.create(**cassette.request_json())
        assert len(otel.spans()) == 1  # ends with the call, not with the caller's parse()
        parsed = raw.parse()
    cassette.assert_same_requests()
    body = cassette.response_json()
    assert raw.headers["x-request-id"] == "req_58cff97afd0e7c0bba910ccf0b044a6f"
    assert parsed.id == body["id"]

    span = otel.span()
    expected = {**chat_request("gpt-4o-mini"), **chat_response(body)}
    check_span(span, expected)
    check_metrics(otel, expected, input_tokens=12, output_tokens=5)


def test_chat_with_raw_response_streaming(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = Cassette("test_chat_completion_with_raw_response_streaming")
    with cassette.client() as client:
        raw = client.chat.completions.with_raw_response.create(**cassette.request_json())
        assert otel.spans() == []
        chunks = list(raw.parse())
    cassette.assert_same_requests()
    events = cassette[0].sse_events()
    assert len(chunks) == len(events)

    span = otel.span()
    expected = {
        **chat_request("gpt-4o-mini", **{"gen_ai.request.stream": True}),
        **chat_stream_response(events),
        "gen_ai.input.messages": [user("Say this is a test")],
        "gen_ai.output.messages": [assistant([text(stream_text(events))], "stop")],
    }
    assert expected["openai.response.service_tier"] == "default"
    assert expected["openai.response.system_fingerprint"] == "fp_644f11dd4d"
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=12, output_tokens=12, streamed=True)


def test_chat_404(otel: Any) -> None:
    otel.instrument()
    cassette = Cassette("test_chat_completion_404")
    with cassette.client() as client, pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(**cassette.request_json())
    cassette.assert_same_requests()

    span = otel.span()
    expected = {**chat_request("this-model-does-not-exist"), "error.type": "404"}
    check_span(span, expected, error=str(caught.value))
    check_metrics(otel, expected, error="404")


# -- embeddings ----------------------------------------------------------------------------------------------

# The SDK asks for base64 on its own when the caller names no format (and decodes it); the recordings were made
# without that, so the key is left out of the request comparison for those cassettes.
SDK_DEFAULT_FORMAT = frozenset({"encoding_format"})


def embeddings_request(model: str, **extra: Any) -> dict[str, Any]:
    return {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": model, **OPENAI, **extra}


def embeddings_response(body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "gen_ai.response.model": body["model"],
        "gen_ai.usage.input_tokens": body["usage"]["prompt_tokens"],
    }


def test_embeddings_with_dimensions(otel: Any) -> None:
    otel.instrument()
    cassette = Cassette("test_embeddings_with_dimensions")
    with cassette.client() as client:
        result = client.embeddings.create(**cassette.request_json())
    cassette.assert_same_requests(ignore=SDK_DEFAULT_FORMAT)
    assert len(result.data[0].embedding) == 512
    body = cassette.response_json()

    span = otel.span()
    expected = {
        **embeddings_request("text-embedding-3-small", **{"gen_ai.embeddings.dimension.count": 512}),
        **embeddings_response(body),
    }
    check_span(span, expected)
    check_metrics(otel, expected, input_tokens=8)


def test_embeddings_emit_no_details_event(otel: Any) -> None:
    """``gen_ai.client.inference.operation.details`` describes inference calls; embeddings have no content."""
    otel.instrument(**CONTENT)
    cassette = Cassette("test_embeddings_with_dimensions")
    with cassette.client() as client:
        client.embeddings.create(**cassette.request_json())

    span = otel.span()
    expected = {
        **embeddings_request("text-embedding-3-small", **{"gen_ai.embeddings.dimension.count": 512}),
        **embeddings_response(cassette.response_json()),
    }
    check_span(span, expected)  # no content attributes on embeddings spans, even with capture on
    assert details_events(otel) == []


async def test_async_embeddings_with_dimensions(otel: Any) -> None:
    otel.instrument()
    cassette = Cassette("test_async_embeddings_with_dimensions")
    async with cassette.async_client() as client:
        await client.embeddings.create(**cassette.request_json())
    cassette.assert_same_requests(ignore=SDK_DEFAULT_FORMAT)
    body = cassette.response_json()

    span = otel.span()
    expected = {
        **embeddings_request("text-embedding-3-small", **{"gen_ai.embeddings.dimension.count": 512}),
        **embeddings_response(body),
    }
    check_span(span, expected)
    check_metrics(otel, expected, input_tokens=9)


def test_embeddings_batch_input(otel: Any) -> None:
    otel.instrument()
    cassette = Cassette("test_embeddings_with_batch_input")
    request = cassette.request_json()
    assert len(request["input"]) == 3
    with cassette.client() as client:
        result = client.embeddings.create(**request)
    cassette.assert_same_requests(ignore=SDK_DEFAULT_FORMAT)
    assert len(result.data) == 3
    body = cassette.response_json()

    span = otel.span()
    expected = {**embeddings_request("text-embedding-3-small"), **embeddings_response(body)}
    check_span(span, expected)
    check_metrics(otel, expected, input_tokens=24)


def test_embeddings_base64(otel: Any) -> None:
    otel.instrument()
    cassette = Cassette("test_embeddings_with_encoding_format")
    request = cassette.request_json()
    assert request["encoding_format"] == "base64"
    with cassette.client() as client:
        result = client.embeddings.create(**request)
    cassette.assert_same_requests()
    assert isinstance(result.data[0].embedding, str)  # asked for explicitly: the SDK leaves it encoded
    body = cassette.response_json()

    span = otel.span()
    expected = {
        **embeddings_request("text-embedding-3-small", **{"gen_ai.request.encoding_formats": ["base64"]}),
        **embeddings_response(body),
    }
    check_span(span, expected)
    check_metrics(otel, expected, input_tokens=9)


def test_embeddings_404(otel: Any) -> None:
    otel.instrument()
    cassette = Cassette("test_embeddings_model_not_found")
    with cassette.client() as client, pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(**cassette.request_json())
    cassette.assert_same_requests(ignore=SDK_DEFAULT_FORMAT)

    span = otel.span()
    expected = {**embeddings_request("non-existent-embedding-model"), "error.type": "404"}
    check_span(span, expected, error=str(caught.value))
    check_metrics(otel, expected, error="404")


# -- responses -----------------------------------------------------------------------------------------------


def responses_cassette(name: str) -> Cassette:
    return Cassette(f"test_responses_create_{name}[content_mode0]")


def responses_request(model: str, **extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "openai.api.type": "responses",
        "gen_ai.request.model": model,
        **OPENAI,
        **extra,
    }


def responses_response(body: Mapping[str, Any], finish_reason: str = "stop") -> dict[str, Any]:
    usage = body["usage"]
    return {
        "gen_ai.response.id": body["id"],
        "gen_ai.response.model": body["model"],
        "gen_ai.response.finish_reasons": [finish_reason],
        "openai.response.service_tier": body["service_tier"],
        "gen_ai.usage.input_tokens": usage["input_tokens"],
        "gen_ai.usage.output_tokens": usage["output_tokens"],
        "gen_ai.usage.cache_read.input_tokens": usage["input_tokens_details"]["cached_tokens"],
        "gen_ai.usage.reasoning.output_tokens": usage["output_tokens_details"]["reasoning_tokens"],
    }


def output_text(body: Mapping[str, Any]) -> str:
    return "".join(part["text"] for item in body["output"] if item["type"] == "message" for part in item["content"])


def final_response(cassette: Cassette) -> dict[str, Any]:
    events = cassette[0].sse_events()
    assert events[-1]["type"] == "response.completed"
    return events[-1]["response"]


INSTRUCTIONS = [text("You are a helpful assistant.")]


def test_responses_basic(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = responses_cassette("basic")
    with cassette.client() as client:
        result = client.responses.create(**cassette.request_json())
    cassette.assert_same_requests()
    body = cassette.response_json()
    assert result.output_text == output_text(body) == "This is a test."

    span = otel.span()
    expected = {
        **responses_request("gpt-4o-mini"),
        **responses_response(body),
        "gen_ai.system_instructions": INSTRUCTIONS,
        "gen_ai.input.messages": [user("Say this is a test")],
        "gen_ai.output.messages": [assistant([text("This is a test.")], "stop")],
    }
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=22, output_tokens=6)


def test_responses_captures_content(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = responses_cassette("captures_content")
    with cassette.client() as client:
        client.responses.create(**cassette.request_json())
    cassette.assert_same_requests()
    body = cassette.response_json()

    span = otel.span()
    expected = {
        **responses_request("gpt-4o-mini", **{"gen_ai.output.type": "text"}),
        **responses_response(body),
        "gen_ai.system_instructions": INSTRUCTIONS,
        "gen_ai.input.messages": [user("Say this is a test")],
        "gen_ai.output.messages": [assistant([text(output_text(body))], "stop")],
    }
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=22, output_tokens=13)


def test_responses_all_params(otel: Any) -> None:
    otel.instrument()
    cassette = responses_cassette("with_all_params")
    with cassette.client() as client:
        client.responses.create(**cassette.request_json())
    cassette.assert_same_requests()
    body = cassette.response_json()

    span = otel.span()
    expected = {
        **responses_request(
            "gpt-4o-mini",
            **{
                "gen_ai.request.max_tokens": 50,
                "gen_ai.request.temperature": 0.7,
                "gen_ai.request.top_p": 0.9,
                "gen_ai.output.type": "text",
                "openai.request.service_tier": "default",
            },
        ),
        **responses_response(body),
    }
    check_span(span, expected)
    assert details_events(otel) == []
    check_metrics(otel, expected, input_tokens=22, output_tokens=6)


def test_responses_token_usage(otel: Any) -> None:
    otel.instrument()
    cassette = responses_cassette("token_usage")
    with cassette.client() as client:
        client.responses.create(**cassette.request_json())
    cassette.assert_same_requests()
    body = cassette.response_json()

    span = otel.span()
    expected = {**responses_request("gpt-4o-mini"), **responses_response(body)}
    assert (expected["gen_ai.usage.input_tokens"], expected["gen_ai.usage.output_tokens"]) == (22, 22)
    check_span(span, expected)
    check_metrics(otel, expected, input_tokens=22, output_tokens=22)


def test_responses_aggregates_cache_tokens(otel: Any) -> None:
    otel.instrument()
    cassette = responses_cassette("aggregates_cache_tokens")
    with cassette.client() as client:
        client.responses.create(**cassette.request_json())
    cassette.assert_same_requests()
    body = cassette.response_json()

    span = otel.span()
    expected = {**responses_request("gpt-4o-mini"), **responses_response(body)}
    # the recording reports a cache read of 0 tokens: reported as 0, not left out
    assert expected["gen_ai.usage.cache_read.input_tokens"] == 0
    check_span(span, expected)
    check_metrics(otel, expected, input_tokens=22, output_tokens=6)


def test_responses_reasoning_tokens(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = responses_cassette("reports_reasoning_tokens")
    request = cassette.request_json()
    with cassette.client() as client:
        client.responses.create(**request)
    cassette.assert_same_requests()
    body = cassette.response_json()
    assert [item["type"] for item in body["output"]] == ["reasoning", "message"]
    assert body["output"][0]["summary"] == []

    span = otel.span()
    expected = {
        **responses_request(
            "gpt-5.4",
            **{"gen_ai.request.max_tokens": 300, "gen_ai.request.reasoning.level": "low"},
        ),
        **responses_response(body),
        "gen_ai.input.messages": [user(request["input"][0]["content"])],
        # the reasoning item has no summary: an empty reasoning part stands for it
        "gen_ai.output.messages": [assistant([{"type": "reasoning", "content": ""}, text(output_text(body))], "stop")],
    }
    assert expected["gen_ai.usage.reasoning.output_tokens"] == 9
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=44, output_tokens=288)


def test_responses_tool_call_content(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = responses_cassette("captures_tool_call_content")
    with cassette.client() as client:
        client.responses.create(**cassette.request_json())
    cassette.assert_same_requests()
    body = cassette.response_json()
    (call,) = body["output"]

    span = otel.span()
    expected = {
        **responses_request("gpt-4o-mini"),
        **responses_response(body, finish_reason="tool_call"),
        "gen_ai.input.messages": [user("What's the weather in Seattle right now?")],
        "gen_ai.output.messages": [
            assistant([tool_call(call["call_id"], "get_current_weather", {"location": "Seattle, WA"})], "tool_call")
        ],
        "gen_ai.tool.definitions": [WEATHER_TOOL_DEFINITION],
    }
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=72, output_tokens=8)


def test_responses_api_error(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = responses_cassette("api_error")
    with cassette.client() as client, pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(**cassette.request_json())
    cassette.assert_same_requests()

    span = otel.span()
    expected = {
        **responses_request("this-model-does-not-exist"),
        "error.type": "400",
        "gen_ai.input.messages": [user("Hello")],
    }
    check_span(span, expected, error=str(caught.value))
    check_event(otel, span)
    check_metrics(otel, expected, error="400")


def test_responses_streaming(otel: Any) -> None:
    otel.instrument()
    cassette = responses_cassette("streaming")
    with cassette.client() as client:
        events = list(client.responses.create(**cassette.request_json()))
    cassette.assert_same_requests()
    recorded = cassette[0].sse_events()
    assert [e.type for e in events] == [e["type"] for e in recorded]
    assert len(cassette.piece_sizes[0]) == len(recorded)
    body = final_response(cassette)

    span = otel.span()
    expected = {
        **responses_request("gpt-4o-mini", **{"gen_ai.request.stream": True, "openai.request.service_tier": "default"}),
        **responses_response(body),
        TTFC: POSITIVE,
    }
    check_span(span, expected)
    check_metrics(otel, expected, input_tokens=22, output_tokens=6, streamed=True)


def test_responses_streaming_captures_content(otel: Any) -> None:
    otel.instrument(**CONTENT)
    cassette = responses_cassette("streaming_captures_content")
    with cassette.client() as client:
        for _ in client.responses.create(**cassette.request_json()):
            pass
    cassette.assert_same_requests()
    recorded = cassette[0].sse_events()
    body = final_response(cassette)
    # the stream opened with service_tier "auto"; the completed response says what was used
    assert recorded[0]["response"]["service_tier"] == "auto" and body["service_tier"] == "default"

    span = otel.span()
    expected = {
        **responses_request("gpt-4o-mini", **{"gen_ai.request.stream": True}),
        **responses_response(body),
        TTFC: POSITIVE,
        "gen_ai.system_instructions": INSTRUCTIONS,
        "gen_ai.input.messages": [user("Say this is a test")],
        "gen_ai.output.messages": [assistant([text("This is a test.")], "stop")],
    }
    check_span(span, expected)
    check_event(otel, span)
    check_metrics(otel, expected, input_tokens=22, output_tokens=6, streamed=True)


def test_responses_streaming_aggregates_cache_tokens(otel: Any) -> None:
    otel.instrument()
    cassette = responses_cassette("streaming_aggregates_cache_tokens")
    with cassette.client() as client:
        stream = client.responses.create(**cassette.request_json())
        with stream:
            for _ in stream:
                pass
    cassette.assert_same_requests()
    body = final_response(cassette)

    span = otel.span()
    expected = {
        **responses_request("gpt-4o-mini", **{"gen_ai.request.stream": True}),
        **responses_response(body),
        TTFC: POSITIVE,
    }
    assert expected["gen_ai.usage.cache_read.input_tokens"] == 0
    check_span(span, expected)
    check_metrics(otel, expected, input_tokens=22, output_tokens=6, streamed=True)
