"""In-process exporters: GenAI spans and details events → records in the local store.

Registered as ``llmtel_logs`` under the OpenTelemetry exporter entry points, so
``OTEL_TRACES_EXPORTER=otlp,llmtel_logs`` and ``OTEL_LOGS_EXPORTER=otlp,llmtel_logs`` under
``opentelemetry-instrument`` write records with no code. The SDK runs exporters from its batch processors'
background threads: nothing here is on the app's call path.

Never breaking the app: the store is opened on the first export (on that background thread), a directory that
cannot hold it gives one warning and the exporter then drops records; any other error is logged at debug and
the batch is dropped, reported as success so the SDK does not log it again for every batch.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from llmtel.logs.record import AgentLink, Entry, EventData, SpanData, agent_link, from_event, from_span
from llmtel.logs.store import DEFAULT_MAX_AGE_S, DEFAULT_MAX_BYTES, Store, StoreError

_logger = logging.getLogger(__name__)

LOG_DIR_ENV = "LLMTEL_LOG_DIR"
DEFAULT_LOG_DIR = "llmtel-logs"
MAX_MB_ENV = "LLMTEL_LOG_MAX_MB"
MAX_DAYS_ENV = "LLMTEL_LOG_MAX_DAYS"


def limits(max_mb: str | None = None, max_days: str | None = None) -> tuple[int | None, float | None]:
    """(size limit in bytes, age limit in seconds) from these texts or ``$LLMTEL_LOG_MAX_MB`` /
    ``$LLMTEL_LOG_MAX_DAYS``; ``0`` turns a limit off; a bad value warns once and keeps the default."""
    out: list[float | None] = []
    for given, env, default, unit in (
        (max_mb, MAX_MB_ENV, DEFAULT_MAX_BYTES, 1024 * 1024),
        (max_days, MAX_DAYS_ENV, DEFAULT_MAX_AGE_S, 86400),
    ):
        value = given if given is not None else os.environ.get(env)
        if not value:
            out.append(default)
            continue
        try:
            number = float(value)
            if not number >= 0 or number == float("inf"):
                raise ValueError(value)
        except ValueError:
            _logger.warning("llmtel logs: %s=%r is not a number >= 0; using the default", env, value)
            out.append(default)
            continue
        out.append(number * unit if number else None)
    size, age = out
    return (int(size) if size is not None else None), age


def log_dir(directory: str | os.PathLike[str] | None = None) -> str:
    """The store directory: the one given, else ``$LLMTEL_LOG_DIR``, else ``./llmtel-logs``."""
    return os.fspath(directory) if directory is not None else os.environ.get(LOG_DIR_ENV) or DEFAULT_LOG_DIR


class _Sink:
    """One store per directory per process, shared by the span and the log exporter."""

    _sinks: dict[str, _Sink] = {}
    _sinks_lock = threading.Lock()

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._store: Store | None = None
        self._failed = False
        self._warned = False
        self._lock = threading.Lock()
        self.users = 0  # exporters sharing it: the last one to shut down closes the store
        self._pid = os.getpid()

    @classmethod
    def for_directory(cls, directory: str) -> _Sink:
        key = os.path.abspath(directory)
        with cls._sinks_lock:
            sink = cls._sinks.get(key)
            if sink is None:
                sink = cls._sinks[key] = _Sink(directory)
            sink.users += 1
            return sink

    def store(self) -> Store | None:
        with self._lock:
            if self._store is not None and self._pid != os.getpid():
                # A forked worker (gunicorn, multiprocessing) inherited the parent's connection: SQLite forbids
                # using it across a fork, and closing it here could disturb the parent's. Left alone; a new one.
                self._store = None
            if self._store is None and not self._failed:
                self._pid = os.getpid()
                try:
                    max_bytes, max_age_s = limits()
                    self._store = Store(self.directory, max_bytes=max_bytes, max_age_s=max_age_s)
                except StoreError as exc:
                    self._failed = True
                    _logger.warning("llmtel logs: records are not written: %s", exc)
            return self._store

    def write(self, entries: Sequence[Entry], links: Sequence[AgentLink]) -> None:
        store = self.store()
        if store is None:
            return
        try:
            store.write(entries, links)
        except Exception as exc:  # a full disk, a locked database past the timeout …: this batch is lost
            if not self._warned:
                self._warned = True
                _logger.warning("llmtel logs: a batch of records was not written: %s", exc)
            else:
                _logger.debug("llmtel logs: a batch of records was not written", exc_info=True)

    def release(self) -> None:
        with _Sink._sinks_lock:
            self.users -= 1
            if self.users > 0:
                return
            _Sink._sinks.pop(os.path.abspath(self.directory), None)
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def span_data(span: ReadableSpan) -> SpanData | None:
    """The neutral shape of an SDK span (None without a span context)."""
    ctx = span.context
    if ctx is None:
        return None
    parent = span.parent
    messages = [
        str(event.attributes["exception.message"])
        for event in span.events
        if event.name == "exception" and event.attributes and "exception.message" in event.attributes
    ]
    service = span.resource.attributes.get("service.name") if span.resource is not None else None
    scope = span.instrumentation_scope.name if span.instrumentation_scope is not None else None
    return SpanData(
        trace_id=f"{ctx.trace_id:032x}",
        span_id=f"{ctx.span_id:016x}",
        parent_span_id=f"{parent.span_id:016x}" if parent is not None else None,
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        attributes=dict(span.attributes or {}),
        error=span.status.status_code is StatusCode.ERROR,
        status_message=span.status.description,
        service=service if isinstance(service, str) else None,
        scope=scope,
        exception_messages=messages,
    )


def event_data(item: ReadableLogRecord) -> EventData:
    record = item.log_record
    service = item.resource.attributes.get("service.name") if item.resource is not None else None
    attrs: dict[str, Any] = dict(record.attributes or {})
    return EventData(
        trace_id=f"{record.trace_id:032x}" if record.trace_id else None,
        span_id=f"{record.span_id:016x}" if record.span_id else None,
        time_ns=record.timestamp or record.observed_timestamp,
        event_name=record.event_name or attrs.get("event.name"),
        attributes=attrs,
        service=service if isinstance(service, str) else None,
    )


def span_entries(spans: Sequence[SpanData]) -> tuple[list[Entry], list[AgentLink]]:
    """The records and agent links among these spans (the rest is not ours to keep)."""
    entries: list[Entry] = []
    links: list[AgentLink] = []
    for span in spans:
        entry = from_span(span)
        if entry is not None:
            entries.append(entry)
            continue
        link = agent_link(span)
        if link is not None:
            links.append(link)
    return entries, links


class _SinkUser:
    """What both exporters share: their directory's sink, released once at shutdown."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._sink = _Sink.for_directory(log_dir(directory))
        self._shut_down = False

    def shutdown(self) -> None:
        if not self._shut_down:
            self._shut_down = True
            self._sink.release()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is committed before it returns: nothing is buffered here


class LlmtelLogsSpanExporter(_SinkUser, SpanExporter):
    """Writes the records of the GenAI call spans it is given (agent/tool spans give their agent name)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            entries, links = span_entries([d for d in map(span_data, spans) if d is not None])
            self._sink.write(entries, links)
        except Exception:
            _logger.debug("llmtel logs: spans not exported", exc_info=True)
        return SpanExportResult.SUCCESS


class LlmtelLogsLogExporter(_SinkUser, LogRecordExporter):
    """Writes the content of the details events it is given into their calls' records."""

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        try:
            entries = [e for e in (from_event(event_data(item)) for item in batch) if e is not None]
            self._sink.write(entries, ())
        except Exception:
            _logger.debug("llmtel logs: log records not exported", exc_info=True)
        return LogRecordExportResult.SUCCESS
