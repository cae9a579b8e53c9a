"""core/streams.py against fake streams of every shape an SDK hands out, built here from plain Python.

The shapes: OpenAI's ``Stream`` (``__iter__``/``__next__``/``close``/``__enter__``/``__exit__`` and ``.response``),
a stream manager whose ``__enter__`` returns another object (Anthropic's ``messages.stream()``), botocore's
``EventStream`` (only ``__iter__`` and ``close``), a plain generator (google-genai), an async generator, and
OpenAI's ``AsyncStream`` with and without ``aclose``, and an async manager. OpenTelemetry is the real SDK with
in-memory exporters (the ``otel`` fixture); the span of each stream is asserted exactly.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Generator, Iterable, Iterator
from typing import Any

import pytest
import wrapt
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from llmtel import config as config_module
from llmtel import semconv as sc
from llmtel.core import streams
from llmtel.core.endpoints import Endpoint
from llmtel.core.invocation import Invocation, Telemetry
from llmtel.core.streams import (
    AsyncStreamProxy,
    ChunkHandler,
    SyncStreamProxy,
    async_stream_proxy,
    end_stream,
    manager_proxy,
    stream_proxy,
)
from tests.conftest import Otel, dropped_async_generators_closed

ITEMS = ["a", "b", "usage", "c"]  # "usage" is the chunk the handler hides
SHOWN = ["a", "b", "c"]
PROTOCOL = ("__iter__", "__next__", "__aiter__", "__anext__", "close", "aclose")
CONTEXT = ("__enter__", "__exit__", "__aenter__", "__aexit__")


class StreamBrokeError(Exception):
    """What a fake stream raises mid-stream (the SDK's own exception, as far as the proxy knows)."""


# -- the shapes ---------------------------------------------------------------------------------------------------


def _source(items: Iterable[Any], fail: BaseException | None) -> Generator[Any, None, None]:
    yield from items
    if fail is not None:
        raise fail


async def _asource(items: Iterable[Any], fail: BaseException | None) -> AsyncGenerator[Any, None]:
    for item in items:
        await asyncio.sleep(0)
        yield item
    if fail is not None:
        raise fail


class OpenAIStyleStream:
    """openai.Stream: ``__iter__`` is a generator over the one iterator ``__next__`` reads."""

    def __init__(self, items: Iterable[Any] = ITEMS, fail: BaseException | None = None) -> None:
        self._iterator = _source(items, fail)
        self.response = "the HTTP response"
        self.closed = 0

    def __next__(self) -> Any:
        return self._iterator.__next__()

    def __iter__(self) -> Iterator[Any]:
        yield from self._iterator

    def __enter__(self) -> OpenAIStyleStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed += 1
        self._iterator.close()


class EventStream:
    """botocore's EventStream: ``__iter__`` (a generator parsing raw events) and ``close``, nothing else."""

    def __init__(self, items: Iterable[Any] = ITEMS, fail: BaseException | None = None) -> None:
        self._raw = _source(items, fail)
        self.closed = 0

    def __iter__(self) -> Iterator[Any]:
        yield from self._raw  # botocore parses each raw event here

    def close(self) -> None:
        self.closed += 1
        self._raw.close()


def generator(items: Iterable[Any] = ITEMS, fail: BaseException | None = None) -> Iterator[Any]:
    """google-genai's stream: a plain generator."""
    yield from _source(items, fail)


class Manager:
    """Anthropic's MessageStreamManager: ``__enter__`` makes the request and returns the stream, another object."""

    def __init__(self, make: Callable[[], Any], enter_error: BaseException | None = None) -> None:
        self.make = make
        self.enter_error = enter_error
        self.stream: Any = None
        self.exits = 0
        self.current_on_enter: Any = None

    def __enter__(self) -> Any:
        self.current_on_enter = trace.get_current_span()
        if self.enter_error is not None:
            raise self.enter_error
        self.stream = self.make()
        return self.stream

    def __exit__(self, *exc_info: object) -> None:
        self.exits += 1
        if self.stream is not None:
            self.stream.close()  # the manager closes the stream it holds, not our proxy


class AsyncOpenAIStyleStream:
    """openai.AsyncStream (older SDKs: no ``aclose``)."""

    def __init__(self, items: Iterable[Any] = ITEMS, fail: BaseException | None = None) -> None:
        self._iterator = _asource(items, fail)
        self.response = "the HTTP response"
        self.closed = 0

    async def __anext__(self) -> Any:
        return await self._iterator.__anext__()

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for item in self._iterator:
            yield item

    async def __aenter__(self) -> AsyncOpenAIStyleStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        self.closed += 1
        await self._iterator.aclose()


class AsyncOpenAIStyleStreamWithAclose(AsyncOpenAIStyleStream):
    """openai.AsyncStream of newer SDKs."""

    async def aclose(self) -> None:
        await self.close()


async def agenerator(items: Iterable[Any] = ITEMS, fail: BaseException | None = None) -> AsyncGenerator[Any, None]:
    async for item in _asource(items, fail):
        yield item


class AsyncManager:
    def __init__(self, make: Callable[[], Any], enter_error: BaseException | None = None) -> None:
        self.make = make
        self.enter_error = enter_error
        self.stream: Any = None
        self.exits = 0
        self.current_on_enter: Any = None

    async def __aenter__(self) -> Any:
        self.current_on_enter = trace.get_current_span()
        if self.enter_error is not None:
            raise self.enter_error
        self.stream = self.make()
        return self.stream

    async def __aexit__(self, *exc_info: object) -> None:
        self.exits += 1
        if self.stream is not None:
            await self.stream.close()


SYNC_SHAPES: dict[str, Callable[..., Any]] = {
    "openai-style": OpenAIStyleStream,
    "event-stream": EventStream,
    "generator": generator,
}
ASYNC_SHAPES: dict[str, Callable[..., Any]] = {
    "async-openai-style": AsyncOpenAIStyleStream,
    "async-openai-style-aclose": AsyncOpenAIStyleStreamWithAclose,
    "async-generator": agenerator,
}


# -- the invocation and the handler ---------------------------------------------------------------------------


class Handler:
    """Notes every item, hides "usage", and writes a response id at the end (counting its calls)."""

    def __init__(self, fail_on: Any = None) -> None:
        self.seen: list[Any] = []
        self.ends = 0
        self.fail_on = fail_on
        self.current: list[Any] = []

    def on_chunk(self, inv: Invocation, item: Any) -> bool:
        self.current.append(trace.get_current_span())
        if item == self.fail_on:
            raise RuntimeError("a bug in the adapter")
        self.seen.append(item)
        return bool(item == "usage")

    def on_end(self, inv: Invocation) -> None:
        self.ends += 1
        inv.response[sc.GEN_AI_RESPONSE_ID] = f"resp-{len(self.seen)}"


class HidingHandler(Handler):
    """With the protocol's optional ``hides``: what it says decides after a failure in ``on_chunk``."""

    def hides(self, item: Any) -> bool:
        return bool(item == "usage")


class Kit:
    def __init__(self, otel: Otel) -> None:
        self.otel = otel
        self.telemetry = Telemetry(
            config_module.from_env({}),
            otel.tracer_provider,
            otel.meter_provider,
            otel.logger_provider,
        )

    def inv(self) -> Invocation:
        return Invocation(
            self.telemetry,
            sc.GenAiOperationNameValues.CHAT,
            "m-1",
            Endpoint(sc.GenAiProviderNameValues.OPENAI, "api.example.com", 443),
            {},
            stream=True,
        )

    def spans(self) -> list[ReadableSpan]:
        return self.otel.spans()

    def ended_ok(self, handler: Handler, response_id: str) -> ReadableSpan:
        span = self.otel.span()  # exactly one span exported: it ended once
        assert span.name == "chat m-1"
        assert span.end_time is not None and span.start_time is not None and span.end_time >= span.start_time
        assert span.status.status_code == StatusCode.UNSET
        assert span.attributes is not None
        assert span.attributes[sc.GEN_AI_RESPONSE_ID] == response_id
        assert sc.ERROR_TYPE not in span.attributes
        assert handler.ends == 1
        return span

    def ended_failed(self, handler: Handler, error_type: str, message: str) -> ReadableSpan:
        span = self.otel.span()
        assert span.name == "chat m-1"
        assert span.end_time is not None
        assert span.status.status_code == StatusCode.ERROR
        assert span.status.description == message
        assert span.attributes is not None
        assert span.attributes[sc.ERROR_TYPE] == error_type
        assert handler.ends == 1
        return span


@pytest.fixture
def kit(otel: Otel) -> Kit:
    return Kit(otel)


BROKE_TYPE = "tests.StreamBrokeError"  # error.type: top-level package + class name


def _not_ours(spans: list[Any]) -> None:
    """The stream's span was never current while the caller's code or the handler ran between chunks."""
    assert spans
    assert all(not span.is_recording() for span in spans), spans


def same_capabilities(proxy: Any, wrapped: Any) -> None:
    """The proxy iterates, closes and manages a context exactly where the wrapped object does."""
    for name in (*PROTOCOL, *CONTEXT):
        if name == "__iter__" and not hasattr(wrapped, name):
            assert getattr(proxy, name) is None  # "not iterable", in the data model's words
            continue
        assert hasattr(proxy, name) == hasattr(wrapped, name), name
        assert hasattr(type(proxy), name) == hasattr(type(wrapped), name), name
    for abc in (Iterable, Iterator, AsyncIterable, AsyncIterator):
        assert isinstance(proxy, abc) == isinstance(wrapped, abc), abc


# -- what the proxy has ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [*SYNC_SHAPES.values(), *ASYNC_SHAPES.values()], ids=[*SYNC_SHAPES, *ASYNC_SHAPES])
def test_the_proxy_has_what_the_wrapped_object_has(kit: Kit, make: Callable[[], Any]) -> None:
    wrapped = make()
    proxy = stream_proxy(wrapped, kit.inv(), Handler())
    same_capabilities(proxy, wrapped)
    assert isinstance(proxy, type(wrapped))
    assert isinstance(proxy, wrapt.ObjectProxy)
    assert proxy.__wrapped__ is wrapped
    if hasattr(wrapped, "response"):
        assert proxy.response == "the HTTP response"
    assert isinstance(proxy, AsyncStreamProxy if hasattr(wrapped, "__aiter__") else SyncStreamProxy)
    end_stream(proxy)


def _raised(action: Callable[[], Any]) -> BaseException:
    try:
        action()
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


def _with(obj: Any) -> None:
    with obj:
        pass


def _async_with(obj: Any) -> None:
    async def run() -> None:
        async with obj:
            pass

    asyncio.run(run())


def test_next_on_an_event_stream_fails_as_on_the_event_stream(kit: Kit) -> None:
    wrapped = EventStream()
    proxy = stream_proxy(wrapped, kit.inv(), Handler())
    theirs, ours = _raised(lambda: next(wrapped)), _raised(lambda: next(proxy))  # type: ignore[call-overload]
    assert type(ours) is type(theirs) is TypeError
    assert str(ours) == str(theirs) == "'EventStream' object is not an iterator"
    end_stream(proxy)


@pytest.mark.parametrize("make", [EventStream, generator], ids=["event-stream", "generator"])
def test_with_on_a_stream_without_context_management_fails_as_on_the_stream(kit: Kit, make: Callable[[], Any]) -> None:
    wrapped = make()
    proxy = stream_proxy(wrapped, kit.inv(), Handler())
    theirs, ours = _raised(lambda: _with(wrapped)), _raised(lambda: _with(proxy))
    assert isinstance(ours, type(theirs)) and type(theirs) is TypeError
    assert str(ours) == str(theirs)
    assert "does not support the context manager protocol" in str(ours)
    theirs, ours = _raised(lambda: _async_with(wrapped)), _raised(lambda: _async_with(proxy))
    assert isinstance(ours, type(theirs)) and str(ours) == str(theirs)
    # attribute access fails as on the stream itself (the wrapped object's own AttributeError)
    theirs, ours = _raised(lambda: wrapped.__enter__), _raised(lambda: proxy.__enter__)
    assert type(ours) is type(theirs) is AttributeError and str(ours) == str(theirs)
    assert kit.spans() == []  # none of this ended the span
    end_stream(proxy)


def test_sync_iteration_of_an_async_stream_fails_as_on_the_stream(kit: Kit) -> None:
    wrapped = agenerator()
    proxy = stream_proxy(wrapped, kit.inv(), Handler())
    theirs, ours = _raised(lambda: iter(wrapped)), _raised(lambda: iter(proxy))  # type: ignore[call-overload]
    assert type(ours) is type(theirs) is TypeError
    assert str(ours) == str(theirs) == "'async_generator' object is not iterable"
    theirs, ours = _raised(lambda: _with(wrapped)), _raised(lambda: _with(proxy))
    assert isinstance(ours, type(theirs)) and str(ours) == str(theirs)
    end_stream(proxy)
    asyncio.run(wrapped.aclose())


def test_one_proxy_class_per_wrapped_class(kit: Kit) -> None:
    one, two = stream_proxy(EventStream(), kit.inv(), Handler()), stream_proxy(EventStream(), kit.inv(), Handler())
    assert type(one) is type(two)
    assert type(one).__name__ == "EventStream"
    assert type(stream_proxy(generator(), kit.inv(), Handler())) is not type(one)
    for proxy in (one, two):
        end_stream(proxy)


def test_something_that_is_no_stream_is_not_wrapped(kit: Kit) -> None:
    with pytest.raises(TypeError, match="not a stream"):
        stream_proxy(object(), kit.inv(), Handler())


# -- sync streams: chunks and every way to end -----------------------------------------------------------------


@pytest.mark.parametrize("make", SYNC_SHAPES.values(), ids=SYNC_SHAPES)
def test_for_loop_to_the_end(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler()
    proxy = stream_proxy(make(), kit.inv(), handler)
    got = []
    current = []
    for item in proxy:
        got.append(item)
        current.append(trace.get_current_span())
        assert kit.spans() == []  # still open between chunks
    assert got == SHOWN
    assert handler.seen == ITEMS
    _not_ours(current + handler.current)
    span = kit.ended_ok(handler, "resp-4")
    assert span.attributes is not None
    assert isinstance(span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK], float)
    # three chunks shown, so two gaps between them; the hidden one is no chunk of the answer
    assert sum(p.count for p in kit.otel.points("gen_ai.client.operation.time_per_output_chunk")) == 2
    if hasattr(proxy, "close"):
        proxy.close()  # ending again changes nothing
    assert kit.otel.span().end_time == span.end_time
    assert handler.ends == 1


@pytest.mark.parametrize("make", [OpenAIStyleStream, generator], ids=["openai-style", "generator"])
def test_next_to_the_end(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler()
    proxy = stream_proxy(make(), kit.inv(), handler)
    assert [next(proxy), next(proxy), next(proxy)] == SHOWN  # the hidden chunk is skipped
    assert kit.spans() == []
    with pytest.raises(StopIteration):
        next(proxy)
    kit.ended_ok(handler, "resp-4")


def test_next_and_for_read_one_stream(kit: Kit) -> None:
    handler = Handler()
    proxy = stream_proxy(OpenAIStyleStream(), kit.inv(), handler)
    assert next(proxy) == "a"
    assert list(proxy) == ["b", "c"]
    kit.ended_ok(handler, "resp-4")


@pytest.mark.parametrize("make", SYNC_SHAPES.values(), ids=SYNC_SHAPES)
def test_an_error_mid_stream_reaches_the_caller_untouched(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler()
    boom = StreamBrokeError("connection reset")
    proxy = stream_proxy(make(["a", "b"], boom), kit.inv(), handler)
    got = []
    with pytest.raises(StreamBrokeError) as raised:
        for item in proxy:
            got.append(item)
    assert raised.value is boom
    assert got == ["a", "b"]
    kit.ended_failed(handler, BROKE_TYPE, "connection reset")


def test_an_error_mid_stream_through_next(kit: Kit) -> None:
    handler = Handler()
    boom = StreamBrokeError("gone")
    proxy = stream_proxy(OpenAIStyleStream(["a"], boom), kit.inv(), handler)
    assert next(proxy) == "a"
    with pytest.raises(StreamBrokeError) as raised:
        next(proxy)
    assert raised.value is boom
    kit.ended_failed(handler, BROKE_TYPE, "gone")


@pytest.mark.parametrize("make", SYNC_SHAPES.values(), ids=SYNC_SHAPES)
def test_close_ends_the_span(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler()
    wrapped = make()
    proxy = stream_proxy(wrapped, kit.inv(), handler)
    for item in proxy:
        assert item == "a"
        break
    assert kit.spans() == []  # leaving the loop is not the end: the stream may still be read
    assert proxy.close() is None
    if hasattr(wrapped, "closed"):
        assert wrapped.closed == 1
    kit.ended_ok(handler, "resp-1")
    proxy.close()
    assert handler.ends == 1 and len(kit.spans()) == 1


def test_with_exit_ends_the_span(kit: Kit) -> None:
    handler = Handler()
    wrapped = OpenAIStyleStream()
    proxy = stream_proxy(wrapped, kit.inv(), handler)
    with proxy as entered:
        assert entered is proxy  # the SDK's __enter__ returns the stream itself: the caller keeps the proxy
        assert next(entered) == "a"
    assert wrapped.closed == 1
    kit.ended_ok(handler, "resp-1")


def test_an_exception_in_the_with_block_fails_the_span(kit: Kit) -> None:
    handler = Handler()
    boom = ValueError("the app's own")
    proxy = stream_proxy(OpenAIStyleStream(), kit.inv(), handler)
    with pytest.raises(ValueError) as raised, proxy:
        next(proxy)
        raise boom
    assert raised.value is boom
    kit.ended_failed(handler, "ValueError", "the app's own")


@pytest.mark.parametrize("make", SYNC_SHAPES.values(), ids=SYNC_SHAPES)
def test_break_and_drop_ends_the_span_as_of_the_last_chunk(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler()
    proxy = stream_proxy(make(), kit.inv(), handler)
    for _ in proxy:
        break
    read_at = time.time_ns()
    time.sleep(0.01)
    assert kit.spans() == []
    del proxy
    gc.collect()
    span = kit.ended_ok(handler, "resp-1")
    assert span.end_time is not None and span.end_time <= read_at  # abandoned: ends at its last chunk


def test_a_stream_never_read_and_dropped_ends(kit: Kit) -> None:
    handler = Handler()
    proxy = stream_proxy(EventStream(), kit.inv(), handler)
    del proxy
    gc.collect()
    kit.ended_ok(handler, "resp-0")


# -- hidden chunks and failures in the handler --------------------------------------------------------------


@pytest.mark.parametrize("make", SYNC_SHAPES.values(), ids=SYNC_SHAPES)
def test_a_failing_handler_shows_the_chunk_without_hides(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler(fail_on="usage")
    proxy = stream_proxy(make(), kit.inv(), handler)
    assert list(proxy) == ITEMS  # the handler could not say "hide", so the caller gets everything the SDK gave
    kit.ended_ok(handler, "resp-3")


@pytest.mark.parametrize("make", SYNC_SHAPES.values(), ids=SYNC_SHAPES)
def test_a_failing_handler_with_hides_keeps_hiding(kit: Kit, make: Callable[..., Any]) -> None:
    handler = HidingHandler(fail_on="usage")
    proxy = stream_proxy(make(), kit.inv(), handler)
    assert list(proxy) == SHOWN
    kit.ended_ok(handler, "resp-3")


def test_a_failing_handler_with_hides_keeps_hiding_through_next(kit: Kit) -> None:
    handler = HidingHandler(fail_on="usage")
    proxy = stream_proxy(OpenAIStyleStream(), kit.inv(), handler)
    assert [next(proxy), next(proxy), next(proxy)] == SHOWN


def test_a_failing_hides_shows_the_chunk(kit: Kit) -> None:
    class Broken(Handler):
        def hides(self, item: Any) -> bool:
            raise RuntimeError("also broken")

    handler = Broken(fail_on="b")
    assert list(stream_proxy(generator(), kit.inv(), handler)) == ["a", "b", "c"]
    kit.ended_ok(handler, "resp-3")


def test_a_failing_on_end_still_ends_the_span(kit: Kit) -> None:
    class Broken(Handler):
        def on_end(self, inv: Invocation) -> None:
            self.ends += 1
            raise RuntimeError("a bug in the adapter")

    handler = Broken()
    assert list(stream_proxy(generator(), kit.inv(), handler)) == SHOWN
    span = kit.otel.span()
    assert span.status.status_code == StatusCode.UNSET and handler.ends == 1


# -- stream managers -------------------------------------------------------------------------------------------


def test_a_manager_has_what_the_wrapped_manager_has(kit: Kit) -> None:
    wrapped = Manager(OpenAIStyleStream)
    proxy = manager_proxy(wrapped, kit.inv(), Handler())
    same_capabilities(proxy, wrapped)
    assert isinstance(proxy, Manager)
    assert isinstance(proxy, streams.StreamManagerProxy)
    end_stream(proxy)
    assert len(kit.spans()) == 1


def test_a_manager_hands_out_a_proxy_of_its_stream(kit: Kit) -> None:
    handler = Handler()
    wrapped = Manager(OpenAIStyleStream)
    inv = kit.inv()
    with manager_proxy(wrapped, inv, handler) as stream:
        assert stream is not wrapped.stream and stream.__wrapped__ is wrapped.stream
        assert isinstance(stream, OpenAIStyleStream) and isinstance(stream, SyncStreamProxy)
        assert wrapped.current_on_enter is inv.span  # the request made in __enter__ runs inside the span
        assert trace.get_current_span() is not inv.span
        assert list(stream) == SHOWN
        assert len(kit.spans()) == 1  # ended with the stream
    assert wrapped.exits == 1
    _not_ours(handler.current)
    kit.ended_ok(handler, "resp-4")


def test_a_manager_exit_ends_a_stream_not_read_to_the_end(kit: Kit) -> None:
    handler = Handler()
    wrapped = Manager(OpenAIStyleStream)
    with manager_proxy(wrapped, kit.inv(), handler) as stream:
        assert next(stream) == "a"
        assert kit.spans() == []
    assert wrapped.stream.closed == 1  # the manager closed its own stream, under our proxy
    kit.ended_ok(handler, "resp-1")


def test_a_manager_with_an_event_stream(kit: Kit) -> None:
    handler = Handler()
    with manager_proxy(Manager(EventStream), kit.inv(), handler) as stream:
        assert not hasattr(stream, "__next__") and not hasattr(stream, "__enter__")
        assert list(stream) == SHOWN
    kit.ended_ok(handler, "resp-4")


def test_an_error_in_the_manager_block_fails_the_span(kit: Kit) -> None:
    handler = Handler()
    boom = StreamBrokeError("mid-stream")
    with (
        pytest.raises(StreamBrokeError) as raised,
        manager_proxy(Manager(lambda: generator(["a"], boom)), kit.inv(), handler) as stream,
    ):
        list(stream)
    assert raised.value is boom
    kit.ended_failed(handler, BROKE_TYPE, "mid-stream")


def test_a_manager_whose_enter_fails(kit: Kit) -> None:
    handler = Handler()
    boom = StreamBrokeError("HTTP 529")
    wrapped = Manager(OpenAIStyleStream, enter_error=boom)
    inv = kit.inv()
    with pytest.raises(StreamBrokeError) as raised, manager_proxy(wrapped, inv, handler):
        pass
    assert raised.value is boom
    assert wrapped.current_on_enter is inv.span
    assert trace.get_current_span() is not inv.span
    kit.ended_failed(handler, BROKE_TYPE, "HTTP 529")


def test_a_manager_never_entered_and_dropped_ends_as_abandoned(kit: Kit) -> None:
    handler = Handler()
    proxy = manager_proxy(Manager(OpenAIStyleStream), kit.inv(), handler)
    assert kit.spans() == []
    del proxy
    gc.collect()
    kit.ended_ok(handler, "resp-0")


def test_a_manager_entered_then_both_dropped_ends_once(kit: Kit) -> None:
    handler = Handler()
    proxy = manager_proxy(Manager(OpenAIStyleStream), kit.inv(), handler)
    stream = proxy.__enter__()
    assert next(stream) == "a"
    del proxy
    gc.collect()
    assert kit.spans() == []  # the stream proxy owns the span now
    del stream
    gc.collect()
    kit.ended_ok(handler, "resp-1")


def test_a_manager_with_a_custom_wrap(kit: Kit) -> None:
    handler = Handler()
    seen: list[Any] = []

    def wrap(entered: Any, inv: Invocation, handler: ChunkHandler) -> Any:
        seen.append(entered)
        return entered  # the adapter observes the stream another way; the manager keeps the span

    wrapped = Manager(OpenAIStyleStream)
    with manager_proxy(wrapped, kit.inv(), handler, wrap) as stream:
        assert stream is wrapped.stream and seen == [stream]
        assert kit.spans() == []
    kit.ended_ok(handler, "resp-0")


def test_a_manager_whose_wrap_fails_still_gives_the_stream(kit: Kit) -> None:
    handler = Handler()

    def wrap(entered: Any, inv: Invocation, handler: ChunkHandler) -> Any:
        raise RuntimeError("a bug in the adapter")

    wrapped = Manager(OpenAIStyleStream)
    with manager_proxy(wrapped, kit.inv(), handler, wrap) as stream:
        assert stream is wrapped.stream
    kit.ended_ok(handler, "resp-0")


# -- async streams ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ASYNC_SHAPES.values(), ids=ASYNC_SHAPES)
async def test_async_for_to_the_end(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler()
    proxy = stream_proxy(make(), kit.inv(), handler)
    got = []
    current = []
    async for item in proxy:
        got.append(item)
        current.append(trace.get_current_span())
        assert kit.spans() == []
    assert got == SHOWN and handler.seen == ITEMS
    _not_ours(current + handler.current)
    span = kit.ended_ok(handler, "resp-4")
    assert sum(p.count for p in kit.otel.points("gen_ai.client.operation.time_per_output_chunk")) == 2
    if hasattr(proxy, "aclose"):
        await proxy.aclose()
    assert kit.otel.span().end_time == span.end_time and handler.ends == 1


@pytest.mark.parametrize("make", ASYNC_SHAPES.values(), ids=ASYNC_SHAPES)
async def test_anext_to_the_end(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler()
    proxy = stream_proxy(make(), kit.inv(), handler)
    assert [await anext(proxy), await anext(proxy), await anext(proxy)] == SHOWN
    assert kit.spans() == []
    with pytest.raises(StopAsyncIteration):
        await anext(proxy)
    kit.ended_ok(handler, "resp-4")


@pytest.mark.parametrize("make", ASYNC_SHAPES.values(), ids=ASYNC_SHAPES)
async def test_async_error_mid_stream_reaches_the_caller_untouched(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler()
    boom = StreamBrokeError("connection reset")
    proxy = stream_proxy(make(["a"], boom), kit.inv(), handler)
    with pytest.raises(StreamBrokeError) as raised:
        async for _ in proxy:
            pass
    assert raised.value is boom
    kit.ended_failed(handler, BROKE_TYPE, "connection reset")


@pytest.mark.parametrize(
    ("make", "method"),
    [
        (AsyncOpenAIStyleStream, "close"),
        (AsyncOpenAIStyleStreamWithAclose, "close"),
        (AsyncOpenAIStyleStreamWithAclose, "aclose"),
        (agenerator, "aclose"),
    ],
    ids=["async-openai-style-close", "async-openai-style-aclose-close", "async-openai-style-aclose", "agen-aclose"],
)
async def test_async_close_ends_the_span(kit: Kit, make: Callable[..., Any], method: str) -> None:
    handler = Handler()
    wrapped = make()
    proxy = stream_proxy(wrapped, kit.inv(), handler)
    assert await anext(proxy) == "a"
    closing = getattr(proxy, method)()
    assert kit.spans() == []  # not until the close is awaited, as the SDK's own close does nothing before
    assert await closing is None
    if hasattr(wrapped, "closed"):
        assert wrapped.closed == 1
    kit.ended_ok(handler, "resp-1")


def test_async_close_stays_a_coroutine_function(kit: Kit) -> None:
    import inspect

    proxy = stream_proxy(AsyncOpenAIStyleStreamWithAclose(), kit.inv(), Handler())
    assert inspect.iscoroutinefunction(proxy.close) and inspect.iscoroutinefunction(proxy.aclose)
    end_stream(proxy)


@pytest.mark.parametrize("make", [AsyncOpenAIStyleStream, AsyncOpenAIStyleStreamWithAclose])
async def test_async_with_exit_ends_the_span(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler()
    wrapped = make()
    proxy = stream_proxy(wrapped, kit.inv(), handler)
    async with proxy as entered:
        assert entered is proxy
        assert await anext(entered) == "a"
        assert kit.spans() == []
    assert wrapped.closed == 1
    kit.ended_ok(handler, "resp-1")


@pytest.mark.parametrize("make", ASYNC_SHAPES.values(), ids=ASYNC_SHAPES)
async def test_async_break_and_drop_ends_the_span(kit: Kit, make: Callable[..., Any]) -> None:
    handler = Handler()
    proxy = stream_proxy(make(), kit.inv(), handler)
    async for _ in proxy:
        break
    read_at = time.time_ns()
    del proxy
    await dropped_async_generators_closed()
    gc.collect()
    span = kit.ended_ok(handler, "resp-1")
    assert span.end_time is not None and span.end_time <= read_at


@pytest.mark.parametrize("make", ASYNC_SHAPES.values(), ids=ASYNC_SHAPES)
async def test_async_failing_handler(kit: Kit, make: Callable[..., Any]) -> None:
    assert [item async for item in stream_proxy(make(), kit.inv(), Handler(fail_on="usage"))] == ITEMS
    assert [item async for item in stream_proxy(make(), kit.inv(), HidingHandler(fail_on="usage"))] == SHOWN
    handler = HidingHandler(fail_on="usage")
    proxy = stream_proxy(make(), kit.inv(), handler)
    assert [await anext(proxy), await anext(proxy), await anext(proxy)] == SHOWN


async def test_an_async_manager_hands_out_a_proxy_of_its_stream(kit: Kit) -> None:
    handler = Handler()
    wrapped = AsyncManager(AsyncOpenAIStyleStreamWithAclose)
    inv = kit.inv()
    proxy = manager_proxy(wrapped, inv, handler)
    assert isinstance(proxy, streams.AsyncStreamManagerProxy) and isinstance(proxy, AsyncManager)
    same_capabilities(proxy, wrapped)
    async with proxy as stream:
        assert stream.__wrapped__ is wrapped.stream and isinstance(stream, AsyncStreamProxy)
        assert wrapped.current_on_enter is inv.span
        assert trace.get_current_span() is not inv.span
        assert await anext(stream) == "a"
        assert kit.spans() == []
    assert wrapped.exits == 1 and wrapped.stream.closed == 1
    kit.ended_ok(handler, "resp-1")


async def test_an_async_manager_whose_enter_fails(kit: Kit) -> None:
    handler = Handler()
    boom = StreamBrokeError("HTTP 529")
    with pytest.raises(StreamBrokeError) as raised:
        async with manager_proxy(AsyncManager(agenerator, enter_error=boom), kit.inv(), handler):
            pass
    assert raised.value is boom
    kit.ended_failed(handler, BROKE_TYPE, "HTTP 529")


async def test_an_async_manager_never_entered_and_dropped(kit: Kit) -> None:
    handler = Handler()
    proxy = manager_proxy(AsyncManager(agenerator), kit.inv(), handler)
    del proxy
    gc.collect()
    kit.ended_ok(handler, "resp-0")


# -- the older spellings ---------------------------------------------------------------------------------------


def test_sync_stream_proxy_and_async_stream_proxy_build_by_shape(kit: Kit) -> None:
    handler = Handler()
    proxy = SyncStreamProxy(EventStream(), kit.inv(), handler)
    assert isinstance(proxy, SyncStreamProxy) and not hasattr(proxy, "__next__")
    assert list(proxy) == SHOWN
    kit.ended_ok(handler, "resp-4")
    older = async_stream_proxy(AsyncOpenAIStyleStream(), kit.inv(), Handler())
    assert isinstance(older, AsyncStreamProxy) and not hasattr(older, "aclose")
    newer = async_stream_proxy(AsyncOpenAIStyleStreamWithAclose(), kit.inv(), Handler())
    assert hasattr(newer, "aclose")
    for p in (older, newer):
        end_stream(p)


def test_end_stream_ends_once_and_ignores_other_objects(kit: Kit) -> None:
    handler = Handler()
    proxy = stream_proxy(OpenAIStyleStream(), kit.inv(), handler)
    end_stream(proxy)
    end_stream(proxy)
    end_stream(OpenAIStyleStream())
    end_stream(None)
    kit.ended_ok(handler, "resp-0")


def test_the_class_call_and_the_factory_give_one_class(kit: Kit) -> None:
    one = SyncStreamProxy(OpenAIStyleStream(), kit.inv(), Handler())
    two = stream_proxy(OpenAIStyleStream(), kit.inv(), Handler())
    assert type(one) is type(two)
    assert type(async_stream_proxy(agenerator(), kit.inv(), Handler())) is type(
        stream_proxy(agenerator(), kit.inv(), Handler())
    )
    for p in (one, two):
        end_stream(p)


def test_a_failing_close_raises_its_own_exception_and_ends_the_span(kit: Kit) -> None:
    boom = OSError("socket already gone")

    class Failing(EventStream):
        def close(self) -> None:
            raise boom

    handler = Handler()
    proxy = stream_proxy(Failing(), kit.inv(), handler)
    with pytest.raises(OSError) as raised:
        proxy.close()
    assert raised.value is boom
    kit.ended_ok(handler, "resp-0")


def test_exit_returns_what_the_wrapped_exit_returns(kit: Kit) -> None:
    class Suppressing(OpenAIStyleStream):
        def __exit__(self, *exc_info: object) -> bool:
            self.close()
            return True

    handler = Handler()
    with stream_proxy(Suppressing(), kit.inv(), handler):
        raise ValueError("swallowed by the stream's own __exit__, as without us")
    kit.ended_failed(handler, "ValueError", "swallowed by the stream's own __exit__, as without us")
