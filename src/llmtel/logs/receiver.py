"""``llmtel logs serve``: an OTLP/HTTP receiver that keeps GenAI calls as records, and a small HTTP API.

It answers OTLP as a collector does, so an SDK's exporter never retries a batch forever: 200 with the export
response (``partial_success`` saying how many items were rejected and why), 400 for a body that cannot be
decoded (not retried), 413 for one too large, 415 for an unknown content type or encoding. ``/v1/metrics``
is accepted and dropped. Bodies are protobuf or JSON, plain or gzip. With a :class:`~llmtel.logs.forward.Forwarder`
every request accepted (metrics too) is also passed on, unchanged, to a real collector.

API on the same port: ``GET /api/logs?filters`` (newest first), ``GET /api/logs/{span_id}``,
``GET /api/summary?by=model|agent|provider|day&filters``, ``GET /api/stream?filters`` (server-sent events: one
``data:`` line per record added or changed).

Everything received is untrusted: sizes are capped before decoding, and decoding errors are answered, never
raised into the server.
"""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import threading
import time
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from google.protobuf import json_format  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError, Message  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from llmtel.logs import otlp
from llmtel.logs.exporter import span_entries
from llmtel.logs.forward import VIA_HEADER, Forwarder
from llmtel.logs.record import from_event
from llmtel.logs.store import FILTER_PARAMS, SUMMARY_KEYS, Store, query_from

_logger = logging.getLogger(__name__)

MAX_BODY = 32 * 1024 * 1024
"""Largest request body accepted, compressed or not (the SDK's batches are far smaller)."""
STREAM_POLL_S = 0.2
_HEARTBEAT_S = 15.0

_SIGNALS: dict[str, tuple[type[Message], type[Message], str]] = {
    "/v1/traces": (
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        "rejected_spans",
    ),
    "/v1/logs": (
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        "rejected_log_records",
    ),
    "/v1/metrics": (
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        "rejected_data_points",
    ),
}


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise _BadRequest(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_BODY + 1)  # a bounded inflate: a gzip bomb stops at the cap
    except zlib.error as exc:
        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"bad gzip body: {exc}") from None
    if len(out) > MAX_BODY or inflater.unconsumed_tail:
        raise _BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large once decompressed")
    return out


def decode(path: str, body: bytes, content_type: str) -> tuple[dict[str, Any], bool]:
    """An OTLP request body as the JSON-shaped dict :mod:`llmtel.logs.otlp` walks; and whether it was JSON."""
    request_type = _SIGNALS[path][0]
    if content_type == "application/json":
        try:
            found = json.loads(body.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
        if not isinstance(found, dict):
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "body is not a JSON object")
        return found, True
    if content_type in ("application/x-protobuf", "application/protobuf"):
        message = request_type()
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError, ValueError) as exc:
            raise _BadRequest(HTTPStatus.BAD_REQUEST, f"body is not a valid protobuf request: {exc}") from None
        return json_format.MessageToDict(message), False
    raise _BadRequest(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Type {content_type!r}")


class Receiver(ThreadingHTTPServer):
    """The server: one store, shared by every request thread (the store serialises its writes)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, store: Store, host: str = "127.0.0.1", port: int = 4318, forwarder: Forwarder | None = None
    ) -> None:
        self.store = store
        self.forwarder = forwarder
        self.closing = threading.Event()
        self._failing = False
        self._failing_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def ingest(self, path: str, request: dict[str, Any], ids: otlp.IdDecoder) -> tuple[int, str]:
        """Records from a decoded request into the store; (items rejected, why) for the partial success."""
        if path == "/v1/traces":
            entries, links = span_entries(list(otlp.spans(request, ids)))
            self.store.write(entries, links)
            return 0, ""
        if path == "/v1/logs":
            found = [from_event(event) for event in otlp.events(request, ids)]
            self.store.write([e for e in found if e is not None], ())
        return 0, ""  # metrics: accepted and dropped

    def write_failed(self, exc: Exception) -> None:
        """One warning per outage (a full disk fails every batch until there is room), the rest at debug."""
        with self._failing_lock:
            first, self._failing = not self._failing, True
        if first:
            _logger.warning("llmtel logs serve: records not written: %s", exc)
        else:
            _logger.debug("llmtel logs serve: records not written: %s", exc)

    def write_succeeded(self) -> None:
        if not self._failing:  # the common case, without the lock
            return
        with self._failing_lock:
            ended, self._failing = self._failing, False
        if ended:
            _logger.warning("llmtel logs serve: records are written again")

    def server_close(self) -> None:
        self.closing.set()
        super().server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("%s %s", self.address_string(), format % args)

    # -- OTLP -----------------------------------------------------------------------------------------------

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path not in _SIGNALS:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {path}"})
            return
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        is_json = content_type == "application/json"
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if length < 0:
            self._send_json(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
            self.close_connection = True
            return
        if length > MAX_BODY:
            self._send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
            self.close_connection = True
            return
        body = self.rfile.read(length)
        try:
            raw = _decompress(body, self.headers.get("Content-Encoding", "").strip().lower())
            request, is_json = decode(path, raw, content_type)
        except _BadRequest as exc:
            self._send_json(exc.status, {"code": 3, "message": str(exc)})
            return
        if self.server.forwarder is not None:  # the bytes as received: the collector decodes them itself
            self.server.forwarder.submit(
                path,
                body,
                self.headers.get("Content-Type", ""),
                self.headers.get("Content-Encoding", "").strip(),
                self.headers.get(VIA_HEADER, ""),
            )
        rejected, reason = 0, ""
        try:
            rejected, reason = self.server.ingest(path, request, otlp.hex_ids if is_json else otlp.base64_ids)
        except Exception as exc:  # the store failed (disk full …): say so as a partial success, never retried
            self.server.write_failed(exc)
            rejected, reason = _count(path, request), f"records not written: {exc}"
        else:
            self.server.write_succeeded()
        response = _SIGNALS[path][1]()
        if rejected:
            partial = response.partial_success
            setattr(partial, _SIGNALS[path][2], rejected)
            partial.error_message = reason
        if is_json:
            self._send(HTTPStatus.OK, json_format.MessageToJson(response).encode(), "application/json")
        else:
            self._send(HTTPStatus.OK, response.SerializeToString(), "application/x-protobuf")

    # -- API ------------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items() if k in (*FILTER_PARAMS, "by")}
        path = parts.path.rstrip("/")
        try:
            query = query_from(params)
        except ValueError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        store = self.server.store
        if path == "/api/logs":
            self._send_json(HTTPStatus.OK, {"records": store.query(query)})
        elif path.startswith("/api/logs/"):
            record = store.get(unquote(path[len("/api/logs/") :]))
            if record is None:
                self._send_json(HTTPStatus.NOT_FOUND, {"error": "no such record"})
            else:
                self._send_json(HTTPStatus.OK, record)
        elif path == "/api/summary":
            by = params.get("by", "model")
            if by not in SUMMARY_KEYS:
                self._send_json(HTTPStatus.BAD_REQUEST, {"error": f"by: one of {', '.join(SUMMARY_KEYS)}"})
            else:
                query.limit = None
                self._send_json(HTTPStatus.OK, {"by": by, "groups": store.summary(by, query)})
        elif path == "/api/stream":
            self._stream(store, query)
        elif path in ("", "/api"):
            self._send_json(
                HTTPStatus.OK,
                {
                    "endpoints": [
                        "/v1/traces",
                        "/v1/logs",
                        "/v1/metrics",
                        "/api/logs",
                        "/api/logs/{span_id}",
                        "/api/summary",
                        "/api/stream",
                    ]
                },
            )
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {path}"})

    def _stream(self, store: Store, query: Any) -> None:
        """Server-sent events: every record added or changed from now on, as one ``data:`` line each."""
        query.limit = None
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        seq = store.last_seq()
        beat = time.monotonic()
        try:
            self.wfile.write(b": llmtel logs\n\n")
            self.wfile.flush()
            while not self.server.closing.is_set():
                seq, records = store.changes(seq, query)
                for record in records:
                    self.wfile.write(b"data: " + json.dumps(record, ensure_ascii=False).encode() + b"\n\n")
                if records:
                    self.wfile.flush()
                elif time.monotonic() - beat > _HEARTBEAT_S:
                    beat = time.monotonic()
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                time.sleep(STREAM_POLL_S)
        except (OSError, sqlite3.Error):
            return  # the client went away, or the server is closing (its store closed under the feed)

    def _send_json(self, status: HTTPStatus, value: Any) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _count(path: str, request: dict[str, Any]) -> int:
    if path == "/v1/traces":
        return sum(1 for _ in otlp.spans(request))
    if path == "/v1/logs":
        return sum(1 for _ in otlp.events(request))
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(store: Store, host: str, port: int, ready: Any = None, forwarder: Forwarder | None = None) -> None:
    """Run until interrupted; ``ready`` (a callable) is told the URL once the socket listens. The forwarder's
    queue is flushed (time-bounded) once no request thread can add to it any more."""
    with Receiver(store, host, port, forwarder) as server:
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (docker stop, kill) ends the server like Ctrl-C: the store is closed, not cut off.
            signal.signal(signal.SIGTERM, _interrupt)
        if ready is not None:
            ready(server.url)
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.closing.set()
