"""Faults in our own code, bad input from the server or the app, bad configuration: the app never notices
(DESIGN.md principle 1). Faults are injected into llmtel with ``monkeypatch`` (the SDK is never mocked), and
each outcome is compared with the same scenario run uninstrumented.

Where the span ends exactly once despite the fault: everywhere except a fault in ``ChatApi.request``, which
happens before the span exists, so the call goes through unobserved (no span at all). A fault in
``Invocation._record`` still ends the span once (``span.end`` is in a ``finally``), but the span then carries
only the request's attributes: no response facts, no error status, no metric points.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from opentelemetry.trace import StatusCode

from llmtel.core import content
from llmtel.core.invocation import Invocation
from llmtel.demo.server import NOT_FOUND
from llmtel.providers.openai.chat import ChatApi, ChatStream
from llmtel.providers.openai.embeddings import EmbeddingsApi
from llmtel.providers.openai.responses import ResponsesApi, ResponsesStream
from tests.conformance.semconv_check import load_checker

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello to the world"}]
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
DURATION = "gen_ai.client.operation.duration"
SYNC_ONLY = pytest.mark.parametrize("is_async", [False], ids=["sync"])  # config/content code is shared


_IDS = re.compile(r"\b(chatcmpl|cmpl|resp|msg|fc|call|req)([-_])\d+(_\d+)?\b")


def mask(value: Any) -> Any:
    if isinstance(value, str):
        return _IDS.sub(r"\1\2N", value)
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


def dump(obj: Any) -> Any:
    return mask(obj.model_dump(warnings=False))


async def call(value: Any) -> Any:
    return await value if isinstance(value, Awaitable) else value


async def read(stream: Any) -> list[Any]:
    if isinstance(stream, openai.AsyncStream):
        return [dump(item) async for item in stream]
    return [dump(item) for item in stream]


@pytest.fixture(params=["sync", "async"])
def is_async(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "async")


@pytest.fixture
def make_llm(server: Any, is_async: bool) -> Callable[[], Any]:
    def make(base_url: str = server.base_url) -> Any:
        # a new connection per run, and no TLS setup (the SDK's default HTTP client costs ~50 ms to make)
        if is_async:
            http: Any = openai.DefaultAsyncHttpxClient(verify=False)
            return openai.AsyncOpenAI(base_url=base_url, api_key="test-key", max_retries=0, http_client=http)
        http = openai.DefaultHttpxClient(verify=False)
        return openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0, http_client=http)

    return make


async def outcome(make_llm: Callable[[], Any], scenario: Callable[[Any], Awaitable[Any]]) -> Any:
    """What the app sees: the scenario's result, or (exception class, message) when it raised."""
    llm = make_llm()
    try:
        return await scenario(llm)
    except Exception as exc:
        return type(exc), str(exc)
    finally:
        await call(llm.close())


# -- scenarios: each returns what the app saw ------------------------------------------------------------------


async def chat(llm: Any) -> Any:
    return dump(await call(llm.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0.5)))


async def chat_not_found(llm: Any) -> Any:
    return await call(llm.chat.completions.create(model=NOT_FOUND, messages=MESSAGES))


async def chat_stream(llm: Any) -> Any:
    stream = await call(llm.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    return await read(stream)


async def chat_stream_with_usage(llm: Any) -> Any:
    stream = await call(
        llm.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    )
    return await read(stream)


async def chat_stream_closed_early(llm: Any) -> Any:
    stream = await call(llm.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    if isinstance(stream, openai.AsyncStream):
        async with stream as s:
            return [dump(await s.__anext__())]
    with stream as s:
        return [dump(next(s))]


async def chat_parse(llm: Any) -> Any:
    completion = await call(
        llm.chat.completions.parse(model=MODEL, messages=MESSAGES, response_format={"type": "json_object"})
    )
    return dump(completion)


async def embeddings(llm: Any) -> Any:
    return dump(await call(llm.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])))


async def responses(llm: Any) -> Any:
    return dump(await call(llm.responses.create(model=MODEL, input="Say hello", instructions="Be brief")))


async def responses_stream(llm: Any) -> Any:
    return await read(await call(llm.responses.create(model=MODEL, input="Say hello", stream=True)))


# -- faults -----------------------------------------------------------------------------------------------------


FIRED: list[str] = []


def _fault(*args: Any, **kwargs: Any) -> Any:
    FIRED.append("fault")
    raise RuntimeError("injected fault in llmtel")


@dataclass(frozen=True)
class Case:
    owner: Any
    name: str
    scenario: Callable[[Any], Awaitable[Any]]
    spans: int = 1  # GenAI spans that must have ended (exactly once)
    error_type: str | None = None  # on the span, when the fault leaves it recordable
    metrics: bool = True  # whether the duration point is still recorded
    capture: str = "SPAN_AND_EVENT"


CASES = {
    # no span: the request attributes are read before the span starts
    "ChatApi.request": Case(ChatApi, "request", chat, spans=0),
    "ChatApi.request/404": Case(ChatApi, "request", chat_not_found, spans=0),
    "ChatApi.request/stream": Case(ChatApi, "request", chat_stream, spans=0),
    "ChatApi.response": Case(ChatApi, "response", chat),
    "ChatApi.response/parse": Case(ChatApi, "response", chat_parse),
    "ChatApi.content": Case(ChatApi, "content", chat),
    "ChatApi.content/404": Case(ChatApi, "content", chat_not_found, error_type="404"),
    "ChatApi.content/stream": Case(ChatApi, "content", chat_stream),
    "ChatStream.on_chunk": Case(ChatStream, "on_chunk", chat_stream),
    "ChatStream.on_chunk/usage": Case(ChatStream, "on_chunk", chat_stream_with_usage),
    "ChatStream.on_chunk/closed": Case(ChatStream, "on_chunk", chat_stream_closed_early),
    "ChatStream.on_end": Case(ChatStream, "on_end", chat_stream),
    "ChatStream.on_end/closed": Case(ChatStream, "on_end", chat_stream_closed_early),
    "content.prepare_with_json": Case(content, "prepare_with_json", chat),
    "content.prepare_with_json/404": Case(content, "prepare_with_json", chat_not_found, error_type="404"),
    "content.prepare_with_json/stream": Case(content, "prepare_with_json", chat_stream),
    "content.prepare/event-only": Case(content, "prepare", chat, capture="EVENT_ONLY"),
    "content.prepare/event-only/stream": Case(content, "prepare", chat_stream, capture="EVENT_ONLY"),
    "Invocation._record": Case(Invocation, "_record", chat, metrics=False),
    "Invocation._record/404": Case(Invocation, "_record", chat_not_found, metrics=False),
    "Invocation._record/stream": Case(Invocation, "_record", chat_stream, metrics=False),
    "Invocation._record/closed": Case(Invocation, "_record", chat_stream_closed_early, metrics=False),
    "EmbeddingsApi.response": Case(EmbeddingsApi, "response", embeddings),
    "ResponsesApi.response": Case(ResponsesApi, "response", responses),
    "ResponsesStream.on_chunk": Case(ResponsesStream, "on_chunk", responses_stream),
}


@pytest.mark.parametrize("fault", list(CASES))
async def test_fault_in_our_code_is_invisible_to_the_app(
    otel: Any, make_llm: Any, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    case = CASES[fault]
    expected = await outcome(make_llm, case.scenario)

    otel.instrument(**{CAPTURE: case.capture})
    FIRED.clear()
    monkeypatch.setattr(case.owner, case.name, _fault)
    seen = await outcome(make_llm, case.scenario)
    monkeypatch.undo()

    assert FIRED, "the fault was never triggered"
    assert seen == expected
    spans = otel.spans()
    assert len(spans) == case.spans
    if case.spans:
        [span] = spans
        attrs = span.attributes or {}
        if case.error_type is None:
            assert span.status.status_code is StatusCode.UNSET
            assert "error.type" not in attrs
        else:
            assert span.status.status_code is StatusCode.ERROR
            assert attrs["error.type"] == case.error_type
        points = otel.points(DURATION)
        assert [p.count for p in points] == ([1] if case.metrics else [])


@pytest.mark.parametrize(
    "fault", ["ChatStream.on_chunk", "ChatStream.on_end", "Invocation._record", "content.prepare_with_json"]
)
async def test_fault_keeps_stream_usage_chunk_hidden(
    otel: Any, make_llm: Any, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """With LLMTEL_OPENAI_STREAM_USAGE the usage chunk we asked for stays hidden despite faults, even one
    in on_chunk, which decides what to hide."""
    expected = await outcome(make_llm, chat_stream)
    otel.instrument(**{CAPTURE: "SPAN_ONLY", "LLMTEL_OPENAI_STREAM_USAGE": "true"})
    owner, name = CASES[fault].owner, CASES[fault].name
    FIRED.clear()
    monkeypatch.setattr(owner, name, _fault)
    seen = await outcome(make_llm, chat_stream)
    monkeypatch.undo()
    assert FIRED, "the fault was never triggered"
    assert seen == expected
    assert len(otel.spans()) == 1


@SYNC_ONLY
async def test_fault_in_redactor_drops_content(otel: Any, make_llm: Any) -> None:
    expected = await outcome(make_llm, chat)
    otel.instrument(**{CAPTURE: "SPAN_ONLY", "LLMTEL_CONTENT_REDACTOR": f"{__name__}:raising_redactor"})
    assert await outcome(make_llm, chat) == expected
    attrs = otel.span().attributes or {}
    assert "gen_ai.input.messages" not in attrs and "gen_ai.output.messages" not in attrs
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)


def raising_redactor(name: str, value: Any) -> Any:
    raise RuntimeError("redactor bug")


# -- bad input from the server ----------------------------------------------------------------------------------

HUGE = "abcdefghi " * 104_858  # 1 MiB of words
LIMIT = 100


def truncated(text: str) -> str:
    return text[:LIMIT] + f"…[truncated {len(text) - LIMIT} chars]"


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_huge_reply_is_truncated_to_valid_json(otel: Any, make_llm: Any, stream: bool) -> None:
    async def scenario(llm: Any) -> Any:
        result = await call(
            llm.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": HUGE}],
                stream=stream,
                extra_body={"x_reply": HUGE},
            )
        )
        if not stream:
            return result.choices[0].message.content
        if isinstance(result, openai.AsyncStream):
            return "".join([c.choices[0].delta.content or "" async for c in result if c.choices])
        return "".join(c.choices[0].delta.content or "" for c in result if c.choices)

    expected = await outcome(make_llm, scenario)
    assert len(expected) >= 1_000_000
    otel.instrument(**{CAPTURE: "SPAN_ONLY", "LLMTEL_MAX_CONTENT_LENGTH": str(LIMIT)})
    assert await outcome(make_llm, scenario) == expected

    attrs = otel.span().attributes or {}
    sent = json.loads(attrs["gen_ai.input.messages"])
    received = json.loads(attrs["gen_ai.output.messages"])
    assert sent == [{"role": "user", "parts": [{"type": "text", "content": truncated(HUGE)}]}]
    assert received[0]["parts"] == [{"type": "text", "content": truncated(expected)}]
    assert received[0]["finish_reason"] == "stop"
    assert len(attrs["gen_ai.output.messages"]) < 400


# -- odd request kwargs -----------------------------------------------------------------------------------------

ODD_KWARGS = {
    "temperature-str": {"temperature": "hot"},
    "stop-int": {"stop": 123},
    "n-bool": {"n": True},
    "max-tokens-float": {"max_tokens": 2.5, "seed": "x", "top_p": None},
    "response-format-str": {"response_format": "json"},
    "extra-body-list": {"extra_body": {"top_k": "many"}},
    "tools-not-list": {"tools": {"type": "function"}},
    "message-int": {"messages": [{"role": "user", "content": "hi"}, 5]},
    "message-str": {"messages": "hi"},
    "message-none": {"messages": None},
    "content-list-of-junk": {"messages": [{"role": 3, "content": [1, 2, {"type": None}]}]},
    "content-bytes": {"messages": [{"role": "user", "content": b"bytes"}]},
    "content-object": {"messages": [{"role": "user", "content": object()}]},  # the SDK cannot send it
    "tool-calls-junk": {"messages": [{"role": "assistant", "content": None, "tool_calls": [None, 7]}]},
}


# content the conventions' schema rejects: messages that are not messages (role null or not a string) and
# tool calls that are not objects (name null); see test_odd_messages_give_conforming_content
NON_CONFORMING = ("message-int", "message-str", "content-list-of-junk", "tool-calls-junk")


def conformance_problems(otel: Any) -> list[str]:
    """Check what was produced so far against the conventions, then drop it (the teardown would repeat it)."""
    checker = load_checker()
    if checker is None:
        pytest.skip("../shared/semconv absent: cannot check content against the conventions")
    problems = [p for span in otel.span_exporter.get_finished_spans() for p in checker.check_span(span)]
    problems += [p for record in otel.logs() for p in checker.check_log(record)]
    otel.span_exporter.clear()
    otel.log_exporter.clear()
    return problems


@SYNC_ONLY
@pytest.mark.parametrize("odd", list(ODD_KWARGS))
async def test_odd_request_kwargs_behave_as_uninstrumented(otel: Any, make_llm: Any, odd: str) -> None:
    async def scenario(llm: Any) -> Any:
        kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, **ODD_KWARGS[odd]}
        return dump(await call(llm.chat.completions.create(**kwargs)))

    expected = await outcome(make_llm, scenario)
    otel.instrument(**{CAPTURE: "SPAN_AND_EVENT"})
    assert await outcome(make_llm, scenario) == expected
    assert len(otel.spans()) == 1
    if odd in NON_CONFORMING:
        conformance_problems(otel)  # asserted in test_odd_messages_give_conforming_content


@SYNC_ONLY
@pytest.mark.parametrize("odd", NON_CONFORMING)
async def test_odd_messages_give_conforming_content(otel: Any, make_llm: Any, odd: str) -> None:
    async def scenario(llm: Any) -> Any:
        return dump(await call(llm.chat.completions.create(model=MODEL, **ODD_KWARGS[odd])))

    otel.instrument(**{CAPTURE: "SPAN_AND_EVENT"})
    await outcome(make_llm, scenario)
    assert conformance_problems(otel) == []


# -- bad configuration ------------------------------------------------------------------------------------------


def warnings_from(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "llmtel" and r.levelno >= logging.WARNING]


@SYNC_ONLY
async def test_bad_capture_value_warns_once_and_captures_nothing(
    otel: Any, make_llm: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        otel.instrument(**{CAPTURE: "maybe"})
        expected_reply = await outcome(make_llm, chat)
    [record] = warnings_from(caplog)
    assert CAPTURE in record.getMessage() and "maybe" in record.getMessage()
    assert expected_reply["choices"][0]["message"]["content"]
    attrs = otel.span().attributes or {}
    assert not any(key in attrs for key in ("gen_ai.input.messages", "gen_ai.output.messages"))
    assert otel.logs() == []


@SYNC_ONLY
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT", "perhaps"),
        ("LLMTEL_OPENAI_STREAM_USAGE", "2"),
        ("LLMTEL_MAX_CONTENT_LENGTH", "-5"),
        ("LLMTEL_MAX_CONTENT_LENGTH", "lots"),
        ("LLMTEL_CONTENT_REDACTOR", "no_such_module_xyz:hook"),
        ("LLMTEL_CONTENT_REDACTOR", "not-a-hook"),
        ("LLMTEL_PROVIDER_MAP", "just-a-host"),
    ],
)
async def test_bad_setting_warns_once_and_the_app_works(
    otel: Any, make_llm: Any, caplog: pytest.LogCaptureFixture, variable: str, value: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        otel.instrument(**{variable: value})
        reply = await outcome(make_llm, chat)
    [record] = warnings_from(caplog)
    assert variable in record.getMessage()
    assert isinstance(reply, dict)
    assert len(otel.spans()) == 1
