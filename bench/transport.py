"""Realistic provider replies, served in-process: the SDK runs for real, the network does not.

Every reply is recorded once, at start-up, from the package's own demo server
(:class:`llmtel.demo.server.FakeOpenAIServer`, its public API only; it speaks the OpenAI, Anthropic, Gemini and
Bedrock wire formats on one port): the real SDK sends each scenario's request over real HTTP, and we keep the
status, headers and body bytes it got back. During the benchmark those bytes are handed back without touching a
socket, at the lowest layer each SDK lets us replace, so the SDK's own work (building, serialising and, for
Bedrock, signing the request; parsing JSON, decoding server-sent events or AWS event-stream messages, building
its models) is in every measurement and the network is in none:

* the SDKs on ``httpx2`` (openai, anthropic, google-genai): an ``httpx2.MockTransport`` in the client the app
  would pass anyway (``http_client=`` / ``HttpOptions(httpx_client=)``);
* botocore (urllib3 underneath): a ``before-send`` event handler, botocore's own hook for answering a request
  instead of sending it, returning an ``AWSResponse`` over the recorded bytes.

Streamed bodies are delivered one frame per network chunk, as the server wrote them: one SSE event (``\\n\\n`` or
``\\r\\n\\r\\n`` framed), or one binary event-stream message.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx2

from llmtel.demo.server import FakeOpenAIServer

BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "bedrock": "https://bedrock-runtime.us-east-1.amazonaws.com",
}
"""What the benchmark clients think they talk to (``server.address`` on the spans): each provider's own host."""

SDKS = tuple(BASE_URLS)
KEY = "bench"
REGION = "us-east-1"

# Hop-by-hop and per-connection headers: meaningless once the body is replayed from memory.
_DROPPED_HEADERS = frozenset({"server", "date", "content-length", "transfer-encoding", "connection", "keep-alive"})
_SSE_FRAME = re.compile(rb".*?(?:\r\n\r\n|\n\n)", re.S)
EVENT_STREAM = "application/vnd.amazon.eventstream"


class _Frames(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A streamed body, one frame per chunk (what the SDK's decoder sees from a real server)."""

    def __init__(self, frames: tuple[bytes, ...]) -> None:
        self._frames = frames

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._frames)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self._frames:
            yield frame


def event_messages(body: bytes) -> list[bytes]:
    """An AWS event stream cut into its messages: each starts with its own total length (big-endian uint32)."""
    out: list[bytes] = []
    at = 0
    while at + 4 <= len(body):
        (length,) = struct.unpack_from(">I", body, at)
        out.append(body[at : at + length])
        at += length
    return out


def event_type(message: bytes) -> str:
    """The ``:event-type`` header of one event-stream message (decoded by botocore's own parser)."""
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    buffer.add_data(message)
    decoded = next(iter(buffer))  # checks both CRCs too
    return str(decoded.headers.get(":event-type", ""))


@dataclass(frozen=True)
class Reply:
    """One recorded HTTP reply."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    streamed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": [list(h) for h in self.headers],
            "body": base64.b64encode(self.body).decode("ascii"),
            "streamed": self.streamed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reply:
        headers = tuple((str(k), str(v)) for k, v in data["headers"])
        return cls(int(data["status"]), headers, base64.b64decode(data["body"]), bool(data["streamed"]))

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "content-type"), "")

    @property
    def frames(self) -> tuple[bytes, ...]:
        if not self.streamed:
            return (self.body,)
        if self.content_type.startswith(EVENT_STREAM):
            return tuple(event_messages(self.body))
        frames = _SSE_FRAME.findall(self.body)
        rest = self.body[sum(map(len, frames)) :]
        return (*frames, rest) if rest else tuple(frames)

    def stretched(self, repeated: str, total: int) -> Reply:
        """This event stream with ``total`` messages: the ``repeated`` events' messages copied, byte for byte, in
        place of the first of them (each message carries its own lengths and CRCs, so a copy stays valid)."""
        messages = list(self.frames)
        body = [m for m in messages if event_type(m) == repeated]
        if not body:
            raise ValueError(f"no {repeated!r} event to repeat")
        first = messages.index(body[0])
        rest = [m for m in messages if m not in body]
        need = total - len(rest)
        middle = [body[i % len(body)] for i in range(need)]
        return replace(self, body=b"".join([*rest[:first], *middle, *rest[first:]]))

    def handler(self) -> Callable[[httpx2.Request], httpx2.Response]:
        """A MockTransport handler that returns this reply for every request (as cheaply as possible)."""
        status, headers, body = self.status, list(self.headers), self.body
        if not self.streamed:
            return lambda request: httpx2.Response(status, headers=headers, content=body)
        frames = self.frames
        return lambda request: httpx2.Response(status, headers=headers, stream=_Frames(frames))

    def before_send(self) -> Callable[..., Any]:
        """A botocore ``before-send`` handler that answers every request with this reply."""
        from botocore.awsrequest import AWSResponse

        status, headers, frames = self.status, dict(self.headers), self.frames
        return lambda request, **_: AWSResponse(request.url, status, headers, _Raw(frames))


class _Raw:
    """What botocore reads an ``AWSResponse`` body through (urllib3's response, as far as it is used): ``stream()``
    for event streams and for ``.content``, ``read()`` and ``close()``."""

    def __init__(self, frames: tuple[bytes, ...]) -> None:
        self._frames = frames

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        return iter(self._frames)

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return b"".join(self._frames)

    def close(self) -> None:
        return None


def _reply(status: int, headers: Any, body: bytes) -> Reply:
    kept = tuple((k, v) for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS)
    content_type = headers.get("content-type", "")
    return Reply(status, kept, body, content_type.startswith(("text/event-stream", EVENT_STREAM)))


class _Recorder(httpx2.BaseTransport):
    """Real HTTP to the demo server; remembers the last reply in full. Serves botocore too (:meth:`before_send`)."""

    def __init__(self) -> None:
        self._inner = httpx2.HTTPTransport()
        self.last: Reply | None = None

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self._inner.handle_request(request)
        try:
            body = response.read()
        finally:
            response.close()
        self.last = _reply(response.status_code, response.headers, body)
        return httpx2.Response(response.status_code, headers=list(self.last.headers), content=body)

    def before_send(self, request: Any, **_: Any) -> Any:
        """botocore's signed request, sent by us over real HTTP; botocore gets the bytes as it would have."""
        body = request.body if isinstance(request.body, bytes) else (request.body or b"")
        sent = httpx2.Request(request.method, request.url, headers=dict(request.headers.items()), content=body)
        self.handle_request(sent)
        assert self.last is not None
        return self.last.before_send()(request)

    def close(self) -> None:
        self._inner.close()


def connect(sdk: str, base_url: str, transport: Any, before_send: Any, *, is_async: bool = False) -> Any:
    """A client of ``sdk`` on ``base_url`` (typed Any: called with **kwargs): the httpx2 SDKs send through
    ``transport`` (an httpx2 transport), botocore through its ``before_send`` event handler. No retries anywhere:
    a failure is the benchmark's, not the network's."""
    http: Any = None
    if sdk != "bedrock":
        http = httpx2.AsyncClient(transport=transport) if is_async else httpx2.Client(transport=transport)
    if sdk == "openai":
        import openai

        cls: Any = openai.AsyncOpenAI if is_async else openai.OpenAI
        return cls(base_url=base_url, api_key=KEY, max_retries=0, http_client=http)
    if sdk == "anthropic":
        import anthropic

        cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
        return cls(base_url=base_url, api_key=KEY, max_retries=0, http_client=http)
    if sdk == "gemini":
        from google import genai
        from google.genai import types

        client_option = "httpx_async_client" if is_async else "httpx_client"
        retries = types.HttpRetryOptions(attempts=1)
        options = types.HttpOptions(base_url=base_url, retry_options=retries, **{client_option: http})
        return genai.Client(api_key=KEY, http_options=options)
    if sdk == "bedrock":
        import boto3
        from botocore.config import Config

        bedrock = boto3.client(
            "bedrock-runtime",
            region_name=REGION,
            endpoint_url=base_url,
            aws_access_key_id=KEY,
            aws_secret_access_key=KEY,
            config=Config(retries={"total_max_attempts": 1}),
        )
        bedrock.meta.events.register("before-send.bedrock-runtime", before_send)
        return bedrock
    raise ValueError(f"unknown SDK {sdk!r}; one of {', '.join(SDKS)}")


def client(sdk: str, reply: Reply, *, is_async: bool = False) -> Any:
    """A client of ``sdk`` whose every request gets ``reply``."""
    before_send = reply.before_send() if sdk == "bedrock" else None
    transport = httpx2.MockTransport(reply.handler())
    return connect(sdk, BASE_URLS[sdk], transport, before_send, is_async=is_async)


Request = tuple[str, Callable[[Any], None]]
"""How to make one recorded call: (SDK, a function making the call, streams read to the end, on a client)."""


def record(requests: Mapping[str, Request], errors: dict[str, str] | None = None) -> dict[str, Reply]:
    """Record one reply per named request (e.g. with the demo server's ``extra_body`` knobs such as ``x_chunks``).

    A request that fails (an SDK or a wire format not there yet) is left out, and why goes into ``errors`` when
    given (else it raises): the other scenarios are still measured."""
    replies: dict[str, Reply] = {}
    recorder = _Recorder()
    with FakeOpenAIServer() as server:
        clients: dict[str, Any] = {}
        for name, (sdk, call) in requests.items():
            try:
                if sdk not in clients:
                    base_url = server.base_url if sdk == "openai" else server.root_url
                    clients[sdk] = connect(sdk, base_url, recorder, recorder.before_send)
                recorder.last = None
                call(clients[sdk])
                last = recorder.last
                if last is None or last.status != 200:
                    raise RuntimeError(f"the demo server answered {last.status if last else 'nothing'}")
            except Exception as exc:
                if errors is None:
                    raise
                errors[name] = f"recording its reply failed ({type(exc).__name__}: {exc})"
                continue
            replies[name] = last
    recorder.close()
    return replies
