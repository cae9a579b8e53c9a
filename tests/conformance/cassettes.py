"""Replay of recorded OpenAI HTTP cassettes through the real ``openai`` SDK and its real HTTP stack.

The cassettes (vcrpy YAML, ``<repo>/../shared/cassettes/openai/``) hold ``interactions``: each a recorded
``request`` (``method``, ``uri``, ``body``, ``headers``) and ``response`` (``status.code``, ``headers``,
``body.string``). :class:`Cassette` loads one and hands out ``openai.OpenAI`` / ``openai.AsyncOpenAI`` clients
whose ``httpx2`` client uses a replay transport: every request the SDK sends is checked against the next
recorded one (method and path must match), and the recorded response is returned in its place. Server-sent
event bodies are streamed to the SDK piece by piece (one SSE frame per piece), so the SDK's own SSE decoder
and the instrumentation's stream proxies see a real stream, not one blob.

    cassette = Cassette("test_chat_completion_with_content")
    with cassette.client() as client:
        client.chat.completions.create(**cassette.request_json())
    cassette.assert_done()

No vcrpy is involved: nothing is patched, the SDK runs exactly as in production down to the transport.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
import yaml

from tests.conformance.shared import SHARED_DIR

__all__ = [
    "BASE_URL",
    "CASSETTE_DIR",
    "AsyncReplayTransport",
    "Cassette",
    "Interaction",
    "ReplayTransport",
    "sse_pieces",
]

CASSETTE_DIR = SHARED_DIR / "cassettes" / "openai"
BASE_URL = "https://api.openai.com/v1"

# Recorded headers that describe the recorded bytes on the wire, not the body we replay (which is the decoded,
# possibly re-indented text): the transport computes its own framing.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "content-encoding", "connection"})


def sse_pieces(body: bytes) -> list[bytes]:
    """Split an SSE body after every blank line: one piece per event frame, separators kept. A blank line is
    ``\\n\\n`` or, as Google's services frame their events, ``\\r\\n\\r\\n``."""
    pieces: list[bytes] = []
    rest = body
    while rest:
        ends = [(i, len(sep)) for sep in (b"\n\n", b"\r\n\r\n") if (i := rest.find(sep)) >= 0]
        if not ends:
            pieces.append(rest)
            break
        end, size = min(ends)
        pieces.append(rest[: end + size])
        rest = rest[end + size :]
    return pieces


@dataclass(frozen=True)
class Interaction:
    """One recorded request/response pair."""

    method: str
    uri: str
    request_body: str | None
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    @property
    def content_type(self) -> str:
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value
        return ""

    @property
    def is_sse(self) -> bool:
        return self.content_type.startswith("text/event-stream")

    def request_json(self) -> Any:
        return json.loads(self.request_body) if self.request_body else None

    def response_json(self) -> Any:
        return json.loads(self.body)

    def sse_events(self) -> list[Any]:
        """The JSON payloads of the SSE ``data:`` lines (``[DONE]`` left out)."""
        events = []
        for line in self.body.decode("utf-8").splitlines():
            if line.startswith("data:"):
                payload = line[5:].strip()
                if payload and payload != "[DONE]":
                    events.append(json.loads(payload))
        return events

    def pieces(self) -> list[bytes]:
        """How the body is handed to the SDK: SSE frame by frame, anything else in one piece."""
        if self.is_sse:
            return sse_pieces(self.body)
        return [self.body]


def _headers(raw: Any) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for name, value in (raw or {}).items():
        if name.lower() in _FRAMING_HEADERS:
            continue
        for item in value if isinstance(value, list) else [value]:
            out.append((str(name), str(item)))
    return tuple(out)


def _interaction(raw: dict[str, Any]) -> Interaction:
    request, response = raw["request"], raw["response"]
    body = response.get("body") or {}
    text = body.get("string", "") if isinstance(body, dict) else body
    data = text if isinstance(text, bytes) else str(text or "").encode("utf-8")
    request_body = request.get("body")
    if isinstance(request_body, bytes):
        request_body = request_body.decode("utf-8")
    return Interaction(
        method=str(request["method"]).upper(),
        uri=str(request["uri"]),
        request_body=request_body,
        status=int(response["status"]["code"]),
        headers=_headers(response.get("headers")),
        body=data,
    )


# -- response bodies -------------------------------------------------------------------------------------------


class _SyncBody(httpx2.SyncByteStream):
    def __init__(self, pieces: list[bytes], log: list[int]) -> None:
        self._pieces = pieces
        self._log = log  # sizes of the pieces actually handed out, for the tests to inspect
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._pieces:
            if self.closed:
                return
            self._log.append(len(piece))
            yield piece

    def close(self) -> None:
        self.closed = True


class _AsyncBody(httpx2.AsyncByteStream):
    def __init__(self, pieces: list[bytes], log: list[int]) -> None:
        self._pieces = pieces
        self._log = log
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            if self.closed:
                return
            self._log.append(len(piece))
            yield piece

    async def aclose(self) -> None:
        self.closed = True


# -- the cassette ----------------------------------------------------------------------------------------------


class Cassette:
    """A loaded cassette, replayed in order. Thread-safe; one cassette may serve sync and async clients."""

    def __init__(self, name: str, directory: Path = CASSETTE_DIR) -> None:
        path = directory / (name if name.endswith(".yaml") else f"{name}.yaml")
        with path.open(encoding="utf-8") as f:
            data = yaml.safe_load(f)
        self.name = name
        self.path = path
        self.interactions: list[Interaction] = [_interaction(raw) for raw in data["interactions"]]
        self.sent: list[httpx2.Request] = []
        self.piece_sizes: list[list[int]] = []  # per served response, the sizes of the pieces streamed
        self._lock = threading.Lock()

    # -- reading the recording --------------------------------------------------------------------------------

    def __getitem__(self, index: int) -> Interaction:
        return self.interactions[index]

    def request_json(self, index: int = 0) -> Any:
        return self.interactions[index].request_json()

    def response_json(self, index: int = 0) -> Any:
        return self.interactions[index].response_json()

    # -- serving --------------------------------------------------------------------------------------------------

    def _next(self, request: httpx2.Request) -> tuple[Interaction, list[int]]:
        with self._lock:
            index = len(self.sent)
            if index >= len(self.interactions):
                raise AssertionError(
                    f"{self.name}: unexpected request #{index + 1} {request.method} {request.url} "
                    f"(the cassette has {len(self.interactions)})"
                )
            self.sent.append(request)
            log: list[int] = []
            self.piece_sizes.append(log)
        recorded = self.interactions[index]
        assert request.method == recorded.method, (
            f"{self.name} #{index + 1}: method {request.method} != recorded {recorded.method}"
        )
        assert request.url.path == recorded.path, (
            f"{self.name} #{index + 1}: path {request.url.path} != recorded {recorded.path}"
        )
        return recorded, log

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        recorded, log = self._next(request)
        request.read()
        return httpx2.Response(
            recorded.status,
            headers=list(recorded.headers),
            stream=_SyncBody(recorded.pieces(), log),
            request=request,
        )

    async def ahandle(self, request: httpx2.Request) -> httpx2.Response:
        recorded, log = self._next(request)
        await request.aread()
        return httpx2.Response(
            recorded.status,
            headers=list(recorded.headers),
            stream=_AsyncBody(recorded.pieces(), log),
            request=request,
        )

    # -- clients --------------------------------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> openai.OpenAI:
        kwargs.setdefault("api_key", "test_openai_api_key")
        kwargs.setdefault("max_retries", 0)
        http_client = openai.DefaultHttpxClient(transport=ReplayTransport(self))
        return openai.OpenAI(base_url=BASE_URL, http_client=http_client, **kwargs)

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        kwargs.setdefault("api_key", "test_openai_api_key")
        kwargs.setdefault("max_retries", 0)
        http_client = openai.DefaultAsyncHttpxClient(transport=AsyncReplayTransport(self))
        return openai.AsyncOpenAI(base_url=BASE_URL, http_client=http_client, **kwargs)

    # -- after the calls ------------------------------------------------------------------------------------------

    def sent_json(self, index: int = 0) -> Any:
        content = self.sent[index].content
        return json.loads(content) if content else None

    def assert_done(self) -> None:
        """Every recorded interaction was requested, exactly once."""
        assert len(self.sent) == len(self.interactions), (
            f"{self.name}: {len(self.sent)} request(s) made, {len(self.interactions)} recorded"
        )

    def assert_same_requests(self, ignore: frozenset[str] = frozenset()) -> None:
        """Each request body the SDK sent equals the recorded one (top-level keys in ``ignore`` left out)."""
        self.assert_done()
        for index in range(len(self.interactions)):
            sent = self.sent_json(index)
            recorded = self.request_json(index)
            if isinstance(sent, dict) and isinstance(recorded, dict):
                sent = {k: v for k, v in sent.items() if k not in ignore}
                recorded = {k: v for k, v in recorded.items() if k not in ignore}
            assert sent == recorded, f"{self.name} #{index + 1}: request body differs from the recording"


class ReplayTransport(httpx2.BaseTransport):
    """A sync ``httpx2`` transport that answers from a :class:`Cassette`."""

    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return self.cassette.handle(request)


class AsyncReplayTransport(httpx2.AsyncBaseTransport):
    """An async ``httpx2`` transport that answers from a :class:`Cassette`."""

    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.cassette.ahandle(request)
