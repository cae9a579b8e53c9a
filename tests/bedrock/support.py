"""What the Bedrock tests share: real boto3 clients (on the local server, or on a server answering given bytes:
cassettes, malformed replies)."""

from __future__ import annotations

import json
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.config import Config

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
