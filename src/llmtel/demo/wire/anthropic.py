"""The Anthropic Messages API wire format on the demo server (``POST /v1/messages``, ``…/count_tokens``, and
Vertex AI's ``…/publishers/anthropic/models/<model>:rawPredict`` / ``:streamRawPredict``).

Deterministic like the OpenAI part (:mod:`llmtel.demo.server`): ids from the request number ``n``
(``msg_<n>``, ``toolu_<n>``, ``req_<n>``), the response model is the request's with ``-2026-01-01`` appended,
token counts are whitespace word counts (input: the words of ``system`` and ``messages``, counted as the OpenAI
part counts them; output: the reply's words, plus the thinking text's when thinking is asked for). What the reply
holds follows the request:

- ``tools`` given and the last message holds no ``tool_result``: one ``tool_use`` block (the first tool, input
  ``{"city": "Paris"}``), stop reason ``tool_use``;
- ``thinking`` enabled (any type but ``disabled``): a ``thinking`` block (:data:`THINKING`) first, its words
  counted as ``output_tokens_details.thinking_tokens``;
- ``cache_control`` anywhere in the request: of the input words, half are reported as cache reads and a quarter
  as cache writes, the rest as ``input_tokens`` (Anthropic counts the three apart);
- ``max_tokens`` below the reply's words: the reply is cut to that many, stop reason ``max_tokens``; a
  ``stop_sequences`` entry found in the reply: cut before it, stop reason ``stop_sequence``.

Streams (``"stream": true``) are framed as the service frames them: ``event: <type>`` + ``data: <json>`` per event,
``message_start``, ``content_block_start``, a ``ping``, ``content_block_delta``s (``text_delta``,
``thinking_delta`` + ``signature_delta``, ``input_json_delta``), ``content_block_stop``, ``message_delta`` (stop
reason and usage), ``message_stop``. Text streams in ``x_chunks`` deltas (default 5, at most one per word).

Magic models: ``does-not-exist`` 404 ``not_found_error``, ``rate-limited`` 429 ``rate_limit_error`` (with
``retry-after: 0``), ``server-error`` 500 ``api_error``, ``overloaded`` 529 ``overloaded_error``, ``stall``
(``x_delay_ms``, default 200, before the reply and every stream event), ``broken-stream`` / ``stream-error``
(streams: two text deltas, then the socket closes mid-body / an ``error`` event of type ``overloaded_error``;
500 when not streaming), ``hostile-usage`` (usage counts of the wrong types and out of range: a misbehaving
server), ``bad-text`` (the response model and the reply hold lone surrogates, as JSON's ``\\ud800`` escapes
give them). Body knobs (``extra_body``): ``x_reply``, ``x_chunks``, ``x_delay_ms``.

    with FakeOpenAIServer() as server:
        client = anthropic.Anthropic(base_url=server.root_url, api_key="test")
        client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}])
"""

from __future__ import annotations

import json
import re
from typing import Any

from llmtel.demo.server import DEFAULT_REPLY, MODEL_SUFFIX, WireReply, WireRequest, _prompt_tokens

__all__ = [
    "BAD_TEXT",
    "BROKEN_STREAM",
    "HOSTILE_USAGE",
    "NOT_FOUND",
    "OVERLOADED",
    "RATE_LIMITED",
    "SERVER_ERROR",
    "SIGNATURE",
    "STALL",
    "STREAM_ERROR",
    "THINKING",
    "TOOL_INPUT",
    "serve",
]

NOT_FOUND = "does-not-exist"
RATE_LIMITED = "rate-limited"
SERVER_ERROR = "server-error"
OVERLOADED = "overloaded"
STALL = "stall"
BROKEN_STREAM = "broken-stream"
STREAM_ERROR = "stream-error"
HOSTILE_USAGE = "hostile-usage"
BAD_TEXT = "bad-text"

THINKING = "Let me think about this step by step."
"""The text of every thinking block."""
SIGNATURE = "sig_demo"
TOOL_INPUT: dict[str, Any] = {"city": "Paris"}
DEFAULT_CHUNKS = 5
DEFAULT_STALL_MS = 200
ORGANIZATION = "demo-org"

_ERRORS = {
    NOT_FOUND: (404, "not_found_error", "model: does-not-exist"),
    RATE_LIMITED: (429, "rate_limit_error", "Number of request tokens has exceeded your rate limit."),
    SERVER_ERROR: (500, "api_error", "Internal server error"),
    OVERLOADED: (529, "overloaded_error", "Overloaded"),
}
_VERTEX = re.compile(
    r"^/v1/projects/[^/]+/locations/[^/]+/publishers/anthropic/models/([^/:]+):(rawPredict|streamRawPredict)$"
)
_WORD = re.compile(r"\s*\S+")
_JSON = "application/json"
_SSE = "text/event-stream; charset=utf-8"


def serve(request: WireRequest) -> WireReply | None:
    """The reply to a request on one of this API's paths; None for any other path."""
    path = request.path
    vertex = _VERTEX.match(path)
    if path not in ("/v1/messages", "/v1/messages/count_tokens") and vertex is None:
        return None
    headers = {"request-id": f"req_{request.n}", "anthropic-organization-id": ORGANIZATION}
    if request.method != "POST":
        return _error(405, "invalid_request_error", f"Method {request.method} not allowed", headers)
    try:
        body = json.loads(request.raw) if request.raw else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _error(400, "invalid_request_error", "The request body is not valid JSON.", headers)
    if vertex is not None:  # Vertex AI names the model in the path, and streams by the path's verb
        body = {**body, "model": vertex.group(1), "stream": vertex.group(2) == "streamRawPredict"}
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _error(400, "invalid_request_error", "model: Field required", headers)
    if path.endswith("/count_tokens"):
        return _reply(200, {"input_tokens": _input_words(body)}, headers)
    stream = body.get("stream") is True
    delay = _int(body.get("x_delay_ms"))
    delay_ms = max(0, delay if delay is not None else DEFAULT_STALL_MS if model == STALL else 0)
    failure = _ERRORS.get(model)
    if failure is None and not stream and model in (BROKEN_STREAM, STREAM_ERROR):
        failure = _ERRORS[SERVER_ERROR]
    if failure is not None:
        status, kind, why = failure
        if status == 429:
            headers["retry-after"] = "0"
        reply = _error(status, kind, why, headers)
        reply.delay_ms = delay_ms
        return reply
    message = _message(request.n, body, model)
    if not stream:
        reply = _reply(200, message, headers)
        reply.delay_ms = delay_ms
        return reply
    frames = _stream(message, body, model)
    return WireReply(
        200, {**headers, "content-type": _SSE}, frames, stream=True, abort=model == BROKEN_STREAM, delay_ms=delay_ms
    )


# -- replies ----------------------------------------------------------------------------------------------------


def _reply(status: int, payload: Any, headers: dict[str, str]) -> WireReply:
    data = json.dumps(payload).encode("ascii")  # ASCII escapes: also for the lone surrogates of BAD_TEXT
    return WireReply(status, {**headers, "content-type": _JSON}, [data])


def _error(status: int, kind: str, message: str, headers: dict[str, str]) -> WireReply:
    payload = {"type": "error", "error": {"type": kind, "message": message}, "request_id": headers["request-id"]}
    return _reply(status, payload, headers)


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _input_words(body: dict[str, Any]) -> int:
    return _prompt_tokens(body.get("system"), body.get("messages"))


def _has(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_has(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_has(v, key) for v in value)
    return False


def _wants_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools or not isinstance(tools[0], dict):
        return None
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if isinstance(last, dict) and _has(last.get("content"), "tool_use_id"):
        return None  # the tool's result came back: answer in text
    return tools[0]


def _message(n: int, body: dict[str, Any], model: str) -> dict[str, Any]:
    reply = body.get("x_reply")
    text = reply if isinstance(reply, str) else "bad \udcff text" if model == BAD_TEXT else DEFAULT_REPLY
    stop_reason, stop_sequence = "end_turn", None
    words = _WORD.findall(text)
    max_tokens = _int(body.get("max_tokens"))
    if max_tokens is not None and 0 < max_tokens < len(words):
        text, stop_reason = "".join(words[:max_tokens]).strip(), "max_tokens"
    for sequence in body.get("stop_sequences") or ():
        if isinstance(sequence, str) and sequence and sequence in text:
            text, stop_reason, stop_sequence = text[: text.index(sequence)].rstrip(), "stop_sequence", sequence
            break
    content: list[dict[str, Any]] = []
    thinking = body.get("thinking")
    thinks = isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled")
    if thinks:
        content.append({"type": "thinking", "thinking": THINKING, "signature": SIGNATURE})
    tool = _wants_tool(body)
    if tool is not None:
        content.append({"type": "tool_use", "id": f"toolu_{n}", "name": tool.get("name"), "input": TOOL_INPUT})
        stop_reason, stop_sequence, output = "tool_use", None, len(json.dumps(TOOL_INPUT).split())
    else:
        content.append({"type": "text", "text": text})
        output = len(text.split())
    thinking_tokens = len(THINKING.split()) if thinks else 0
    total = _input_words(body)
    cache_read = cache_write = 0
    if _has(body, "cache_control"):
        cache_read, cache_write = total // 2, total // 4
    usage: dict[str, Any] = {
        "input_tokens": total - cache_read - cache_write,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output + thinking_tokens,
        "service_tier": "standard",
    }
    if thinks:
        usage["output_tokens_details"] = {"thinking_tokens": thinking_tokens}
    if model == HOSTILE_USAGE:
        usage.update(
            input_tokens=-3, output_tokens=2**70, cache_read_input_tokens="12", cache_creation_input_tokens=True
        )
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "model": model + ("-\ud800" if model == BAD_TEXT else MODEL_SUFFIX),
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }


# -- streams ----------------------------------------------------------------------------------------------------


def _frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode("ascii")


def _pieces(text: str, count: int) -> list[str]:
    """``text`` in ``count`` pieces at word boundaries (fewer when it has fewer words)."""
    words = _WORD.findall(text)
    if not words:
        return [text] if text else []
    count = max(1, min(count, len(words)))
    size, extra = divmod(len(words), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append("".join(words[start:end]))
        start = end
    return out


def _stream(message: dict[str, Any], body: dict[str, Any], model: str) -> list[bytes]:
    usage = message["usage"]
    start_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**start_usage, "cache_creation": usage["cache_creation"], "output_tokens": 1}
    frames = [_frame({"type": "message_start", "message": start})]
    chunks = _int(body.get("x_chunks")) or DEFAULT_CHUNKS
    failing = model in (BROKEN_STREAM, STREAM_ERROR)
    sent = 0
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"], chunks)]
        elif kind == "thinking":
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"], 2)]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        else:
            opening = {**block, "input": {}}
            arguments = json.dumps(block["input"])
            half = len(arguments) // 2
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in (arguments[:half], arguments[half:])]
        frames.append(_frame({"type": "content_block_start", "index": index, "content_block": opening}))
        if index == 0:
            frames.append(_frame({"type": "ping"}))
        for delta in deltas:
            if failing and sent == 2:
                break
            frames.append(_frame({"type": "content_block_delta", "index": index, "delta": delta}))
            sent += 1
        if failing and sent == 2:
            break
        frames.append(_frame({"type": "content_block_stop", "index": index}))
    if failing:
        if model == STREAM_ERROR:
            error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            frames.append(_frame(error))
        return frames
    delta_usage = {**start_usage, "output_tokens": usage["output_tokens"]}
    if "output_tokens_details" in usage:
        delta_usage["output_tokens_details"] = usage["output_tokens_details"]
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    frames.append(_frame({"type": "message_delta", "delta": delta, "usage": delta_usage}))
    frames.append(_frame({"type": "message_stop"}))
    return frames
