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
from typing import Any

from opentelemetry.util.types import AttributeValue

from genai_otel import semconv as sc
from genai_otel._internal import swallowed
from genai_otel.core import endpoints
from genai_otel.core.invocation import Invocation, Telemetry, suppressed
from genai_otel.core.streams import ChunkHandler, SyncStreamProxy, async_stream_proxy, end_stream

_PENDING = "_genai_otel_pending"


class Api:
    """One OpenAI API's translation. Subclasses fill in the four methods; all run inside guards."""

    operation: str = ""
    api_type: str | None = None  # openai.api.type

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        """Write the request's attributes (not model/stream/server: those are common)."""

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        """Hand the request's content to ``inv`` (only called when capture is on)."""

    def response(self, inv: Invocation, result: Any) -> None:
        """Write a complete (non-stream) result's facts into ``inv``."""

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> ChunkHandler:
        raise NotImplementedError

    def prepare(self, kwargs: dict[str, Any], telemetry: Telemetry) -> bool:
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


def field(obj: Any, name: str) -> Any:
    """``obj.name`` for SDK models, ``obj[name]`` for dicts (TypedDict params, ``extra_body``, odd servers).

    On the hot path (every response, every stream chunk): the exact-type check and the attribute read come first,
    the ABC check only for other mappings (it was half of this function's cost; bench/RESULTS.md).
    """
    if type(obj) is dict:
        return obj.get(name)
    value = getattr(obj, name, _MISSING)
    if value is _MISSING:
        return obj.get(name) if isinstance(obj, Mapping) else None
    return value


UsageTable = tuple[tuple[str, str | None, str], ...]
"""(usage field, sub-field or None, attribute): where one API dialect reports each token count."""


def usage_attributes(usage: Any, table: UsageTable, resp: dict[str, AttributeValue]) -> None:
    """Token counts. OpenAI's totals already include cached and reasoning tokens, as the conventions want."""
    if usage is None:
        return
    for name, sub, key in table:
        value = field(usage, name)
        put(resp, key, integer(field(value, sub) if sub else value))


_SAMPLING = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P),
    ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
)


def sampling_attributes(kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
    """The request parameters Chat Completions and legacy Completions share."""
    for name, key in _SAMPLING:
        put(attrs, key, number(kwargs.get(name)))
    put(attrs, sc.GEN_AI_REQUEST_SEED, integer(kwargs.get("seed")))
    put(attrs, sc.GEN_AI_REQUEST_STOP_SEQUENCES, stop_sequences(kwargs.get("stop")))
    n = integer(kwargs.get("n"))
    if n is not None and n != 1:
        attrs[sc.GEN_AI_REQUEST_CHOICE_COUNT] = n


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
    base_url = getattr(getattr(instance, "_client", None), "base_url", None)
    cache = telemetry.endpoint_cache
    entry = cache.get(id(base_url))
    if entry is not None and entry[0] is base_url:
        return entry[1]
    found = endpoints.resolve(base_url or "", sc.GenAiProviderNameValues.OPENAI, telemetry.config.provider_map)
    if len(cache) < 256:
        cache[id(base_url)] = (base_url, found)
    return found


def _start(telemetry: Telemetry, api: Api, instance: Any, kwargs: Mapping[str, Any]) -> Invocation:
    attrs: dict[str, AttributeValue] = {}
    if api.api_type:
        attrs[sc.OPENAI_API_TYPE] = api.api_type
    api.request(kwargs, attrs)
    model = kwargs.get("model")
    inv = Invocation(
        telemetry,
        api.operation,
        model if isinstance(model, str) else None,
        _endpoint(instance, telemetry),
        attrs,
        stream=kwargs.get("stream") is True,
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


def _handle(inv: Invocation, api: Api, kwargs: Mapping[str, Any], result: Any, hide_usage: bool) -> Any:
    """Return what the caller gets: ``result`` itself, or a faithful proxy for a stream."""
    Stream, AsyncStream, LegacyAPIResponse, BaseAPIResponse = _sdk_types()
    if isinstance(result, Stream):
        return SyncStreamProxy(result, inv, api.stream_handler(inv, kwargs, hide_usage))
    if isinstance(result, AsyncStream):
        return async_stream_proxy(result, inv, api.stream_handler(inv, kwargs, hide_usage))
    if isinstance(result, (LegacyAPIResponse, BaseAPIResponse)):
        result.__dict__[_PENDING] = _Pending(inv, api, kwargs, hide_usage, result)
        if isinstance(result, LegacyAPIResponse):
            # with_raw_response has read the body already; parse now (the SDK caches it) so the span ends when
            # the call does. The caller's own .parse() gets the same object back.
            try:
                result.parse()
            except Exception:
                swallowed("parsing a raw response")
                _settle(result, None)
        return result
    _complete(inv, api, result)
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


def _prepare(api: Api, kwargs: dict[str, Any], telemetry: Telemetry) -> bool:
    try:
        return api.prepare(kwargs, telemetry)
    except Exception:
        swallowed(f"{api.operation} prepare")
        return False


def sync_wrapper(telemetry: Telemetry, api: Api) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        if suppressed():
            return wrapped(*args, **kwargs)
        try:
            inv = _start(telemetry, api, instance, kwargs)
        except Exception:
            swallowed(f"{api.operation} request")
            return wrapped(*args, **kwargs)
        hide_usage = _prepare(api, kwargs, telemetry)
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


def async_wrapper(telemetry: Telemetry, api: Api) -> Callable[..., Any]:
    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        if suppressed():
            return await wrapped(*args, **kwargs)
        try:
            inv = _start(telemetry, api, instance, kwargs)
        except Exception:
            swallowed(f"{api.operation} request")
            return await wrapped(*args, **kwargs)
        hide_usage = _prepare(api, kwargs, telemetry)
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
