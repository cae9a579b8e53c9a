"""Stream proxies built from what the wrapped object has: the span lives exactly as long as the stream
(DESIGN.md principle 3).

The factories an adapter uses:

``stream_proxy(wrapped, inv, handler)``
    A proxy for a stream: anything ``iter()`` or ``aiter()`` accepts (the SDK's stream class, an event stream
    with only ``__iter__`` and ``close``, a plain or async generator). Sync or async by the object's shape.
``manager_proxy(wrapped, inv, handler, wrap=stream_proxy, inner=None)``
    A proxy for a stream manager: an SDK helper whose ``__enter__`` / ``__aenter__`` makes the request and
    returns another object, the stream. The proxy's ``__enter__`` returns ``wrap(entered, inv, handler)``, a
    stream proxy by default. With ``inner`` (an attribute name), the caller gets the entered object itself and
    ``wrap`` proxies the stream it reads underneath instead (Anthropic's ``MessageStream._raw_stream``: every
    helper of the SDK's object, ``text_stream``, ``get_final_message()``, ``until_done()``, reads that one).
``end_stream(proxy, exc=None)``
    Ends the span of one of our proxies now (for SDK helpers that close the HTTP response under the stream),
    failed with ``exc`` when given.

``SyncStreamProxy(wrapped, inv, handler)`` and ``async_stream_proxy(wrapped, inv, handler)`` are the older
spellings of ``stream_proxy`` and give the same proxies (the class call goes through ``__new__``: a little dearer).

**What the proxy has.** A proxy is a ``wrapt.ObjectProxy``, so the caller still sees the SDK's object
(``isinstance``, attributes such as ``.response``). Of the methods that iterate, close or manage a context
(``__iter__``, ``__next__``, ``__aiter__``, ``__anext__``, ``close``, ``aclose``, ``__enter__``/``__exit__``,
``__aenter__``/``__aexit__``) it has exactly those the wrapped object's class has: ``next(proxy)`` works where
``next(wrapped)`` does and raises the same ``TypeError`` where it does not, and a generator's proxy is no context
manager (``hasattr`` says so; ``with proxy:`` fails with the message ``with wrapped:`` gives, as an exception
that is both the ``TypeError`` and the ``AttributeError`` the interpreter raises for it). One exception: an
async stream's proxy has ``__iter__ = None`` (the data model's "not iterable"), so that ``iter(proxy)`` raises
the ``TypeError`` ``iter(wrapped)`` does instead of falling back to the proxy's forwarded ``__getitem__``.
One proxy class is built per wrapped class and cached, named as the wrapped class, so the interpreter's own
messages name it too.

**When the span ends.** Exactly once, whichever comes first: the stream is exhausted, raises, is closed, its
``with`` / ``async with`` block exits (a manager's too), or the proxy is garbage collected (a weakref finaliser;
also run at interpreter exit; a manager that is never entered ends so too). An abandoned stream ends as of its
last chunk. The span is never current while the caller iterates, so the caller's work between chunks never
becomes its child; only a manager's ``__enter__`` (which makes the request) runs with the span current, for the
SDK's own HTTP spans.

**Iteration.** ``for`` / ``async for`` get a new (async) generator over ``iter(wrapped)`` / ``aiter(wrapped)``,
as they do from the SDK's own stream; ``next()`` / ``anext()`` on the proxy call the wrapped object's
``__next__`` / ``__anext__``. The SDK's streams read one underlying iterator both ways, so the two can be mixed.
"""

from __future__ import annotations

import inspect
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

import wrapt

from llmtel._internal import swallowed
from llmtel.core.invocation import NO_EXEMPLAR, Invocation

__all__ = [
    "AsyncStreamManagerProxy",
    "AsyncStreamProxy",
    "ChunkHandler",
    "StreamManagerProxy",
    "SyncStreamProxy",
    "async_stream_proxy",
    "end_stream",
    "manager_proxy",
    "stream_proxy",
]


class ChunkHandler(Protocol):
    """The adapter's side of a stream: read each chunk, then say what the whole stream amounted to.

    A handler may also have ``hides(item) -> bool``: asked only when ``on_chunk`` raised for ``item``, it says
    whether the caller must still not see the item (one the adapter asked for itself, say a usage chunk). Without
    it such an item is shown: the caller gets every chunk the SDK gave unless the handler said otherwise.
    """

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


def _abandoned(inv: Invocation, handler: ChunkHandler) -> None:
    _finish(inv, handler, None, abandoned=True)


def _still_hidden(handler: ChunkHandler, item: Any) -> bool:
    """After a failure in ``on_chunk``: the handler's optional ``hides`` decides whether ``item`` stays hidden."""
    try:
        hides = getattr(handler, "hides", None)
        return bool(hides(item)) if hides is not None else False
    except Exception:
        swallowed("stream chunk visibility")
        return False


# -- shapes ------------------------------------------------------------------------------------------------------

# The methods whose presence on a proxy follows the wrapped class.
_PROTOCOL = (
    "__iter__",
    "__next__",
    "__aiter__",
    "__anext__",
    "close",
    "aclose",
    "__enter__",
    "__exit__",
    "__aenter__",
    "__aexit__",
)
_MAX_SHAPES = 256  # wrapped classes are few (one or two per SDK); past this, a class is built per proxy


class _Unsupported(AttributeError, TypeError):
    """What using a context-manager method the wrapped object lacks raises: ``with`` / ``async with`` say
    ``TypeError`` (``AttributeError`` before Python 3.11), and attribute lookup needs ``AttributeError`` to fall
    through to the wrapped object (so ``hasattr`` tells the truth)."""


async def _async_with(obj: Any) -> None:
    async with obj:
        pass


def _error_of(wrapped: Any, name: str) -> str:
    """The message the interpreter gives for using ``name``'s protocol on ``wrapped`` (which lacks ``name``)."""
    cls = type(wrapped)
    try:
        if name in ("__enter__", "__exit__") and not (hasattr(cls, "__enter__") and hasattr(cls, "__exit__")):
            with wrapped:  # fails on looking the methods up, before anything is called
                pass
        elif name in ("__aenter__", "__aexit__") and not (hasattr(cls, "__aenter__") and hasattr(cls, "__aexit__")):
            coroutine = _async_with(wrapped)
            try:
                coroutine.send(None)  # as above: fails on the lookup, before the first await
            finally:
                coroutine.close()
    except Exception as exc:
        return str(exc)
    return f"{cls.__name__!r} object has no {name}"


class _Absent:
    """Stands in the proxy class for a method the proxy base has but the wrapped class lacks: looking it up
    fails as it does on the wrapped object (``hasattr`` false, the message ``with wrapped:`` gives)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            raise AttributeError(self.name)
        raise _Unsupported(_error_of(instance.__wrapped__, self.name))


_P = TypeVar("_P", bound="_Proxy")
_shapes: dict[tuple[type, type], type] = {}  # (our base, wrapped class) → the proxy class for that shape
# The C proxy's own allocation and initialisation, called directly: the factories skip ``_Proxy.__new__`` (it only
# serves ``SyncStreamProxy(...)`` spelled as a class call) and ``super()`` chains, Python-level steps per stream.
_allocate = wrapt.ObjectProxy.__new__
_proxy_init = wrapt.ObjectProxy.__init__


class _Proxy(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """What stream and manager proxies share: the invocation, its handler, and the span's one end."""

    # protocol name → our method (None: the wrapped object's, forwarded), used where the wrapped class has the name
    _self_methods: ClassVar[Mapping[str, Any]] = {}
    _self_shaped = False  # True on the classes built for one wrapped class
    # (has __next__, has __anext__) → the shape's __init__ (None: the base's), so a proxy reads no flags to set up
    _self_inits: ClassVar[Mapping[tuple[bool, bool], Any]] = {}

    def __new__(cls: type[_P], wrapped: Any, *args: Any, **kwargs: Any) -> _P:
        if not cls._self_shaped:
            cls = _shape(cls, type(wrapped))
        return _allocate(cls)  # type: ignore[no-any-return]

    def __init__(self, wrapped: Any, inv: Invocation, handler: ChunkHandler) -> None:
        _proxy_init(self, wrapped)
        self._self_inv = inv
        self._self_handler = handler
        self._self_finalizer = weakref.finalize(self, _abandoned, inv, handler)

    def _self_done(self, exc: BaseException | None) -> None:
        self._self_finalizer.detach()
        _finish(self._self_inv, self._self_handler, exc)


def _shape(base: type[_P], wrapped_class: type) -> type[_P]:
    """The subclass of ``base`` for objects of ``wrapped_class``: ``base``'s methods for the protocol names
    ``wrapped_class`` has, stand-ins that fail for those it lacks but the proxy base would offer."""
    key = (base, wrapped_class)
    shaped = _shapes.get(key)
    if shaped is not None:
        return shaped  # type: ignore[return-value]
    # what a subclass of ours (from another module) defines itself stays
    own = {
        name for cls in base.__mro__[: base.__mro__.index(_Proxy)] if cls.__module__ != __name__ for name in vars(cls)
    }
    namespace: dict[str, Any] = {"_self_shaped": True, "__module__": __name__, "__slots__": ()}
    for name in _PROTOCOL:
        if name in own:
            continue
        if hasattr(wrapped_class, name):
            method = base._self_methods.get(name)
            if method is _closer:
                method = _closer(inspect.iscoroutinefunction(getattr(wrapped_class, name)), name)
            if method is not None:
                namespace[name] = method
        elif name == "__iter__" and hasattr(_Proxy, name):
            # None, the data model's "not iterable": ``iter()`` then raises the TypeError it raises for the
            # wrapped object, where a failing lookup would fall back to the proxy's ``__getitem__``.
            namespace[name] = None
        elif hasattr(_Proxy, name):
            namespace[name] = _Absent(name)
    init = base._self_inits.get(("__next__" in namespace, "__anext__" in namespace))
    if init is not None and "__init__" not in own:
        namespace["__init__"] = init
    # Named as the wrapped class: the interpreter's messages (``'EventStream' object is not an iterator``) name
    # the proxy's class, and then read as they do for the wrapped object.
    shaped = type(wrapped_class.__name__, (base,), namespace)
    shaped.__qualname__ = f"{base.__qualname__}[{wrapped_class.__module__}.{wrapped_class.__qualname__}]"
    if len(_shapes) < _MAX_SHAPES:
        _shapes[key] = shaped
    return shaped


# -- streams -----------------------------------------------------------------------------------------------------


class _StreamProxy(_Proxy):
    _self_next: Callable[[], Any]  # set where the shape has __next__
    _self_anext: Callable[[], Awaitable[Any]]  # set where the shape has __anext__

    def __init__(self, wrapped: Any, inv: Invocation, handler: ChunkHandler) -> None:
        _proxy_init(self, wrapped)
        self._self_inv = inv
        self._self_handler = handler
        # bound once: the per-chunk path is two calls, no attribute chains
        self._self_on_chunk = handler.on_chunk
        self._self_tick = inv.chunk
        self._self_finalizer = weakref.finalize(self, _abandoned, inv, handler)

    def _self_failed(self, item: Any) -> bool:
        """Reading ``item`` failed in our code: say whether the caller must still not see it."""
        swallowed("reading a stream chunk")
        return _still_hidden(self._self_handler, item)


# The __init__ of shapes that have __next__ / __anext__: the wrapped object's, bound once.


def _init_next(self: _StreamProxy, wrapped: Any, inv: Invocation, handler: ChunkHandler) -> None:
    _StreamProxy.__init__(self, wrapped, inv, handler)
    self._self_next = wrapped.__next__


def _init_anext(self: _StreamProxy, wrapped: Any, inv: Invocation, handler: ChunkHandler) -> None:
    _StreamProxy.__init__(self, wrapped, inv, handler)
    self._self_anext = wrapped.__anext__


def _init_both(self: _StreamProxy, wrapped: Any, inv: Invocation, handler: ChunkHandler) -> None:
    _StreamProxy.__init__(self, wrapped, inv, handler)
    self._self_next = wrapped.__next__
    self._self_anext = wrapped.__anext__


_STREAM_INITS = {(True, False): _init_next, (False, True): _init_anext, (True, True): _init_both}


def _iter(self: _StreamProxy) -> Iterator[Any]:
    # A new generator over the wrapped object's iterator, as the SDK's streams hand out from ``__iter__`` (their
    # ``__iter__`` is a generator over the one underlying iterator ``__next__`` reads too). A ``for`` loop then
    # costs a generator step per chunk instead of a Python ``__next__`` on the proxy with its attribute reads
    # through wrapt.
    return _chunks(self, iter(self.__wrapped__))


def _aiter(self: _StreamProxy) -> AsyncIterator[Any]:
    # as _iter: the SDK's ``__aiter__`` is an async generator too
    return _achunks(self, aiter(self.__wrapped__))


def _next(self: _StreamProxy) -> Any:
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
                continue  # hidden from the caller (the handler said so)
            self._self_tick()
        except Exception:
            if self._self_failed(item):
                continue
        return item


async def _anext(self: _StreamProxy) -> Any:
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
                continue  # hidden from the caller (the handler said so)
            self._self_tick()
        except Exception:
            if self._self_failed(item):
                continue
        return item


async def _done_after(proxy: _Proxy, awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    finally:
        proxy._self_done(None)


def _closer(is_coroutine_function: bool, name: str) -> Callable[..., Any]:
    """``close`` / ``aclose``: the wrapped object's, then the span ends. A coroutine function stays one (callers
    may check with ``inspect.iscoroutinefunction``); another method that returns an awaitable (an async
    generator's ``aclose``) gets an awaitable that ends the span when it is done."""
    if is_coroutine_function:

        async def aclose(self: _Proxy, *args: Any, **kwargs: Any) -> Any:
            try:
                return await getattr(self.__wrapped__, name)(*args, **kwargs)
            finally:
                self._self_done(None)

        aclose.__name__ = aclose.__qualname__ = name
        return aclose

    def close(self: _Proxy, *args: Any, **kwargs: Any) -> Any:
        try:
            result = getattr(self.__wrapped__, name)(*args, **kwargs)
        except BaseException:
            self._self_done(None)
            raise
        if inspect.isawaitable(result):
            return _done_after(self, result)
        self._self_done(None)
        return result

    close.__name__ = close.__qualname__ = name
    return close


def _enter(self: _StreamProxy) -> Any:
    entered = self.__wrapped__.__enter__()
    return self if entered is self.__wrapped__ else entered


def _exit(self: _StreamProxy, exc_type: Any, exc: Any, tb: Any) -> Any:
    try:
        return self.__wrapped__.__exit__(exc_type, exc, tb)
    finally:
        self._self_done(exc)


async def _aenter(self: _StreamProxy) -> Any:
    entered = await self.__wrapped__.__aenter__()
    return self if entered is self.__wrapped__ else entered


async def _aexit(self: _StreamProxy, exc_type: Any, exc: Any, tb: Any) -> Any:
    try:
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)
    finally:
        self._self_done(exc)


_STREAM_METHODS: dict[str, Any] = {
    "__iter__": _iter,
    "__next__": _next,
    "__aiter__": _aiter,
    "__anext__": _anext,
    "close": _closer,
    "aclose": _closer,
    "__enter__": _enter,
    "__exit__": _exit,
    "__aenter__": _aenter,
    "__aexit__": _aexit,
}


class SyncStreamProxy(_StreamProxy):
    """A proxy for a stream read with ``for`` / ``next()``. ``SyncStreamProxy(wrapped, inv, handler)`` gives the
    class for ``wrapped``'s shape (see the module docstring)."""

    _self_methods = _STREAM_METHODS
    _self_inits = _STREAM_INITS


class AsyncStreamProxy(_StreamProxy):
    """A proxy for a stream read with ``async for`` / ``anext()``."""

    _self_methods = _STREAM_METHODS
    _self_inits = _STREAM_INITS


_stream_shapes: dict[type, type[_StreamProxy]] = {}  # wrapped class → its proxy class (the factory's cache)


def _stream_shape(cls: type) -> type[_StreamProxy]:
    if getattr(cls, "__iter__", None) is not None:
        shaped: type[_StreamProxy] = _shape(SyncStreamProxy, cls)
    elif getattr(cls, "__aiter__", None) is not None:
        shaped = _shape(AsyncStreamProxy, cls)
    else:
        raise TypeError(f"not a stream: {cls.__qualname__}")
    if len(_stream_shapes) < _MAX_SHAPES:
        _stream_shapes[cls] = shaped
    return shaped


def stream_proxy(wrapped: Any, inv: Invocation, handler: ChunkHandler) -> Any:
    """The proxy for the stream ``wrapped``: async when it has ``__aiter__`` and no ``__iter__``. Typed ``Any``:
    to its caller it is ``wrapped`` (a :class:`SyncStreamProxy` or :class:`AsyncStreamProxy` underneath).

    Raises ``TypeError`` for an object that is no stream (neither iterable nor async iterable): such a result is
    not wrapped (DESIGN.md principle 1); the adapter ends ``inv`` itself."""
    shaped = _stream_shapes.get(type(wrapped))
    if shaped is None:
        shaped = _stream_shape(type(wrapped))
    proxy = _allocate(shaped)
    shaped.__init__(proxy, wrapped, inv, handler)
    return proxy


def async_stream_proxy(wrapped: Any, inv: Invocation, handler: ChunkHandler) -> AsyncStreamProxy:
    """The async proxy (``aclose()`` exactly when the SDK's stream has it, as every method: see above)."""
    shaped = _shape(AsyncStreamProxy, type(wrapped))
    proxy: AsyncStreamProxy = _allocate(shaped)
    shaped.__init__(proxy, wrapped, inv, handler)
    return proxy


# -- stream managers ---------------------------------------------------------------------------------------------

StreamWrap = Callable[[Any, Invocation, ChunkHandler], Any]


class _ManagerProxy(_Proxy):
    def __init__(
        self,
        wrapped: Any,
        inv: Invocation,
        handler: ChunkHandler,
        wrap: StreamWrap | None = None,
        inner: str | None = None,
    ) -> None:
        _Proxy.__init__(self, wrapped, inv, handler)
        self._self_wrap = wrap if wrap is not None else stream_proxy
        self._self_inner = inner
        self._self_stream: _Proxy | None = None

    def _self_done(self, exc: BaseException | None) -> None:
        stream = self._self_stream
        if stream is not None:
            stream._self_done(exc)
        _Proxy._self_done(self, exc)

    def _self_attach(self) -> object:
        try:
            return self._self_inv.attach()
        except Exception:
            swallowed("making a stream manager's span current")
            return None

    def _self_entered(self, entered: Any) -> Any:
        """What ``__enter__`` gives the caller: the stream it returned, proxied. The stream proxy then owns the
        span's end (with its own finaliser); the manager still ends it on ``__exit__``."""
        inner = self._self_inner
        try:
            if inner is None:
                stream = self._self_wrap(entered, self._self_inv, self._self_handler)
            else:
                # The caller keeps the SDK's own object; the stream it reads is ours. Set before the caller has
                # the object, so every read goes through the proxy (the SDK's helpers read the attribute lazily).
                stream = self._self_wrap(getattr(entered, inner), self._self_inv, self._self_handler)
                setattr(entered, inner, stream)
        except Exception:
            swallowed("proxying a stream manager's stream")
            return entered
        if isinstance(stream, _Proxy):
            self._self_stream = stream
            self._self_finalizer.detach()
        return stream if inner is None else entered


def _detach(token: object) -> None:
    if token is not None:
        try:
            Invocation.detach(token)
        except Exception:
            swallowed("detaching a stream manager's span")


def _manager_enter(self: _ManagerProxy) -> Any:
    token = self._self_attach()  # the manager's __enter__ makes the request: the SDK's HTTP span is a child
    try:
        entered = self.__wrapped__.__enter__()
    except BaseException as exc:
        _detach(token)
        self._self_done(exc)
        raise
    _detach(token)
    return self._self_entered(entered)


def _failed_inside(self: _ManagerProxy, exc: Any) -> None:
    """The caller's ``with`` block raised: with ``inner``, the SDK's exit closes the stream through our proxy,
    which would end the span as a success first; the caller's exception is what ended the stream."""
    if exc is not None and self._self_inner is not None:
        self._self_done(exc)


def _manager_exit(self: _ManagerProxy, exc_type: Any, exc: Any, tb: Any) -> Any:
    _failed_inside(self, exc)
    try:
        return self.__wrapped__.__exit__(exc_type, exc, tb)
    finally:
        self._self_done(exc)


async def _manager_aenter(self: _ManagerProxy) -> Any:
    token = self._self_attach()
    try:
        entered = await self.__wrapped__.__aenter__()
    except BaseException as exc:
        _detach(token)
        self._self_done(exc)
        raise
    _detach(token)
    return self._self_entered(entered)


async def _manager_aexit(self: _ManagerProxy, exc_type: Any, exc: Any, tb: Any) -> Any:
    _failed_inside(self, exc)
    try:
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)
    finally:
        self._self_done(exc)


_MANAGER_METHODS: dict[str, Any] = {
    "__enter__": _manager_enter,
    "__exit__": _manager_exit,
    "__aenter__": _manager_aenter,
    "__aexit__": _manager_aexit,
    # iteration and close(): the manager's own (forwarded by wrapt) where it has them
    "__iter__": None,
    "__next__": None,
    "__aiter__": None,
    "__anext__": None,
    "close": None,
    "aclose": None,
}


class StreamManagerProxy(_ManagerProxy):
    """A proxy for a stream manager used with ``with``."""

    _self_methods = _MANAGER_METHODS


class AsyncStreamManagerProxy(_ManagerProxy):
    """A proxy for a stream manager used with ``async with``."""

    _self_methods = _MANAGER_METHODS


def manager_proxy(
    wrapped: Any, inv: Invocation, handler: ChunkHandler, wrap: StreamWrap | None = None, inner: str | None = None
) -> Any:
    """The proxy for the stream manager ``wrapped`` (a :class:`StreamManagerProxy`, or an
    :class:`AsyncStreamManagerProxy` when it has ``__aenter__`` and no ``__enter__``; typed ``Any`` as above).

    ``wrap(entered, inv, handler)`` makes what the caller gets from ``__enter__`` (default :func:`stream_proxy`).
    When it returns one of our proxies, that proxy ends the span as any stream proxy does; otherwise the manager
    keeps the span until its ``__exit__`` or until it is dropped. With ``inner``, ``wrap`` gets the entered
    object's attribute of that name, the proxy replaces it there, and the caller gets the entered object."""
    if hasattr(type(wrapped), "__enter__"):
        return StreamManagerProxy(wrapped, inv, handler, wrap, inner)
    return AsyncStreamManagerProxy(wrapped, inv, handler, wrap, inner)


def end_stream(stream: Any, exc: BaseException | None = None) -> None:
    """End the span of one of our proxies (no-op for anything else): for SDK helpers that close the HTTP
    response underneath the stream instead of closing the stream. With ``exc``, the span fails with it (the
    caller's exception that left a ``with`` block around the stream)."""
    if isinstance(stream, _Proxy):
        stream._self_done(exc)


_perf_ns = time.perf_counter_ns


def _chunk_point(inv: Invocation) -> tuple[Any, Any]:
    """(the time-per-chunk histogram's ``record``, the point's attributes) once :meth:`Invocation.chunk` has made
    them (from the second chunk on), else (None, None).

    From then on the ``for`` loops below take Invocation.chunk's steps for a chunk themselves
    (:meth:`Invocation.chunk_point` says which): the same clock, the same point, the same ``_last_chunk`` the
    span's end reads, without one Python call per chunk (~620 of the ~4,700 instructions per chunk ours added
    beyond the floor; callgrind, bench/chunks.py's isolated chat stream). ``next()`` on the proxy keeps calling
    Invocation.chunk; the two share ``_last_chunk``, so they can be mixed."""
    point = inv.chunk_point()
    return (None, None) if point is None else point


# The generators ``for`` and ``async for`` get. Each holds the proxy, so the proxy (and with it the stream's
# finaliser) lives as long as the loop does, as the SDK's generator holds its stream. GeneratorExit means the
# caller left the loop, not that the stream ended: the proxy may still be read, closed or dropped.


def _chunks(proxy: _StreamProxy, items: Iterator[Any]) -> Iterator[Any]:
    inv, on_chunk, tick = proxy._self_inv, proxy._self_on_chunk, proxy._self_tick
    record, attrs = None, None  # the time-per-chunk point, once the invocation has made it (see _chunk_point)
    try:
        for item in items:
            try:
                if on_chunk(inv, item):
                    continue  # hidden from the caller (the handler said so)
                if record is None:
                    tick()
                    record, attrs = _chunk_point(inv)
                else:  # Invocation.chunk's own steps for a chunk after the second, without its call
                    now = _perf_ns()
                    record((now - inv._last_chunk) / 1e9, attrs, NO_EXEMPLAR)
                    inv._last_chunk = now
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


async def _achunks(proxy: _StreamProxy, items: AsyncIterator[Any]) -> AsyncIterator[Any]:
    inv, on_chunk, tick = proxy._self_inv, proxy._self_on_chunk, proxy._self_tick
    record, attrs = None, None  # as in _chunks
    try:
        async for item in items:
            try:
                if on_chunk(inv, item):
                    continue  # hidden from the caller (the handler said so)
                if record is None:
                    tick()
                    record, attrs = _chunk_point(inv)
                else:
                    now = _perf_ns()
                    record((now - inv._last_chunk) / 1e9, attrs, NO_EXEMPLAR)
                    inv._last_chunk = now
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
