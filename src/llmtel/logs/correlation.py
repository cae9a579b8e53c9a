"""Trace ids in the application's own logs: ``trace_id`` and ``span_id`` on every log line written while a span
is current, so a JSON log line can be joined to its trace (and to its ``llmtel logs`` record, keyed the same).

Two small pieces, for the two logging libraries an app is likely to use:

- :class:`TraceIdsFilter`, a :class:`logging.Filter` for stdlib ``logging``: add it to the *handler* that writes
  the JSON lines (``handler.addFilter(TraceIdsFilter())``). A filter on a handler sees every record that reaches
  that handler, from any logger (the SDKs' own ``openai``/``httpx`` debug lines too), and touches nothing else;
  a logger's filter would miss records propagated from child loggers. A record factory
  (:func:`logging.setLogRecordFactory`) would stamp every record of the process instead, whoever reads it: that
  is global state to install, chain and restore, and it is what ``opentelemetry-instrumentation-logging`` does
  with its ``otelTraceID``/``otelSpanID`` names; the filter composes with it (both sets of fields). Filters run
  in the thread that logs, where the span is current; with a :class:`logging.handlers.QueueHandler`, put the
  filter on the ``QueueHandler``, not on the handlers its listener thread feeds.
- :func:`add_trace_ids`, a ``structlog`` processor (``structlog.configure(processors=[..., add_trace_ids,
  ...JSONRenderer()])``). It is a plain function of ``(logger, method_name, event_dict)``: structlog is not
  imported here, and llmtel does not depend on it.

Ids are lowercase hex, 32 characters for the trace and 16 for the span, as in W3C ``traceparent``, the OTLP/JSON
files and ``llmtel logs``. Outside any span the fields are left out (a JSON line says "no trace" by not having
them), unless the filter is given ``missing=""`` (or another value) for a %-style format string that names
them. A value the app set itself (``extra={"trace_id": ...}``, ``log.bind(trace_id=...)``) is kept. Both are
cheap without a span: one context-variable look-up and a validity check.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, TypeVar

from opentelemetry import trace

__all__ = ["SPAN_ID", "TRACE_ID", "TraceIdsFilter", "add_trace_ids"]

TRACE_ID = "trace_id"
SPAN_ID = "span_id"

_EventDict = TypeVar("_EventDict", bound=MutableMapping[str, Any])


_last: tuple[trace.SpanContext | None, tuple[str, str] | None] = (None, None)
"""The last span context seen and its ids: a span's lines, one after another, format its ids once (and no span
at all is the same INVALID_SPAN_CONTEXT object every time). One tuple, replaced whole, so threads can share it."""


def _ids() -> tuple[str, str] | None:
    """The current span's (trace id, span id) in hex, or None without a valid current span."""
    global _last
    context = trace.get_current_span().get_span_context()
    seen, found = _last
    if context is seen:
        return found
    found = (format(context.trace_id, "032x"), format(context.span_id, "016x")) if context.is_valid else None
    _last = (context, found)
    return found


class TraceIdsFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` to each record while a span is current; never drops a record."""

    def __init__(self, missing: str | None = None) -> None:
        super().__init__()
        self.missing = missing

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            found = _ids()
            if found is None:
                if self.missing is None:
                    return True
                found = (self.missing, self.missing)
            fields = record.__dict__
            if TRACE_ID not in fields:
                fields[TRACE_ID] = found[0]
            if SPAN_ID not in fields:
                fields[SPAN_ID] = found[1]
        except Exception:  # a log line must never fail because of us: the record goes out without ids
            pass
        return True


def add_trace_ids(logger: Any, method_name: str, event_dict: _EventDict) -> _EventDict:
    """structlog processor: ``trace_id``/``span_id`` of the current span into the event, when there is one."""
    try:
        found = _ids()
        if found is not None:
            event_dict.setdefault(TRACE_ID, found[0])
            event_dict.setdefault(SPAN_ID, found[1])
    except Exception:  # as for the filter: the event is logged without ids rather than not at all
        pass
    return event_dict
