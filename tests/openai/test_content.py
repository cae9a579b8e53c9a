"""Content capture: private by default; SPAN_ONLY / EVENT_ONLY / SPAN_AND_EVENT; size limit; redaction hook.

Span content is a compact JSON string; event content is structured (the SDK stores lists as tuples, so values
are compared after :func:`plain`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import openai
import pytest

from llmtel import semconv as sc
from llmtel.core.invocation import DETAILS_EVENT
from llmtel.demo.server import DEFAULT_REPLY
from tests.openai.helpers import drain, run

MODEL = "gpt-4o-mini"
CONTENT_KEYS = (
    sc.GEN_AI_INPUT_MESSAGES,
    sc.GEN_AI_OUTPUT_MESSAGES,
    sc.GEN_AI_SYSTEM_INSTRUCTIONS,
    sc.GEN_AI_TOOL_DEFINITIONS,
)
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CHAT_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Current weather", "parameters": PARAMETERS},
}
RESPONSES_TOOL = {"type": "function", "name": "get_weather", "parameters": PARAMETERS, "strict": True}
TOOL_DEFINITION = {"type": "function", "name": "get_weather", "parameters": PARAMETERS}
USER = [{"role": "user", "content": "What is the weather"}]


def text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def reply(finish_reason: str = "stop", content: str = DEFAULT_REPLY) -> dict[str, Any]:
    return {"role": "assistant", "parts": [text(content)], "finish_reason": finish_reason}


def weather_call(call_id: str) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": "get_weather", "arguments": {"city": "Paris"}}


def plain(value: Any) -> Any:
    """Tuples (how the SDK stores sequences) back to lists, mappings to dicts."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def span_content(span: Any) -> dict[str, Any]:
    """The content attributes on a span, decoded (each must be a compact JSON string)."""
    found = {}
    for key in CONTENT_KEYS:
        if key in span.attributes:
            raw = span.attributes[key]
            assert isinstance(raw, str)
            decoded = json.loads(raw)
            assert raw == json.dumps(decoded, separators=(",", ":"), ensure_ascii=False)
            found[key] = decoded
    return found


def event_content(record: Any) -> dict[str, Any]:
    """The content attributes on a details event, which must be structured (sequences of mappings)."""
    found = {}
    for key in CONTENT_KEYS:
        if key in record.attributes:
            value = record.attributes[key]
            assert isinstance(value, (list, tuple)), (key, type(value))
            assert all(isinstance(item, Mapping) for item in value)
            found[key] = plain(value)
    return found


# -- the calls, one per API shape -------------------------------------------------------------------------------

Call = Callable[[Any], Awaitable[Any]]


async def chat(sdk: Any) -> Any:
    messages = [{"role": "system", "content": "Be brief"}, *USER]
    return await run(sdk.chat.completions.create(model=MODEL, messages=messages, tools=[CHAT_TOOL]))


async def chat_stream(sdk: Any) -> Any:
    return await drain(await run(sdk.chat.completions.create(model=MODEL, messages=USER, stream=True)))


async def chat_error(sdk: Any) -> Any:
    with pytest.raises(openai.NotFoundError):
        await run(sdk.chat.completions.create(model="does-not-exist", messages=USER))


async def responses(sdk: Any) -> Any:
    return await run(
        sdk.responses.create(model=MODEL, input="What is the weather", instructions="Be brief", tools=[RESPONSES_TOOL])
    )


async def responses_stream(sdk: Any) -> Any:
    stream = sdk.responses.create(model=MODEL, input="What is the weather", instructions="Be brief", stream=True)
    return await drain(await run(stream))


async def completions(sdk: Any) -> Any:
    return await run(sdk.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say something nice"))


async def completions_stream(sdk: Any) -> Any:
    stream = sdk.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say something nice", stream=True)
    return await drain(await run(stream))


async def embeddings(sdk: Any) -> Any:
    return await run(sdk.embeddings.create(model="text-embedding-3-small", input="hello brave world"))


ALL_CALLS: list[Call] = [
    chat,
    chat_stream,
    chat_error,
    responses,
    responses_stream,
    completions,
    completions_stream,
    embeddings,
]


# -- private by default -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", ALL_CALLS, ids=lambda c: c.__name__)
async def test_private_by_default(otel: Any, sdk: Any, call: Call) -> None:
    otel.instrument()
    await call(sdk)
    span = otel.span()
    assert not set(CONTENT_KEYS) & set(span.attributes)
    assert otel.logs() == []


@pytest.mark.parametrize("value", ["NO_CONTENT", "false", "False", ""])
def test_no_content_values(otel: Any, client: openai.OpenAI, value: str) -> None:
    otel.instrument(**{CAPTURE: value})
    client.chat.completions.create(model=MODEL, messages=USER)
    assert not set(CONTENT_KEYS) & set(otel.span().attributes)
    assert otel.logs() == []


@pytest.mark.parametrize("value", ["SPAN_ONLY", "span_only", "true", "TRUE"])
def test_span_only_values(otel: Any, client: openai.OpenAI, value: str) -> None:
    otel.instrument(**{CAPTURE: value})
    client.chat.completions.create(model=MODEL, messages=USER)
    assert span_content(otel.span()) == {
        sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("What is the weather")]}],
        sc.GEN_AI_OUTPUT_MESSAGES: [reply()],
    }
    assert otel.logs() == []


# -- SPAN_ONLY: exact structures --------------------------------------------------------------------------------


async def test_chat_tool_round_trip(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    messages = [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in Paris?", "name": "alice"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "rainy, 14°C"},
    ]
    await run(sdk.chat.completions.create(model=MODEL, messages=messages, tools=[CHAT_TOOL]))
    assert span_content(otel.span()) == {
        sc.GEN_AI_INPUT_MESSAGES: [
            {"role": "system", "parts": [text("You are a weather bot.")]},
            {"role": "user", "parts": [text("Weather in Paris?")], "name": "alice"},
            {"role": "assistant", "parts": [weather_call("call_1")]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy, 14°C"}]},
        ],
        sc.GEN_AI_TOOL_DEFINITIONS: [{**TOOL_DEFINITION, "description": "Current weather"}],
        sc.GEN_AI_OUTPUT_MESSAGES: [reply()],  # the last message is a tool result: the server answers in text
    }


async def test_chat_multimodal(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    ]
    await run(sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}]))
    assert span_content(otel.span())[sc.GEN_AI_INPUT_MESSAGES] == [
        {
            "role": "user",
            "parts": [
                text("What is in these?"),
                {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"},
                {"type": "blob", "modality": "image", "content": "iVBORw0KGgo=", "mime_type": "image/png"},
                {"type": "blob", "modality": "audio", "content": "UklGRg==", "mime_type": "audio/wav"},
            ],
        }
    ]


async def test_chat_tool_call_output(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    await run(sdk.chat.completions.create(model=MODEL, messages=USER, tools=[CHAT_TOOL]))
    n = len(server.requests)
    assert span_content(otel.span())[sc.GEN_AI_OUTPUT_MESSAGES] == [
        {"role": "assistant", "parts": [weather_call(f"call_{n}")], "finish_reason": "tool_calls"}
    ]


async def test_chat_n2_output_messages(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    await run(sdk.chat.completions.create(model=MODEL, messages=USER, n=2, max_tokens=3))
    cut = "This is a"  # max_tokens=3 truncates the reply to 3 words
    assert span_content(otel.span())[sc.GEN_AI_OUTPUT_MESSAGES] == [reply("length", cut), reply("length", cut)]


async def test_chat_stream_text_assembled(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    await chat_stream(sdk)
    assert span_content(otel.span()) == {
        sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("What is the weather")]}],
        sc.GEN_AI_OUTPUT_MESSAGES: [reply()],
    }


async def test_chat_stream_tool_call_assembled(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    await drain(await run(sdk.chat.completions.create(model=MODEL, messages=USER, tools=[CHAT_TOOL], stream=True)))
    n = len(server.requests)
    content = span_content(otel.span())
    # the arguments arrive in three pieces ('{"city', '": "Par', 'is"}') and are recorded as one object
    assert content[sc.GEN_AI_OUTPUT_MESSAGES] == [
        {"role": "assistant", "parts": [weather_call(f"call_{n}")], "finish_reason": "tool_calls"}
    ]
    assert content[sc.GEN_AI_TOOL_DEFINITIONS] == [{**TOOL_DEFINITION, "description": "Current weather"}]


async def test_chat_error_keeps_input(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    await chat_error(sdk)
    assert span_content(otel.span()) == {
        sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("What is the weather")]}],
    }


async def test_responses_instructions_and_tool_round_trip(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    items = [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "rainy, 14°C"},
    ]
    await run(sdk.responses.create(model=MODEL, input=items, instructions="Be brief", tools=[RESPONSES_TOOL]))
    assert span_content(otel.span()) == {
        sc.GEN_AI_SYSTEM_INSTRUCTIONS: [text("Be brief")],
        sc.GEN_AI_INPUT_MESSAGES: [
            {"role": "user", "parts": [text("Weather in Paris?")]},
            {"role": "assistant", "parts": [weather_call("call_1")]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy, 14°C"}]},
        ],
        sc.GEN_AI_TOOL_DEFINITIONS: [TOOL_DEFINITION],
        sc.GEN_AI_OUTPUT_MESSAGES: [reply()],
    }


async def test_responses_function_call_output(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    await responses(sdk)
    n = len(server.requests)
    assert span_content(otel.span()) == {
        sc.GEN_AI_SYSTEM_INSTRUCTIONS: [text("Be brief")],
        sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("What is the weather")]}],
        sc.GEN_AI_TOOL_DEFINITIONS: [TOOL_DEFINITION],
        sc.GEN_AI_OUTPUT_MESSAGES: [
            {"role": "assistant", "parts": [weather_call(f"call_{n}")], "finish_reason": "tool_call"}
        ],
    }


async def test_responses_stream_output(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    await responses_stream(sdk)
    assert span_content(otel.span()) == {
        sc.GEN_AI_SYSTEM_INSTRUCTIONS: [text("Be brief")],
        sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("What is the weather")]}],
        sc.GEN_AI_OUTPUT_MESSAGES: [reply()],
    }


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
async def test_completions_content(otel: Any, sdk: Any, stream: bool) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    result = await run(sdk.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi", n=2, stream=stream))
    if stream:
        await drain(result)
    assert span_content(otel.span()) == {
        sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("Say hi")]}],
        sc.GEN_AI_OUTPUT_MESSAGES: [reply(), reply()],
    }


@pytest.mark.parametrize("mode", ["SPAN_ONLY", "SPAN_AND_EVENT"])
async def test_embeddings_never_carry_content(otel: Any, sdk: Any, mode: str) -> None:
    otel.instrument(**{CAPTURE: mode})
    await embeddings(sdk)
    assert not set(CONTENT_KEYS) & set(otel.span().attributes)
    for record in otel.logs():
        assert not set(CONTENT_KEYS) & set(record.log_record.attributes)


# -- events -----------------------------------------------------------------------------------------------------


def only_event(otel: Any, span: Any) -> Any:
    records = otel.logs()
    assert len(records) == 1
    record = records[0].log_record
    assert record.event_name == DETAILS_EVENT == "gen_ai.client.inference.operation.details"
    assert record.trace_id == span.context.trace_id
    assert record.span_id == span.context.span_id
    return record


CHAT_CONTENT = {
    sc.GEN_AI_INPUT_MESSAGES: [
        {"role": "system", "parts": [text("Be brief")]},
        {"role": "user", "parts": [text("What is the weather")]},
    ],
    sc.GEN_AI_TOOL_DEFINITIONS: [{**TOOL_DEFINITION, "description": "Current weather"}],
}


async def test_event_only(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "EVENT_ONLY"})
    await chat(sdk)
    span = otel.span()
    assert not set(CONTENT_KEYS) & set(span.attributes)
    record = only_event(otel, span)
    n = len(server.requests)
    assert event_content(record) == {
        **CHAT_CONTENT,
        sc.GEN_AI_OUTPUT_MESSAGES: [
            {"role": "assistant", "parts": [weather_call(f"call_{n}")], "finish_reason": "tool_calls"}
        ],
    }
    others = {k: v for k, v in record.attributes.items() if k not in CONTENT_KEYS}
    assert others == dict(span.attributes)  # the event carries the span's attributes


async def test_event_only_responses(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "EVENT_ONLY"})
    await responses_stream(sdk)
    span = otel.span()
    assert not set(CONTENT_KEYS) & set(span.attributes)
    record = only_event(otel, span)
    assert event_content(record) == {
        sc.GEN_AI_SYSTEM_INSTRUCTIONS: [text("Be brief")],
        sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("What is the weather")]}],
        sc.GEN_AI_OUTPUT_MESSAGES: [reply()],
    }
    assert {k: v for k, v in record.attributes.items() if k not in CONTENT_KEYS} == dict(span.attributes)


async def test_event_on_error(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "EVENT_ONLY"})
    await chat_error(sdk)
    span = otel.span()
    record = only_event(otel, span)
    assert record.attributes[sc.ERROR_TYPE] == "404"
    assert event_content(record) == {
        sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("What is the weather")]}],
    }


async def test_span_and_event(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_AND_EVENT"})
    await chat(sdk)
    span = otel.span()
    record = only_event(otel, span)
    n = len(server.requests)
    want = {
        **CHAT_CONTENT,
        sc.GEN_AI_OUTPUT_MESSAGES: [
            {"role": "assistant", "parts": [weather_call(f"call_{n}")], "finish_reason": "tool_calls"}
        ],
    }
    assert span_content(span) == want
    assert event_content(record) == want
    assert dict(record.attributes).keys() == dict(span.attributes).keys()
    for key, value in span.attributes.items():
        if key not in CONTENT_KEYS:
            assert record.attributes[key] == value


async def test_emit_event_without_content(otel: Any, sdk: Any) -> None:
    otel.instrument(OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT="true")
    await chat(sdk)
    span = otel.span()
    assert not set(CONTENT_KEYS) & set(span.attributes)
    record = only_event(otel, span)
    assert dict(record.attributes) == dict(span.attributes)  # no content, everything else


def llmtel_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "llmtel" and r.levelno >= logging.WARNING]


def test_emit_event_false_overrides_mode(otel: Any, client: openai.OpenAI, caplog: pytest.LogCaptureFixture) -> None:
    """EVENT_ONLY with the event off records content nowhere: said once, at instrument(), not per call."""
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        otel.instrument(**{CAPTURE: "EVENT_ONLY", "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT": "false"})
        for _ in range(3):
            client.chat.completions.create(model=MODEL, messages=USER)
    assert llmtel_warnings(caplog) == [
        "llmtel: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=EVENT_ONLY with "
        "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=false: content will not be recorded anywhere (EVENT_ONLY sends it "
        "only to the details event, which is off); set OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=true to record it on "
        "the event, or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY for spans"
    ]
    for span in otel.spans():
        assert not set(CONTENT_KEYS) & set(span.attributes)
    assert otel.logs() == []


@pytest.mark.parametrize("value", ["1", "yes", "on", "0", "no", "off"])
def test_non_otel_booleans_fall_back_to_the_default(
    otel: Any, client: openai.OpenAI, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    """Only true/false count: anything else warns once, and EVENT_ONLY keeps its default (event on)."""
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        otel.instrument(**{CAPTURE: "EVENT_ONLY", "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT": value})
        client.chat.completions.create(model=MODEL, messages=USER)
        client.chat.completions.create(model=MODEL, messages=USER)
    assert llmtel_warnings(caplog) == [
        f"llmtel: ignoring OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT={value!r} (expected true or false (any case); "
        "using true)"
    ]
    spans, records = otel.spans(), otel.logs()
    assert len(records) == len(spans) == 2
    for span, data in zip(spans, records, strict=True):
        assert not set(CONTENT_KEYS) & set(span.attributes)
        assert event_content(data.log_record) == {
            sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("What is the weather")]}],
            sc.GEN_AI_OUTPUT_MESSAGES: [reply()],
        }


@pytest.mark.parametrize("mode", ["EVENT_ONLY", "SPAN_AND_EVENT"])
def test_no_details_event_for_embeddings(otel: Any, client: openai.OpenAI, mode: str) -> None:
    """The details event is defined for inference calls only; embeddings have neither content nor event."""
    otel.instrument(**{CAPTURE: mode, "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT": "true"})
    client.embeddings.create(model="text-embedding-3-small", input="hello", dimensions=4)
    assert len(otel.spans()) == 1
    assert otel.logs() == []


# -- size limit -------------------------------------------------------------------------------------------------


async def test_max_content_length(otel: Any, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_AND_EVENT", "LLMTEL_MAX_CONTENT_LENGTH": "10"})
    await run(sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hello wonderful world"}]))
    assert len(DEFAULT_REPLY) == 58
    want = {
        sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [text("hello wond…[truncated 11 chars]")]}],
        sc.GEN_AI_OUTPUT_MESSAGES: [reply(content="This is a …[truncated 48 chars]")],
    }
    span = otel.span()
    assert span_content(span) == want  # still valid JSON (span_content parses it)
    assert event_content(only_event(otel, span)) == want


def test_max_content_length_zero_means_no_limit(otel: Any, client: openai.OpenAI) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY", "LLMTEL_MAX_CONTENT_LENGTH": "0"})
    client.chat.completions.create(model=MODEL, messages=USER)
    assert span_content(otel.span())[sc.GEN_AI_OUTPUT_MESSAGES] == [reply()]


def test_max_content_length_keeps_structure(otel: Any, client: openai.OpenAI) -> None:
    """Only content is cut: part types, tool names and call ids stay whole."""
    otel.instrument(**{CAPTURE: "SPAN_ONLY", "LLMTEL_MAX_CONTENT_LENGTH": "10"})
    call = {"id": "call_0123456789", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_0123456789", "content": "rainy"},
    ]
    client.chat.completions.create(model=MODEL, messages=messages)
    assert span_content(otel.span())[sc.GEN_AI_INPUT_MESSAGES] == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_0123456789", "name": "get_weather", "arguments": {}}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_0123456789", "response": "rainy"}]},
    ]


# -- redaction hook ---------------------------------------------------------------------------------------------

REDACTED: list[str] = []


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "[redacted]" if k in ("content", "response") else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def redact(name: str, value: Any) -> Any:
    """The hook named by LLMTEL_CONTENT_REDACTOR in these tests: hides every text and tool result."""
    REDACTED.append(name)
    assert isinstance(value, list)  # called with the structured value, before serialisation
    return _scrub(value)


def redact_raises(name: str, value: Any) -> Any:
    raise RuntimeError("redactor failed")


def redact_drop_input(name: str, value: Any) -> Any:
    return None if name == sc.GEN_AI_INPUT_MESSAGES else value


@pytest.fixture
def redacted() -> list[str]:
    REDACTED.clear()
    return REDACTED


async def test_redactor_applies_to_every_content_attribute(otel: Any, sdk: Any, redacted: list[str]) -> None:
    otel.instrument(**{CAPTURE: "SPAN_AND_EVENT", "LLMTEL_CONTENT_REDACTOR": "tests.openai.test_content:redact"})
    items = [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call_output", "call_id": "call_1", "output": "rainy, 14°C"},
    ]
    await run(sdk.responses.create(model=MODEL, input=items, instructions="Be brief", tools=[RESPONSES_TOOL]))
    # each attribute once, though it goes to both the span and the event
    assert sorted(redacted) == sorted(CONTENT_KEYS)
    want = {
        sc.GEN_AI_SYSTEM_INSTRUCTIONS: [{"type": "text", "content": "[redacted]"}],
        sc.GEN_AI_INPUT_MESSAGES: [
            {"role": "user", "parts": [{"type": "text", "content": "[redacted]"}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "[redacted]"}]},
        ],
        sc.GEN_AI_TOOL_DEFINITIONS: [TOOL_DEFINITION],
        sc.GEN_AI_OUTPUT_MESSAGES: [reply(content="[redacted]")],
    }
    span = otel.span()
    assert span_content(span) == want
    assert event_content(only_event(otel, span)) == want
    assert "Paris" not in json.dumps(dict(span.attributes), ensure_ascii=False)


async def test_failing_redactor_drops_content(otel: Any, sdk: Any) -> None:
    hook = "tests.openai.test_content:redact_raises"
    otel.instrument(**{CAPTURE: "SPAN_AND_EVENT", "LLMTEL_CONTENT_REDACTOR": hook})
    result = await chat(sdk)
    assert result.choices  # the app is unaffected
    span = otel.span()
    assert span_content(span) == {}
    record = only_event(otel, span)
    assert event_content(record) == {}
    assert dict(record.attributes) == dict(span.attributes)


def test_redactor_returning_none_drops_that_attribute(otel: Any, client: openai.OpenAI) -> None:
    hook = "tests.openai.test_content:redact_drop_input"
    otel.instrument(**{CAPTURE: "SPAN_ONLY", "LLMTEL_CONTENT_REDACTOR": hook})
    client.chat.completions.create(model=MODEL, messages=USER)
    assert span_content(otel.span()) == {sc.GEN_AI_OUTPUT_MESSAGES: [reply()]}


def test_redactor_not_called_without_capture(otel: Any, client: openai.OpenAI, redacted: list[str]) -> None:
    otel.instrument(LLMTEL_CONTENT_REDACTOR="tests.openai.test_content:redact")
    client.chat.completions.create(model=MODEL, messages=USER)
    assert redacted == []  # content is not even built when nothing is captured
    assert not set(CONTENT_KEYS) & set(otel.span().attributes)
