"""What every wrapped OpenAI method shares: the call wrapper, endpoint lookup, raw-response handling.

Each API module (chat, completions, embeddings, responses) provides an :class:`Api` — a translation table from
the SDK's request kwargs, response object and stream chunks to facts on an :class:`Invocation`. This module
runs the call around it:

    wrapper(create) → Api.start(...) → Invocation (span started, made current for the HTTP call only)
                    → the SDK call → result:
                         model object            → Api.response(...) → end
                         Stream / AsyncStream    → stream proxy that feeds Api's ChunkHandler
                         with_raw_response       → the same LegacyAPIResponse, its parse() observed
                         with_streaming_response → the same APIResponse, its parse()/close() observed
                    → exception → fail (the SDK's exception re-raised untouched)

Raw responses are returned as the very object the SDK made. We observe them through a class-level hook on the
SDK's private ``_parse``: its result is cached by ``parse()``, so the caller's ``.parse()`` returns our stream
proxy (for streams) or the model we already read, and ``.headers``, ``.iter_lines()``, ``close()`` are untouched.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from opentelemetry import context
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc
from llmtel._internal import swallowed
from llmtel.core import endpoints
from llmtel.core.invocation import Invocation, Telemetry, suppressed
from llmtel.core.streams import ChunkHandler, SyncStreamProxy, async_stream_proxy, end_stream

_PENDING = "_llmtel_pending"


class Api:
    """One OpenAI API's translation. Subclasses fill in the four methods; all run inside guards."""

    operation: str = ""
    api_type: str | None = None  # openai.api.type
    requests: RequestTable = MappingProxyType({})  # the request kwargs that become attributes

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        """Write the request's attributes (not model/stream/server: those are common)."""
        request_attributes(kwargs, self.requests, attrs)

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        """Hand the request's content to ``inv`` (only called when capture is on)."""

    def response(self, inv: Invocation, result: Any) -> None:
        """Write a complete (non-stream) result's facts into ``inv``."""

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> ChunkHandler:
        raise NotImplementedError

    def prepare(self, kwargs: dict[str, Any], telemetry: Telemetry, endpoint: endpoints.Endpoint) -> bool:
        """Adjust the call's kwargs before it is made; return True if a usage chunk must be hidden."""
        return False


# -- attribute helpers used by the API modules ------------------------------------------------------------------


def number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def integer(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def put(attrs: dict[str, AttributeValue], key: str, value: AttributeValue | None) -> None:
    if value is not None:
        attrs[key] = value


def stop_sequences(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


_MISSING = object()
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def field(obj: Any, name: str) -> Any:
    """``obj.name`` for SDK models, ``obj[name]`` for dicts (TypedDict params, ``extra_body``, odd servers).

    The exact-type check and the attribute read come first, the ABC check only for other mappings (it was half of
    this function's cost; bench/RESULTS.md). To read several fields of one object, :func:`view` is cheaper.
    """
    if type(obj) is dict:
        return obj.get(name)
    value = getattr(obj, name, _MISSING)
    if value is _MISSING:
        return obj.get(name) if isinstance(obj, Mapping) else None
    return value


def view(obj: Any) -> Mapping[str, Any]:
    """An SDK model's fields (or a dict) as one mapping, so that reading several fields costs one C call each.

    pydantic 2 keeps declared fields in ``__dict__`` and unknown ones (``extra="allow"``, as the SDK's models
    are) in ``__pydantic_extra__``; pydantic 1 keeps both in ``__dict__``. Anything else gives an empty mapping.
    Reading responses through this instead of ~30 :func:`field` calls saved ~4 µs per call (bench/).
    """
    if type(obj) is dict:
        return obj
    extra = getattr(obj, "__pydantic_extra__", _MISSING)
    if extra is not _MISSING:
        fields: Mapping[str, Any] = getattr(obj, "__dict__", _EMPTY)
        return {**fields, **extra} if isinstance(extra, dict) and extra else fields
    if isinstance(obj, Mapping):
        return obj
    found = getattr(obj, "__dict__", None)
    return found if isinstance(found, dict) else _EMPTY


UsageTable = tuple[tuple[str, str | None, str], ...]
"""(usage field, sub-field or None, attribute): where one API dialect reports each token count."""


def usage_attributes(usage: Any, table: UsageTable, resp: dict[str, AttributeValue]) -> None:
    """Token counts. OpenAI's totals already include cached and reasoning tokens, as the conventions want."""
    if usage is None:
        return
    fields = view(usage)
    for name, sub, key in table:
        value = fields.get(name)
        if sub is not None and value is not None:
            value = view(value).get(sub)
        if type(value) is int:  # not a bool, not a string of digits
            resp[key] = value


def string_fields(obj: Any, table: tuple[tuple[str, str], ...], resp: dict[str, AttributeValue]) -> Mapping[str, Any]:
    """Copy the non-empty string fields that ``table`` names ((field, attribute) pairs); return the object's view."""
    fields = view(obj)
    for name, key in table:
        value = fields.get(name)
        if isinstance(value, str) and value:
            resp[key] = value
    return fields


Converter = Callable[[Any], Any]
RequestTable = Mapping[str, tuple[str, Converter]]
"""Request kwarg → (attribute, converter giving the attribute's value or None): one API's request, as data."""


def request_attributes(kwargs: Mapping[str, Any], table: RequestTable, attrs: dict[str, AttributeValue]) -> None:
    """Write the attributes of the kwargs the call was given.

    Walks the few kwargs a call has (4-6 typically) instead of looking up every parameter the API knows (~15),
    which made request attributes ~3x cheaper (bench/).
    """
    for name, value in kwargs.items():
        spec = table.get(name)
        if spec is not None:
            found = spec[1](value)
            if found is not None:
                attrs[spec[0]] = found


def choice_count(value: Any) -> int | None:
    """``gen_ai.request.choice.count`` is set only for a count other than 1."""
    n = integer(value)
    return n if n != 1 else None


SAMPLING: dict[str, tuple[str, Converter]] = {
    "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
    "top_p": (sc.GEN_AI_REQUEST_TOP_P, number),
    "presence_penalty": (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, number),
    "frequency_penalty": (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, number),
    "seed": (sc.GEN_AI_REQUEST_SEED, integer),
    "stop": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, stop_sequences),
    "n": (sc.GEN_AI_REQUEST_CHOICE_COUNT, choice_count),
}
"""The request parameters Chat Completions and legacy Completions share."""


def content_parts(value: Any, part_of: Callable[[Any, Any], dict[str, Any]]) -> list[dict[str, Any]]:
    """A message's content: ``None``, a string, or typed items that ``part_of(item, item_type)`` translates."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "text", "content": value}]
    return [part_of(item, field(item, "type")) for item in (value if isinstance(value, (list, tuple)) else [value])]


def service_tier(value: Any) -> str | None:
    """``openai.request.service_tier`` is set only for a tier other than ``auto``."""
    value = string(value)
    return value if value and value != "auto" else None


# -- the call wrapper -------------------------------------------------------------------------------------------


def _endpoint(instance: Any, telemetry: Telemetry) -> endpoints.Endpoint:
    # Keyed by the identity of the client's URL object (clients keep theirs; str() of it costs ~5 µs per call).
    # The client's private ``_base_url`` first: openai 3's public ``base_url`` property runs an import per read.
    client = getattr(instance, "_client", None)
    base_url = getattr(client, "_base_url", None) or getattr(client, "base_url", None)
    cache = telemetry.endpoint_cache
    entry = cache.get(id(base_url))
    if entry is not None and entry[0] is base_url:
        return entry[1]
    # Azure OpenAI clients carry their api-version as a default query parameter; it decides whether the
    # endpoint accepts stream_options (core/endpoints.py). Read on a cache miss only.
    query = getattr(client, "_custom_query", None)
    api_version = query.get("api-version") if isinstance(query, Mapping) else None
    found = endpoints.resolve(
        base_url or "", sc.GenAiProviderNameValues.OPENAI, telemetry.config.provider_map, api_version
    )
    if len(cache) < 256:
        cache[id(base_url)] = (base_url, found)
    return found


def _start(
    telemetry: Telemetry, api: Api, endpoint: endpoints.Endpoint, kwargs: Mapping[str, Any], parent: Context
) -> Invocation:
    attrs: dict[str, AttributeValue] = {}
    if api.api_type:
        attrs[sc.OPENAI_API_TYPE] = api.api_type
    api.request(kwargs, attrs)
    model = kwargs.get("model")
    inv = Invocation(
        telemetry,
        api.operation,
        model if isinstance(model, str) else None,
        endpoint,
        attrs,
        stream=kwargs.get("stream") is True,
        parent=parent,
    )
    if inv.capture:
        try:
            api.content(inv, kwargs)
        except Exception:
            swallowed(f"{api.operation} request content")
    return inv


def _complete(inv: Invocation, api: Api, result: Any) -> None:
    try:
        api.response(inv, result)
    except Exception:
        swallowed(f"{api.operation} response")
    inv.end()


class _Pending:
    """An observed raw response whose body has not been parsed yet."""

    __slots__ = ("api", "finalizer", "hide_usage", "inv", "kwargs")

    def __init__(self, inv: Invocation, api: Api, kwargs: Mapping[str, Any], hide_usage: bool, owner: Any) -> None:
        self.inv, self.api, self.kwargs, self.hide_usage = inv, api, kwargs, hide_usage
        self.finalizer = weakref.finalize(owner, inv.abandon)


@functools.cache
def _sdk_types() -> tuple[Any, Any, Any, Any]:
    """The SDK's stream and raw-response classes (imported once, on the first call: openai is loaded by then)."""
    from openai import AsyncStream, Stream
    from openai._legacy_response import LegacyAPIResponse
    from openai._response import BaseAPIResponse

    return Stream, AsyncStream, LegacyAPIResponse, BaseAPIResponse


_MODEL, _STREAM, _ASYNC_STREAM, _RAW, _LEGACY_RAW = range(5)
_kinds: dict[type, int] = {}  # result class → what it is (three isinstance checks per call saved)


def _kind(result: Any) -> int:
    cls = type(result)
    kind = _kinds.get(cls)
    if kind is None:
        Stream, AsyncStream, LegacyAPIResponse, BaseAPIResponse = _sdk_types()
        if issubclass(cls, Stream):
            kind = _STREAM
        elif issubclass(cls, AsyncStream):
            kind = _ASYNC_STREAM
        elif issubclass(cls, LegacyAPIResponse):
            kind = _LEGACY_RAW
        elif issubclass(cls, BaseAPIResponse):
            kind = _RAW
        else:
            kind = _MODEL
        if len(_kinds) < 256:
            _kinds[cls] = kind
    return kind


def _handle(inv: Invocation, api: Api, kwargs: Mapping[str, Any], result: Any, hide_usage: bool) -> Any:
    """Return what the caller gets: ``result`` itself, or a faithful proxy for a stream."""
    kind = _kind(result)
    if kind == _MODEL:
        _complete(inv, api, result)
        return result
    if kind == _STREAM:
        return SyncStreamProxy(result, inv, api.stream_handler(inv, kwargs, hide_usage))
    if kind == _ASYNC_STREAM:
        return async_stream_proxy(result, inv, api.stream_handler(inv, kwargs, hide_usage))
    result.__dict__[_PENDING] = _Pending(inv, api, kwargs, hide_usage, result)
    if kind == _LEGACY_RAW:
        # with_raw_response has read the body already; parse now (the SDK caches it) so the span ends when
        # the call does. The caller's own .parse() gets the same object back.
        try:
            result.parse()
        except Exception:
            swallowed("parsing a raw response")
            _settle(result, None)
    return result


def _settle(response: Any, parsed: Any, parse_error: BaseException | None = None) -> Any:
    """Consume a raw response's pending invocation with what its parse produced (or nothing)."""
    pending = response.__dict__.pop(_PENDING, None)
    if not isinstance(pending, _Pending):
        return parsed
    pending.finalizer.detach()
    if parse_error is not None:
        pending.inv.fail(parse_error)
        return parsed
    if parsed is None:
        pending.inv.end()
        return parsed
    try:
        return _handle(pending.inv, pending.api, pending.kwargs, parsed, pending.hide_usage)
    except Exception:
        swallowed("raw response result")
        if not pending.inv.ended:
            pending.inv.end()
        return parsed


def parse_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """Around ``BaseAPIResponse._parse`` / ``LegacyAPIResponse._parse``: passthrough unless we await it."""
    if _PENDING not in getattr(instance, "__dict__", ()) or kwargs.get("to") is not None:
        return wrapped(*args, **kwargs)
    try:
        parsed = wrapped(*args, **kwargs)
    except BaseException as exc:
        _settle(instance, None, exc)
        raise
    return _settle(instance, parsed)


def close_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """Around ``APIResponse.close``: a streamed response closed before it was parsed ends its span."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        if _PENDING in getattr(instance, "__dict__", ()):
            _settle(instance, None)


def helper_close_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """Around the SDK's stream helpers' ``close()``: they close the HTTP response under our stream proxy."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        end_stream(getattr(instance, "_raw_stream", None))


async def async_helper_close_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        end_stream(getattr(instance, "_raw_stream", None))


async def async_close_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        if _PENDING in getattr(instance, "__dict__", ()):
            _settle(instance, None)


def _prepare(api: Api, kwargs: dict[str, Any], telemetry: Telemetry, endpoint: endpoints.Endpoint) -> bool:
    try:
        return api.prepare(kwargs, telemetry, endpoint)
    except Exception:
        swallowed(f"{api.operation} prepare")
        return False


class Watch:
    """Where another instrumentation of the same call shows itself, looked at by our wrapper on every call.

    ``methods`` is the live ``__dict__`` of the class whose method ``name`` we wrapped, ``clients`` that of the
    client class whose ``request`` the call goes through, and ``request`` the SDK's own function for it (which the
    SDK defines on a base class). A wrapper another package put over ours replaces ``methods[name]`` (openai-v2
    and OpenLLMetry wrap the resource methods); one put under ours on the client's ``request`` (OpenInference)
    puts something else in ``clients["request"]``. Either way that package's span is the call's and ours would be
    a second one, so ours stands down. The quick check is two dict look-ups per call (~45 ns): no import, no walk
    of the wrapper chain; :meth:`recheck` runs only when it fails.
    """

    __slots__ = ("clients", "methods", "mine", "name", "notice", "owner", "request")

    def __init__(
        self, owner: type, name: str, clients: Mapping[str, Any], request: Any, notice: Callable[[Watch], None]
    ) -> None:
        self.owner, self.methods, self.name = owner, owner.__dict__, name
        self.clients, self.request = clients, request
        self.notice: Callable[[Watch], None] | None = notice  # told once, the first time we stand down
        self.mine: object = None  # our wrapper once it is in place; None again (disarmed) after uninstall()

    def recheck(self) -> bool:
        """The quick check failed: True if the call is ours after all; else stand down (telling, the first time)."""
        mine = self.mine
        current = self.methods.get(self.name)
        if mine is not None and current is not mine and getattr(current, "_self_parent", None) is mine:
            # opentelemetry's unwrap() (which the peers' uninstrument() uses) reads the method through the class,
            # so over ours it puts back a wrapt *bound* wrapper of ours: the same wrapper. Ours goes back in place.
            setattr(self.owner, self.name, mine)
            current = mine
        if mine is not None and current is mine and self.clients.get("request", self.request) is self.request:
            return True
        notice, self.notice = self.notice, None
        if notice is not None:
            try:
                notice(self)
            except Exception:
                swallowed("reporting another OpenAI instrumentation")
        return False

    def disarm(self) -> None:
        """Stand down for good, silently: our wrapper may stay in the chain under another package's."""
        self.mine = None
        self.notice = None


def sync_wrapper(telemetry: Telemetry, api: Api, watch: Watch) -> Callable[..., Any]:
    methods, name, clients = watch.methods, watch.name, watch.clients

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        try:  # a subscript, not .get(): a mappingproxy's get() is a second method call (~2x the cost)
            alone = methods[name] is watch.mine and "request" not in clients
        except KeyError:  # deleted from its class while ours is still in another wrapper's chain
            alone = False
        if not alone and not watch.recheck():
            return wrapped(*args, **kwargs)  # another instrumentation's span is this call's (see Watch)
        parent = context.get_current()
        if suppressed(parent):
            return wrapped(*args, **kwargs)
        try:
            endpoint = _endpoint(instance, telemetry)
            inv = _start(telemetry, api, endpoint, kwargs, parent)
        except Exception:
            swallowed(f"{api.operation} request")
            return wrapped(*args, **kwargs)
        hide_usage = _prepare(api, kwargs, telemetry, endpoint)
        token = inv.attach()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            inv.fail(exc)
            raise
        finally:
            inv.detach(token)
        try:
            return _handle(inv, api, kwargs, result, hide_usage)
        except Exception:
            swallowed(f"{api.operation} result")
            if not inv.ended:
                inv.end()
            return result

    return wrapper


def async_wrapper(telemetry: Telemetry, api: Api, watch: Watch) -> Callable[..., Any]:
    methods, name, clients = watch.methods, watch.name, watch.clients

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        try:  # a subscript, not .get(): a mappingproxy's get() is a second method call (~2x the cost)
            alone = methods[name] is watch.mine and "request" not in clients
        except KeyError:  # deleted from its class while ours is still in another wrapper's chain
            alone = False
        if not alone and not watch.recheck():
            return await wrapped(*args, **kwargs)  # another instrumentation's span is this call's (see Watch)
        parent = context.get_current()
        if suppressed(parent):
            return await wrapped(*args, **kwargs)
        try:
            endpoint = _endpoint(instance, telemetry)
            inv = _start(telemetry, api, endpoint, kwargs, parent)
        except Exception:
            swallowed(f"{api.operation} request")
            return await wrapped(*args, **kwargs)
        hide_usage = _prepare(api, kwargs, telemetry, endpoint)
        token = inv.attach()
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            inv.fail(exc)
            raise
        finally:
            inv.detach(token)
        try:
            return _handle(inv, api, kwargs, result, hide_usage)
        except Exception:
            swallowed(f"{api.operation} result")
            if not inv.ended:
                inv.end()
            return result

    return wrapper
