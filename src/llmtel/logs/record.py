"""The completion record: one JSON object per GenAI call, built from its span and/or its details event.

Both sources are first turned into neutral shapes (:class:`SpanData`, :class:`EventData`) by whoever received
them (the in-process exporter from SDK objects, the receiver and the file reader from OTLP), so one function
builds a record whatever the transport. Every value is untrusted: a span may come from any process on the
network, so each field is type-checked and size-limited, and a value of the wrong type is ``None``, never a
guess and never a made-up zero.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from llmtel import semconv as sc
from llmtel.core.values import text, token_count
from llmtel.logs import prices

TOKEN_FIELDS: tuple[str, ...] = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)

FIELDS: tuple[str, ...] = (
    "time",
    "trace_id",
    "span_id",
    "service",
    "agent",
    "conversation_id",
    "provider",
    "operation",
    "request_model",
    "response_model",
    "stream",
    "duration_ms",
    "time_to_first_chunk_ms",
    *TOKEN_FIELDS,
    "cost_usd",
    "finish_reasons",
    "error_type",
    "error_message",
    "server_address",
    "system_instructions",
    "input_messages",
    "output_messages",
    "tool_definitions",
)
"""Every record has exactly these keys, in this order (the README documents them)."""

CONTENT_FIELDS: dict[str, str] = {
    "system_instructions": sc.GEN_AI_SYSTEM_INSTRUCTIONS,
    "input_messages": sc.GEN_AI_INPUT_MESSAGES,
    "output_messages": sc.GEN_AI_OUTPUT_MESSAGES,
    "tool_definitions": sc.GEN_AI_TOOL_DEFINITIONS,
}
"""Record field → the attribute holding it (a JSON string on a span, structured on the details event)."""

Record = dict[str, Any]

# Operations that are not LLM calls: the agent and tool spans give context (agent name) but are not records.
_NOT_CALLS = frozenset(
    {
        sc.GenAiOperationNameValues.INVOKE_AGENT,
        sc.GenAiOperationNameValues.EXECUTE_TOOL,
        sc.GenAiOperationNameValues.INVOKE_WORKFLOW,
    }
)
_CONTEXT_OPERATIONS = _NOT_CALLS

# Limits on what one record may hold. Names and ids are short in practice; anything longer is not trusted.
MAX_NAME = 512
MAX_MESSAGE = 8192
MAX_CONTENT_JSON = 4 * 1024 * 1024
"""Content (all four fields together, as JSON) beyond this is dropped from the record, the rest kept."""
_MAX_REASONS = 64


@dataclass
class SpanData:
    """A span, from wherever it came: ids as lowercase hex, times in ns since the epoch."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    error: bool = False
    status_message: str | None = None
    service: str | None = None
    scope: str | None = None
    exception_messages: Sequence[str] = field(default_factory=tuple)


@dataclass
class EventData:
    """A log record, from wherever it came; only the details event makes (part of) a record."""

    trace_id: str | None
    span_id: str | None
    time_ns: int | None
    event_name: str | None
    attributes: Mapping[str, Any]
    service: str | None = None


@dataclass
class Entry:
    """What the store is given: the record, where it hangs in the trace, and which source it came from."""

    record: Record
    parent_span_id: str | None
    from_span: bool


@dataclass
class AgentLink:
    """An agent or tool span: the agent its child calls belong to (a record's ``agent``)."""

    trace_id: str
    span_id: str
    agent: str | None
    conversation_id: str | None
    time_ns: int


# -- validated values -----------------------------------------------------------------------------------------


def name(value: Any, limit: int = MAX_NAME) -> str | None:
    """A non-empty string, valid UTF-8, at most ``limit`` characters, else None."""
    if not isinstance(value, str) or not value:
        return None
    return text(value[:limit])


def hex_id(value: Any, length: int) -> str | None:
    """A trace (32) or span (16) id as lowercase hex; the all-zero id is no id."""
    if not isinstance(value, str) or len(value) != length:
        return None
    lowered = value.lower()
    if lowered.strip("0123456789abcdef") or not lowered.strip("0"):
        return None
    return lowered


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") and number >= 0 else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _reasons(value: Any) -> list[str] | None:
    if not isinstance(value, (list, tuple)) or len(value) > _MAX_REASONS:
        return None
    reasons = [found for found in (name(v, 64) for v in value) if found is not None]
    return reasons if len(reasons) == len(value) else None


def iso(ns: int) -> str:
    """ISO 8601 UTC with microseconds and a ``Z``: sorts as text, parses everywhere."""
    moment = datetime.fromtimestamp(ns // 1000 / 1e6, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> int | None:
    """ns since the epoch of an ISO 8601 time (naive times are UTC), or None."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1_000_000) * 1000


def _plain(value: Any, depth: int = 0) -> Any:
    """A structured attribute value as JSON-ready data: the SDK hands sequences over as tuples (and mappings
    of its own kinds); anything not JSON-shaped becomes its text; nesting past any sane depth is cut off."""
    if depth > 64:
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _content(value: Any) -> list[Any] | None:
    """A content attribute: a list, given structured (an event) or as its JSON text (a span)."""
    if isinstance(value, str):
        if len(value) > MAX_CONTENT_JSON:
            return None
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    elif isinstance(value, tuple):
        value = _plain(value)
    return value if isinstance(value, list) else None


_tables: dict[str, prices.PriceTable] = {}


def price_table() -> prices.PriceTable:
    """The price table of this process: the bundled one, or as ``$LLMTEL_PRICES`` extends it. Each value of the
    variable is read once (a file is not re-read per record; a changed variable, as in tests, is honoured)."""
    key = os.environ.get(prices.ENV) or ""
    table = _tables.get(key)
    if table is None:
        if len(_tables) > 8:
            _tables.clear()
        table = _tables[key] = prices.load(key or None)
    return table


def price(record: Record) -> float | None:
    """The call's estimated cost in USD at list prices, from its provider, requested model and tokens."""
    return price_table().cost_usd(
        record["provider"],
        record["request_model"],
        record["input_tokens"],
        record["output_tokens"],
        record["cache_read_tokens"],
        record["cache_write_tokens"],
    )


def _empty() -> Record:
    return dict.fromkeys(FIELDS)


def _fill(record: Record, attrs: Mapping[str, Any]) -> None:
    """The fields a span and its details event share (the event carries the span's attribute set)."""
    record["provider"] = name(attrs.get(sc.GEN_AI_PROVIDER_NAME))
    record["operation"] = name(attrs.get(sc.GEN_AI_OPERATION_NAME))
    record["request_model"] = name(attrs.get(sc.GEN_AI_REQUEST_MODEL))
    record["response_model"] = name(attrs.get(sc.GEN_AI_RESPONSE_MODEL))
    record["conversation_id"] = name(attrs.get(sc.GEN_AI_CONVERSATION_ID))
    record["agent"] = name(attrs.get(sc.GEN_AI_AGENT_NAME))
    record["stream"] = _bool(attrs.get(sc.GEN_AI_REQUEST_STREAM))
    ttfc = _float(attrs.get(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
    record["time_to_first_chunk_ms"] = round(ttfc * 1000, 3) if ttfc is not None else None
    inputs = token_count(attrs.get(sc.GEN_AI_USAGE_INPUT_TOKENS))
    outputs = token_count(attrs.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS))
    record["input_tokens"], record["output_tokens"] = inputs, outputs
    # The sum only when both were reported: a total with one side missing would be a made-up number.
    record["total_tokens"] = inputs + outputs if inputs is not None and outputs is not None else None
    record["cache_read_tokens"] = token_count(attrs.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS))
    cache_write = token_count(attrs.get(sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS))
    if cache_write is None:  # the name before semconv renamed it (older instrumentations still send it)
        cache_write = token_count(attrs.get(sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS))
    record["cache_write_tokens"] = cache_write
    record["reasoning_tokens"] = token_count(attrs.get(sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS))
    record["cost_usd"] = price(record)
    record["finish_reasons"] = _reasons(attrs.get(sc.GEN_AI_RESPONSE_FINISH_REASONS))
    record["error_type"] = name(attrs.get(sc.ERROR_TYPE))
    record["server_address"] = name(attrs.get(sc.SERVER_ADDRESS))
    contents = {key: _content(attrs.get(attr)) for key, attr in CONTENT_FIELDS.items()}
    found = {key: value for key, value in contents.items() if value is not None}
    if found and len(json.dumps(found, ensure_ascii=False, default=str)) <= MAX_CONTENT_JSON:
        record.update(found)


def is_call(attrs: Mapping[str, Any]) -> bool:
    """A GenAI call: it names an operation, and that operation is not an agent's or a tool's."""
    operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
    return isinstance(operation, str) and bool(operation) and operation not in _NOT_CALLS


def from_span(span: SpanData) -> Entry | None:
    """The record of a GenAI call span; None for any other span (agent, tool, HTTP …) or a span without ids."""
    attrs = span.attributes
    trace_id, span_id = hex_id(span.trace_id, 32), hex_id(span.span_id, 16)
    if not is_call(attrs) or trace_id is None or span_id is None or span.start_ns <= 0:
        return None
    record = _empty()
    _fill(record, attrs)
    record["time"] = iso(span.start_ns)
    record["trace_id"], record["span_id"] = trace_id, span_id
    record["service"] = name(span.service)
    if span.end_ns >= span.start_ns:
        record["duration_ms"] = round((span.end_ns - span.start_ns) / 1e6, 3)
    if record["stream"] is None and span.scope == "llmtel":
        record["stream"] = False  # llmtel sets gen_ai.request.stream only on streams; elsewhere absent is unknown
    if span.error or record["error_type"] is not None:
        message = span.status_message or next(iter(span.exception_messages), None)
        record["error_message"] = name(message, MAX_MESSAGE)
    return Entry(record, hex_id(span.parent_span_id, 16), from_span=True)


def from_event(event: EventData) -> Entry | None:
    """The record of a details event (its content, and the call's attributes); None for any other log record.

    Without its span the call's start and duration are unknown: ``time`` is then the event's own timestamp
    (the end of the call) until the span arrives and replaces it.
    """
    if event.event_name != sc.GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS:
        return None
    trace_id, span_id = hex_id(event.trace_id, 32), hex_id(event.span_id, 16)
    if trace_id is None or span_id is None or not event.time_ns or event.time_ns <= 0:
        return None
    record = _empty()
    _fill(record, event.attributes)
    record["time"] = iso(event.time_ns)
    record["trace_id"], record["span_id"] = trace_id, span_id
    record["service"] = name(event.service)
    return Entry(record, None, from_span=False)


def agent_link(span: SpanData) -> AgentLink | None:
    """An agent or tool span, as the agent (and conversation) of the calls made under it; else None."""
    attrs = span.attributes
    trace_id, span_id = hex_id(span.trace_id, 32), hex_id(span.span_id, 16)
    if attrs.get(sc.GEN_AI_OPERATION_NAME) not in _CONTEXT_OPERATIONS or trace_id is None or span_id is None:
        return None
    agent, conversation = name(attrs.get(sc.GEN_AI_AGENT_NAME)), name(attrs.get(sc.GEN_AI_CONVERSATION_ID))
    if agent is None and conversation is None:
        return None
    return AgentLink(trace_id, span_id, agent, conversation, max(span.start_ns, 0))


def merge(old: Record, new: Record, new_from_span: bool) -> Record:
    """One record from a span's and its event's: the span's values win (it has the timing), the event fills
    what the span lacks (its content, when capture routes content to events only)."""
    primary, secondary = (new, old) if new_from_span else (old, new)
    merged = dict(primary)
    for key in FIELDS:
        if merged.get(key) is None and secondary.get(key) is not None:
            merged[key] = secondary[key]
    return merged


def clean(value: Any) -> Record | None:
    """A record read back from JSONL (ours, or anyone's): every field re-validated, unknown keys dropped."""
    if not isinstance(value, dict):
        return None
    trace_id, span_id = hex_id(value.get("trace_id"), 32), hex_id(value.get("span_id"), 16)
    start = parse_iso(value["time"]) if isinstance(value.get("time"), str) else None
    if trace_id is None or span_id is None or start is None:
        return None
    record = _empty()
    record.update(time=iso(start), trace_id=trace_id, span_id=span_id)
    for key in ("service", "agent", "conversation_id", "provider", "operation", "request_model", "response_model"):
        record[key] = name(value.get(key))
    for key in ("error_type", "server_address"):
        record[key] = name(value.get(key))
    record["error_message"] = name(value.get("error_message"), MAX_MESSAGE)
    record["stream"] = _bool(value.get("stream"))
    for key in ("duration_ms", "time_to_first_chunk_ms", "cost_usd"):
        record[key] = _float(value.get(key))
    for key in TOKEN_FIELDS:
        record[key] = token_count(value.get(key))
    record["finish_reasons"] = _reasons(value.get("finish_reasons"))
    for key in CONTENT_FIELDS:
        found = value.get(key)
        record[key] = found if isinstance(found, list) else None
    return record


def time_ns(record: Record) -> int:
    """The record's ``time`` as ns (records are built with a valid one)."""
    found = parse_iso(record["time"]) if isinstance(record.get("time"), str) else None
    return found or 0


def search_text(record: Record) -> str:
    """What ``--search`` looks in: every string in the content, the error, the models and the agent."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    for key in ("agent", "request_model", "response_model", "error_type", "error_message", *CONTENT_FIELDS):
        walk(record.get(key))
    return text("\n".join(out))
