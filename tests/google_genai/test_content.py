"""Content capture for Gemini: private by default; the same modes, attributes and details event as every provider
(the core's machinery); what Gemini's contents, parts, system instruction and tools become in the conventions'
message schema; one-shot ``contents`` reach the SDK intact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from google.genai import types

from llmtel import semconv as sc
from llmtel.core.invocation import DETAILS_EVENT
from llmtel.demo.server import DEFAULT_REPLY
from llmtel.demo.wire.gemini import FUNCTION_ARGS, SAFETY_BLOCKED, SAFETY_STOPPED, THOUGHT_TEXT
from tests.google_genai.helpers import CAPTURE, MODEL, PROMPT, run, stream_of

CONTENT_KEYS = (
    sc.GEN_AI_INPUT_MESSAGES,
    sc.GEN_AI_OUTPUT_MESSAGES,
    sc.GEN_AI_SYSTEM_INSTRUCTIONS,
    sc.GEN_AI_TOOL_DEFINITIONS,
)
PARAMETERS = {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}
# a dict, as apps write them too (and the same in every SDK version: parameters_json_schema is newer than 1.0)
WEATHER = {"function_declarations": [{"name": "get_weather", "description": "The weather", "parameters": PARAMETERS}]}


def text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def user(*parts: Any) -> dict[str, Any]:
    return {"role": "user", "parts": [text(p) if isinstance(p, str) else p for p in parts]}


def reply(*parts: Any, finish_reason: str = "stop") -> dict[str, Any]:
    return {"role": "assistant", "parts": list(parts) or [text(DEFAULT_REPLY)], "finish_reason": finish_reason}


def on_span(otel: Any) -> dict[str, Any]:
    attrs = otel.span().attributes
    return {k: json.loads(attrs[k]) for k in CONTENT_KEYS if k in attrs}


def plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


async def test_private_by_default(otel: Any, models: Any) -> None:
    otel.instrument("google_genai")
    config = {"system_instruction": "secret", "tools": [WEATHER]}
    await run(models.generate_content(model=MODEL, contents=PROMPT, config=config))
    await stream_of(models, model=MODEL, contents=PROMPT)
    for span in otel.spans():
        assert not set(CONTENT_KEYS) & set(span.attributes)
    assert otel.logs() == []


async def test_text_round_trip(otel: Any, models: Any) -> None:
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    config = types.GenerateContentConfig(system_instruction="Be brief", tools=[WEATHER])  # type: ignore[list-item]
    await run(models.generate_content(model=MODEL, contents=PROMPT, config=config))
    assert on_span(otel) == {
        sc.GEN_AI_SYSTEM_INSTRUCTIONS: [text("Be brief")],
        sc.GEN_AI_INPUT_MESSAGES: [user(PROMPT)],
        sc.GEN_AI_TOOL_DEFINITIONS: [
            {"type": "function", "name": "get_weather", "description": "The weather", "parameters": PARAMETERS}
        ],
        sc.GEN_AI_OUTPUT_MESSAGES: [
            reply(
                {"type": "tool_call", "name": "get_weather", "arguments": FUNCTION_ARGS},
                finish_reason="tool_call",
            )
        ],
    }


async def test_function_response_and_history(otel: Any, models: Any) -> None:
    """A conversation as Content models and dicts: the model's turn is ``assistant``, a function response ``tool``."""
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    contents: list[Any] = [
        types.Content(role="user", parts=[types.Part.from_text(text=PROMPT)]),
        types.Content(role="model", parts=[types.Part.from_function_call(name="get_weather", args=FUNCTION_ARGS)]),
        {"role": "user", "parts": [{"function_response": {"name": "get_weather", "response": {"result": "sunny"}}}]},
    ]
    await run(models.generate_content(model=MODEL, contents=contents, config={"tools": [WEATHER]}))
    assert on_span(otel)[sc.GEN_AI_INPUT_MESSAGES] == [
        user(PROMPT),
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "arguments": FUNCTION_ARGS}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "response": {"result": "sunny"}}]},
    ]
    assert on_span(otel)[sc.GEN_AI_OUTPUT_MESSAGES] == [reply()]  # answered: text this time


async def test_parts_and_media(otel: Any, models: Any) -> None:
    """A list of parts is one user content (the SDK's grouping); inline data is a blob, file data a uri."""
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    contents: list[Any] = [
        "Describe",
        types.Part.from_bytes(data=b"\x89PNG", mime_type="image/png"),
        types.Part.from_uri(file_uri="gs://bucket/a.pdf", mime_type="application/pdf"),
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
    ]
    await run(models.generate_content(model=MODEL, contents=contents))
    [message] = on_span(otel)[sc.GEN_AI_INPUT_MESSAGES]
    assert message == {
        "role": "user",
        "parts": [
            text("Describe"),
            {"type": "blob", "modality": "image", "content": "iVBORw==", "mime_type": "image/png"},
            {"type": "uri", "modality": "document", "uri": "gs://bucket/a.pdf", "mime_type": "application/pdf"},
            {"type": "blob", "modality": "audio", "content": "UklGRg==", "mime_type": "audio/wav"},
        ],
    }


async def test_thoughts_are_reasoning_parts(otel: Any, models: Any) -> None:
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    config = {"thinking_config": {"include_thoughts": True}}
    await run(models.generate_content(model=MODEL, contents=PROMPT, config=config))
    await stream_of(models, model=MODEL, contents=PROMPT, config=config)
    expected = [reply({"type": "reasoning", "content": THOUGHT_TEXT}, text(DEFAULT_REPLY))]
    for span in otel.spans():
        assert json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == expected


async def test_stream_assembles_each_candidate(otel: Any, models: Any) -> None:
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    await stream_of(models, model=MODEL, contents=PROMPT, config={"candidate_count": 2})
    assert on_span(otel)[sc.GEN_AI_OUTPUT_MESSAGES] == [reply(), reply()]


async def test_stream_function_call(otel: Any, models: Any) -> None:
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    await stream_of(models, model=MODEL, contents=PROMPT, config={"tools": [WEATHER]})
    call = {"type": "tool_call", "name": "get_weather", "arguments": FUNCTION_ARGS}
    assert on_span(otel)[sc.GEN_AI_OUTPUT_MESSAGES] == [reply(call, finish_reason="tool_call")]


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_safety(otel: Any, models: Any, stream: bool) -> None:
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    for model in (SAFETY_BLOCKED, SAFETY_STOPPED):
        if stream:
            await stream_of(models, model=model, contents=PROMPT)
        else:
            await run(models.generate_content(model=model, contents=PROMPT))
    blocked, stopped = otel.spans()
    filtered = [{"role": "assistant", "parts": [], "finish_reason": "content_filter"}]
    assert json.loads(blocked.attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == filtered
    assert json.loads(stopped.attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == filtered


async def test_chat_history_is_the_input(otel: Any, gemini: Any) -> None:
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    chat = gemini.chats.create(model=MODEL, config={"system_instruction": "Be brief"})
    chat.send_message(PROMPT)
    chat.send_message("And tomorrow")
    second = otel.spans()[1]
    assert json.loads(second.attributes[sc.GEN_AI_INPUT_MESSAGES]) == [
        user(PROMPT),
        {"role": "assistant", "parts": [text(DEFAULT_REPLY)]},
        user("And tomorrow"),
    ]
    assert json.loads(second.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [text("Be brief")]


async def test_python_function_tools(otel: Any, gemini: Any) -> None:
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    config = {"tools": [get_weather], "automatic_function_calling": {"disable": True}}
    gemini.models.generate_content(model=MODEL, contents=PROMPT, config=config)
    assert on_span(otel)[sc.GEN_AI_TOOL_DEFINITIONS] == [
        {"type": "function", "name": "get_weather", "description": "The weather in a city."}
    ]


async def test_google_run_tools(otel: Any, models: Any) -> None:
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    tools = [types.Tool(google_search=types.GoogleSearch()), {"code_execution": {}}]
    await run(models.generate_content(model=MODEL, contents=PROMPT, config={"tools": tools}))
    assert on_span(otel)[sc.GEN_AI_TOOL_DEFINITIONS] == [
        {"type": "google_search", "name": "google_search"},
        {"type": "code_execution", "name": "code_execution"},
    ]


async def test_event_only(otel: Any, server: Any, models: Any) -> None:
    otel.instrument("google_genai", **{CAPTURE: "EVENT_ONLY"})
    await run(models.generate_content(model=MODEL, contents=PROMPT, config={"system_instruction": "Be brief"}))
    span = otel.span()
    assert not set(CONTENT_KEYS) & set(span.attributes)
    [record] = otel.logs()
    event = record.log_record
    assert event.event_name == DETAILS_EVENT
    assert event.span_id == span.context.span_id
    attrs = dict(event.attributes)
    assert plain(attrs.pop(sc.GEN_AI_INPUT_MESSAGES)) == [user(PROMPT)]
    assert plain(attrs.pop(sc.GEN_AI_OUTPUT_MESSAGES)) == [reply()]
    assert plain(attrs.pop(sc.GEN_AI_SYSTEM_INSTRUCTIONS)) == [text("Be brief")]
    assert plain(attrs) == plain(dict(span.attributes))  # the span's attributes, nothing else


async def test_span_and_event_on_a_stream(otel: Any, models: Any) -> None:
    otel.instrument("google_genai", **{CAPTURE: "SPAN_AND_EVENT"})
    await stream_of(models, model=MODEL, contents=PROMPT)
    assert on_span(otel) == {sc.GEN_AI_INPUT_MESSAGES: [user(PROMPT)], sc.GEN_AI_OUTPUT_MESSAGES: [reply()]}
    [record] = otel.logs()
    assert plain(record.log_record.attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == [reply()]


@pytest.mark.parametrize("mode", ["SPAN_ONLY", "SPAN_AND_EVENT"])
async def test_embeddings_never_carry_content(otel: Any, models: Any, mode: str) -> None:
    otel.instrument("google_genai", **{CAPTURE: mode})
    await run(models.embed_content(model="text-embedding-004", contents=["secret words"]))
    assert not set(CONTENT_KEYS) & set(otel.span().attributes)
    assert otel.logs() == []  # no details event for embeddings


async def test_max_content_length_and_redactor(otel: Any, models: Any) -> None:
    otel.instrument(
        "google_genai",
        **{CAPTURE: "SPAN_ONLY", "LLMTEL_MAX_CONTENT_LENGTH": "8", "LLMTEL_CONTENT_REDACTOR": f"{__name__}:redact"},
    )
    await run(models.generate_content(model=MODEL, contents="my secret prompt text"))
    content = on_span(otel)
    assert content[sc.GEN_AI_INPUT_MESSAGES] == [user("[redacte…[truncated 2 chars]")]
    assert content[sc.GEN_AI_OUTPUT_MESSAGES] == [reply(text("This is …[truncated 50 chars]"))]


def redact(name: str, value: Any) -> Any:
    if name == sc.GEN_AI_INPUT_MESSAGES:
        return [{"role": "user", "parts": [text("[redacted]")]}]
    return value


# -- one-shot contents --------------------------------------------------------------------------------------------


def parts(*texts: str) -> Iterator[Any]:
    for t in texts:
        yield types.Part.from_text(text=t)


async def test_generator_contents_reach_the_sdk_intact(otel: Any, server: Any, models: Any) -> None:
    await run(models.generate_content(model=MODEL, contents=parts("What is", "the weather")))
    plain_body = server.requests[-1].body
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    await run(models.generate_content(model=MODEL, contents=parts("What is", "the weather")))
    assert server.requests[-1].body == plain_body
    assert plain_body["contents"] == [{"role": "user", "parts": [{"text": "What is"}, {"text": "the weather"}]}]
    assert on_span(otel)[sc.GEN_AI_INPUT_MESSAGES] == [user("What is", "the weather")]


async def test_generator_contents_the_sdk_rejects_are_still_rejected(otel: Any, models: Any) -> None:
    """A generator of Content objects is no list to the SDK: it fails (ValueError) the same way with capture on,
    where a list of them would pass."""

    def turns() -> Iterator[Any]:
        yield types.UserContent(parts=[types.Part(text="What")])
        yield types.ModelContent(parts=[types.Part(text="is")])

    with pytest.raises(ValueError, match="file uri") as plain_error:
        await run(models.generate_content(model=MODEL, contents=turns()))
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    with pytest.raises(ValueError) as ours:
        await run(models.generate_content(model=MODEL, contents=turns()))
    assert str(ours.value) == str(plain_error.value)
    assert otel.span().attributes[sc.ERROR_TYPE] == "ValueError"


async def test_a_failing_generator_fails_in_the_sdk_as_without_us(otel: Any, models: Any) -> None:
    def broken() -> Iterator[Any]:
        yield types.Part.from_text(text="What")
        raise KeyError("the app's generator")

    with pytest.raises(Exception) as plain_error:
        await run(models.generate_content(model=MODEL, contents=broken()))
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY"})
    with pytest.raises(type(plain_error.value)) as ours:
        await run(models.generate_content(model=MODEL, contents=broken()))
    assert str(ours.value) == str(plain_error.value)


# -- privacy fails closed; huge content --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["SPAN_ONLY", "SPAN_AND_EVENT"])
async def test_unloadable_redactor_records_no_content(otel: Any, models: Any, mode: str) -> None:
    otel.instrument("google_genai", **{CAPTURE: mode, "LLMTEL_CONTENT_REDACTOR": "no.such.module:redact"})
    await run(models.generate_content(model=MODEL, contents="my secret", config={"system_instruction": "secret"}))
    await stream_of(models, model=MODEL, contents="my secret")
    for span in otel.spans():
        assert not set(CONTENT_KEYS) & set(span.attributes)
        assert "secret" not in repr(dict(span.attributes))
        assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)  # the rest is intact
    for record in otel.logs():
        assert "secret" not in repr(dict(record.log_record.attributes))


HUGE = "abcdefghi " * 104_858  # 1 MiB of words


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_huge_content_is_cut_to_valid_json(otel: Any, models: Any, stream: bool) -> None:
    config = {"http_options": types.HttpOptions(extra_body={"x_reply": HUGE, "x_chunks": 20})}

    async def call() -> str:
        if stream:
            return "".join(c.text or "" for c in await stream_of(models, model=MODEL, contents=HUGE, config=config))
        return str((await run(models.generate_content(model=MODEL, contents=HUGE, config=config))).text)

    expected = await call()
    assert len(expected) >= 1_000_000
    otel.instrument("google_genai", **{CAPTURE: "SPAN_ONLY", "LLMTEL_MAX_CONTENT_LENGTH": "100"})
    assert await call() == expected
    attrs = otel.span().attributes
    cut = HUGE[:100] + f"…[truncated {len(HUGE) - 100} chars]"
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == [user(cut)]
    [message] = json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [text(expected[:100] + f"…[truncated {len(expected) - 100} chars]")]
    assert len(attrs[sc.GEN_AI_OUTPUT_MESSAGES]) < 400


def test_tool_definitions_of_odd_tools() -> None:
    from llmtel.providers.google_genai.generate import tool_definitions

    class ClientSession:  # what an MCP session looks like to us: not a Tool model
        def __init__(self) -> None:
            self.read_stream = object()

    assert tool_definitions([None, 5, "x", ClientSession(), {"function_declarations": [{"name": 3}]}]) == [
        {"type": "ClientSession", "name": "ClientSession"}
    ]
    assert tool_definitions("not a list") == []
