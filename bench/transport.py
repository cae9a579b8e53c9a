"""Realistic OpenAI replies, served in-process: the SDK runs for real, the network does not.

Every reply is recorded once, at start-up, from the package's own OpenAI-wire server
(:class:`llmtel.demo.server.FakeOpenAIServer`, its public API only): the real ``openai`` SDK sends each
scenario's request over real HTTP, and we keep the status, headers and body bytes it got back. During the
benchmark an ``httpx2.MockTransport`` hands those bytes back without touching a socket, so the SDK's own work
(building and serialising the request, parsing JSON, decoding server-sent events, building pydantic models) is
in every measurement and the network is in none. Streamed bodies are delivered one SSE event per network chunk,
as the server wrote them.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from llmtel.demo.server import FakeOpenAIServer

BASE_URL = "https://api.openai.com/v1"
"""What the benchmark clients think they talk to: provider ``openai``, ``server.address`` api.openai.com."""

# Hop-by-hop and per-connection headers: meaningless once the body is replayed from memory.
_DROPPED_HEADERS = frozenset({"server", "date", "content-length", "transfer-encoding", "connection", "keep-alive"})


class _Frames(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A streamed body, one SSE event per chunk (what the SDK's decoder sees from a real server)."""

    def __init__(self, frames: tuple[bytes, ...]) -> None:
        self._frames = frames

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._frames)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self._frames:
            yield frame


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
    def frames(self) -> tuple[bytes, ...]:
        return tuple(frame + b"\n\n" for frame in self.body.split(b"\n\n") if frame)

    def handler(self) -> Callable[[httpx2.Request], httpx2.Response]:
        """A MockTransport handler that returns this reply for every request (as cheaply as possible)."""
        status, headers, body = self.status, list(self.headers), self.body
        if not self.streamed:
            return lambda request: httpx2.Response(status, headers=headers, content=body)
        frames = self.frames
        return lambda request: httpx2.Response(status, headers=headers, stream=_Frames(frames))


class _Recorder(httpx2.BaseTransport):
    """Real HTTP to the demo server; remembers the last reply in full."""

    def __init__(self) -> None:
        self._inner = httpx2.HTTPTransport()
        self.last: Reply | None = None

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self._inner.handle_request(request)
        try:
            body = response.read()
        finally:
            response.close()
        streamed = response.headers.get("content-type", "").startswith("text/event-stream")
        headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in _DROPPED_HEADERS)
        self.last = Reply(response.status_code, headers, body, streamed)
        return httpx2.Response(response.status_code, headers=headers, content=body)

    def close(self) -> None:
        self._inner.close()


def record(requests: Mapping[str, tuple[str, dict[str, Any]]]) -> dict[str, Reply]:
    """Record one reply per named request: ``name -> (api, kwargs)`` with api ``chat``/``embeddings``/``responses``.

    The kwargs may carry the demo server's ``extra_body`` knobs (e.g. ``x_chunks``); streams are read to the end.
    """
    replies: dict[str, Reply] = {}
    recorder = _Recorder()
    with (
        FakeOpenAIServer() as server,
        openai.OpenAI(
            base_url=server.base_url,
            api_key="bench",
            max_retries=0,
            http_client=httpx2.Client(transport=recorder),
        ) as client,
    ):
        for name, (api, kwargs) in requests.items():
            method: Any = {
                "chat": client.chat.completions.create,
                "embeddings": client.embeddings.create,
                "responses": client.responses.create,
            }[api]
            result = method(**kwargs)
            if kwargs.get("stream"):
                for _ in result:
                    pass
            assert recorder.last is not None and recorder.last.status == 200, (name, recorder.last)
            replies[name] = recorder.last
    return replies


def sync_client(reply: Reply) -> Any:
    """An ``openai.OpenAI`` client whose every request gets ``reply`` (typed Any: called with **kwargs)."""
    transport = httpx2.MockTransport(reply.handler())
    return openai.OpenAI(
        base_url=BASE_URL, api_key="bench", max_retries=0, http_client=httpx2.Client(transport=transport)
    )


def async_client(reply: Reply) -> Any:
    transport = httpx2.MockTransport(reply.handler())
    return openai.AsyncOpenAI(
        base_url=BASE_URL, api_key="bench", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
    )
