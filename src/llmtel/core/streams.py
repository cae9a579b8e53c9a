"""Generic sync/async stream proxies: the span lives exactly as long as the stream (DESIGN.md principle 3).

The proxy is a ``wrapt.ObjectProxy``, so the caller still sees the SDK's stream (``isinstance``, attributes such
as ``.response``, ``close()``, context management). The invocation ends exactly once, whichever comes first:
the stream is exhausted, raises, is closed, its ``with``/``async with`` block exits, or the proxy is garbage
collected (a weakref finaliser; also run at interpreter exit). The span is never made current while the caller
iterates, so the caller's own work between chunks never becomes its child.

``for`` / ``async for`` get a new (async) generator from the proxy, as they do from the SDK's own stream;
``next()`` / ``anext()`` on the proxy read the same underlying iterator.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import wrapt

from llmtel._internal import swallowed
from llmtel.core.invocation import Invocation


class ChunkHandler(Protocol):
    """The adapter's side of a stream: read each chunk, then say what the whole stream amounted to."""

    def on_chunk(self, inv: Invocation, item: Any) -> bool:
        """Note one item. Return True to hide it from the caller (e.g. a usage chunk we asked for ourselves)."""
        ...

    def on_end(self, inv: Invocation) -> None:
        """Write the accumulated response facts into ``inv`` (called once, before the span ends)."""
        ...


def _finish(inv: Invocation, handler: ChunkHandler, exc: BaseException | None, abandoned: bool = False) -> None:
    if inv.ended:
        return
    try:
        handler.on_end(inv)
    except Exception:
        swallowed("finishing a stream")
    if exc is not None:
        inv.fail(exc)
    elif abandoned:
        inv.abandon()
    else:
        inv.end()


def _still_hidden(handler: ChunkHandler, item: Any) -> bool:
    """After a failure in ``on_chunk``: an item we asked for ourselves must stay hidden all the same."""
    hides = getattr(handler, "hides", None)
    try:
        return bool(hides(item)) if hides is not None else False
    except Exception:
        swallowed("stream chunk visibility")
        return False


def end_stream(stream: Any) -> None:
    """End the span of one of our stream proxies (no-op for anything else): for SDK helpers that close the HTTP
    response underneath the stream instead of closing the stream."""
    if isinstance(stream, _Base):
        stream._self_done(None)


def async_stream_proxy(wrapped: Any, inv: Invocation, handler: ChunkHandler) -> AsyncStreamProxy:
    """The async proxy, with ``aclose()`` exactly when the SDK's stream has it (newer SDKs only)."""
    if hasattr(wrapped, "aclose"):
        return AsyncStreamProxyWithAclose(wrapped, inv, handler)
    return AsyncStreamProxy(wrapped, inv, handler)


def _abandoned(inv: Invocation, handler: ChunkHandler) -> None:
    _finish(inv, handler, None, abandoned=True)


class _Base(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    def __init__(self, wrapped: Any, inv: Invocation, handler: ChunkHandler) -> None:
        super().__init__(wrapped)
        self._self_inv = inv
        self._self_handler = handler
        # bound once: the per-chunk path is two calls, no attribute chains (about a microsecond per chunk; bench/)
        self._self_on_chunk = handler.on_chunk
        self._self_tick = inv.chunk
        self._self_finalizer = weakref.finalize(self, _abandoned, inv, handler)

    def _self_done(self, exc: BaseException | None) -> None:
        self._self_finalizer.detach()
        _finish(self._self_inv, self._self_handler, exc)

    def _self_failed(self, item: Any) -> bool:
        """Reading ``item`` failed in our code: say whether the caller must still not see it."""
        swallowed("reading a stream chunk")
        return _still_hidden(self._self_handler, item)


class SyncStreamProxy(_Base):
    def __init__(self, wrapped: Any, inv: Invocation, handler: ChunkHandler) -> None:
        super().__init__(wrapped, inv, handler)
        self._self_next = wrapped.__next__

    def __iter__(self) -> Iterator[Any]:
        # A new generator over the SDK's own iterator, as the SDK's streams hand out from ``__iter__`` (their
        # ``__iter__`` is a generator over the one underlying iterator ``__next__`` reads too). A ``for`` loop then
        # costs a generator step per chunk instead of a Python ``__next__`` on the proxy with its attribute
        # reads through wrapt: about 6,000 of the 12,000 instructions our code spent per chunk (bench/).
        return _chunks(self, iter(self.__wrapped__))

    def __next__(self) -> Any:
        while True:
            try:
                item = self._self_next()
            except StopIteration:
                self._self_done(None)
                raise
            except BaseException as exc:
                self._self_done(exc)
                raise
            try:
                if self._self_on_chunk(self._self_inv, item):
                    continue  # hidden from the caller (a usage chunk we asked for ourselves)
                self._self_tick()
            except Exception:
                if self._self_failed(item):
                    continue
            return item

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_done(None)

    def __enter__(self) -> Any:
        entered = self.__wrapped__.__enter__()
        return self if entered is self.__wrapped__ else entered

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_done(exc)


class AsyncStreamProxy(_Base):
    def __init__(self, wrapped: Any, inv: Invocation, handler: ChunkHandler) -> None:
        super().__init__(wrapped, inv, handler)
        self._self_anext = wrapped.__anext__

    def __aiter__(self) -> AsyncIterator[Any]:
        # as SyncStreamProxy.__iter__: the SDK's ``__aiter__`` is an async generator too
        return _achunks(self, aiter(self.__wrapped__))

    async def __anext__(self) -> Any:
        while True:
            try:
                item = await self._self_anext()
            except StopAsyncIteration:
                self._self_done(None)
                raise
            except BaseException as exc:
                self._self_done(exc)
                raise
            try:
                if self._self_on_chunk(self._self_inv, item):
                    continue  # hidden from the caller (a usage chunk we asked for ourselves)
                self._self_tick()
            except Exception:
                if self._self_failed(item):
                    continue
            return item

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_done(None)

    async def __aenter__(self) -> Any:
        entered = await self.__wrapped__.__aenter__()
        return self if entered is self.__wrapped__ else entered

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_done(exc)


class AsyncStreamProxyWithAclose(AsyncStreamProxy):
    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_done(None)


# The generators ``for`` and ``async for`` get. Each holds the proxy, so the proxy (and with it the stream's
# finaliser) lives as long as the loop does, as the SDK's generator holds its stream. GeneratorExit means the
# caller left the loop, not that the stream ended: the proxy may still be read, closed or dropped.


def _chunks(proxy: _Base, items: Iterator[Any]) -> Iterator[Any]:
    inv, on_chunk, tick = proxy._self_inv, proxy._self_on_chunk, proxy._self_tick
    try:
        for item in items:
            try:
                if on_chunk(inv, item):
                    continue  # hidden from the caller (a usage chunk we asked for ourselves)
                tick()
            except Exception:
                if proxy._self_failed(item):
                    continue
            yield item
    except GeneratorExit:
        raise
    except BaseException as exc:
        proxy._self_done(exc)
        raise
    proxy._self_done(None)


async def _achunks(proxy: _Base, items: AsyncIterator[Any]) -> AsyncIterator[Any]:
    inv, on_chunk, tick = proxy._self_inv, proxy._self_on_chunk, proxy._self_tick
    try:
        async for item in items:
            try:
                if on_chunk(inv, item):
                    continue  # hidden from the caller (a usage chunk we asked for ourselves)
                tick()
            except Exception:
                if proxy._self_failed(item):
                    continue
            yield item
    except GeneratorExit:
        raise
    except BaseException as exc:
        proxy._self_done(exc)
        raise
    proxy._self_done(None)
