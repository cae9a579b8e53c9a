"""The demo server's Messages wire format (llmtel.demo.wire.anthropic) on its own: its paths and no others,
deterministic replies, the service's SSE framing, and the error envelope (the SDK-level behaviour is what the
rest of tests/anthropic drives through the real SDK)."""

from __future__ import annotations

import json
from typing import Any

from llmtel.demo.server import WireRequest
from llmtel.demo.wire import anthropic as wire


def request(body: Any, path: str = "/v1/messages", method: str = "POST", n: int = 7) -> WireRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WireRequest(method, path, "", {}, raw, n)


BODY = {"model": "claude-x", "max_tokens": 20, "messages": [{"role": "user", "content": "two words"}]}


def test_other_paths_are_not_its_own() -> None:
    for path in ("/v1/chat/completions", "/v1/responses", "/model/x/invoke", "/v1beta/models/g:generateContent"):
        assert wire.serve(request(BODY, path)) is None


def test_bad_requests_get_the_error_envelope() -> None:
    for req, status in (
        (request(BODY, method="GET"), 405),
        (request(b"{not json"), 400),
        (request({"max_tokens": 1, "messages": []}), 400),
    ):
        reply = wire.serve(req)
        assert reply is not None and reply.status == status
        payload = json.loads(b"".join(reply.chunks))
        assert payload["type"] == "error" and payload["request_id"] == "req_7"


def test_replies_are_deterministic() -> None:
    first, second = wire.serve(request(BODY)), wire.serve(request(BODY))
    assert first is not None and second is not None and first.chunks == second.chunks
    message = json.loads(b"".join(first.chunks))
    assert (message["id"], message["model"], message["usage"]["input_tokens"]) == ("msg_7", "claude-x-2026-01-01", 2)
    assert first.headers["request-id"] == "req_7" and first.headers["content-type"] == "application/json"


def test_streams_are_framed_as_the_service_frames_them() -> None:
    reply = wire.serve(request({**BODY, "stream": True, "x_chunks": 2}))
    assert reply is not None and reply.stream and not reply.abort
    frames = [chunk.decode() for chunk in reply.chunks]
    kinds = [frame.split("\n")[0].removeprefix("event: ") for frame in frames]
    assert kinds == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    for frame, kind in zip(frames, kinds, strict=True):
        assert frame.endswith("\n\n") and json.loads(frame.split("\n")[1].removeprefix("data: "))["type"] == kind


def test_vertex_paths_name_the_model_and_the_verb() -> None:
    path = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-v:streamRawPredict"
    body = {k: v for k, v in BODY.items() if k != "model"}
    reply = wire.serve(request({**body, "anthropic_version": "vertex-2023-10-16"}, path))
    assert reply is not None and reply.stream
    assert b'"model": "claude-v-2026-01-01"' in reply.chunks[0]


def test_magic_models() -> None:
    statuses = {
        model: wire.serve(request({**BODY, "model": model}))
        for model in ("does-not-exist", "rate-limited", "server-error", "overloaded", "broken-stream")
    }
    assert {m: r.status for m, r in statuses.items() if r is not None} == {
        "does-not-exist": 404,
        "rate-limited": 429,
        "server-error": 500,
        "overloaded": 529,
        "broken-stream": 500,  # not streaming
    }
    assert statuses["rate-limited"] is not None and statuses["rate-limited"].headers["retry-after"] == "0"
    broken = wire.serve(request({**BODY, "model": "broken-stream", "stream": True}))
    assert broken is not None and broken.abort
