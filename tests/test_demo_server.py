"""The demo server, driven by the real ``openai`` SDK with no instrumentation installed.

Every assertion is on values the SDK parsed, so a payload the SDK cannot read fails here first.
"""

from __future__ import annotations

import base64
import datetime
import enum
import http.client
import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from llmtel.demo.server import (
    CREATED,
    DEFAULT_REPLY,
    REASONING_TOKENS,
    TOOL_ARGUMENTS,
    FakeOpenAIServer,
    example_for_schema,
)

USER: list[Any] = [{"role": "user", "content": "What is the weather like"}]  # 5 words
CHAT_TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
]
RESPONSE_TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]


class Color(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    x: int
    y: float


class Report(BaseModel):
    city: str
    temperature: float
    days: int
    sunny: bool
    tags: list[str]
    origin: Point
    color: Color
    note: str | None
    day: datetime.date


EXPECTED_REPORT = Report(
    city="demo",
    temperature=1.5,
    days=1,
    sunny=True,
    tags=[],
    origin=Point(x=1, y=1.5),
    color=Color.RED,
    note="demo",
    day=datetime.date(2026, 1, 1),
)


@pytest.fixture(scope="module")
def demo_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def sync_client(demo_server: FakeOpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=demo_server.base_url, api_key="test", max_retries=0) as c:
        yield c


@pytest.fixture
async def async_client(demo_server: FakeOpenAIServer) -> Any:
    async with openai.AsyncOpenAI(base_url=demo_server.base_url, api_key="test", max_retries=0) as c:
        yield c


def _n(request_id: str | None) -> int:
    assert request_id is not None and request_id.startswith("req_")
    return int(request_id.removeprefix("req_"))


def _stream_n(stream: Any) -> int:
    return _n(stream.response.headers["x-request-id"])


# ------------------------------------------------------------------------------------------------------------
# Chat completions
# ------------------------------------------------------------------------------------------------------------


def test_chat_completion(sync_client: openai.OpenAI) -> None:
    raw = sync_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
    completion = raw.parse()
    n = _n(completion._request_id)

    assert raw.headers["x-request-id"] == f"req_{n}"
    assert raw.headers["openai-organization"] == "demo-org"
    assert raw.headers["openai-processing-ms"] == "0"
    assert raw.headers["content-type"] == "application/json"
    assert int(raw.headers["content-length"]) == len(raw.content)
    assert completion.id == f"chatcmpl-{n}"
    assert completion.object == "chat.completion"
    assert completion.created == CREATED
    assert completion.model == "gpt-4o-mini-2026-01-01"
    assert completion.system_fingerprint == "fp_demo"
    assert completion.service_tier == "default"
    [choice] = completion.choices
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == DEFAULT_REPLY
    assert choice.message.tool_calls is None
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (5, 10, 15)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_chat_n_reasoning_cache_and_service_tier(sync_client: openai.OpenAI) -> None:
    completion = sync_client.chat.completions.create(
        model="o4-mini",
        messages=[{"role": "system", "content": "Be brief."}, *USER],  # 2 + 5 words
        n=2,
        reasoning_effort="low",
        prompt_cache_key="demo-cache",
        service_tier="flex",
    )
    assert [c.index for c in completion.choices] == [0, 1]
    assert all(c.message.content == DEFAULT_REPLY for c in completion.choices)
    assert completion.service_tier == "flex"
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == 7
    assert usage.completion_tokens == 2 * 10 + REASONING_TOKENS
    assert usage.total_tokens == 7 + 27
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 3
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == REASONING_TOKENS


def test_chat_max_tokens_truncates(sync_client: openai.OpenAI) -> None:
    completion = sync_client.chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=3)
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "This is a"
    assert completion.usage is not None and completion.usage.completion_tokens == 3

    completion = sync_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, max_completion_tokens=2, extra_body={"x_reply": "one two three"}
    )
    assert completion.choices[0].message.content == "one two"
    assert completion.choices[0].finish_reason == "length"


def test_chat_tool_calls(sync_client: openai.OpenAI) -> None:
    completion = sync_client.chat.completions.create(model="gpt-4o-mini", messages=USER, tools=CHAT_TOOLS)
    n = _n(completion._request_id)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None
    assert [(c.id, c.type, c.function.name, c.function.arguments) for c in calls] == [  # type: ignore[union-attr]
        (f"call_{n}", "function", "get_weather", TOOL_ARGUMENTS),
        (f"call_{n}_1", "function", "get_time", TOOL_ARGUMENTS),
    ]

    single = sync_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, tools=CHAT_TOOLS, parallel_tool_calls=False
    )
    calls = single.choices[0].message.tool_calls
    assert calls is not None and [c.function.name for c in calls] == ["get_weather"]  # type: ignore[union-attr]

    after_tool = sync_client.chat.completions.create(
        model="gpt-4o-mini",
        tools=CHAT_TOOLS,
        messages=[
            *USER,
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
    )
    assert after_tool.choices[0].finish_reason == "stop"
    assert after_tool.choices[0].message.content == DEFAULT_REPLY
    assert after_tool.usage is not None and after_tool.usage.prompt_tokens == 6


def test_chat_stream_with_usage(sync_client: openai.OpenAI) -> None:
    stream = sync_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    n = _stream_n(stream)
    assert stream.response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert stream.response.headers["transfer-encoding"] == "chunked"
    chunks = list(stream)

    assert {c.id for c in chunks} == {f"chatcmpl-{n}"}
    assert {c.model for c in chunks} == {"gpt-4o-mini-2026-01-01"}
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    first, *content, finish, last = chunks
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert len(content) == 5
    assert "".join(c.choices[0].delta.content or "" for c in content) == DEFAULT_REPLY
    assert finish.choices[0].finish_reason == "stop" and finish.choices[0].delta.content is None
    assert all(c.usage is None for c in chunks[:-1])
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (5, 10, 15)


def test_chat_stream_knobs_and_n(sync_client: openai.OpenAI) -> None:
    chunks = list(
        sync_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=USER,
            n=2,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"x_chunks": 12, "x_reply": "short reply"},
        )
    )
    texts: dict[int, str] = {0: "", 1: ""}
    deltas = 0
    for chunk in chunks:
        for choice in chunk.choices:
            if choice.delta.content:
                deltas += 1
                texts[choice.index] += choice.delta.content
    assert deltas == 2 * 12
    assert texts[0] == texts[1] == "short reply lorem ipsum dolor sit amet lorem ipsum dolor sit amet"
    assert [c.choices[0].finish_reason for c in chunks[-3:-1]] == ["stop", "stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2 * 12

    plain = list(sync_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    assert all(c.usage is None and c.choices for c in plain)
    assert plain[-1].choices[0].finish_reason == "stop"


def test_chat_stream_tool_calls(sync_client: openai.OpenAI) -> None:
    stream = sync_client.chat.completions.create(model="gpt-4o-mini", messages=USER, tools=CHAT_TOOLS, stream=True)
    n = _stream_n(stream)
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content is None

    headers: dict[int, tuple[str | None, str | None, str | None]] = {}
    arguments: dict[int, list[str]] = {0: [], 1: []}
    for chunk in chunks:
        for call in chunk.choices[0].delta.tool_calls or []:
            assert call.function is not None
            if call.id is not None:
                assert call.function.arguments == ""
                headers[call.index] = (call.id, call.type, call.function.name)
            else:
                assert call.type is None and call.function.name is None
                arguments[call.index].append(call.function.arguments or "")
    assert headers == {
        0: (f"call_{n}", "function", "get_weather"),
        1: (f"call_{n}_1", "function", "get_time"),
    }
    assert all(len(pieces) >= 3 for pieces in arguments.values())
    assert ["".join(pieces) for pieces in arguments.values()] == [TOOL_ARGUMENTS, TOOL_ARGUMENTS]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_chat_parse_structured_output(sync_client: openai.OpenAI) -> None:
    completion = sync_client.chat.completions.parse(model="gpt-4o-mini", messages=USER, response_format=Report)
    assert completion.choices[0].message.parsed == EXPECTED_REPORT
    assert completion.choices[0].finish_reason == "stop"

    json_mode = sync_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, response_format={"type": "json_object"}
    )
    assert json.loads(json_mode.choices[0].message.content or "") == {"reply": DEFAULT_REPLY}


def test_chat_stream_helper(sync_client: openai.OpenAI) -> None:
    with sync_client.chat.completions.stream(
        model="gpt-4o-mini", messages=USER, response_format=Report, stream_options={"include_usage": True}
    ) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_completion()
    assert events.count("content.done") == 1
    assert final.choices[0].message.parsed == EXPECTED_REPORT
    assert final.model == "gpt-4o-mini-2026-01-01"
    assert final.usage is not None and final.usage.prompt_tokens == 5

    with sync_client.chat.completions.stream(model="gpt-4o-mini", messages=USER, tools=CHAT_TOOLS) as tool_stream:
        tool_final = tool_stream.get_final_completion()
    calls = tool_final.choices[0].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("get_weather", TOOL_ARGUMENTS),
        ("get_time", TOOL_ARGUMENTS),
    ]


# ------------------------------------------------------------------------------------------------------------
# Legacy completions and embeddings
# ------------------------------------------------------------------------------------------------------------


def test_legacy_completions(sync_client: openai.OpenAI) -> None:
    completion = sync_client.completions.create(model="gpt-3.5-turbo-instruct", prompt=["Say hi", "Say bye now"])
    n = _n(completion._request_id)
    assert completion.id == f"cmpl-{n}"
    assert completion.object == "text_completion"
    assert completion.model == "gpt-3.5-turbo-instruct-2026-01-01"
    assert [(c.index, c.text, c.finish_reason, c.logprobs) for c in completion.choices] == [
        (0, DEFAULT_REPLY, "stop", None),
        (1, DEFAULT_REPLY, "stop", None),
    ]
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 20)

    chunks = list(
        sync_client.completions.create(
            model="gpt-3.5-turbo-instruct",
            prompt="Say hi",
            max_tokens=4,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "This is a deterministic"
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 2 + 4


def test_embeddings(sync_client: openai.OpenAI) -> None:
    floats = sync_client.embeddings.create(
        model="text-embedding-3-small", input=["a b c", "d"], encoding_format="float"
    )
    assert floats.model == "text-embedding-3-small-2026-01-01"
    assert [e.index for e in floats.data] == [0, 1]
    assert floats.data[0].embedding == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    assert floats.data[1].embedding[0] == 0.11
    assert (floats.usage.prompt_tokens, floats.usage.total_tokens) == (4, 4)

    # Without encoding_format the SDK asks for base64 and decodes it itself.
    decoded = sync_client.embeddings.create(model="text-embedding-3-small", input="a b", dimensions=3)
    assert decoded.data[0].embedding == pytest.approx([0.1, 0.2, 0.3])

    encoded = sync_client.embeddings.create(
        model="text-embedding-3-small", input=[[1, 2, 3]], encoding_format="base64", dimensions=4
    )
    raw = encoded.data[0].embedding
    assert isinstance(raw, str)
    assert struct.unpack("<4f", base64.b64decode(raw)) == pytest.approx((0.1, 0.2, 0.3, 0.4))
    assert encoded.usage.prompt_tokens == 3


# ------------------------------------------------------------------------------------------------------------
# Responses API
# ------------------------------------------------------------------------------------------------------------


def test_responses_create(sync_client: openai.OpenAI) -> None:
    response = sync_client.responses.create(
        model="gpt-4.1", input="Tell me a joke", instructions="Be funny", temperature=0.5
    )
    n = _n(response._request_id)
    assert response.id == f"resp_{n}"
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "gpt-4.1-2026-01-01"
    assert response.instructions == "Be funny"
    assert response.temperature == 0.5
    assert response.error is None and response.incomplete_details is None
    assert response.output_text == DEFAULT_REPLY
    [message] = response.output
    assert message.type == "message" and message.id == f"msg_{n}" and message.status == "completed"
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (6, 10, 16)
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_responses_input_items_reasoning_and_truncation(sync_client: openai.OpenAI) -> None:
    response = sync_client.responses.create(
        model="o4-mini",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "one two three four"}]}],
        reasoning={"effort": "low"},
        prompt_cache_key="k",
        max_output_tokens=4,
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "This is a deterministic"
    assert response.reasoning is not None and response.reasoning.effort == "low"
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (4, 4 + REASONING_TOKENS)
    assert usage.input_tokens_details.cached_tokens == 2
    assert usage.output_tokens_details.reasoning_tokens == REASONING_TOKENS


def test_responses_function_call(sync_client: openai.OpenAI) -> None:
    response = sync_client.responses.create(model="gpt-4.1", input="Weather in Paris?", tools=RESPONSE_TOOLS)
    n = _n(response._request_id)
    [call] = response.output
    assert call.type == "function_call"
    assert (call.id, call.call_id, call.name, call.arguments, call.status) == (
        f"fc_{n}",
        f"call_{n}",
        "get_weather",
        TOOL_ARGUMENTS,
        "completed",
    )
    assert response.tools[0].type == "function" and response.tools[0].name == "get_weather"

    follow_up = sync_client.responses.create(
        model="gpt-4.1",
        tools=RESPONSE_TOOLS,
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
    )
    assert follow_up.output_text == DEFAULT_REPLY


def test_responses_stream_events(sync_client: openai.OpenAI) -> None:
    stream = sync_client.responses.create(model="gpt-4.1", input="hi", stream=True)
    n = _stream_n(stream)
    events = list(stream)
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 5,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].response.id == f"resp_{n}" and events[0].response.status == "in_progress"  # type: ignore[union-attr]
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == DEFAULT_REPLY
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == DEFAULT_REPLY
    assert completed.response.usage is not None and completed.response.usage.total_tokens == 1 + 10

    tool_events = list(sync_client.responses.create(model="gpt-4.1", input="hi", tools=RESPONSE_TOOLS, stream=True))
    deltas = [e.delta for e in tool_events if e.type == "response.function_call_arguments.delta"]
    assert len(deltas) >= 3 and "".join(deltas) == TOOL_ARGUMENTS
    assert [e.type for e in tool_events][-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_responses_parse_and_stream_helper(sync_client: openai.OpenAI) -> None:
    parsed = sync_client.responses.parse(model="gpt-4.1", input="report", text_format=Report)
    assert parsed.output_parsed == EXPECTED_REPORT

    with sync_client.responses.stream(model="gpt-4.1", input="report", text_format=Report) as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()
    assert types[-1] == "response.completed"
    assert final.output_parsed == EXPECTED_REPORT

    with sync_client.responses.stream(model="gpt-4.1", input="hi", tools=RESPONSE_TOOLS) as tool_stream:
        tool_final = tool_stream.get_final_response()
    [call] = tool_final.output
    assert call.type == "function_call" and call.parsed_arguments == {"city": "Paris"}


def test_responses_failure_streams(sync_client: openai.OpenAI) -> None:
    # The Responses API reports a mid-stream error as an `error` event: the SDK yields it, it does not raise.
    events = list(sync_client.responses.create(model="stream-error", input="hi", stream=True))
    assert [e.type for e in events][-3:] == [
        "response.output_text.delta",
        "response.output_text.delta",
        "error",
    ]
    error = events[-1]
    assert error.type == "error"
    assert (error.code, error.message, error.param) == ("stream_error", "stream failed", None)

    events = list(sync_client.responses.create(model="response-failed", input="hi", stream=True))
    assert [e.type for e in events] == ["response.created", "response.in_progress", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    assert (failed.response.error.code, failed.response.error.message) == ("server_error", "failed")

    # The stream helper only finishes on `response.completed`.
    with sync_client.responses.stream(model="response-failed", input="hi") as helper:
        list(helper)
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            helper.get_final_response()

    response = sync_client.responses.create(model="response-failed", input="hi")
    assert response.status == "failed" and response.error is not None


# ------------------------------------------------------------------------------------------------------------
# Failure modes
# ------------------------------------------------------------------------------------------------------------

ENDPOINT_CALLS: dict[str, Any] = {
    "chat": lambda c, model: c.chat.completions.create(model=model, messages=USER),
    "chat-stream": lambda c, model: c.chat.completions.create(model=model, messages=USER, stream=True),
    "completions": lambda c, model: c.completions.create(model=model, prompt="hi"),
    "embeddings": lambda c, model: c.embeddings.create(model=model, input="hi"),
    "responses": lambda c, model: c.responses.create(model=model, input="hi"),
    "responses-stream": lambda c, model: c.responses.create(model=model, input="hi", stream=True),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINT_CALLS))
@pytest.mark.parametrize(
    ("model", "error", "status", "code"),
    [
        ("does-not-exist", openai.NotFoundError, 404, "model_not_found"),
        ("rate-limited", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("server-error", openai.InternalServerError, 500, None),
    ],
)
def test_error_models(
    sync_client: openai.OpenAI,
    endpoint: str,
    model: str,
    error: type[openai.APIStatusError],
    status: int,
    code: str,
) -> None:
    with pytest.raises(error) as caught:
        ENDPOINT_CALLS[endpoint](sync_client, model)
    assert caught.value.status_code == status
    assert caught.value.code == code
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")
    if model == "rate-limited":
        assert caught.value.response.headers["retry-after"] == "0"
        assert caught.value.type == "requests"
    if model == "does-not-exist":
        # This SDK version puts only the error message (not the whole body) in the exception message.
        assert caught.value.message == "Error code: 404 - The model `does-not-exist` does not exist"
        assert caught.value.body == {
            "message": "The model `does-not-exist` does not exist",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }


def test_broken_stream_raises_connection_error(sync_client: openai.OpenAI) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError) as caught:
        for chunk in sync_client.chat.completions.create(model="broken-stream", messages=USER, stream=True):
            received.extend(c.delta.content or "" for c in chunk.choices)
    # The SDK wraps httpx2's "incomplete chunked read" RemoteProtocolError.
    assert "incomplete chunked read" in str(caught.value.__cause__)
    assert "".join(received) == "This is a deterministic"

    with pytest.raises(openai.APIConnectionError):
        list(sync_client.responses.create(model="broken-stream", input="hi", stream=True))
    with pytest.raises(openai.InternalServerError):
        sync_client.chat.completions.create(model="broken-stream", messages=USER)


def test_stream_error_raises_api_error(sync_client: openai.OpenAI) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in sync_client.chat.completions.create(model="stream-error", messages=USER, stream=True):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert type(caught.value) is openai.APIError  # not a status error: the HTTP status was 200
    assert caught.value.message == "stream failed"
    assert caught.value.code == "stream_error" and caught.value.type == "server_error"
    assert "".join(received) == "This is a deterministic"


def test_stall_delays(sync_client: openai.OpenAI) -> None:
    start = time.perf_counter()
    completion = sync_client.chat.completions.create(model="stall", messages=USER)
    assert time.perf_counter() - start >= 0.2
    assert completion.model == "stall-2026-01-01"

    start = time.perf_counter()
    stream = sync_client.chat.completions.create(
        model="stall", messages=USER, stream=True, extra_body={"x_delay_ms": 30, "x_chunks": 2}
    )
    first_at = None
    for _ in stream:
        first_at = first_at or time.perf_counter() - start
    total = time.perf_counter() - start
    assert first_at is not None and first_at >= 0.03
    assert total >= 4 * 0.03  # role chunk, 2 content chunks, finish chunk (+ [DONE])


async def test_async_client(async_client: openai.AsyncOpenAI) -> None:
    completion = await async_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert completion.id == f"chatcmpl-{_n(completion._request_id)}"
    assert completion.choices[0].message.content == DEFAULT_REPLY

    stream = await async_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == DEFAULT_REPLY
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 10

    events = [event async for event in await async_client.responses.create(model="gpt-4.1", input="hi", stream=True)]
    assert events[-1].type == "response.completed"

    with pytest.raises(openai.APIConnectionError):
        async for _ in await async_client.chat.completions.create(model="broken-stream", messages=USER, stream=True):
            pass
    with pytest.raises(openai.APIError, match="stream failed"):
        async for _ in await async_client.chat.completions.create(model="stream-error", messages=USER, stream=True):
            pass
    with pytest.raises(openai.RateLimitError):
        await async_client.embeddings.create(model="rate-limited", input="hi")


# ------------------------------------------------------------------------------------------------------------
# Recording, wire details, lifecycle
# ------------------------------------------------------------------------------------------------------------


def test_requests_are_recorded(demo_server: FakeOpenAIServer, sync_client: openai.OpenAI) -> None:
    completion = sync_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, temperature=0.25, extra_body={"x_reply": "ok"}
    )
    n = _n(completion._request_id)
    recorded = demo_server.requests[n - 1]
    assert recorded.method == "POST"
    assert recorded.path == "/v1/chat/completions"
    assert recorded.headers["authorization"] == "Bearer test"
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.body == {"messages": USER, "model": "gpt-4o-mini", "temperature": 0.25, "x_reply": "ok"}
    assert completion.choices[0].message.content == "ok"


def test_wire_format(demo_server: FakeOpenAIServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", demo_server.port, timeout=5)
    try:
        body = json.dumps({"model": "gpt-4.1", "input": "hi", "stream": True, "x_chunks": 1})
        connection.request("POST", "/v1/responses", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Transfer-Encoding") == "chunked"
        text = response.read().decode()
        frames = text.strip().split("\n\n")
        assert len(frames) == 9
        for frame in frames:
            event_line, data_line = frame.split("\n")
            assert event_line.startswith("event: ") and data_line.startswith("data: ")
            assert json.loads(data_line.removeprefix("data: "))["type"] == event_line.removeprefix("event: ")

        # Same keep-alive connection: an unknown path is a JSON 404.
        connection.request("POST", "/v1/nope", "{}", {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 404
        assert json.loads(response.read())["error"]["message"] == "Invalid URL (POST /v1/nope)"

        connection.request("POST", "/v1/chat/completions", "not json", {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 400
        assert json.loads(response.read())["error"]["type"] == "invalid_request_error"
    finally:
        connection.close()


def test_lifecycle() -> None:
    server = FakeOpenAIServer()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    server.stop()  # not started: no-op
    with server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        first = client.chat.completions.create(model="m", messages=USER)
        assert (first._request_id, first.id) == ("req_1", "chatcmpl-1")
        client.close()
    server.stop()  # idempotent
    assert len(server.requests) == 1


def test_example_for_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"]},
            "b": {"type": "array", "items": {"type": "integer"}, "minItems": 2},
            "c": {"$ref": "#/$defs/C"},
            "d": {"enum": ["x", "y"]},
            "e": {"type": "integer", "minimum": 5},
        },
        "required": ["a", "b", "c", "d", "e", "f"],
        "$defs": {"C": {"type": "object", "properties": {"n": {"type": "number"}, "t": {"type": "boolean"}}}},
    }
    assert example_for_schema(schema) == {
        "a": "demo",
        "b": [1, 1],
        "c": {"n": 1.5, "t": True},
        "d": "x",
        "e": 5,
        "f": "demo",
    }
