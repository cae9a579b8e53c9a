"""``generate_content_stream``: the SDK returns a generator (``models``) or, once awaited, an async generator
(``aio.models``). The proxy is what the app gets instead, and it is exactly that: the same protocol (no
``__enter__`` gained: a generator is no context manager), ``isinstance``, ``send`` / ``close`` / ``aclose``.
Whichever way the stream ends, its span ends exactly once, covers the stream, and is never the app's current span
between chunks; time to first chunk and time per chunk are recorded.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import time
import types as pytypes
from typing import Any

import pytest
from google.genai import errors
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from llmtel import semconv as sc
from llmtel.demo.wire.gemini import STALL, STREAM_ERROR
from tests.conftest import dropped_async_generators_closed
from tests.google_genai.helpers import MODEL, PROMPT, SDK, run

CHUNKS = 5  # the default reply in five pieces
PAUSE = 0.03
DURATION = "gen_ai.client.operation.duration"
TTFC = "gen_ai.client.operation.time_to_first_chunk"
TPOC = "gen_ai.client.operation.time_per_output_chunk"


async def open_stream(models: Any, model: str = MODEL) -> Any:
    return await run(models.generate_content_stream(model=model, contents=PROMPT))


def is_async(stream: Any) -> bool:
    return hasattr(type(stream), "__aiter__")


async def read(stream: Any, stop_after: int | None = None, seen: list[Any] | None = None) -> list[Any]:
    """Iterate as an app does (``for`` / ``async for``), noting the current span in the loop body."""
    chunks: list[Any] = []
    currents = seen if seen is not None else []
    if is_async(stream):
        async for chunk in stream:
            chunks.append(chunk)
            currents.append(trace.get_current_span())
            if len(chunks) == 1:
                time.sleep(PAUSE)
            if stop_after is not None and len(chunks) == stop_after:
                break
    else:
        for chunk in stream:
            chunks.append(chunk)
            currents.append(trace.get_current_span())
            if len(chunks) == 1:
                time.sleep(PAUSE)
            if stop_after is not None and len(chunks) == stop_after:
                break
    return chunks


def one_span(otel: Any) -> Any:
    spans = otel.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


async def test_the_proxy_is_the_sdks_generator(otel: Any, models: Any) -> None:
    plain = await open_stream(models)
    otel.instrument("google_genai")
    proxied = await open_stream(models)
    assert proxied.__class__ is type(plain)  # what isinstance() reads (type() is the proxy's, as for any proxy)
    kind: Any = pytypes.AsyncGeneratorType if is_async(plain) else pytypes.GeneratorType
    assert isinstance(proxied, kind) and isinstance(plain, kind)
    assert inspect.isasyncgen(proxied) is inspect.isasyncgen(plain)
    assert inspect.isgenerator(proxied) is inspect.isgenerator(plain)
    for name in ("__next__", "__aiter__", "__anext__", "close", "aclose", "send", "asend", "throw"):
        assert hasattr(proxied, name) is hasattr(plain, name), name
    if is_async(plain):
        # the core's one documented difference: ``__iter__ = None`` ("not iterable"), so iter() fails the same way
        with pytest.raises(TypeError, match="not iterable"):
            iter(proxied)
        with pytest.raises(TypeError, match="not iterable"):
            iter(plain)
    else:
        assert iter(proxied) is not None and iter(plain) is plain
    for name in ("__enter__", "__exit__", "__aenter__", "__aexit__"):
        assert not hasattr(proxied, name) and not hasattr(plain, name), name
    if is_async(plain):
        with pytest.raises(TypeError) as ours:
            async with proxied:
                pass
        with pytest.raises(TypeError) as theirs:
            async with plain:
                pass
        await plain.aclose()
        await proxied.aclose()
    else:
        with pytest.raises(TypeError) as ours, proxied:
            pass
        with pytest.raises(TypeError) as theirs, plain:
            pass
        plain.close()
        proxied.close()
    assert str(ours.value) == str(theirs.value)
    assert len(otel.spans()) == 1  # closed before the first read: ended, as the app dropped it


async def test_exhausted(otel: Any, models: Any) -> None:
    otel.instrument("google_genai")
    start = time.perf_counter()
    stream = await open_stream(models)
    currents: list[Any] = []
    chunks = await read(stream, seen=currents)
    elapsed = time.perf_counter() - start
    assert len(chunks) == CHUNKS
    span = one_span(otel)
    assert all(c is not span and not c.get_span_context().is_valid for c in currents)  # never current
    assert span.status.status_code is StatusCode.UNSET
    assert PAUSE <= (span.end_time - span.start_time) / 1e9 <= elapsed
    [ttfc] = otel.points(TTFC)
    [tpoc] = otel.points(TPOC)
    [duration] = otel.points(DURATION)
    assert (ttfc.count, tpoc.count, duration.count) == (1, CHUNKS - 1, 1)
    assert tpoc.sum >= PAUSE
    assert duration.sum == pytest.approx((span.end_time - span.start_time) / 1e9, abs=1e-6)


async def test_next_by_hand(otel: Any, models: Any) -> None:
    otel.instrument("google_genai")
    stream = await open_stream(models)
    chunks = []
    if is_async(stream):
        with pytest.raises(StopAsyncIteration):
            while True:
                chunks.append(await stream.__anext__())
    else:
        with pytest.raises(StopIteration):
            while True:
                chunks.append(next(stream))
    assert len(chunks) == CHUNKS
    assert one_span(otel).attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


async def test_closed_early(otel: Any, models: Any) -> None:
    otel.instrument("google_genai")
    stream = await open_stream(models)
    await read(stream, stop_after=2)
    assert otel.spans() == []  # the app may still go on reading
    if is_async(stream):
        await stream.aclose()
    else:
        stream.close()
    span = one_span(otel)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)  # never finished
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 4  # as of the last chunk read


async def test_abandoned_ends_as_of_the_last_chunk(otel: Any, models: Any) -> None:
    otel.instrument("google_genai")
    stream = await open_stream(models)
    chunks = await read(stream, stop_after=2)
    last_read = time.time_ns()
    assert otel.spans() == []
    del stream, chunks
    time.sleep(0.02)
    gc.collect()
    await dropped_async_generators_closed()
    span = one_span(otel)
    assert span.end_time <= last_read
    assert span.status.status_code is StatusCode.UNSET


async def test_send_reads_through(otel: Any, models: Any) -> None:
    """``send(None)`` / ``asend(None)`` is the generator's own (forwarded): it still gives the chunk."""
    otel.instrument("google_genai")
    stream = await open_stream(models)
    first = await stream.asend(None) if is_async(stream) else stream.send(None)
    assert first.text == "This is"
    rest = await read(stream)
    assert len(rest) == CHUNKS - 1
    assert len(otel.spans()) == 1


async def test_app_error_in_the_loop(otel: Any, models: Any) -> None:
    otel.instrument("google_genai")
    stream = await open_stream(models)
    with pytest.raises(ValueError, match="the app's"):
        if is_async(stream):
            async for _ in stream:
                raise ValueError("the app's own error")
        else:
            for _ in stream:
                raise ValueError("the app's own error")
    if is_async(stream):
        await stream.aclose()
    else:
        stream.close()
    span = one_span(otel)
    assert span.status.status_code is StatusCode.UNSET  # the app's error is not the call's


@pytest.mark.skipif(SDK < (2, 0), reason="google-genai < 2 does not raise the in-band stream error")
async def test_stream_error_status(otel: Any, models: Any) -> None:
    otel.instrument("google_genai")
    stream = await open_stream(models, STREAM_ERROR)
    with pytest.raises(errors.ServerError):
        await read(stream)
    span = one_span(otel)
    assert span.status.status_code is StatusCode.ERROR
    [duration] = otel.points(DURATION)
    assert duration.attributes[sc.ERROR_TYPE] == "500"


async def test_cancelled_while_waiting_for_a_chunk(otel: Any, gemini: Any) -> None:
    otel.instrument("google_genai")
    stream = await gemini.aio.models.generate_content_stream(model=STALL, contents=PROMPT)
    got: list[Any] = []

    async def consume() -> None:
        async for chunk in stream:
            got.append(chunk)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)  # the first chunk after 200 ms, the second at 400 ms
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = one_span(otel)
    assert len(got) == 1
    assert span.attributes[sc.ERROR_TYPE] == "asyncio.CancelledError"
