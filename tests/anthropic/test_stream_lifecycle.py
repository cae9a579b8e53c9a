"""Stream lifecycle: whichever way a Messages stream ends, its span ends exactly once, covers the stream, is never
the caller's current span between events, and records what was seen (DESIGN.md principles 1 and 3). For
``create(stream=True)`` and for every helper of ``messages.stream()``: iteration, ``text_stream``,
``get_final_message()``, ``get_final_text()``, ``until_done()``, early exit, sync and async.

What counts as a chunk: every raw event of the SDK's stream (``ping`` is dropped by the SDK itself). A text
stream of ``x_chunks=3`` is 8: ``message_start``, ``content_block_start``, three ``content_block_delta``,
``content_block_stop``, ``message_delta``, ``message_stop``. The helper's MessageStream reads the same raw
events, whatever it hands the app (it adds ``text`` events and a parsed ``message_stop``).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.lib.streaming import AsyncMessageStream, MessageStream
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from llmtel import semconv as sc
from llmtel.demo.server import DEFAULT_REPLY
from tests.anthropic.helpers import DURATION, MAX_TOKENS, MESSAGES, MODEL, TPOC, TTFC, TTFC_ATTR, create
from tests.conftest import dropped_async_generators_closed

FULL = 8
PAUSE = 0.03


class Probe:
    """What the app saw: events, the current span in the loop body, and when the stream was made and done."""

    def __init__(self, otel: Any) -> None:
        self.otel = otel
        self.events: list[Any] = []
        self.current: list[Any] = []
        self.t_created = self.t_end = 0.0
        self.open_before_gc: int | None = None

    def created(self) -> None:
        self.t_created = time.perf_counter()

    def see(self, event: Any) -> None:
        self.events.append(event)
        self.current.append(trace.get_current_span())
        if len(self.events) == 1:
            time.sleep(PAUSE)  # the app's own work after the first event
        self.t_end = time.perf_counter()

    def collect(self) -> None:
        """Just before the app drops the stream: is the span still open?"""
        self.open_before_gc = len(self.otel.spans())


async def each(stream: Any, a: bool, probe: Probe, stop_after: int | None = None) -> None:
    if a:
        async for event in stream:
            probe.see(event)
            if stop_after is not None and len(probe.events) >= stop_after:
                break
    else:
        for event in stream:
            probe.see(event)
            if stop_after is not None and len(probe.events) >= stop_after:
                break


async def stream_of(llm: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("extra_body", {"x_chunks": 3})
    return await create(llm, stream=True, **kwargs)


# -- create(stream=True) ------------------------------------------------------------------------------------------


async def exhausted(llm: Any, a: bool, p: Probe) -> None:
    stream = await stream_of(llm)
    p.created()
    await each(stream, a, p)


async def closed(llm: Any, a: bool, p: Probe) -> None:
    stream = await stream_of(llm)
    p.created()
    await each(stream, a, p, stop_after=2)
    await stream.close() if a else stream.close()
    p.t_end = time.perf_counter()


async def with_exited_early(llm: Any, a: bool, p: Probe) -> None:
    stream = await stream_of(llm)
    p.created()
    if a:
        async with stream as s:
            await each(s, a, p, stop_after=1)
    else:
        with stream as s:
            await each(s, a, p, stop_after=1)
    p.t_end = time.perf_counter()


async def break_then_collected(llm: Any, a: bool, p: Probe) -> None:
    stream = await stream_of(llm)
    p.created()
    await each(stream, a, p, stop_after=2)
    p.collect()
    del stream
    if a:
        await dropped_async_generators_closed()
    gc.collect()


async def broken(llm: Any, a: bool, p: Probe) -> None:
    stream = await stream_of(llm, model="broken-stream")
    p.created()
    with pytest.raises(httpx2.RemoteProtocolError):  # the SDK passes the HTTP client's error on as it is
        await each(stream, a, p)


async def error_event(llm: Any, a: bool, p: Probe) -> None:
    stream = await stream_of(llm, model="stream-error")
    p.created()
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        await each(stream, a, p)


async def caller_raises(llm: Any, a: bool, p: Probe) -> None:
    stream = await stream_of(llm)
    p.created()
    with pytest.raises(ValueError, match="the app's own error"):
        if a:
            async with stream as s:
                async for event in s:
                    p.see(event)
                    raise ValueError("the app's own error")
        else:
            with stream as s:
                for event in s:
                    p.see(event)
                    raise ValueError("the app's own error")


async def cancelled(llm: Any, a: bool, p: Probe) -> None:
    stream = await stream_of(llm, model="stall", extra_body={"x_chunks": 3, "x_delay_ms": 150})
    p.created()
    first = asyncio.Event()

    async def consume() -> None:
        async for event in stream:
            p.see(event)
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    await asyncio.sleep(0.04)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def never_iterated(llm: Any, a: bool, p: Probe) -> None:
    stream = await stream_of(llm)
    p.created()
    time.sleep(PAUSE)
    p.t_end = time.perf_counter()
    p.collect()
    del stream
    gc.collect()


# -- messages.stream() ----------------------------------------------------------------------------------------------


def manager(llm: Any) -> Any:
    return llm.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES, extra_body={"x_chunks": 3})


async def helper(llm: Any, a: bool, p: Probe, use: Callable[[Any, bool, Probe], Awaitable[None]]) -> None:
    made = manager(llm)
    p.created()
    if a:
        async with made as stream:
            assert type(stream) is AsyncMessageStream  # the SDK's own object
            await use(stream, a, p)
    else:
        with made as stream:
            assert type(stream) is MessageStream
            await use(stream, a, p)


async def iterated(stream: Any, a: bool, p: Probe) -> None:
    await each(stream, a, p)


async def text_stream(stream: Any, a: bool, p: Probe) -> None:
    await each(stream.text_stream, a, p)
    assert "".join(p.events) == DEFAULT_REPLY


async def final_message(stream: Any, a: bool, p: Probe) -> None:
    message = await stream.get_final_message() if a else stream.get_final_message()
    assert message.stop_reason == "end_turn"


async def final_text(stream: Any, a: bool, p: Probe) -> None:
    text = await stream.get_final_text() if a else stream.get_final_text()
    assert text == DEFAULT_REPLY


async def until_done(stream: Any, a: bool, p: Probe) -> None:
    await stream.until_done() if a else stream.until_done()


async def helper_left_early(stream: Any, a: bool, p: Probe) -> None:
    await each(stream.text_stream, a, p, stop_after=1)


async def helper_raises(llm: Any, a: bool, p: Probe) -> None:
    with pytest.raises(ValueError, match="the app's own error"):
        await helper(llm, a, p, raising)


async def raising(stream: Any, a: bool, p: Probe) -> None:
    await each(stream.text_stream, a, p, stop_after=1)
    raise ValueError("the app's own error")


async def manager_never_entered(llm: Any, a: bool, p: Probe) -> None:
    made = manager(llm)
    p.created()
    p.collect()
    del made
    gc.collect()


def with_helper(use: Callable[[Any, bool, Probe], Awaitable[None]]) -> Callable[[Any, bool, Probe], Awaitable[None]]:
    async def run(llm: Any, a: bool, p: Probe) -> None:
        await helper(llm, a, p, use)

    return run


@dataclass(frozen=True)
class Case:
    run: Callable[[Any, bool, Probe], Awaitable[None]]
    chunks: int  # raw events our handler saw
    seen: int | None = None  # what the app saw, when it differs
    error_type: str | None = None
    collected: bool = False
    async_only: bool = False
    complete: bool = False  # the stop reason and final usage arrived


CASES = {
    "exhausted": Case(exhausted, FULL, complete=True),
    "close": Case(closed, 2),
    "with-exited-early": Case(with_exited_early, 1),
    "break-then-gc": Case(break_then_collected, 2, collected=True),
    "broken-stream": Case(broken, 4, error_type="httpx2.RemoteProtocolError"),
    "stream-error": Case(error_event, 4, error_type="overloaded_error"),
    "caller-raises": Case(caller_raises, 1, error_type="ValueError"),
    "cancelled": Case(cancelled, 1, error_type="asyncio.CancelledError", async_only=True),
    "never-iterated": Case(never_iterated, 0, collected=True),
    "helper-iterated": Case(with_helper(iterated), FULL, seen=FULL + 3, complete=True),  # + 3 text events
    "helper-text-stream": Case(with_helper(text_stream), FULL, seen=3, complete=True),
    "helper-final-message": Case(with_helper(final_message), FULL, seen=0, complete=True),
    "helper-final-text": Case(with_helper(final_text), FULL, seen=0, complete=True),
    "helper-until-done": Case(with_helper(until_done), FULL, seen=0, complete=True),
    "helper-left-early": Case(with_helper(helper_left_early), 3, seen=1),  # start, block start, first delta
    "helper-raises": Case(helper_raises, 3, seen=1, error_type="ValueError"),
    "manager-never-entered": Case(manager_never_entered, 0, collected=True),
}


def span_id(span: Any) -> int:
    return int(span.get_span_context().span_id)


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")  # the app never entered the async manager
@pytest.mark.parametrize("how", list(CASES))
async def test_stream_ends_exactly_once(otel: Any, llm: Any, is_async: bool, how: str) -> None:
    case = CASES[how]
    if case.async_only and not is_async:
        pytest.skip("asyncio cancellation needs the async client")
    otel.instrument("anthropic")
    probe = Probe(otel)
    with otel.tracer_provider.get_tracer("app").start_as_current_span("app work") as parent:
        await case.run(llm, is_async, probe)
        assert span_id(trace.get_current_span()) == span_id(parent)
    if case.collected:
        assert probe.open_before_gc == 0, "a stream the app still holds must keep its span open"
    span = otel.span()
    attrs = dict(span.attributes or {})

    assert span.parent is not None and span.parent.span_id == span_id(parent)
    assert attrs[sc.GEN_AI_REQUEST_STREAM] is True
    if case.error_type is None:
        assert span.status.status_code is StatusCode.UNSET and sc.ERROR_TYPE not in attrs
    else:
        assert span.status.status_code is StatusCode.ERROR
        assert attrs[sc.ERROR_TYPE] == case.error_type
    assert len(probe.events) == (case.chunks if case.seen is None else case.seen)
    assert all(span_id(current) == span_id(parent) for current in probe.current)

    assert span.start_time is not None and span.end_time is not None
    elapsed = (span.end_time - span.start_time) / 1e9
    assert elapsed >= probe.t_end - probe.t_created - 1e-3
    [point] = otel.points(DURATION)
    assert point.count == 1 and point.sum == pytest.approx(elapsed, abs=1e-6)
    assert point.attributes.get(sc.ERROR_TYPE) == case.error_type

    if case.chunks:
        [ttfc] = otel.points(TTFC)
        assert 0 < attrs[TTFC_ATTR] <= elapsed and ttfc.sum == pytest.approx(attrs[TTFC_ATTR], abs=1e-6)
        assert attrs[sc.GEN_AI_RESPONSE_ID].startswith("msg_")  # message_start was seen
    else:
        assert TTFC_ATTR not in attrs and otel.points(TTFC) == []
    assert sum(p.count for p in otel.points(TPOC)) == max(case.chunks - 1, 0)
    if case.complete:
        assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
        assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == len(DEFAULT_REPLY.split())
    else:
        assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in attrs

    gc.collect()
    assert len(otel.spans()) == 1
    assert [p.count for p in otel.points(DURATION)] == [1]
