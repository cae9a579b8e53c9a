"""Minimal OTLP receivers for end-to-end tests: OTLP/HTTP (protobuf) and OTLP/gRPC, on 127.0.0.1, random port.

Both decode what they receive into the ``opentelemetry-proto`` request messages and keep them (thread-safe):

    with OtlpHttpReceiver() as receiver:            # or OtlpGrpcReceiver()
        ... run something with OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint ...
        receiver.wait_for(lambda r: len(r.spans()) >= 4, timeout=10)
        for resource, scope, span in receiver.spans(): ...

``stop()`` (or leaving the ``with`` block) shuts down everything the receiver started.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

__all__ = ["OtlpGrpcReceiver", "OtlpHttpReceiver", "Receiver"]

TraceRequest = trace_service_pb2.ExportTraceServiceRequest
MetricsRequest = metrics_service_pb2.ExportMetricsServiceRequest
LogsRequest = logs_service_pb2.ExportLogsServiceRequest


class Receiver:
    """What both receivers share: the decoded requests, read and waited for under one condition."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.trace_requests: list[Any] = []
        self.metrics_requests: list[Any] = []
        self.logs_requests: list[Any] = []
        self.errors: list[str] = []  # requests the receiver could not make sense of
        self.received_headers: list[dict[str, str]] = []

    # -- storing ----------------------------------------------------------------------------------------------

    def _store(self, kind: str, message: Any, headers: dict[str, str] | None = None) -> None:
        with self._cond:
            getattr(self, f"{kind}_requests").append(message)
            if headers is not None:
                self.received_headers.append(headers)
            self._cond.notify_all()

    def _error(self, text: str) -> None:
        with self._cond:
            self.errors.append(text)
            self._cond.notify_all()

    # -- reading ----------------------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[Receiver], Any], timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` is truthy; True if it became so within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if predicate(self):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.1))

    def _snapshot(self, kind: str) -> list[Any]:
        with self._cond:
            return list(getattr(self, f"{kind}_requests"))

    def spans(self) -> list[tuple[Any, Any, Any]]:
        """Every span received, as ``(resource, scope, span)`` protobuf messages."""
        return list(_flatten(self._snapshot("trace"), "resource_spans", "scope_spans", "spans"))

    def metrics(self) -> list[tuple[Any, Any, Any]]:
        """Every metric received (one entry per export), as ``(resource, scope, metric)``."""
        return list(_flatten(self._snapshot("metrics"), "resource_metrics", "scope_metrics", "metrics"))

    def log_records(self) -> list[tuple[Any, Any, Any]]:
        """Every log record received, as ``(resource, scope, log_record)``."""
        return list(_flatten(self._snapshot("logs"), "resource_logs", "scope_logs", "log_records"))

    # -- lifecycle --------------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        raise NotImplementedError

    def start(self) -> Receiver:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _flatten(requests: list[Any], outer: str, middle: str, inner: str) -> Iterator[tuple[Any, Any, Any]]:
    for request in requests:
        for resource_level in getattr(request, outer):
            for scope_level in getattr(resource_level, middle):
                for item in getattr(scope_level, inner):
                    yield resource_level.resource, scope_level.scope, item


# -- OTLP/HTTP ---------------------------------------------------------------------------------------------------

_HTTP_ROUTES: dict[str, tuple[str, Any, Any]] = {
    "/v1/traces": ("trace", TraceRequest, trace_service_pb2.ExportTraceServiceResponse),
    "/v1/metrics": ("metrics", MetricsRequest, metrics_service_pb2.ExportMetricsServiceResponse),
    "/v1/logs": ("logs", LogsRequest, logs_service_pb2.ExportLogsServiceResponse),
}


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: OtlpHttpReceiver) -> None:
        super().__init__(("127.0.0.1", 0), _HttpHandler)
        self.receiver = receiver


class _HttpHandler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self._read_body()
        route = _HTTP_ROUTES.get(self.path.split("?")[0])
        if route is None:
            receiver._error(f"POST to unknown path {self.path}")
            self._reply(404, b"unknown path", "text/plain")
            return
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip() != "application/x-protobuf":
            receiver._error(f"{self.path}: unsupported Content-Type {content_type!r}")
            self._reply(415, b"only application/x-protobuf", "text/plain")
            return
        encoding = self.headers.get("Content-Encoding", "").lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            elif encoding not in ("", "identity"):
                raise ValueError(f"unsupported Content-Encoding {encoding!r}")
            kind, request_type, response_type = route
            message = request_type.FromString(body)
        except Exception as exc:
            receiver._error(f"{self.path}: cannot decode ({exc.__class__.__name__}: {exc})")
            self._reply(400, b"cannot decode", "text/plain")
            return
        receiver._store(kind, message, {k.lower(): v for k, v in self.headers.items()})
        self._reply(200, response_type().SerializeToString(), "application/x-protobuf")


class OtlpHttpReceiver(Receiver):
    """OTLP/HTTP with protobuf bodies: POST ``/v1/traces``, ``/v1/metrics``, ``/v1/logs``."""

    def __init__(self) -> None:
        super().__init__()
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "receiver not started"
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpHttpReceiver:
        self._server = _HttpServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> OtlpHttpReceiver:
        return self.start()


# -- OTLP/gRPC ---------------------------------------------------------------------------------------------------


def _metadata(context: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (context.invocation_metadata() or ())}


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        self.receiver._store("trace", request, _metadata(context))
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        self.receiver._store("metrics", request, _metadata(context))
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _LogsService(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        self.receiver._store("logs", request, _metadata(context))
        return logs_service_pb2.ExportLogsServiceResponse()


class OtlpGrpcReceiver(Receiver):
    """OTLP/gRPC: the collector's TraceService, MetricsService and LogsService, insecure."""

    def __init__(self) -> None:
        super().__init__()
        self._server: Any = None
        self._port = 0

    @property
    def port(self) -> int:
        assert self._server is not None, "receiver not started"
        return self._port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpGrpcReceiver:
        import grpc

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(self), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsService(self), server)
        self._port = server.add_insecure_port("127.0.0.1:0")
        if not self._port:
            raise RuntimeError("could not bind a gRPC port on 127.0.0.1")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace=None).wait(timeout=5)

    def __enter__(self) -> OtlpGrpcReceiver:
        return self.start()
