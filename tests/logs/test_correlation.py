"""Trace ids in the app's own logs (llmtel.logs.correlation): a line written inside a span carries exactly that
span's ids, from stdlib logging (the SDKs' own debug lines too) and structlog, beside
opentelemetry-instrumentation-logging's fields; outside any span, none."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.handlers
import queue
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.instrumentation.logging import LoggingInstrumentor
from opentelemetry.sdk.trace import ReadableSpan

import llmtel
from llmtel.demo.server import FakeOpenAIServer
from llmtel.logs.correlation import TraceIdsFilter, add_trace_ids
from tests.conftest import Otel
from tests.logs.test_record import MESSAGES

_HTTPX = next(c.__module__ for c in openai.DefaultHttpxClient.__mro__ if not c.__module__.startswith("openai"))
SDK_PACKAGES = {"openai", _HTTPX.split(".")[0], _HTTPX.split(".")[0].replace("httpx", "httpcore")}
"""Where the SDK's debug lines come from: openai, its HTTP client and that client's transport."""


class JsonFormatter(logging.Formatter):
    """The README's five-line JSON formatter: one object per line, the ids when the record has them."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"logger": record.name, "level": record.levelname, "message": record.getMessage()}
        line.update({k: getattr(record, k) for k in ("trace_id", "span_id") if hasattr(record, k)})
        return json.dumps(line)


def ids(span: ReadableSpan) -> dict[str, str]:
    context = span.get_span_context()
    assert context is not None
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def span_named(otel: Otel, name: str) -> ReadableSpan:
    (span,) = [s for s in otel.span_exporter.get_finished_spans() if s.name == name]
    return span


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """A JSON-lines handler with the filter on the root logger, everything at DEBUG (the SDKs' lines too)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(TraceIdsFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def read(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def hooked_client(server: FakeOpenAIServer, hook: Any) -> openai.OpenAI:
    """A real client whose HTTP client calls ``hook`` as each request goes out: app code inside the SDK call."""
    http_client = openai.DefaultHttpxClient(event_hooks={"request": [hook]})
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0, http_client=http_client)


def test_stdlib_lines_carry_the_current_spans_ids(
    otel: Otel, server: FakeOpenAIServer, json_lines: io.StringIO
) -> None:
    app = logging.getLogger("app")
    otel.instrument("openai")
    with hooked_client(server, lambda request: app.info("sending %s", request.url.path)) as client:
        with llmtel.agent("planner"):
            app.info("planning")
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        app.info("done")
    agent, chat = ids(span_named(otel, "invoke_agent planner")), ids(span_named(otel, "chat gpt-4o-mini"))
    assert agent["trace_id"] == chat["trace_id"] and agent["span_id"] != chat["span_id"]

    lines = read(json_lines)
    app_lines = [line for line in lines if line["logger"] == "app"]
    assert app_lines == [
        {"logger": "app", "level": "INFO", "message": "planning", **agent},
        {"logger": "app", "level": "INFO", "message": "sending /v1/chat/completions", **chat},
        {"logger": "app", "level": "INFO", "message": "done"},  # outside any span: no ids at all
    ]
    # every line of the SDK and its HTTP client during the call is inside the chat span; the client's close, after
    # the agent ended, is in no span
    start, end = lines.index(app_lines[0]), lines.index(app_lines[2])
    during, after = lines[start + 1 : end], lines[end + 1 :]
    assert {line["logger"].split(".")[0] for line in during} == {"app", *SDK_PACKAGES}
    assert [{k: line.get(k) for k in chat} for line in during] == [chat] * len(during)
    assert [line["message"] for line in after] == ["close.started", "close.complete"]
    assert [(line.get("trace_id"), line.get("span_id")) for line in after] == [(None, None)] * 2
    assert [line["message"] for line in during if line["logger"] == "openai._base_client"][:3] == [
        "Building HTTP request: method=POST retries_taken=0",
        "Sending HTTP Request: POST",
        "HTTP Response: POST 200",
    ]


async def test_concurrent_async_calls_each_log_their_own_span(
    otel: Otel, server: FakeOpenAIServer, json_lines: io.StringIO
) -> None:
    """Two calls at once on one event loop: each task's lines carry its own call's span (context variables)."""
    app = logging.getLogger("app")

    async def hook(request: Any) -> None:
        app.info("sending %s", json.loads(request.content)["model"])

    otel.instrument("openai")
    http_client = openai.DefaultAsyncHttpxClient(event_hooks={"request": [hook]})
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="test-key", max_retries=0, http_client=http_client
    ) as client:
        await asyncio.gather(
            *(client.chat.completions.create(model=model, messages=MESSAGES) for model in ("model-a", "model-b"))
        )
    assert sorted(
        (line["message"], line["trace_id"], line["span_id"]) for line in read(json_lines) if line["logger"] == "app"
    ) == sorted(
        (f"sending {model}", *ids(span_named(otel, f"chat {model}")).values()) for model in ("model-a", "model-b")
    )


def test_structlog_events_carry_the_current_spans_ids(otel: Otel, server: FakeOpenAIServer) -> None:
    out = io.StringIO()
    log = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[add_trace_ids, structlog.processors.JSONRenderer(sort_keys=True)],
    )
    otel.instrument("openai")
    with hooked_client(server, lambda request: log.info("sending", path=request.url.path)) as client:
        with llmtel.agent("planner"):
            log.info("planning", step=1)
            with llmtel.tool("lookup"):
                log.info("looking up")
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        log.info("done")
        log.bind(trace_id="from-the-app").info("mine")
    agent, chat = ids(span_named(otel, "invoke_agent planner")), ids(span_named(otel, "chat gpt-4o-mini"))
    tool = ids(span_named(otel, "execute_tool lookup"))
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"event": "planning", "step": 1, **agent},
        {"event": "looking up", **tool},
        {"event": "sending", "path": "/v1/chat/completions", **chat},
        {"event": "done"},
        {"event": "mine", "trace_id": "from-the-app"},
    ]


def test_beside_opentelemetry_instrumentation_logging(otel: Otel, client: openai.OpenAI) -> None:
    """Its record factory and our filter together: both sets of fields, the same ids, nothing lost."""
    instrumentor = LoggingInstrumentor()
    instrumentor.instrument(
        tracer_provider=otel.tracer_provider, inject_trace_context=True, enable_log_auto_instrumentation=False
    )
    records: list[logging.LogRecord] = []
    handler = logging.handlers.BufferingHandler(100)
    handler.addFilter(TraceIdsFilter())
    app = logging.getLogger("app.both")
    app.addHandler(handler)
    app.setLevel(logging.INFO)
    try:
        otel.instrument("openai")
        with llmtel.agent("planner"):
            app.info("inside")
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        app.info("outside")
        records = list(handler.buffer)
    finally:
        app.removeHandler(handler)
        instrumentor.uninstrument()
    agent = ids(span_named(otel, "invoke_agent planner"))
    fields = ("trace_id", "span_id", "otelTraceID", "otelSpanID", "otelTraceSampled")
    assert [{k: getattr(r, k) for k in fields if hasattr(r, k)} for r in records] == [
        {**agent, "otelTraceID": agent["trace_id"], "otelSpanID": agent["span_id"], "otelTraceSampled": True},
        {"otelTraceID": "0", "otelSpanID": "0", "otelTraceSampled": False},  # its "0"; our: absent
    ]


def test_missing_values_and_the_apps_own_ids(otel: Otel) -> None:
    """``missing=""`` for a %-style format that names the fields; an id the app passed itself is kept."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s trace=%(trace_id)s span=%(span_id)s"))
    handler.addFilter(TraceIdsFilter(missing=""))
    app = logging.getLogger("app.text")
    app.addHandler(handler)
    app.propagate = False
    tracer = otel.tracer_provider.get_tracer("test")
    try:
        app.warning("outside")
        with tracer.start_as_current_span("work") as span:
            app.warning("inside")
            app.warning("explicit", extra={"trace_id": "t-own"})
    finally:
        app.removeHandler(handler)
        app.propagate = True
    context = span.get_span_context()
    trace_id, span_id = format(context.trace_id, "032x"), format(context.span_id, "016x")
    assert out.getvalue().splitlines() == [
        "outside trace= span=",
        f"inside trace={trace_id} span={span_id}",
        f"explicit trace=t-own span={span_id}",
    ]


def test_a_queue_handler_keeps_the_ids_of_the_thread_that_logged(otel: Otel) -> None:
    """The listener thread has no span: the filter belongs on the QueueHandler, which runs where the app logs."""
    out = io.StringIO()
    target = logging.StreamHandler(out)
    target.setFormatter(JsonFormatter())
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    front = logging.handlers.QueueHandler(records)
    front.addFilter(TraceIdsFilter())
    listener = logging.handlers.QueueListener(records, target)
    app = logging.getLogger("app.queued")
    app.addHandler(front)
    app.propagate = False
    listener.start()
    try:
        with otel.tracer_provider.get_tracer("test").start_as_current_span("work") as span:
            app.warning("queued")
    finally:
        listener.stop()
        app.removeHandler(front)
        app.propagate = True
    context = span.get_span_context()
    assert read(out) == [
        {
            "logger": "app.queued",
            "level": "WARNING",
            "message": "queued",
            "trace_id": format(context.trace_id, "032x"),
            "span_id": format(context.span_id, "016x"),
        }
    ]


class _BrokenSpan(trace.NonRecordingSpan):
    """A current span whose context cannot be read: our own fault injection, not a stand-in for the SDK."""

    def get_span_context(self) -> trace.SpanContext:
        raise RuntimeError("broken")


def test_never_breaks_a_log_line() -> None:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello", None, None)
    with trace.use_span(_BrokenSpan(trace.INVALID_SPAN_CONTEXT)):
        assert TraceIdsFilter().filter(record) is True
        assert add_trace_ids(None, "info", {"event": "hello"}) == {"event": "hello"}
    assert not hasattr(record, "trace_id")
