"""Content capture for Messages: system, messages with text / image / document / tool_use / tool_result /
thinking parts, tool definitions and the output message, in the conventions' part schema; complete and streamed
replies alike; private by default; the same capture modes, attributes and event as the OpenAI provider.

Span content is a compact JSON string; event content is structured (the SDK stores lists as tuples, so values
are compared after :func:`plain`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from llmtel import semconv as sc
from llmtel.core.invocation import DETAILS_EVENT
from llmtel.demo.server import DEFAULT_REPLY
from llmtel.demo.wire.anthropic import SIGNATURE, THINKING, TOOL_INPUT
from tests.anthropic.helpers import MAX_TOKENS, MODEL, create, drain, request_n

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CONTENT_KEYS = (
    sc.GEN_AI_INPUT_MESSAGES,
    sc.GEN_AI_OUTPUT_MESSAGES,
    sc.GEN_AI_SYSTEM_INSTRUCTIONS,
    sc.GEN_AI_TOOL_DEFINITIONS,
)
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL = {"name": "get_weather", "description": "Current weather", "input_schema": SCHEMA}
PNG = "iVBORw0KGgo="


def plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def span_content(span: Any) -> dict[str, Any]:
    found = {}
    for key in CONTENT_KEYS:
        if key in span.attributes:
            raw = span.attributes[key]
            decoded = json.loads(raw)
            assert raw == json.dumps(decoded, separators=(",", ":"), ensure_ascii=False)
            found[key] = decoded
    return found


def text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def reply(finish_reason: str = "stop", *parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "parts": list(parts) or [text(DEFAULT_REPLY)], "finish_reason": finish_reason}


# The request of a tool round trip with every kind of part the Messages API takes.
ROUND_TRIP: list[Any] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is the weather here"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/sky.png"}},
            {"type": "document", "source": {"type": "url", "url": "https://example.com/report.pdf"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Sunny all week"}},
            {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
        ],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "The user wants weather", "signature": "s"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "rainy, 14C"}]},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "windy"},
        ],
    },
]
ROUND_TRIP_PARTS: list[Any] = [
    {
        "role": "user",
        "parts": [
            text("What is the weather here"),
            {"type": "blob", "modality": "image", "content": PNG, "mime_type": "image/png"},
            {"type": "uri", "modality": "image", "uri": "https://example.com/sky.png"},
            {"type": "uri", "modality": "document", "uri": "https://example.com/report.pdf"},
            text("Sunny all week"),
            {"type": "file", "modality": "image", "file_id": "file_1"},
        ],
    },
    {
        "role": "assistant",
        "parts": [
            {"type": "reasoning", "content": "The user wants weather"},
            {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}},
        ],
    },
    {
        "role": "user",
        "parts": [
            {"type": "tool_call_response", "id": "toolu_1", "response": "rainy, 14C"},
            {"type": "tool_call_response", "id": "toolu_2", "response": "windy"},
        ],
    },
]


async def test_no_content_by_default(otel: Any, llm: Any) -> None:
    otel.instrument("anthropic")
    await create(llm, system="Be brief", messages=ROUND_TRIP, tools=[TOOL])
    await drain(await create(llm, stream=True, system="Be brief"))
    for span in otel.spans():
        assert not set(CONTENT_KEYS) & set(span.attributes or {})
    assert otel.logs() == []


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_round_trip_with_every_part_type(otel: Any, llm: Any, stream: bool) -> None:
    otel.instrument("anthropic", **{CAPTURE: "SPAN_ONLY"})
    system = [{"type": "text", "text": "Be brief"}, {"type": "text", "text": "Use metric units"}]
    result = await create(llm, system=system, messages=ROUND_TRIP, stream=stream)
    if stream:
        await drain(result)
    assert span_content(otel.span()) == {
        sc.GEN_AI_SYSTEM_INSTRUCTIONS: [text("Be brief"), text("Use metric units")],
        sc.GEN_AI_INPUT_MESSAGES: ROUND_TRIP_PARTS,
        sc.GEN_AI_OUTPUT_MESSAGES: [reply()],
    }


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_tool_use_reply(otel: Any, server: Any, llm: Any, stream: bool) -> None:
    otel.instrument("anthropic", **{CAPTURE: "SPAN_ONLY"})
    result = await create(
        llm, system="Be brief", messages=[{"role": "user", "content": "Weather?"}], tools=[TOOL], stream=stream
    )
    if stream:
        await drain(result)
    call = {"type": "tool_call", "id": f"toolu_{request_n(server)}", "name": "get_weather", "arguments": TOOL_INPUT}
    assert span_content(otel.span()) == {
        sc.GEN_AI_SYSTEM_INSTRUCTIONS: [text("Be brief")],
        sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("Weather?")]}],
        sc.GEN_AI_TOOL_DEFINITIONS: [
            {"type": "function", "name": "get_weather", "description": "Current weather", "parameters": SCHEMA}
        ],
        sc.GEN_AI_OUTPUT_MESSAGES: [reply("tool_call", call)],
    }


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_thinking_reply_is_a_reasoning_part(otel: Any, llm: Any, stream: bool) -> None:
    otel.instrument("anthropic", **{CAPTURE: "SPAN_ONLY"})
    result = await create(llm, thinking={"type": "enabled", "budget_tokens": 50}, stream=stream)
    if stream:
        await drain(result)
    [output] = span_content(otel.span())[sc.GEN_AI_OUTPUT_MESSAGES]
    assert output == reply("stop", {"type": "reasoning", "content": THINKING}, text(DEFAULT_REPLY))
    assert SIGNATURE not in json.dumps(output)  # the signature is no content


async def test_stream_helper_content(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument("anthropic", **{CAPTURE: "SPAN_ONLY"})
    manager = llm.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": "Hi"}])
    if is_async:
        async with manager as stream:
            async for _ in stream.text_stream:
                pass
    else:
        with manager as stream:
            for _ in stream.text_stream:
                pass
    assert span_content(otel.span())[sc.GEN_AI_OUTPUT_MESSAGES] == [reply()]


async def test_stream_left_early_has_what_was_seen(otel: Any, llm: Any) -> None:
    otel.instrument("anthropic", **{CAPTURE: "SPAN_ONLY"})
    stream = await create(llm, stream=True, extra_body={"x_chunks": 5})
    seen = []
    if hasattr(stream, "__anext__"):
        async for event in stream:
            seen.append(event)
            if len(seen) == 4:  # start, block start, two text deltas
                break
        await stream.close()
    else:
        for event in stream:
            seen.append(event)
            if len(seen) == 4:
                break
        stream.close()
    partial = "".join(e.delta.text for e in seen if e.type == "content_block_delta")
    assert span_content(otel.span())[sc.GEN_AI_OUTPUT_MESSAGES] == [reply("error", text(partial))]


@pytest.mark.parametrize("mode", ["SPAN_AND_EVENT", "EVENT_ONLY"])
async def test_details_event_carries_structured_content(otel: Any, llm: Any, mode: str) -> None:
    otel.instrument("anthropic", **{CAPTURE: mode})
    await create(llm, system="Be brief")
    span = otel.span()
    [record] = otel.logs()
    assert record.log_record.event_name == DETAILS_EVENT
    attributes = record.log_record.attributes
    assert plain(attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [text("Be brief")]
    assert plain(attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == [reply()]
    assert attributes[sc.GEN_AI_RESPONSE_ID] == span.attributes[sc.GEN_AI_RESPONSE_ID]
    on_span = set(CONTENT_KEYS) & set(span.attributes or {})
    assert on_span == (
        set()
        if mode == "EVENT_ONLY"
        else {sc.GEN_AI_SYSTEM_INSTRUCTIONS, sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES}
    )


async def test_size_limit_and_redaction_apply(otel: Any, llm: Any) -> None:
    otel.instrument("anthropic", **{CAPTURE: "SPAN_ONLY", "LLMTEL_MAX_CONTENT_LENGTH": "8"})
    await create(llm, messages=[{"role": "user", "content": "a rather long question indeed"}])
    content = span_content(otel.span())
    assert content[sc.GEN_AI_INPUT_MESSAGES][0]["parts"][0]["content"] == "a rather…[truncated 21 chars]"
