"""What the OpenAI APIs share beyond the core's call wrapper: endpoint lookup, result dispatch, raw responses.

Each API module (chat, completions, embeddings, responses) provides an :class:`Api`, the core's adapter contract
(:mod:`llmtel.core.adapter`) for that API. The core's wrapper (:mod:`llmtel.core.call`) runs the call around it
and hands the result to :func:`dispatch`:

    model object            → Api.response(...) → end
    Stream / AsyncStream    → stream proxy that feeds Api's ChunkHandler
    with_raw_response       → the same LegacyAPIResponse, its parse() observed
    with_streaming_response → the same APIResponse, its parse()/close() observed

Raw responses are returned as the very object the SDK made. We observe them through a class-level hook on the
SDK's private ``_parse``: its result is cached by ``parse()``, so the caller's ``.parse()`` returns our stream
proxy (for streams) or the model we already read, and ``.headers``, ``.iter_lines()``, ``close()`` are untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llmtel import semconv as sc
from llmtel._internal import swallowed
from llmtel.core import endpoints, raw
from llmtel.core.adapter import Adapter, Converter, choice_count, integer, number, stop_sequences, string
from llmtel.core.call import ResultKinds, complete
from llmtel.core.invocation import Invocation, Telemetry
from llmtel.core.streams import end_stream, stream_proxy


class Api(Adapter):
    """One OpenAI API's translation (the core's adapter contract, plus the ``openai.api.type`` it reports)."""

    api_type: str | None = None  # openai.api.type

    def __init__(self) -> None:
        if self.api_type:
            self.static = {sc.OPENAI_API_TYPE: self.api_type}


# -- OpenAI request parameters -------------------------------------------------------------------------------


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


def service_tier(value: Any) -> str | None:
    """``openai.request.service_tier`` is set only for a tier other than ``auto``."""
    value = string(value)
    return value if value and value != "auto" else None


# -- endpoint and results -------------------------------------------------------------------------------------------


def endpoint_of(instance: Any, telemetry: Telemetry) -> endpoints.Endpoint:
    """The endpoint of the client this resource belongs to (the core's ``EndpointOf``)."""
    # Keyed by the identity of the client's URL object (clients keep theirs; str() of it costs ~5 µs per call).
    # The client's private ``_base_url`` first: openai 3's public ``base_url`` property runs an import per read.
    client = getattr(instance, "_client", None)
    base_url = getattr(client, "_base_url", None) or getattr(client, "base_url", None)
    found = telemetry.endpoint_cache.get(base_url)
    if found is not None:
        return found
    # Azure OpenAI clients carry their api-version as a default query parameter; it decides whether the
    # endpoint accepts stream_options (core/endpoints.py). Read on a cache miss only.
    query = getattr(client, "_custom_query", None)
    api_version = query.get("api-version") if isinstance(query, Mapping) else None
    found = endpoints.resolve(
        base_url or "", sc.GenAiProviderNameValues.OPENAI, telemetry.config.provider_map, api_version
    )
    return telemetry.endpoint_cache.put(base_url, found)


_MODEL, _STREAM, _RAW, _LEGACY_RAW = range(4)


def _kind_table() -> list[tuple[type | tuple[type, ...], int]]:
    """The SDK's stream and raw-response classes (imported on the first call: openai is loaded by then)."""
    from openai import AsyncStream, Stream
    from openai._legacy_response import LegacyAPIResponse
    from openai._response import BaseAPIResponse

    return [((Stream, AsyncStream), _STREAM), (LegacyAPIResponse, _LEGACY_RAW), (BaseAPIResponse, _RAW)]


_kind = ResultKinds(_kind_table, _MODEL)


def dispatch(inv: Invocation, api: Adapter, kwargs: Mapping[str, Any], result: Any, hide_usage: bool) -> Any:
    """What the caller gets (the core's ``Dispatch``): ``result`` itself, or a faithful proxy for a stream."""
    kind = _kind(result)
    if kind == _MODEL:
        complete(inv, api, result)
        return result
    if kind == _STREAM:
        return stream_proxy(result, inv, api.stream_handler(inv, kwargs, hide_usage))
    raw.hold(result, inv, api, kwargs, hide_usage)
    if kind == _LEGACY_RAW:
        # with_raw_response has read the body already; parse now (the SDK caches it) so the span ends when
        # the call does. The caller's own .parse() gets the same object back.
        try:
            result.parse()
        except Exception:
            swallowed("parsing a raw response")
            _RAW_RESPONSES.settle(result, None)
    return result


_RAW_RESPONSES = raw.RawResponses(dispatch)
parse_hook = _RAW_RESPONSES.parse_hook
"""Around ``BaseAPIResponse._parse`` / ``LegacyAPIResponse._parse`` (core/raw.py)."""
close_hook = _RAW_RESPONSES.close_hook
"""Around ``APIResponse.close``: a streamed response closed before it was parsed ends its span."""
async_close_hook = _RAW_RESPONSES.async_close_hook


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
