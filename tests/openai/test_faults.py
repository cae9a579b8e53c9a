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
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
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
from tests.conftest import Otel
from tests.core.test_values import attributes, exported_logs, exported_points, exported_spans

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


# -- hostile values from the server ---------------------------------------------------------------------------
#
# The real SDK over its real HTTP stack to the local server, whose replies a transport rewrites on the way back
# (each event's JSON, for a stream): a server that sends wrong types, negative and huge counts, lone surrogates
# (JSON's "\ud800" escape, which Python's json decodes to one), NaN and numbers beyond int64 in tool arguments.
# What we record is then encoded by the real OTLP encoders, serialised and parsed back: what a collector gets.

LONE, FFFD = "\ud800", "\ufffd"


def _rewrite_body(body: bytes, streamed: bool, tamper: Callable[[dict[str, Any]], None]) -> bytes:
    def rewritten(text: bytes) -> bytes:
        data = json.loads(text)
        tamper(data)
        return json.dumps(data).encode("ascii")  # ensure_ascii: surrogates travel as \ud800 escapes

    if not streamed:
        return rewritten(body)
    lines = body.split(b"\n")
    return b"\n".join(b"data: " + rewritten(line[6:]) if line.startswith(b"data: {") else line for line in lines)


class Hostile(httpx2.BaseTransport):
    """Real HTTP to the local server; the reply's JSON handed to ``tamper`` (in place) before the SDK reads it."""

    def __init__(self, tamper: Callable[[dict[str, Any]], None]) -> None:
        self.tamper = tamper
        self.inner = httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        response.close()
        streamed = response.headers.get("content-type", "").startswith("text/event-stream")
        headers = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
        ]
        content = _rewrite_body(body, streamed, self.tamper)
        return httpx2.Response(response.status_code, headers=headers, content=content, request=request)

    def close(self) -> None:
        self.inner.close()


def hostile_client(server: Any, tamper: Callable[[dict[str, Any]], None]) -> Any:
    http = openai.DefaultHttpxClient(transport=Hostile(tamper))
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0, http_client=http)


@pytest.fixture
def pipeline() -> Iterator[Otel]:
    """A pipeline without the conformance check of ``otel``: hostile replies do not make conforming content (a
    finish reason the conventions do not list, tool arguments of the server's own making)."""
    own = Otel()
    try:
        yield own
    finally:
        own.uninstrument()


HOSTILE_ARGUMENTS = '{"n": 18446744073709551616, "t": NaN, "\\ud800": 1}'
FIT_ARGUMENTS = {"n": "18446744073709551616", "t": "NaN", FFFD: 1}


def hostile_completion(body: dict[str, Any]) -> None:
    body.update(id=f"chatcmpl-{LONE}7", model=f"gpt-4o-mini{LONE}", system_fingerprint=12345, service_tier="")
    [choice] = body["choices"]
    choice["finish_reason"] = f"stop{LONE}"
    choice["message"]["content"] = f"Hello {LONE}world"
    choice["message"]["tool_calls"] = [
        {"id": f"call_{LONE}", "type": "function", "function": {"name": "lookup", "arguments": HOSTILE_ARGUMENTS}}
    ]
    body["usage"] = {
        "prompt_tokens": 7,
        "completion_tokens": -1,
        "total_tokens": 6,
        "prompt_tokens_details": {"cached_tokens": 2**64},
        "completion_tokens_details": {"reasoning_tokens": 10**40},
    }


def hostile_chunk(chunk: dict[str, Any]) -> None:
    chunk.update(id=f"chatcmpl-{LONE}7", model=f"gpt-4o-mini{LONE}", system_fingerprint=["fp"])
    for choice in chunk["choices"]:
        if choice["finish_reason"] is not None:
            choice["finish_reason"] = f"stop{LONE}"
        if choice["delta"].get("content"):
            choice["delta"]["content"] += LONE
    if chunk.get("usage"):
        chunk["usage"] = {"prompt_tokens": 7, "completion_tokens": 2**63, "total_tokens": 7}


REQUEST_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": MODEL,
    "server.address": "127.0.0.1",
    "openai.api.type": "chat_completions",
}
METRIC_KEYS = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "server.address")


@SYNC_ONLY
async def test_hostile_reply_exports_cleanly(
    pipeline: Otel, server: Any, caplog: pytest.LogCaptureFixture, is_async: bool
) -> None:
    pipeline.instrument(**{CAPTURE: "SPAN_AND_EVENT"})
    with caplog.at_level(logging.DEBUG, logger="opentelemetry"), hostile_client(server, hostile_completion) as llm:
        result = llm.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert result.usage is not None and result.usage.completion_tokens == -1  # the app sees what was sent

        [span] = exported_spans(pipeline)
        assert span.name == f"chat {MODEL}"
        exported = attributes(span.attributes)
        expected_messages = [
            {
                "role": "assistant",
                "parts": [
                    {"type": "text", "content": f"Hello {FFFD}world"},
                    {"type": "tool_call", "name": "lookup", "id": f"call_{FFFD}", "arguments": FIT_ARGUMENTS},
                ],
                "finish_reason": f"stop{FFFD}",
            }
        ]
        assert json.loads(exported.pop("gen_ai.output.messages")) == expected_messages
        input_messages = exported.pop("gen_ai.input.messages")
        assert exported == {
            **REQUEST_ATTRIBUTES,
            "server.port": server.port,
            "gen_ai.response.id": f"chatcmpl-{FFFD}7",
            "gen_ai.response.model": f"gpt-4o-mini{FFFD}",
            "gen_ai.response.finish_reasons": [f"stop{FFFD}"],
            "gen_ai.usage.input_tokens": 7,  # the negative output count and the huge cached and reasoning are gone
        }
        [record] = exported_logs(pipeline)
        assert attributes(record.attributes) == {
            **exported,
            "gen_ai.input.messages": json.loads(input_messages),
            "gen_ai.output.messages": expected_messages,
        }
        [point] = exported_points(pipeline, "gen_ai.client.token.usage")
        assert (point.count, point.sum, attributes(point.attributes)) == (
            1,
            7,
            {
                **{k: exported[k] for k in METRIC_KEYS},
                "server.port": server.port,
                "gen_ai.response.model": f"gpt-4o-mini{FFFD}",
                "gen_ai.token.type": "input",
            },
        )
    assert [r for r in caplog.records if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING] == []


@SYNC_ONLY
async def test_hostile_stream_exports_cleanly(
    pipeline: Otel, server: Any, caplog: pytest.LogCaptureFixture, is_async: bool
) -> None:
    pipeline.instrument(**{CAPTURE: "SPAN_ONLY"})
    with caplog.at_level(logging.DEBUG, logger="opentelemetry"), hostile_client(server, hostile_chunk) as llm:
        stream = llm.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        assert text.count(LONE) == 5  # the demo server's five content chunks, each with its lone surrogate

        [span] = exported_spans(pipeline)
        exported = attributes(span.attributes)
        [message] = json.loads(exported.pop("gen_ai.output.messages"))
        assert message == {
            "role": "assistant",
            "parts": [{"type": "text", "content": text.replace(LONE, FFFD)}],
            "finish_reason": f"stop{FFFD}",
        }
        ttfc = exported.pop("gen_ai.response.time_to_first_chunk")
        assert isinstance(ttfc, float)
        exported.pop("gen_ai.input.messages")
        assert exported == {
            **REQUEST_ATTRIBUTES,
            "server.port": server.port,
            "gen_ai.request.stream": True,
            "gen_ai.response.id": f"chatcmpl-{FFFD}7",
            "gen_ai.response.model": f"gpt-4o-mini{FFFD}",
            "gen_ai.response.finish_reasons": [f"stop{FFFD}"],
            "openai.response.service_tier": "default",  # the fingerprint, a list, is gone
            "gen_ai.usage.input_tokens": 7,  # the output count beyond int64 is gone
        }
        assert [p.count for p in exported_points(pipeline, "gen_ai.client.token.usage")] == [1]
        [chunk_point] = exported_points(pipeline, "gen_ai.client.operation.time_per_output_chunk")
        assert attributes(chunk_point.attributes)["gen_ai.response.model"] == f"gpt-4o-mini{FFFD}"
    assert [r for r in caplog.records if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING] == []


def failed_response(body: dict[str, Any]) -> None:
    body.update(id="resp_hostile", status="failed", error={"code": f"server_error{LONE}", "message": f"boom {LONE}"})
    body["usage"]["output_tokens"] = -10


@SYNC_ONLY
async def test_hostile_in_band_error_exports_cleanly(
    pipeline: Otel, server: Any, caplog: pytest.LogCaptureFixture, is_async: bool
) -> None:
    """A failed response's code and message become ``error.type`` and the span's status message: a lone surrogate
    in the message would fail the export of the whole batch of spans."""
    pipeline.instrument()
    tracer = pipeline.tracer_provider.get_tracer("app")
    with caplog.at_level(logging.DEBUG, logger="opentelemetry"), hostile_client(server, failed_response) as llm:
        with tracer.start_as_current_span("the app's own span"):
            llm.responses.create(model=MODEL, input="Say hello")
        spans = exported_spans(pipeline)
        assert [s.name for s in spans] == [f"chat {MODEL}", "the app's own span"]
        ours = spans[0]
        assert (ours.status.code, ours.status.message) == (ours.status.STATUS_CODE_ERROR, f"boom {FFFD}")
        assert attributes(ours.attributes) == {
            **REQUEST_ATTRIBUTES,
            "openai.api.type": "responses",
            "server.port": server.port,
            "gen_ai.response.id": "resp_hostile",
            "gen_ai.response.model": "gpt-4o-mini-2026-01-01",
            "openai.response.service_tier": "default",
            "gen_ai.response.finish_reasons": ["error"],
            "gen_ai.usage.input_tokens": 2,  # the demo server counts words; the negative output count is gone
            "gen_ai.usage.cache_read.input_tokens": 0,
            "gen_ai.usage.cache_write.input_tokens": 0,
            "gen_ai.usage.reasoning.output_tokens": 0,
            "error.type": f"server_error{FFFD}",
        }
        [point] = exported_points(pipeline, DURATION)
        assert attributes(point.attributes)["error.type"] == f"server_error{FFFD}"
    assert [r for r in caplog.records if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING] == []
