"""What the Google Gen AI methods share beyond the core's call wrapper: the endpoint, the result dispatch,
``error.type``, the request's ``config`` and the one-shot ``contents``.

Each method's translation (generate.py, embed.py) is an :class:`Api`, the core's adapter contract
(:mod:`llmtel.core.adapter`). The core's wrapper (:mod:`llmtel.core.call`) runs the call around it and hands the
result to :func:`dispatch`:

    GenerateContentResponse / EmbedContentResponse → Api.response(...) → end
    generator / async generator (the *_stream methods)  → stream proxy that feeds the Api's ChunkHandler
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from enum import Enum
from typing import Any

from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc
from llmtel._internal import swallowed
from llmtel.core import endpoints
from llmtel.core.adapter import Adapter, Converter, RequestTable, field, request_attributes, view
from llmtel.core.call import complete
from llmtel.core.invocation import Invocation, Telemetry, suppressed
from llmtel.core.streams import stream_proxy

_GEMINI = sc.GenAiProviderNameValues.GCP_GEMINI
_VERTEX = sc.GenAiProviderNameValues.GCP_VERTEX_AI
_GOOGLE = frozenset({_GEMINI, _VERTEX})


# -- endpoint -----------------------------------------------------------------------------------------------------


def endpoint_of(instance: Any, telemetry: Telemetry) -> endpoints.Endpoint:
    """The endpoint of the client ``models`` / ``aio.models`` belongs to (the core's ``EndpointOf``).

    The provider is the client's configuration: ``vertexai=True`` is Vertex AI whatever its base URL (a local
    proxy, a private endpoint), else the Gemini Developer API. A host another provider's entry in the table or
    ``LLMTEL_PROVIDER_MAP`` names keeps that provider. Cached by the identity of the base URL string and the
    flag: clients keep both for their life, and the look-up runs on every call.
    """
    api_client = getattr(instance, "_api_client", None)
    vertex = getattr(api_client, "vertexai", None) is True
    # an HttpOptions model; a dict before google-genai 1.x's typed options
    base_url = field(getattr(api_client, "_http_options", None), "base_url")
    found = telemetry.endpoint_cache.get(base_url, vertex)
    if found is not None:
        return found
    provider = _VERTEX if vertex else _GEMINI
    found = endpoints.resolve(base_url or "", provider, telemetry.config.provider_map)
    if found.provider in _GOOGLE and found.provider != provider:
        found = found._replace(provider=provider)  # the host says Google; the client says which of its APIs
    return telemetry.endpoint_cache.put(base_url, found, vertex)


# -- results ------------------------------------------------------------------------------------------------------


def dispatch(inv: Invocation, api: Adapter, kwargs: Mapping[str, Any], result: Any, hide_usage: bool) -> Any:
    """What the caller gets (the core's ``Dispatch``): ``result`` itself, or a faithful proxy of a stream.

    The stream methods return a generator (sync) or an async generator (async, once awaited); the HTTP request
    is made when the caller first reads it, so a failed request (404, 429 …) ends the span from the proxy, with
    the exception the caller gets.
    """
    if not api.streaming:
        complete(inv, api, result)
        return result
    try:
        return stream_proxy(result, inv, api.stream_handler(inv, kwargs, hide_usage))
    except TypeError:  # not a stream after all (a future SDK): not wrapped, the span ends now
        swallowed("a Google Gen AI stream method returned no stream")
        complete(inv, api, result)
        return result


class Api(Adapter):
    """One Google Gen AI method's translation: the adapter contract, with this SDK's ``error.type``."""

    def error_type(self, exc: BaseException) -> str | None:
        """``APIError.code`` (the HTTP status, also for an error event inside a stream) as a string; the core's
        rule for anything else (``httpx2.ReadTimeout`` …), but ``google.genai.<class>`` for the SDK's own
        exceptions, whose top-level package ``google`` alone would not tell which library raised them."""
        cls = type(exc)
        if not cls.__module__.startswith("google.genai"):
            return None  # another library's ``code`` (a websocket close code, an errno name) is no HTTP status
        code = getattr(exc, "code", None)
        if type(code) is int and 100 <= code <= 599:
            return str(code)
        return f"google.genai.{cls.__qualname__}"


# -- automatic function calling -------------------------------------------------------------------------------------
#
# With Python functions as tools, ``models.generate_content`` runs the app's functions itself, inside the call, so
# inside our span's context: an LLM call the app's function makes would be taken for a nested SDK call and get no
# span (see llmtel.core.invocation.suppressed). While the SDK runs the app's functions
# (``_extra_utils.get_function_response_parts`` and its async twin), the current span is the same span as a
# non-recording one: the app's calls there are children of the call that ran them, and get their own spans.


def _uncovered() -> object:
    """Attach the context the app's functions run in, when the current span is an inference span; else None."""
    try:
        ctx = context.get_current()
        if ctx.get(_SUPPRESS_INSTRUMENTATION_KEY) or not suppressed(ctx):
            return None  # the app suppressed instrumentation itself, or no inference span is current
        span_context = trace.get_current_span(ctx).get_span_context()
        return context.attach(trace.set_span_in_context(trace.NonRecordingSpan(span_context), ctx))
    except Exception:
        swallowed("automatic function calling context")
        return None


def _covered(token: object) -> None:
    if token is not None:
        try:
            context.detach(token)  # type: ignore[arg-type]
        except Exception:
            swallowed("automatic function calling context")


def functions_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """Around ``get_function_response_parts``: the SDK calls the app's functions (see above)."""
    token = _uncovered()
    try:
        return wrapped(*args, **kwargs)
    finally:
        _covered(token)


async def async_functions_hook(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    token = _uncovered()
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _covered(token)


# -- the request's config -----------------------------------------------------------------------------------------


class ConfigTable:
    """A config's fields that become attributes: snake_case names (a config model's fields) → (attribute,
    converter), and the same with each name's camelCase spelling added, for dicts (the SDK's models accept both
    spellings through their alias generator, so apps write either)."""

    __slots__ = ("dicts", "models")

    def __init__(self, table: RequestTable) -> None:
        self.models: tuple[tuple[str, tuple[str, Converter]], ...] = tuple(table.items())
        spelled = dict(table)
        for name, spec in table.items():
            head, *rest = name.split("_")
            spelled[head + "".join(p.title() for p in rest)] = spec
        self.dicts: RequestTable = spelled


def config_attributes(config: Any, table: ConfigTable, attrs: dict[str, AttributeValue]) -> None:
    """The attributes of ``config`` (a ``GenerateContentConfig`` / ``EmbedContentConfig``, or a dict): the fields
    ``table`` names that are set. A config model has ~50 fields, nearly all None, and a call sets a few: the
    table's few names are looked up in its fields; a dict's few items are walked instead."""
    if config is None:
        return
    if type(config) is dict:
        request_attributes(config, table.dicts, attrs)
        return
    fields = view(config)
    for name, (key, convert) in table.models:
        value = fields.get(name)
        if value is not None:
            found = convert(value)
            if found is not None:
                attrs[key] = found


def config_field(config: Any, name: str, camel_name: str) -> Any:
    """One field of a config model or dict (either spelling)."""
    if config is None:
        return None
    if type(config) is dict:
        value = config.get(name)
        return config.get(camel_name) if value is None else value
    return view(config).get(name)


def enum_text(value: Any) -> str | None:
    """An SDK enum's (or the server's unknown) value as text: ``FinishReason.STOP`` → ``STOP``."""
    if isinstance(value, Enum):
        value = value.value
    return value if isinstance(value, str) and value else None


# -- one-shot contents --------------------------------------------------------------------------------------------


def one_shot(kwargs: Mapping[str, Any], name: str) -> Any:
    """``kwargs[name]``, read into a list when it is a one-shot iterator (a generator of parts), with the SDK
    given an iterator over the same items in its place.

    Why not the core's :attr:`Adapter.iterables` (a list for the SDK): google-genai treats a list and any other
    iterable differently (``t_contents``: a list is a list of contents, grouped; anything else one content whose
    parts the iterable holds). An iterator over the very items keeps the SDK's path, so the request it sends, or
    the error it raises, is the one it would have without us. An exception the app's generator raises while we
    read is raised to the SDK from the same position, as the generator would have.
    """
    value = kwargs.get(name)
    if value is None or not hasattr(type(value), "__next__") or not isinstance(kwargs, dict):
        return value
    items: list[Any] = []
    try:
        for item in value:
            items.append(item)
    except BaseException as exc:
        kwargs[name] = _replay(items, exc)
        return items
    kwargs[name] = iter(items)
    return items


def _replay(items: list[Any], exc: BaseException) -> Iterator[Any]:
    yield from items
    raise exc
