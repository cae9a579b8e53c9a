"""The adapter contract, and the neutral field helpers adapters are written with.

A provider package translates; the core records (DESIGN.md §1). For each kind of call it wraps, a provider
supplies an :class:`Adapter`: what the call's request, content, response and stream chunks mean as GenAI facts.
The core runs the call around it (:mod:`llmtel.core.call`): suppression, the span's lifecycle, the guards, the
result dispatch. Every adapter method runs inside a guard: an exception in it is swallowed (logged at debug) and
the call goes on, with whatever facts were written before it.

The helpers below read SDK objects without trusting them: an SDK model (pydantic 1 or 2), a dict (TypedDict
params, ``extra_body``, odd servers), or something else entirely from a misbehaving server. They never raise on
a wrong type; they return ``None`` (or write nothing) instead. What they return is fit for export
(:mod:`llmtel.core.values`): integers within int64, token counts non-negative, strings valid UTF-8.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from opentelemetry.util.types import AttributeValue

from llmtel.core.values import int64, text, token_count

if TYPE_CHECKING:
    from llmtel.core.endpoints import Endpoint
    from llmtel.core.invocation import Invocation, Telemetry
    from llmtel.core.streams import ChunkHandler


class Adapter:
    """One kind of call of one SDK (OpenAI chat completions, Anthropic messages, Bedrock converse …).

    Subclasses set :attr:`operation` and fill in what their API has; the defaults do nothing. The core calls, in
    order: :meth:`prepare` (may adjust the kwargs the SDK gets), :meth:`request` (request attributes), then,
    with content capture on, :meth:`content`; after the SDK returns, :meth:`response` for a complete result or
    :meth:`stream_handler` for a stream. :meth:`error_type` classifies the SDK's exceptions.
    """

    operation: str = ""
    static: Mapping[str, AttributeValue] = MappingProxyType({})
    """Attributes every call of this API carries (e.g. ``openai.api.type``)."""
    requests: RequestTable = MappingProxyType({})
    """The request kwargs that become attributes (see :func:`request_attributes`)."""
    iterables: tuple[str, ...] = ()
    """The content kwargs the SDK accepts as any iterable (a generator of messages …). With capture on, the core
    reads a one-shot iterable among them once, into a list it passes on to the SDK (:func:`llmtel.core.call.start`)."""
    item_iterables: tuple[str, ...] = ()
    """The same for the keys of each item (dict) of those kwargs, e.g. a message's ``content`` parts."""
    model_key: str = "model"
    """The kwarg that names the requested model (``gen_ai.request.model``; Bedrock's is ``modelId``)."""
    streaming: bool = False
    """Every call of this method streams (Gemini's ``generate_content_stream``, Bedrock's ``converse_stream``);
    otherwise a call streams when its ``stream`` kwarg is True."""

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        """Write the request's attributes (not model, stream or server: the core writes those)."""
        request_attributes(kwargs, self.requests, attrs)

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        """Hand the request's content to ``inv`` (``inv.set_content``); called only when capture is on."""

    def response(self, inv: Invocation, result: Any) -> None:
        """Write a complete (non-stream) result's facts into ``inv``."""

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> ChunkHandler:
        """The chunk handler for a streamed result of this call."""
        raise NotImplementedError

    def prepare(self, kwargs: dict[str, Any], telemetry: Telemetry, endpoint: Endpoint) -> bool:
        """Adjust the call's kwargs before it is made; return True if a chunk we asked for must be hidden."""
        return False

    def error_type(self, exc: BaseException) -> str | None:
        """``error.type`` for an exception the SDK raised (on the call, or from a stream); None for the core's
        rule (:func:`llmtel.core.invocation.error_type_of`: the HTTP status, else the exception's class)."""
        return None

    @functools.cached_property
    def classify(self) -> Callable[[BaseException], str | None] | None:
        """:meth:`error_type` where a subclass defines one, else None (the core's rule, with no call at all).
        Cached: it is read on every call."""
        return self.error_type if type(self).error_type is not Adapter.error_type else None


# -- field helpers ----------------------------------------------------------------------------------------------


def number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an int beyond any float (10**400): there is no number to tell
            return None
    return None


integer = int64
"""An ``int`` attribute: not a bool, and within OTLP's int64 (the exporter drops anything else, and logs an
error for it on every export)."""


def string(value: Any) -> str | None:
    """A non-empty string attribute, made valid UTF-8 (:func:`llmtel.core.values.text`; ASCII is an O(1) check)."""
    if isinstance(value, str) and value:
        return value if value.isascii() else text(value)
    return None


def put(attrs: dict[str, AttributeValue], key: str, value: AttributeValue | None) -> None:
    if value is not None:
        attrs[key] = value


def stop_sequences(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [text(value)]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return [text(v) for v in value]
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
    """Token counts. OpenAI's totals already include cached and reasoning tokens, as the conventions want.

    Only counts fit for export are written: an int (not a bool, not a string of digits), non-negative, within
    int64 (:func:`llmtel.core.values.token_count`). Anything else is left out, not clamped: a made-up count is
    worse than none. The check is inline, small counts first: single-digit ints (below 2**30) are the ones
    CPython compares fastest, and this runs for every count of every call.
    """
    if usage is None:
        return
    fields = view(usage)
    parent: Any = None
    parent_view: Mapping[str, Any] = _EMPTY
    for name, sub, key in table:
        value = fields.get(name)
        if sub is not None and value is not None:
            if value is not parent:  # tables list a details object's counts together: one view for them all
                parent, parent_view = value, view(value)
            value = parent_view.get(sub)
        if type(value) is int and ((value >= 0 and value <= 0x3FFF_FFFF) or token_count(value) is not None):
            resp[key] = value


def string_fields(obj: Any, table: tuple[tuple[str, str], ...], resp: dict[str, AttributeValue]) -> Mapping[str, Any]:
    """Copy the non-empty string fields that ``table`` names ((field, attribute) pairs); return the object's view.

    Each is made valid UTF-8 (:func:`llmtel.core.values.text`: lone surrogates become U+FFFD); the ASCII check
    is O(1), and response ids, model names and tiers are ASCII.
    """
    fields = view(obj)
    for name, key in table:
        value = fields.get(name)
        if isinstance(value, str) and value:
            resp[key] = value if value.isascii() else text(value)
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


def content_parts(value: Any, part_of: Callable[[Any, Any], dict[str, Any]]) -> list[dict[str, Any]]:
    """A message's content: ``None``, a string, or typed items that ``part_of(item, item_type)`` translates."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "text", "content": value}]
    return [part_of(item, field(item, "type")) for item in (value if isinstance(value, (list, tuple)) else [value])]
