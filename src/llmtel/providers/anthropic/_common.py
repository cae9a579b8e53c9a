"""What the Anthropic calls share beyond the core's call wrapper: endpoint, result dispatch, raw responses, and
the SDK's native tracing.

The core's wrapper (:mod:`llmtel.core.call`) runs each call around its adapter (:mod:`.messages`) and hands the
result to :func:`dispatch`:

    Message / ParsedMessage          → MessagesApi.response(...) → end
    Stream / AsyncStream             → the same object, its event iterator proxied (see observe)
    (Async)MessageStreamManager      → manager proxy: on enter, the MessageStream's raw stream is proxied, so
                                       text_stream, get_final_message(), until_done() and plain iteration all
                                       feed the handler; the caller keeps the SDK's own MessageStream
    APIResponse (raw / streaming)    → the very object, observed through ``_parse`` and ``close`` hooks

**Native tracing.** anthropic 2.x starts a span of its own for every API call (``anthropic.messages.create``,
not named by the conventions, no metrics; on unless ``ANTHROPIC_OPEN_TELEMETRY=false`` or the client's
``open_telemetry=False``). Under one of our spans it would be a second GenAI span of the same call. So while a
GenAI inference span is current (ours, made current for exactly the SDK call), :func:`native_span_hook` hands the
SDK, in place of its span, a non-recording span that carries the current span's context: the SDK then records
nothing, and its trace-context headers (``propagation``, on by default) carry our span, so the server side joins
the same trace as before. Outside such a span (calls we do not wrap: ``count_tokens``, batches, files …) the SDK's
own spans are untouched. With the native tracing off the SDK never asks: nothing changes.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace

from llmtel import semconv as sc
from llmtel._internal import swallowed
from llmtel.core import endpoints, raw
from llmtel.core.adapter import Adapter, string
from llmtel.core.call import ResultKinds, complete
from llmtel.core.invocation import Invocation, Telemetry
from llmtel.core.streams import ChunkHandler, end_stream, manager_proxy, stream_proxy

_ITERATOR = "_iterator"  # the SDK's Stream reads its events from this attribute
_P = sc.GenAiProviderNameValues
# Clients of SDKs older than ``_gen_ai_provider_name``: the platform by the client class's name.
_PLATFORMS = (("Bedrock", _P.AWS_BEDROCK), ("Vertex", _P.GCP_VERTEX_AI))


def _provider_of(client: Any) -> str:
    cls = type(client)
    named = string(getattr(cls, "_gen_ai_provider_name", None))
    if named:
        return named
    for marker, provider in _PLATFORMS:
        if any(marker in base.__name__ for base in cls.__mro__):
            return provider
    return _P.ANTHROPIC


def endpoint_of(instance: Any, telemetry: Telemetry) -> endpoints.Endpoint:
    """The endpoint of the client this resource belongs to (the core's ``EndpointOf``), cached by the identity of
    the client's URL object (a client keeps its own)."""
    client = getattr(instance, "_client", None)
    base_url = getattr(client, "_base_url", None) or getattr(client, "base_url", None)
    found = telemetry.endpoint_cache.get(base_url)
    if found is not None:
        return found
    found = endpoints.resolve(base_url or "", _provider_of(client), telemetry.config.provider_map)
    return telemetry.endpoint_cache.put(base_url, found)


# -- results -------------------------------------------------------------------------------------------------------


_MODEL, _STREAM, _MANAGER, _RAW = range(4)


def _kind_table() -> list[tuple[type | tuple[type, ...], int]]:
    """(streams, stream managers, raw responses) of the loaded SDK (imported on the first call). Older SDKs'
    ``with_raw_response`` gives a ``LegacyAPIResponse``, which is no ``BaseAPIResponse``."""
    from anthropic import AsyncStream, Stream
    from anthropic._response import BaseAPIResponse
    from anthropic.lib import streaming

    names: tuple[str, ...] = ("MessageStreamManager", "AsyncMessageStreamManager")
    names += ("BetaMessageStreamManager", "BetaAsyncMessageStreamManager")
    managers = tuple(t for t in (getattr(streaming, n, None) for n in names) if isinstance(t, type))
    raw_types: tuple[type, ...] = (BaseAPIResponse,)
    try:  # by name: anthropic 2.x has no such module
        legacy = getattr(importlib.import_module("anthropic._legacy_response"), "LegacyAPIResponse", None)
    except ImportError:
        legacy = None
    if isinstance(legacy, type):
        raw_types += (legacy,)
    return [((Stream, AsyncStream), _STREAM), (managers, _MANAGER), (raw_types, _RAW)]


_kind = ResultKinds(_kind_table, _MODEL)


def dispatch(inv: Invocation, api: Adapter, kwargs: Mapping[str, Any], result: Any, hide_usage: bool) -> Any:
    """What the caller gets (the core's ``Dispatch``): ``result`` itself (a stream observed in place), or a proxy
    of a stream manager."""
    kind = _kind(result)
    if kind == _MODEL:
        complete(inv, api, result)
        return result
    if kind == _STREAM:
        return observe(result, inv, api.stream_handler(inv, kwargs, hide_usage))
    if kind == _MANAGER:
        return manager_proxy(result, inv, api.stream_handler(inv, kwargs, hide_usage), inner="_raw_stream")
    # A raw response: the span waits for its parse (or close, or its end as garbage).
    raw.hold(result, inv, api, kwargs, False)
    http = getattr(result, "http_response", None)
    if getattr(http, "is_closed", False):
        # with_raw_response of a complete Message has read the body already: parse it now so the span ends with
        # the call. The sync parse() caches its result: the caller's own parse() gets the very same object. The
        # async one is a coroutine; its (synchronous) _parse gives the facts, and the caller's parse() later makes
        # its own object as it would have.
        try:
            if inspect.iscoroutinefunction(type(result).parse):
                result._parse()
            else:
                result.parse()
        except Exception:
            swallowed("parsing a raw response")
            _RAW_RESPONSES.settle(result, None)
    return result


def observe(stream: Any, inv: Invocation, handler: ChunkHandler) -> Any:
    """The SDK's own Stream / AsyncStream, its events read through a stream proxy of ours.

    The caller gets the very object: anthropic before 1.0 gives ``Stream`` a metaclass whose ``isinstance()``
    is true for the exact class only, so no proxy of the stream could pass for it. Every way the SDK's stream
    reads its events (``__iter__``, ``__next__``, async alike) goes through its ``_iterator`` (made in
    ``__init__`` before 1.0, a cached property since): that one is proxied in the stream's own ``__dict__``. The
    proxy ends the span when the events end or fail, or when the stream is dropped (its finaliser); ``close()``
    and a ``with`` block's exit end it through the hooks below."""
    try:
        stream.__dict__[_ITERATOR] = stream_proxy(stream._iterator, inv, handler)
    except Exception:
        swallowed("observing a stream")  # a stream of a shape we do not know: left alone, unobserved
        if not inv.ended:
            inv.end()
    return stream


def _end_observed(stream: Any, exc: BaseException | None = None) -> None:
    end_stream(getattr(stream, "__dict__", {}).get(_ITERATOR), exc)


def stream_close_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """Around ``Stream.close``: the SDK closes the HTTP response, not the iterator we observe."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        _end_observed(instance)


async def async_stream_close_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _end_observed(instance)


def _raised(args: Any) -> BaseException | None:
    """The exception of ``__exit__(exc_type, exc, tb)``'s arguments, if the ``with`` block raised."""
    exc = args[1] if len(args) > 1 else None
    return exc if isinstance(exc, BaseException) else None


def stream_exit_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """Around ``Stream.__exit__``: a block that raised ends the stream's span with the caller's exception
    (the SDK's exit then closes it, which would end it as a success)."""
    exc = _raised(args)
    if exc is not None:
        _end_observed(instance, exc)
    return wrapped(*args, **kwargs)


async def async_stream_exit_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    exc = _raised(args)
    if exc is not None:
        _end_observed(instance, exc)
    return await wrapped(*args, **kwargs)


def _close_parsed_streams(response: Any) -> None:
    """A response parsed into a stream and then closed: the body under the stream is gone, so is its span."""
    for parsed in (getattr(response, "_parsed_by_type", None) or {}).values():
        _end_observed(parsed)


_RAW_RESPONSES = raw.RawResponses(dispatch, _close_parsed_streams)
parse_hook = _RAW_RESPONSES.parse_hook
"""Around ``BaseAPIResponse._parse`` (and 0.x's ``LegacyAPIResponse._parse``): see core/raw.py."""
close_hook = _RAW_RESPONSES.close_hook
"""Around ``APIResponse.close``: a streamed response closed before it was parsed ends its span; one parsed
into a stream ends that stream's span."""
async_close_hook = _RAW_RESPONSES.async_close_hook


# -- the SDK's native tracing ---------------------------------------------------------------------------------------

_INFERENCE = frozenset({sc.GenAiOperationNameValues.CHAT, sc.GenAiOperationNameValues.TEXT_COMPLETION})


def native_span_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """Around the SDK's ``start_api_call_span``: under a current GenAI inference span, the SDK gets a
    non-recording span with that span's context instead of a span of its own (see the module docstring)."""
    try:
        current = trace.get_current_span()
        attributes = getattr(current, "attributes", None) if current.is_recording() else None
        if attributes is not None and attributes.get(sc.GEN_AI_OPERATION_NAME) in _INFERENCE:
            return trace.NonRecordingSpan(current.get_span_context())
    except Exception:
        swallowed("deferring the SDK's native span")
    return wrapped(*args, **kwargs)
