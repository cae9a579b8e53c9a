"""OTLP requests (protobuf or JSON) → the neutral :class:`SpanData` / :class:`EventData`.

One walker serves every OTLP source: the receiver's JSON bodies, its protobuf bodies (turned into the same
dict shape by protobuf's own ``MessageToDict``), and the collector's file exporter output (OTLP JSON, one
request per line). The only difference between them is how ids are written: OTLP JSON gives hex, protobuf's
JSON mapping gives base64, hence ``ids``.

Nothing here trusts its input: a value of the wrong type is skipped, not an exception.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from llmtel.logs.record import EventData, SpanData

_MAX_DEPTH = 32
_STATUS_ERROR = (2, "STATUS_CODE_ERROR")

IdDecoder = Callable[[Any], "str | None"]


def hex_ids(value: Any) -> str | None:
    """OTLP JSON: ids are hex strings already."""
    return value.lower() if isinstance(value, str) else None


def base64_ids(value: Any) -> str | None:
    """protobuf's JSON mapping: bytes fields are base64."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    """OTLP JSON writes 64-bit integers as strings (and sometimes as numbers)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 20:
        return int(value)
    return 0


def any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP AnyValue as a plain Python value (None when it is none or malformed)."""
    if not isinstance(value, dict) or depth > _MAX_DEPTH:
        return None
    if "stringValue" in value:
        found = value["stringValue"]
        return found if isinstance(found, str) else None
    if "boolValue" in value:
        found = value["boolValue"]
        return found if isinstance(found, bool) else None
    if "intValue" in value:
        found = value["intValue"]
        if isinstance(found, str):
            try:
                return int(found)
            except ValueError:
                return None
        return found if isinstance(found, int) and not isinstance(found, bool) else None
    if "doubleValue" in value:
        found = value["doubleValue"]
        if isinstance(found, (int, float)) and not isinstance(found, bool):
            return float(found)
        return None
    if "arrayValue" in value:
        return [any_value(v, depth + 1) for v in _list(_dict(value["arrayValue"]).get("values"))]
    if "kvlistValue" in value:
        return attributes(_dict(value["kvlistValue"]).get("values"), depth + 1)
    if "bytesValue" in value:
        found = value["bytesValue"]
        return found if isinstance(found, str) else None
    return None


def attributes(values: Any, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in _list(values):
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = any_value(item.get("value"), depth)
    return out


def _service(resource: Any) -> str | None:
    found = attributes(_dict(resource).get("attributes")).get("service.name")
    return found if isinstance(found, str) else None


def spans(request: Any, ids: IdDecoder = hex_ids) -> Iterator[SpanData]:
    """The spans of an ExportTraceServiceRequest (as a dict)."""
    for resource_spans in _list(_dict(request).get("resourceSpans")):
        service = _service(_dict(resource_spans).get("resource"))
        for scope_spans in _list(_dict(resource_spans).get("scopeSpans")):
            scope = _dict(_dict(scope_spans).get("scope")).get("name")
            for span in _list(_dict(scope_spans).get("spans")):
                if not isinstance(span, dict):
                    continue
                status = _dict(span.get("status"))
                messages = []
                for event in _list(span.get("events")):
                    if _dict(event).get("name") == "exception":
                        message = attributes(_dict(event).get("attributes")).get("exception.message")
                        if isinstance(message, str):
                            messages.append(message)
                status_message = status.get("message")
                yield SpanData(
                    trace_id=ids(span.get("traceId")) or "",
                    span_id=ids(span.get("spanId")) or "",
                    parent_span_id=ids(span.get("parentSpanId")),
                    start_ns=_int(span.get("startTimeUnixNano")),
                    end_ns=_int(span.get("endTimeUnixNano")),
                    attributes=attributes(span.get("attributes")),
                    error=status.get("code") in _STATUS_ERROR,
                    status_message=status_message if isinstance(status_message, str) and status_message else None,
                    service=service,
                    scope=scope if isinstance(scope, str) else None,
                    exception_messages=messages,
                )


def events(request: Any, ids: IdDecoder = hex_ids) -> Iterator[EventData]:
    """The log records of an ExportLogsServiceRequest (as a dict)."""
    for resource_logs in _list(_dict(request).get("resourceLogs")):
        service = _service(_dict(resource_logs).get("resource"))
        for scope_logs in _list(_dict(resource_logs).get("scopeLogs")):
            for log in _list(_dict(scope_logs).get("logRecords")):
                if not isinstance(log, dict):
                    continue
                attrs = attributes(log.get("attributes"))
                # Older SDKs and collectors carried the event's name as the ``event.name`` attribute.
                event_name = log.get("eventName") or attrs.get("event.name")
                yield EventData(
                    trace_id=ids(log.get("traceId")),
                    span_id=ids(log.get("spanId")),
                    time_ns=_int(log.get("timeUnixNano")) or _int(log.get("observedTimeUnixNano")),
                    event_name=event_name if isinstance(event_name, str) else None,
                    attributes=attrs,
                    service=service,
                )
