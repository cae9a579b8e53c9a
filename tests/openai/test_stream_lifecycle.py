"""Stream lifecycle: whichever way a stream ends, its span ends exactly once, covers the stream, and is never the
caller's current span between chunks (DESIGN.md principles 1 and 3).

What counts as a chunk: every item the SDK's stream hands to the app. A chat stream of ``x_chunks=N`` text
pieces is ``N + 2`` chunks: the role chunk (``delta.role="assistant"``, empty content), ``N`` content chunks and
the finish chunk (``finish_reason="stop"``), plus the usage-only chunk (``choices=[]``) when the *app* asked for
``include_usage``. A usage chunk that the instrumentation requested itself (``LLMTEL_OPENAI_STREAM_USAGE``)
is hidden from the app and not counted. ``time_per_output_chunk`` records one value per chunk after the first, so
its count is ``chunks - 1``; ``time_to_first_chunk`` records one value when at least one chunk arrived.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from llmtel.demo.server import BROKEN_STREAM, DEFAULT_REPLY, RESPONSE_FAILED, STALL, STREAM_ERROR
from tests.conftest import dropped_async_generators_closed
from tests.openai.helpers import mask

MODEL = "gpt-4o-mini"
PROMPT = "Say hello to the world"  # the server counts whitespace words: 5 input tokens
MESSAGES = [{"role": "user", "content": PROMPT}]
INPUT_TOKENS = 5
OUTPUT_TOKENS = len(DEFAULT_REPLY.split())  # 10: without x_chunks the server counts the reply's words
TEXT_CHUNKS = 3
FULL = TEXT_CHUNKS + 2  # role chunk + text chunks + finish chunk
PAUSE = 0.03  # the app's own work after the first chunk

DURATION = "gen_ai.client.operation.duration"
TTFC = "gen_ai.client.operation.time_to_first_chunk"
TPOC = "gen_ai.client.operation.time_per_output_chunk"
TOKENS = "gen_ai.client.token.usage"
TTFC_ATTR = "gen_ai.response.time_to_first_chunk"


@pytest.fixture(params=["sync", "async"])
def is_async(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "async")


@pytest.fixture
async def llm(server: Any, is_async: bool) -> Any:
    """One real client of the flavour under test. Its own HTTP client without TLS setup keeps it cheap to make
    (the SDK's default builds an SSL context per client: ~50 ms)."""
    if is_async:
        http = openai.DefaultAsyncHttpxClient(verify=False)
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0, http_client=http) as c:
            yield c
    else:
        with openai.OpenAI(
            base_url=server.base_url, api_key="k", max_retries=0, http_client=openai.DefaultHttpxClient(verify=False)
        ) as c:
            yield c


async def create(llm: Any, is_async: bool, **kwargs: Any) -> Any:
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("messages", MESSAGES)
    kwargs.setdefault("extra_body", {"x_chunks": TEXT_CHUNKS})
    result = llm.chat.completions.create(stream=True, **kwargs)
    return await result if is_async else result


class Probe:
    """What the app saw: chunks, the current span in the loop body, and when it last did something."""

    def __init__(self, otel: Any) -> None:
        self.otel = otel
        self.chunks: list[Any] = []
        self.current: list[trace.Span] = []
        self.t_created = 0.0
        self.t_end = 0.0  # the latest moment before the stream ended (the span must last at least until then)
        self.open_before_gc: int | None = None

    def created(self) -> None:
        self.t_created = self.t_end = time.perf_counter()

    def see(self, chunk: Any) -> None:
        self.chunks.append(chunk)
        self.current.append(trace.get_current_span())
        self.mark()
        if len(self.chunks) == 1:
            time.sleep(PAUSE)  # the app works between chunks (blocking is fine here, the server has a thread)

    def mark(self) -> None:
        self.t_end = time.perf_counter()

    def collect(self) -> None:
        """Before dropping the stream: the span must still be open (the app could still resume it)."""
        self.open_before_gc = len(self.otel.spans())


# -- the ways a stream ends -------------------------------------------------------------------------------------


async def exhausted(llm: Any, a: bool, p: Probe) -> None:
    stream = await create(llm, a)
    p.created()
    if a:
        async for chunk in stream:
            p.see(chunk)
    else:
        for chunk in stream:
            p.see(chunk)


async def closed(llm: Any, a: bool, p: Probe) -> None:
    stream = await create(llm, a)
    p.created()
    if a:
        async for chunk in stream:
            p.see(chunk)
            if len(p.chunks) == 2:
                break
        assert p.otel.spans() == []
        p.mark()
        await stream.close()
    else:
        for chunk in stream:
            p.see(chunk)
            if len(p.chunks) == 2:
                break
        assert p.otel.spans() == []
        p.mark()
        stream.close()


async def with_fully_read(llm: Any, a: bool, p: Probe) -> None:
    stream = await create(llm, a)
    p.created()
    if a:
        async with stream as s:
            async for chunk in s:
                p.see(chunk)
    else:
        with stream as s:
            for chunk in s:
                p.see(chunk)


async def with_exited_early(llm: Any, a: bool, p: Probe) -> None:
    stream = await create(llm, a)
    p.created()
    if a:
        async with stream as s:
            async for chunk in s:
                p.see(chunk)
                break
            p.mark()
    else:
        with stream as s:
            for chunk in s:
                p.see(chunk)
                break
            p.mark()


async def break_then_collected(llm: Any, a: bool, p: Probe) -> None:
    stream = await create(llm, a)
    p.created()
    if a:
        async for chunk in stream:
            p.see(chunk)
            if len(p.chunks) == 2:
                break
    else:
        for chunk in stream:
            p.see(chunk)
            if len(p.chunks) == 2:
                break
    # abandoned: the span ends as of the last chunk seen, so t_end stays at the second chunk
    p.collect()
    del stream, chunk
    gc.collect()
    if a:
        await dropped_async_generators_closed()


async def broken_stream(llm: Any, a: bool, p: Probe) -> None:
    stream = await create(llm, a, model=BROKEN_STREAM)
    p.created()
    with pytest.raises(openai.APIConnectionError):
        if a:
            async for chunk in stream:
                p.see(chunk)
        else:
            for chunk in stream:
                p.see(chunk)


async def stream_error(llm: Any, a: bool, p: Probe) -> None:
    stream = await create(llm, a, model=STREAM_ERROR)
    p.created()
    with pytest.raises(openai.APIError, match="stream failed") as info:
        if a:
            async for chunk in stream:
                p.see(chunk)
        else:
            for chunk in stream:
                p.see(chunk)
    assert type(info.value) is openai.APIError


async def caller_raises(llm: Any, a: bool, p: Probe) -> None:
    stream = await create(llm, a)
    p.created()
    with pytest.raises(ValueError, match="the app's own error"):
        if a:
            async with stream as s:
                async for chunk in s:
                    p.see(chunk)
                    p.mark()
                    raise ValueError("the app's own error")
        else:
            with stream as s:
                for chunk in s:
                    p.see(chunk)
                    p.mark()
                    raise ValueError("the app's own error")


async def cancelled(llm: Any, a: bool, p: Probe) -> None:
    assert a
    # every SSE frame is delayed 150 ms: the task is cancelled while it awaits the second chunk
    stream = await create(llm, a, model=STALL, extra_body={"x_chunks": TEXT_CHUNKS, "x_delay_ms": 150})
    p.created()
    first = asyncio.Event()

    async def consume() -> None:
        async for chunk in stream:
            p.see(chunk)
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    await asyncio.sleep(0.04)
    assert p.otel.spans() == []
    p.mark()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def never_iterated(llm: Any, a: bool, p: Probe) -> None:
    stream = await create(llm, a)
    p.created()
    time.sleep(PAUSE)
    p.mark()
    p.collect()
    del stream
    gc.collect()


@dataclass(frozen=True)
class Case:
    run: Callable[[Any, bool, Probe], Awaitable[None]]
    chunks: int
    error_type: str | None = None
    collected: bool = False  # the span ends only when the stream is garbage-collected
    async_only: bool = False


CASES = {
    "exhausted": Case(exhausted, FULL),
    "close": Case(closed, 2),
    "with-fully-read": Case(with_fully_read, FULL),
    "with-exited-early": Case(with_exited_early, 1),
    "break-then-gc": Case(break_then_collected, 2, collected=True),
    # the server closes the socket mid-body: httpx2 raises, the SDK turns it into APIConnectionError
    "broken-stream": Case(broken_stream, 3, "openai.APIConnectionError"),
    "stream-error": Case(stream_error, 3, "openai.APIError"),
    "caller-raises": Case(caller_raises, 1, "ValueError"),
    "cancelled": Case(cancelled, 1, "asyncio.CancelledError", async_only=True),
    "never-iterated": Case(never_iterated, 0, collected=True),
}


def span_id(span: Any) -> int:
    return int(span.get_span_context().span_id)


def duration_s(span: ReadableSpan) -> float:
    assert span.start_time is not None and span.end_time is not None
    return (span.end_time - span.start_time) / 1e9


@pytest.mark.parametrize("how", list(CASES))
async def test_stream_ends_exactly_once(otel: Any, llm: Any, is_async: bool, how: str) -> None:
    case = CASES[how]
    if case.async_only and not is_async:
        pytest.skip("asyncio cancellation needs the async client")
    otel.instrument()
    tracer = otel.tracer_provider.get_tracer("app")
    probe = Probe(otel)
    with tracer.start_as_current_span("app work") as parent:
        await case.run(llm, is_async, probe)
        # after the stream ended, the app's own span is current again
        assert span_id(trace.get_current_span()) == span_id(parent)

    if case.collected:
        assert probe.open_before_gc == 0, "a stream the app still holds must keep its span open"
    span = otel.span()
    attrs = span.attributes or {}

    # one span, a child of the app's span, that ended once: one duration point with count 1
    assert span.parent is not None and span.parent.span_id == span_id(parent)
    assert attrs["gen_ai.request.stream"] is True
    if case.error_type is None:
        assert span.status.status_code is StatusCode.UNSET
        assert "error.type" not in attrs
    else:
        assert span.status.status_code is StatusCode.ERROR
        assert attrs["error.type"] == case.error_type
    if how == "caller-raises":
        assert span.status.description == "the app's own error"

    # the app saw the chunks, and never our span as its current span between them
    assert len(probe.chunks) == case.chunks
    assert all(span_id(current) == span_id(parent) for current in probe.current)

    # the span covers the stream, and the duration histogram records the very same elapsed time
    elapsed = duration_s(span)
    assert elapsed >= probe.t_end - probe.t_created
    if case.chunks or case.collected:
        assert elapsed >= PAUSE
    [point] = otel.points(DURATION)
    assert point.count == 1
    assert point.sum == pytest.approx(elapsed, abs=1e-6)
    assert point.attributes.get("error.type") == case.error_type

    ttfc_points = otel.points(TTFC)
    tpoc_points = otel.points(TPOC)
    if case.chunks:
        assert 0 < attrs[TTFC_ATTR] <= elapsed
        [ttfc] = ttfc_points
        assert ttfc.count == 1 and ttfc.sum == pytest.approx(attrs[TTFC_ATTR], abs=1e-6)
    else:
        assert TTFC_ATTR not in attrs
        assert ttfc_points == []
    assert sum(p.count for p in tpoc_points) == max(case.chunks - 1, 0)
    if case.chunks >= 2:
        assert sum(p.sum for p in tpoc_points) >= PAUSE  # the app's pause after the first chunk

    if case.error_type is None and case.chunks == FULL:
        assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    else:
        assert "gen_ai.response.finish_reasons" not in attrs  # no finish reason was seen

    # nothing ends twice later (the weakref finaliser must be detached, or find the invocation ended)
    gc.collect()
    assert len(otel.spans()) == 1
    assert [p.count for p in otel.points(DURATION)] == [1]


async def test_duration_covers_time_between_chunks(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    # each SSE frame is delayed 20 ms by the server; the app sleeps 50 ms after every chunk
    stream = await create(llm, is_async, model=STALL, extra_body={"x_chunks": 2, "x_delay_ms": 20})
    started = time.perf_counter()
    seen = 0
    if is_async:
        async for _ in stream:
            seen += 1
            await asyncio.sleep(0.05)
    else:
        for _ in stream:
            seen += 1
            time.sleep(0.05)
    spent = time.perf_counter() - started
    span = otel.span()
    assert seen == 4
    # the span ends when the loop asks for a fifth chunk, after the app's fourth sleep; `spent` is read just after
    assert duration_s(span) >= 4 * 0.05
    assert duration_s(span) >= spent - 0.005
    [point] = otel.points(DURATION)
    assert point.sum >= 4 * 0.05
    assert point.sum == pytest.approx(duration_s(span), abs=1e-6)
    assert (span.attributes or {})[TTFC_ATTR] >= 0.02  # the server held the first frame back 20 ms
    [tpoc] = otel.points(TPOC)
    assert tpoc.count == 3 and tpoc.min >= 0.05


async def test_async_stream_aclose_ends_the_span(otel: Any, aclient: openai.AsyncOpenAI) -> None:
    """openai 3.x's AsyncStream has aclose(), an alias of close(): it must end the span too."""
    otel.instrument()
    stream = await create(aclient, True)
    await stream.__anext__()
    assert otel.spans() == []
    await stream.aclose()
    assert len(otel.spans()) == 1
    assert stream.response.is_closed


# -- usage on streams -------------------------------------------------------------------------------------------


def token_points(otel: Any) -> dict[str, tuple[int, float]]:
    return {p.attributes["gen_ai.token.type"]: (p.count, p.sum) for p in otel.points(TOKENS)}


async def read_all(stream: Any, is_async: bool) -> list[Any]:
    if is_async:
        return [chunk async for chunk in stream]
    return list(stream)


async def test_include_usage_stream_records_exact_tokens(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    stream = await create(llm, is_async, stream_options={"include_usage": True}, extra_body=None)
    chunks = await read_all(stream, is_async)
    # role + 5 text chunks (the server's default) + finish + the usage chunk the app asked for
    assert len(chunks) == 8
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == INPUT_TOKENS
    attrs = otel.span().attributes or {}
    assert attrs["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert attrs["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert token_points(otel) == {"input": (1, INPUT_TOKENS), "output": (1, OUTPUT_TOKENS)}
    assert sum(p.count for p in otel.points(TPOC)) == 7  # the app-visible usage chunk counts


async def test_stream_without_usage_records_no_tokens(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    await read_all(await create(llm, is_async), is_async)
    attrs = otel.span().attributes or {}
    assert "gen_ai.usage.input_tokens" not in attrs
    assert token_points(otel) == {}


async def test_stream_usage_option_is_invisible_to_the_app(otel: Any, server: Any, llm: Any, is_async: bool) -> None:
    plain = await read_all(await create(llm, is_async, extra_body=None), is_async)
    assert server.requests[-1].body.get("stream_options") is None

    otel.instrument(LLMTEL_OPENAI_STREAM_USAGE="true")
    seen = await read_all(await create(llm, is_async, extra_body=None), is_async)
    assert server.requests[-1].body["stream_options"] == {"include_usage": True}
    assert len(seen) == len(plain) == 7
    assert [mask(c.model_dump()) for c in seen] == [mask(c.model_dump()) for c in plain]
    assert all(c.choices for c in seen)  # no usage-only chunk reaches the app

    attrs = otel.span().attributes or {}
    assert attrs["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert attrs["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS
    assert token_points(otel) == {"input": (1, INPUT_TOKENS), "output": (1, OUTPUT_TOKENS)}
    assert sum(p.count for p in otel.points(TPOC)) == 6  # the hidden usage chunk is not a chunk


async def test_stream_usage_option_respects_the_apps_choice(otel: Any, server: Any, llm: Any, is_async: bool) -> None:
    otel.instrument(LLMTEL_OPENAI_STREAM_USAGE="true")
    chunks = await read_all(await create(llm, is_async, stream_options={"include_usage": False}), is_async)
    assert server.requests[-1].body["stream_options"] == {"include_usage": False}
    assert len(chunks) == FULL
    assert "gen_ai.usage.input_tokens" not in (otel.span().attributes or {})


async def test_stream_usage_option_leaves_chunk_json_unchanged(otel: Any, llm: Any, is_async: bool) -> None:
    plain = await read_all(await create(llm, is_async), is_async)
    otel.instrument(LLMTEL_OPENAI_STREAM_USAGE="true")
    seen = await read_all(await create(llm, is_async), is_async)
    assert [mask(c.model_dump(exclude_unset=True)) for c in seen] == [
        mask(c.model_dump(exclude_unset=True)) for c in plain
    ]


# -- the chat.completions.stream() helper ------------------------------------------------------------------------


async def helper_events(llm: Any, is_async: bool, **kwargs: Any) -> tuple[list[str], Any]:
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("messages", MESSAGES)
    if is_async:
        async with llm.chat.completions.stream(**kwargs) as stream:
            events = [event.type async for event in stream]
            final = await stream.get_final_completion()
    else:
        with llm.chat.completions.stream(**kwargs) as stream:
            events = [event.type for event in stream]
            final = stream.get_final_completion()
    return events, final


async def test_chat_stream_helper_one_span_with_finish_reasons(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    events, final = await helper_events(llm, is_async)
    assert events[-1] == "content.done"
    assert final.choices[0].message.content == DEFAULT_REPLY
    span = otel.span()
    attrs = span.attributes or {}
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.response.id"] == final.id
    assert "gen_ai.usage.input_tokens" not in attrs


async def test_chat_stream_helper_with_usage(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    _, final = await helper_events(llm, is_async, stream_options={"include_usage": True})
    assert final.usage.completion_tokens == OUTPUT_TOKENS
    attrs = otel.span().attributes or {}
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert attrs["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS
    assert token_points(otel) == {"input": (1, INPUT_TOKENS), "output": (1, OUTPUT_TOKENS)}


async def test_chat_stream_helper_exited_early_ends_the_span(otel: Any, llm: Any, is_async: bool) -> None:
    """The helper's close() closes the HTTP response underneath our proxy: the span must end all the same."""
    otel.instrument()
    if is_async:
        async with llm.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
            async for _ in stream:
                break
    else:
        with llm.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
            for _ in stream:
                break
    span = otel.span()
    assert span.status.status_code is StatusCode.UNSET
    assert "gen_ai.response.finish_reasons" not in (span.attributes or {})
    del stream
    gc.collect()
    assert len(otel.spans()) == 1
    assert [p.count for p in otel.points(DURATION)] == [1]


# -- Responses streams ------------------------------------------------------------------------------------------

# response.created, response.in_progress, output_item.added, content_part.added, 5 x output_text.delta,
# output_text.done, content_part.done, output_item.done, response.completed
RESPONSE_EVENTS = 13


async def responses_create(llm: Any, is_async: bool, **kwargs: Any) -> Any:
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("input", PROMPT)
    result = llm.responses.create(stream=True, **kwargs)
    return await result if is_async else result


async def test_responses_stream_exhausted(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    events = await read_all(await responses_create(llm, is_async), is_async)
    assert len(events) == RESPONSE_EVENTS
    assert events[-1].type == "response.completed"
    span = otel.span()
    attrs = span.attributes or {}
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.id"] == events[-1].response.id
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == INPUT_TOKENS
    assert attrs["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS
    assert token_points(otel) == {"input": (1, INPUT_TOKENS), "output": (1, OUTPUT_TOKENS)}
    assert sum(p.count for p in otel.points(TPOC)) == RESPONSE_EVENTS - 1
    assert len(otel.points(TTFC)) == 1


async def test_responses_stream_closed(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    stream = await responses_create(llm, is_async)
    if is_async:
        await stream.__anext__()
        await stream.__anext__()
        assert otel.spans() == []
        await stream.close()
    else:
        next(stream)
        next(stream)
        assert otel.spans() == []
        stream.close()
    span = otel.span()
    attrs = span.attributes or {}
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.response.id"].startswith("resp_")  # from response.created
    assert "gen_ai.response.finish_reasons" not in attrs
    assert sum(p.count for p in otel.points(TPOC)) == 1


async def test_responses_stream_broken(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    stream = await responses_create(llm, is_async, model=BROKEN_STREAM)
    seen: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        if is_async:
            async for event in stream:
                seen.append(event)
        else:
            for event in stream:
                seen.append(event)
    assert len(seen) == 6  # created, in_progress, output_item.added, content_part.added, 2 deltas
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "openai.APIConnectionError"


async def test_responses_stream_error_event(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    events = await read_all(await responses_create(llm, is_async, model=STREAM_ERROR), is_async)
    assert events[-1].type == "error"  # the SDK hands the error event to the app; it does not raise
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "stream failed"
    assert (span.attributes or {})["error.type"] == "stream_error"


async def test_responses_stream_failed_response(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    events = await read_all(await responses_create(llm, is_async, model=RESPONSE_FAILED), is_async)
    assert [e.type for e in events] == ["response.created", "response.in_progress", "response.failed"]
    assert events[-1].response.error.code == "server_error"
    span = otel.span()
    attrs = span.attributes or {}
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "failed"
    assert attrs["error.type"] == "server_error"
    assert attrs["gen_ai.response.finish_reasons"] == ("error",)
    [point] = otel.points(DURATION)
    assert point.attributes["error.type"] == "server_error"


async def test_responses_stream_helper(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    if is_async:
        async with llm.responses.stream(model=MODEL, input=PROMPT) as stream:
            events = [event.type async for event in stream]
            final = await stream.get_final_response()
    else:
        with llm.responses.stream(model=MODEL, input=PROMPT) as stream:
            events = [event.type for event in stream]
            final = stream.get_final_response()
    assert events[-1] == "response.completed"
    assert final.output_text == DEFAULT_REPLY
    span = otel.span()
    attrs = span.attributes or {}
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.id"] == final.id
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.output_tokens"] == OUTPUT_TOKENS
    assert token_points(otel) == {"input": (1, INPUT_TOKENS), "output": (1, OUTPUT_TOKENS)}


async def test_responses_stream_helper_exited_early_ends_the_span(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument()
    if is_async:
        async with llm.responses.stream(model=MODEL, input=PROMPT) as stream:
            async for _ in stream:
                break
    else:
        with llm.responses.stream(model=MODEL, input=PROMPT) as stream:
            for _ in stream:
                break
    assert len(otel.spans()) == 1
