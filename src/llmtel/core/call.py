"""The call around an adapter: what every wrapped SDK method does, whatever the provider.

    wrapper(sdk method) → another instrumentation's call? (Watch)  → pass through
                        → suppressed (nested in a GenAI span)?     → pass through
                        → endpoint, Invocation (span started; current for the SDK call only), content
                        → the SDK call → exception → fail (the SDK's exception re-raised untouched)
                                       → result    → the provider's dispatch: complete, or a stream proxy …

A provider gives :func:`sync_wrapper` / :func:`async_wrapper` its :class:`~llmtel.core.adapter.Adapter`, how to
find the endpoint of a call (``endpoint_of``: from the client the method is bound to) and what to do with a
result (``dispatch``: :func:`complete` for a plain result, a stream proxy for a stream, whatever else the SDK
returns). Everything of ours runs inside a guard; the SDK's own behaviour is never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import context
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from llmtel._internal import swallowed
from llmtel.core.adapter import Adapter
from llmtel.core.endpoints import Endpoint
from llmtel.core.invocation import Invocation, Telemetry, suppressed

if TYPE_CHECKING:
    from llmtel.core.install import Watch

EndpointOf = Callable[[Any, Telemetry], Endpoint]
"""``(bound instance, telemetry) → Endpoint``: where the call goes (cached by the provider; it runs per call)."""
Dispatch = Callable[[Invocation, Adapter, Mapping[str, Any], Any, bool], Any]
"""``(inv, adapter, kwargs, result, hide_usage) → what the caller gets``: the result itself or a proxy of it."""


class Router:
    """The adapter for one call of an SDK method that many APIs share, chosen per call.

    botocore generates every AWS client method at runtime, and all of them go through one
    ``BaseClient._make_api_call(operation_name, api_params)``: the method to wrap is that one, and which call it
    is (service and operation) is known only from the call's arguments. A provider whose :class:`Target` names a
    Router subclass gets :func:`routed_wrapper` for it instead of :func:`sync_wrapper`.
    """

    def route(self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Routed | None:
        """``(adapter, the call's kwargs as the adapter reads them)`` for a call of ours; None for any other call,
        which then goes through untouched. It runs for every call of the method (every AWS call): the common
        "not ours" answer must cost a look-up or two. The kwargs returned are what the adapter's ``prepare`` may
        change, so for a change to reach the SDK they must be the very mapping the SDK gets."""
        raise NotImplementedError


Routed = tuple[Adapter, dict[str, Any]]


def start(
    telemetry: Telemetry, adapter: Adapter, endpoint: Endpoint, kwargs: Mapping[str, Any], parent: Context
) -> Invocation:
    """Start the call's Invocation: request attributes, then its content when capture is on."""
    attrs: dict[str, AttributeValue] = dict(adapter.static) if adapter.static else {}
    adapter.request(kwargs, attrs)
    model = kwargs.get(adapter.model_key)
    inv = Invocation(
        telemetry,
        adapter.operation,
        model if isinstance(model, str) else None,
        endpoint,
        attrs,
        stream=adapter.streaming or kwargs.get("stream") is True,
        parent=parent,
        classify=adapter.classify,
    )
    if inv.capture:
        try:
            adapter.content(inv, kwargs)
        except Exception:
            swallowed(f"{adapter.operation} request content")
    return inv


def _one_shot(value: Any) -> bool:
    """An iterator (a generator, ``map(...)``): reading it for the span would leave nothing for the SDK."""
    return hasattr(type(value), "__next__")


def materialise(kwargs: dict[str, Any], names: tuple[str, ...], item_names: tuple[str, ...]) -> None:
    """Replace the one-shot iterables among ``kwargs[names]`` (and among their items' ``item_names``) by lists.

    The content code reads the messages before the SDK does; a generator it read would reach the SDK empty. The
    lists hold the very items, so the SDK sends what it would have sent. The app's own containers are never
    changed: a message dict holding a generator is copied, with a list in its place. An exception the app's
    generator raises propagates as the SDK would have raised it when reading.

    It runs on every call with capture on, so the common case (lists of dicts of strings and lists) costs exact
    type checks only: no ABC ``isinstance``, no generator expression.
    """
    for name in names:
        value = kwargs.get(name)
        if value is None:
            continue
        cls = type(value)
        if cls is not list and cls is not tuple:
            if not hasattr(cls, "__next__"):
                continue  # a str, a mapping, a re-iterable: our read leaves it whole
            value = kwargs[name] = list(value)
        if not item_names:
            continue
        copied: list[Any] | None = None
        for index, item in enumerate(value):
            if type(item) is not dict:
                continue
            for key in item_names:
                inner = item.get(key)
                if inner is None or type(inner) is str or type(inner) is list or not _one_shot(inner):
                    continue
                if copied is None:
                    copied = kwargs[name] = list(value)
                item = copied[index] = {**item, key: list(inner)}


def complete(inv: Invocation, adapter: Adapter, result: Any) -> None:
    """A complete (non-stream) result: its facts, then the end of the span."""
    try:
        adapter.response(inv, result)
    except Exception:
        swallowed(f"{adapter.operation} response")
    inv.end()


def dispatch_complete(inv: Invocation, adapter: Adapter, kwargs: Mapping[str, Any], result: Any, hide: bool) -> Any:
    """The :data:`Dispatch` of a method that only ever returns a complete result."""
    complete(inv, adapter, result)
    return result


def _prepare(adapter: Adapter, kwargs: dict[str, Any], telemetry: Telemetry, endpoint: Endpoint) -> bool:
    try:
        return adapter.prepare(kwargs, telemetry, endpoint)
    except Exception:
        swallowed(f"{adapter.operation} prepare")
        return False


def _dispatched(
    dispatch: Dispatch, inv: Invocation, adapter: Adapter, kwargs: Mapping[str, Any], result: Any, hide: bool
) -> Any:
    try:
        return dispatch(inv, adapter, kwargs, result, hide)
    except Exception:
        swallowed(f"{adapter.operation} result")
        if not inv.ended:
            inv.end()
        return result


def sync_wrapper(
    telemetry: Telemetry, adapter: Adapter, watch: Watch, endpoint_of: EndpointOf, dispatch: Dispatch
) -> Callable[..., Any]:
    """The wrapt wrapper of one synchronous SDK method."""
    methods, name, markers, key = watch.methods, watch.name, watch.markers, watch.key

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        try:  # a subscript, not .get(): a mappingproxy's get() is a second method call (~2x the cost)
            alone = methods[name] is watch.mine and key not in markers
        except KeyError:  # deleted from its class while ours is still in another wrapper's chain
            alone = False
        if not alone and not watch.recheck():
            return wrapped(*args, **kwargs)  # another instrumentation's span is this call's (see Watch)
        parent = context.get_current()
        if suppressed(parent):
            return wrapped(*args, **kwargs)
        if telemetry.capture and adapter.iterables:
            materialise(kwargs, adapter.iterables, adapter.item_iterables)  # outside the guard: see materialise
        try:
            endpoint = endpoint_of(instance, telemetry)
            inv = start(telemetry, adapter, endpoint, kwargs, parent)
        except Exception:
            swallowed(f"{adapter.operation} request")
            return wrapped(*args, **kwargs)
        hide = _prepare(adapter, kwargs, telemetry, endpoint)
        token = inv.attach()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            inv.fail(exc)
            raise
        finally:
            inv.detach(token)
        return _dispatched(dispatch, inv, adapter, kwargs, result, hide)

    return wrapper


def async_wrapper(
    telemetry: Telemetry, adapter: Adapter, watch: Watch, endpoint_of: EndpointOf, dispatch: Dispatch
) -> Callable[..., Any]:
    """The wrapt wrapper of one asynchronous SDK method (the twin of :func:`sync_wrapper`)."""
    methods, name, markers, key = watch.methods, watch.name, watch.markers, watch.key

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        try:  # a subscript, not .get(): a mappingproxy's get() is a second method call (~2x the cost)
            alone = methods[name] is watch.mine and key not in markers
        except KeyError:  # deleted from its class while ours is still in another wrapper's chain
            alone = False
        if not alone and not watch.recheck():
            return await wrapped(*args, **kwargs)  # another instrumentation's span is this call's (see Watch)
        parent = context.get_current()
        if suppressed(parent):
            return await wrapped(*args, **kwargs)
        if telemetry.capture and adapter.iterables:
            materialise(kwargs, adapter.iterables, adapter.item_iterables)  # outside the guard: see materialise
        try:
            endpoint = endpoint_of(instance, telemetry)
            inv = start(telemetry, adapter, endpoint, kwargs, parent)
        except Exception:
            swallowed(f"{adapter.operation} request")
            return await wrapped(*args, **kwargs)
        hide = _prepare(adapter, kwargs, telemetry, endpoint)
        token = inv.attach()
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            inv.fail(exc)
            raise
        finally:
            inv.detach(token)
        return _dispatched(dispatch, inv, adapter, kwargs, result, hide)

    return wrapper


def routed_wrapper(
    telemetry: Telemetry, router: Router, watch: Watch, endpoint_of: EndpointOf, dispatch: Dispatch
) -> Callable[..., Any]:
    """The wrapt wrapper of one synchronous SDK method shared by many APIs (see :class:`Router`). A call the
    router names runs through :func:`sync_wrapper`'s wrapper of its adapter (one per adapter, made on first use),
    given the router's kwargs as the call's and the SDK method with the call's own arguments; any other call
    passes through after the router's look-up alone."""
    route = router.route
    wrappers: dict[int, tuple[Adapter, Callable[..., Any]]] = {}  # id(adapter) → (adapter, its wrapper)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            found = route(instance, args, kwargs)
        except Exception:
            swallowed("routing a call")
            found = None
        if found is None:
            return wrapped(*args, **kwargs)
        adapter, call = found
        entry = wrappers.get(id(adapter))
        if entry is None or entry[0] is not adapter:
            entry = (adapter, sync_wrapper(telemetry, adapter, watch, endpoint_of, dispatch))
            if len(wrappers) < 256:
                wrappers[id(adapter)] = entry

        def sdk(*_: Any, **__: Any) -> Any:
            return wrapped(*args, **kwargs)  # the SDK gets its own arguments (``call`` may be the same dict)

        return entry[1](sdk, instance, (), call)

    return wrapper


class ResultKinds:
    """Which kind of result an SDK call returned (a model, a stream, a raw response …), found once per class.

    ``table()`` gives ``(classes, kind)`` pairs, checked in order with ``issubclass``; it is called on the first
    result only, when the SDK is loaded (it imports the SDK's classes). A class matching none is ``default``.
    Dispatch runs on every call: one dict look-up instead of a few ``issubclass`` checks.
    """

    __slots__ = ("_default", "_kinds", "_table", "_table_of")

    def __init__(self, table_of: Callable[[], Sequence[tuple[type | tuple[type, ...], int]]], default: int) -> None:
        self._table_of = table_of
        self._table: Sequence[tuple[type | tuple[type, ...], int]] | None = None
        self._default = default
        self._kinds: dict[type, int] = {}

    def __call__(self, result: Any) -> int:
        cls = type(result)
        kind = self._kinds.get(cls)
        if kind is None:
            table = self._table
            if table is None:
                table = self._table = self._table_of()
            kind = next((k for classes, k in table if issubclass(cls, classes)), self._default)
            if len(self._kinds) < 256:  # a bound: results of unknown classes must not grow it forever
                self._kinds[cls] = kind
        return kind
