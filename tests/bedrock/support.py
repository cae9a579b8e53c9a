"""What the Bedrock tests share: real boto3 clients on the local server, and the ``otel`` pipeline with the
conventions' check.

The check differs from the suite's in one point, on purpose: the conventions mark ``aws.bedrock.guardrail.id``
Required on every Bedrock inference span, with no condition (genai-semconv.md §10.4: "set it whenever a
guardrail is configured; upstream gives no condition"). A call without a guardrail has no id to give, and a
made-up one would be false data, so llmtel sets it exactly when the request names a guardrail, and the check
here accepts its absence then (and only then: any other problem still fails the test).
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.config import Config

from tests.conformance.semconv_check import load_checker
from tests.conftest import Otel

GUARDRAIL_MISSING = "missing required attribute 'aws.bedrock.guardrail.id'"
CONTENT = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_AND_EVENT"}
# botocore retries throttling and 5xx by default; the tests want one HTTP request per call
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


def client(endpoint_url: str, **kwargs: Any) -> Any:
    """A real bedrock-runtime client on ``endpoint_url``, dummy credentials (SigV4 signs them like real ones)."""
    kwargs.setdefault("config", NO_RETRIES)
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="test-access-key",
        aws_secret_access_key="test-secret-key",
        **kwargs,
    )


def checked_pipeline() -> Iterator[Otel]:
    """The ``otel`` fixture's pipeline and its teardown check (tests/conftest.py), with the exception above."""
    pipeline = Otel()
    try:
        yield pipeline
    finally:
        pipeline.uninstrument()
    checker = load_checker()
    if checker is None:
        return
    problems: list[str] = []
    for span in pipeline.span_exporter.get_finished_spans():
        found = checker.check_span(span)
        if "aws.bedrock.guardrail.id" not in (span.attributes or {}):
            found = [p for p in found if not p.endswith(GUARDRAIL_MISSING)]
        problems += found
    problems += checker.check_metrics(pipeline.metric_reader.get_metrics_data())
    for record in pipeline.logs():
        found = checker.check_log(record)
        problems += [p for p in found if not p.endswith(GUARDRAIL_MISSING)]
    assert not problems, "semantic-convention problems:\n" + "\n".join(problems)


# -- a local server answering given bytes (cassettes, and malformed replies) ------------------------------------


@dataclass
class Canned:
    """One reply: status, headers, and the body's pieces (each one HTTP chunk when ``chunked``)."""

    status: int
    headers: list[tuple[str, str]]
    pieces: list[bytes]
    chunked: bool = False
    path: str | None = None  # the request path it answers (checked when set)


def event_messages(body: bytes) -> list[bytes]:
    """An ``application/vnd.amazon.eventstream`` body split into its messages (each one starts with its total
    length), so that a replayed stream reaches botocore message by message as the service sends it."""
    pieces: list[bytes] = []
    while body:
        (length,) = struct.unpack(">I", body[:4])
        pieces.append(body[:length])
        body = body[length:]
    return pieces


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Canned:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Canned(status, [("Content-Type", "application/json"), *(headers or {}).items()], [raw])


def stream_reply(messages: list[bytes]) -> Canned:
    return Canned(200, [("Content-Type", "application/vnd.amazon.eventstream")], messages, chunked=True)


class CannedServer:
    """Answers each request with the next :class:`Canned` reply, over real HTTP on 127.0.0.1 (botocore's
    urllib3 stack does the rest). ``requests`` holds (method, path, body) of what it got."""

    def __init__(self, replies: list[Canned]) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[str, str, bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests.append((self.command, self.path, raw))
                if not owner.replies:
                    self.send_error(599, "no reply left")
                    return
                reply = owner.replies.pop(0)
                if reply.path is not None:
                    assert unquote(self.path) == unquote(reply.path), (self.path, reply.path)
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for piece in reply.pieces:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    body = b"".join(reply.pieces)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> CannedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
