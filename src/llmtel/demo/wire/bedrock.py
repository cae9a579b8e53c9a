"""The ``bedrock-runtime`` wire format on the demo server: Converse, ConverseStream, InvokeModel and
InvokeModelWithResponseStream, as botocore sends and parses them.

Paths: ``POST /model/{modelId}/converse``, ``/converse-stream``, ``/invoke``, ``/invoke-with-response-stream``
(the model id URL-encoded, ``:`` as ``%3A``). Streams are ``application/vnd.amazon.eventstream``: binary
messages (prelude with lengths and CRC32, string headers ``:event-type`` / ``:message-type`` /
``:content-type``, a JSON payload, message CRC32), one per HTTP chunk, which botocore's own EventStream
decoder checks and parses. InvokeModel's stream wraps each of the model's own JSON chunks, base64-encoded, in a
``chunk`` event, the last one carrying ``amazon-bedrock-invocationMetrics``, as the service does.

Deterministic: request ids from the server's request counter (``x-amzn-RequestId``), token counts are word
counts (the request's text; the reply's words), the reply is :data:`DEFAULT_REPLY` (or the body's ``x_reply``
knob: in the invoke body, or Converse's ``additionalModelRequestFields``).

Model families of ``invoke_model`` (by the id, after a region prefix such as ``us.``): ``anthropic.*`` (Messages
API; legacy ``prompt`` too), ``amazon.nova*``, ``amazon.titan-text*``, ``amazon.titan-embed*``, ``meta.*``,
``mistral.*``, ``cohere.command-r*``, ``cohere.command*``, ``cohere.embed*``; any other id answers 400
ValidationException as the service does for a body it cannot read.

Magic model ids (every path): ``does-not-exist`` 400 ValidationException "The provided model identifier is
invalid." (what Bedrock answers), ``rate-limited`` 429 ThrottlingException, ``server-error`` 500
InternalServerException, ``stall`` (200 ms before the reply and before every stream event), ``stream-error``
(streams: two text events, then a ``modelStreamErrorException`` exception event; non-stream: 424
ModelErrorException), ``stream-throttled`` (the same with a ``throttlingException`` event; non-stream 429),
``broken-stream`` (streams: two text events, then the connection closes mid-body; non-stream 500). A
Converse request with ``toolConfig`` whose last message is no tool result gets one ``toolUse`` of its first
tool (input from the tool's schema), stop reason ``tool_use``.

    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=server.root_url,
                          aws_access_key_id="test", aws_secret_access_key="test")
    client.converse(modelId="amazon.nova-micro-v1:0", messages=[{"role": "user", "content": [{"text": "hi"}]}])
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from llmtel.demo.server import (
    BROKEN_STREAM,
    DEFAULT_REPLY,
    NOT_FOUND,
    RATE_LIMITED,
    SERVER_ERROR,
    STALL,
    STREAM_ERROR,
    WireReply,
    WireRequest,
    example_for_schema,
)

__all__ = ["BROKEN_STREAM", "MAGIC", "STREAM_ERROR", "STREAM_THROTTLED", "event_message", "serve"]

STREAM_THROTTLED = "stream-throttled"
"""Streams: two text events, then a ``throttlingException`` event. Non-stream: 429 ThrottlingException."""
MAGIC = frozenset({NOT_FOUND, RATE_LIMITED, SERVER_ERROR, STALL, STREAM_ERROR, STREAM_THROTTLED, BROKEN_STREAM})
STALL_MS = 200
CHUNKS = 4  # text events per stream
LATENCY_MS = 42

_PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>converse|converse-stream|invoke|invoke-with-response-stream)$")
_REGION_PREFIX = re.compile(r"^(us|eu|apac|us-gov|ca|jp|au|global)\.")
_ERROR_TYPE = ":http://internal.amazon.com/coral/com.amazon.bedrock/"

JsonDict = dict[str, Any]

# magic model → (status, error code, message) of a non-stream reply
_ERRORS = {
    NOT_FOUND: (400, "ValidationException", "The provided model identifier is invalid."),
    RATE_LIMITED: (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    SERVER_ERROR: (500, "InternalServerException", "The server encountered an internal error."),
    STREAM_ERROR: (424, "ModelErrorException", "The model failed to process the request."),
    STREAM_THROTTLED: (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    BROKEN_STREAM: (500, "InternalServerException", "The server encountered an internal error."),
}
_CUT_STREAMS = frozenset({STREAM_ERROR, STREAM_THROTTLED, BROKEN_STREAM})
# magic model → the exception event a stream ends with
_STREAM_EXCEPTIONS = {
    STREAM_ERROR: ("modelStreamErrorException", "The model stream failed."),
    STREAM_THROTTLED: ("throttlingException", "Too many requests, please wait before trying again."),
}


# -- the event-stream framing -----------------------------------------------------------------------------------


def _header(name: str, value: str) -> bytes:
    key, data = name.encode(), value.encode()
    return struct.pack(">B", len(key)) + key + b"\x07" + struct.pack(">H", len(data)) + data


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One ``application/vnd.amazon.eventstream`` message: prelude (total and header lengths, their CRC32),
    string-typed headers, payload, CRC32 of everything before it."""
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _event(event_type: str, payload: Any) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return event_message(headers, json.dumps(payload, separators=(",", ":")).encode())


def _exception(code: str, message: str) -> bytes:
    headers = {":exception-type": code, ":content-type": "application/json", ":message-type": "exception"}
    return event_message(headers, json.dumps({"message": message}).encode())


# -- helpers ----------------------------------------------------------------------------------------------------


_TEXT_KEYS = frozenset({"text", "content", "prompt", "inputText", "message", "system", "texts"})


def _words(value: Any, counted: bool = False) -> int:
    """Whitespace words of the request's text (the strings under text-holding keys such as ``text``,
    ``content``, ``prompt``; not roles, formats or schemas): the demo's input token count."""
    if isinstance(value, str):
        return len(value.split()) if counted else 0
    if isinstance(value, dict):
        return sum(_words(v, k in _TEXT_KEYS) for k, v in value.items())
    if isinstance(value, list):
        return sum(_words(v, counted) for v in value)
    return 0


def _split(text: str, parts: int) -> list[str]:
    words = re.findall(r"\s*\S+", text)
    if not words:
        return [text]
    size = -(-len(words) // parts)
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def _limit(text: str, limit: Any) -> tuple[str, bool]:
    """The reply cut to ``limit`` words (when an int below its length); True if it was cut."""
    words = re.findall(r"\s*\S+", text)
    if isinstance(limit, int) and not isinstance(limit, bool) and 0 <= limit < len(words):
        return "".join(words[:limit]), True
    return text, False


def _request_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _json(status: int, payload: Any, n: int, extra: dict[str, str] | None = None, delay: int = 0) -> WireReply:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": _request_id(n), **(extra or {})}
    return WireReply(status, headers, [json.dumps(payload).encode()], delay_ms=delay)


def _error(status: int, code: str, message: str, n: int) -> WireReply:
    return _json(status, {"message": message}, n, {"x-amzn-ErrorType": code + _ERROR_TYPE})


def _dict(body: JsonDict, key: str) -> JsonDict:
    found = body.get(key)
    return found if isinstance(found, dict) else {}


def _family(model: str) -> str:
    bare = _REGION_PREFIX.sub("", model.rpartition("/")[2])
    for prefix, family in _FAMILY_PREFIXES:
        if bare.startswith(prefix):
            return family
    return ""


# -- Converse ---------------------------------------------------------------------------------------------------


def _tool(body: JsonDict) -> JsonDict | None:
    """The tool the demo "calls": the first one, unless the conversation's last message is a tool result."""
    tools = (body.get("toolConfig") or {}).get("tools") if isinstance(body.get("toolConfig"), dict) else None
    if not isinstance(tools, list):
        return None
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else {}
    content = last.get("content") if isinstance(last, dict) else None
    if isinstance(content, list) and any(isinstance(b, dict) and "toolResult" in b for b in content):
        return None
    for tool in tools:
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            schema = (spec.get("inputSchema") or {}).get("json")
            return {"name": spec["name"], "input": example_for_schema(schema) if schema else {}}
    return None


class _Reply:
    """What the demo answers one request: the text, whether it was cut, the tool call, the token counts."""

    def __init__(self, body: JsonDict, limit: Any, n: int, tool: JsonDict | None = None) -> None:
        extra = body.get("additionalModelRequestFields")  # Converse: botocore sends no unknown top-level key
        reply = body.get("x_reply", extra.get("x_reply") if isinstance(extra, dict) else None)
        self.text, self.cut = _limit(reply if isinstance(reply, str) else DEFAULT_REPLY, limit)
        self.tool = tool
        self.tool_id = f"tooluse_{n}"
        self.input_tokens = _words(body)
        self.output_tokens = len(self.text.split()) + (1 if tool else 0)  # a tool call counts one

    @property
    def stop(self) -> str:
        return "tool_use" if self.tool else "max_tokens" if self.cut else "end_turn"


def _converse(body: JsonDict, n: int, stream: bool, magic: str, delay: int) -> WireReply:
    config = _dict(body, "inferenceConfig")
    reply = _Reply(body, config.get("maxTokens"), n, _tool(body))
    usage = {
        "inputTokens": reply.input_tokens,
        "outputTokens": reply.output_tokens,
        "totalTokens": reply.input_tokens + reply.output_tokens,
    }
    if not stream:
        content: list[JsonDict] = [{"text": reply.text}]
        if reply.tool:
            content.append({"toolUse": {"toolUseId": reply.tool_id, **reply.tool}})
        payload = {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": reply.stop,
            "usage": usage,
            "metrics": {"latencyMs": LATENCY_MS},
        }
        return _json(200, payload, n, delay=delay)
    events = [_event("messageStart", {"role": "assistant"})]
    pieces = _split(reply.text, CHUNKS)
    for index, piece in enumerate(pieces):
        events.append(_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}))
        if index == 1 and magic in _CUT_STREAMS:
            return _stream_end(events, magic, n, delay)
    events.append(_event("contentBlockStop", {"contentBlockIndex": 0}))
    if reply.tool:
        start = {"toolUse": {"toolUseId": reply.tool_id, "name": reply.tool["name"]}}
        events.append(_event("contentBlockStart", {"contentBlockIndex": 1, "start": start}))
        arguments = json.dumps(reply.tool["input"])
        for piece in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
            events.append(_event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": piece}}}))
        events.append(_event("contentBlockStop", {"contentBlockIndex": 1}))
    events.append(_event("messageStop", {"stopReason": reply.stop}))
    events.append(_event("metadata", {"usage": usage, "metrics": {"latencyMs": LATENCY_MS}}))
    return _stream(events, n, delay)


def _stream(events: list[bytes], n: int, delay: int, abort: bool = False) -> WireReply:
    headers = {"Content-Type": "application/vnd.amazon.eventstream", "x-amzn-RequestId": _request_id(n)}
    return WireReply(200, headers, events, stream=True, abort=abort, delay_ms=delay)


def _stream_end(events: list[bytes], magic: str, n: int, delay: int) -> WireReply:
    """A stream cut short after its first events: an exception event, or the connection dropped."""
    if magic == BROKEN_STREAM:
        return _stream(events, n, delay, abort=True)
    code, message = _STREAM_EXCEPTIONS[magic]
    return _stream([*events, _exception(code, message)], n, delay)


# -- InvokeModel: the model families' bodies --------------------------------------------------------------------

Body = JsonDict
Chunks = list[JsonDict]


def _anthropic(body: Body, n: int, model: str) -> tuple[Body, Chunks, _Reply]:
    legacy = "prompt" in body and "messages" not in body
    limit = body.get("max_tokens_to_sample") if legacy else body.get("max_tokens")
    tool = None
    tools = body.get("tools")
    if isinstance(tools, list) and tools and isinstance(tools[0], dict) and isinstance(tools[0].get("name"), str):
        messages = body.get("messages") or []
        last = messages[-1].get("content") if messages and isinstance(messages[-1], dict) else None
        answered = isinstance(last, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in last)
        if not answered:
            schema = tools[0].get("input_schema")
            tool = {"name": tools[0]["name"], "input": example_for_schema(schema) if schema else {}}
    reply = _Reply(body, limit, n, tool)
    reason = {"max_tokens": "max_tokens", "tool_use": "tool_use"}.get(reply.stop, "end_turn")
    name = _REGION_PREFIX.sub("", model).removeprefix("anthropic.")
    chunks: Chunks
    if legacy:
        full: Body = {"type": "completion", "completion": reply.text, "stop_reason": reason, "stop": None}
        chunks = [{"completion": p, "stop_reason": None, "stop": None} for p in _split(reply.text, CHUNKS)]
        chunks[-1]["stop_reason"] = reason
        return full, chunks, reply
    content: list[JsonDict] = [{"type": "text", "text": reply.text}]
    if tool:
        content.append({"type": "tool_use", "id": f"toolu_bdrk_{n}", **tool})
    usage = {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}
    message: Body = {"id": f"msg_bdrk_{n}", "type": "message", "role": "assistant", "model": name}
    full = {**message, "content": content, "stop_reason": reason, "stop_sequence": None, "usage": usage}
    start: Body = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    chunks = [
        {
            "type": "message_start",
            "message": {**start, "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    for piece in _split(reply.text, CHUNKS):
        chunks.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
    chunks.append({"type": "content_block_stop", "index": 0})
    if tool:
        block = {"type": "tool_use", "id": f"toolu_bdrk_{n}", "name": tool["name"], "input": {}}
        chunks.append({"type": "content_block_start", "index": 1, "content_block": block})
        delta = {"type": "input_json_delta", "partial_json": json.dumps(tool["input"])}
        chunks.append({"type": "content_block_delta", "index": 1, "delta": delta})
        chunks.append({"type": "content_block_stop", "index": 1})
    end = {"stop_reason": reason, "stop_sequence": None}
    chunks.append({"type": "message_delta", "delta": end, "usage": {"output_tokens": reply.output_tokens}})
    chunks.append({"type": "message_stop"})
    return full, chunks, reply


def _nova(body: Body, n: int, model: str) -> tuple[Body, Chunks, _Reply]:
    config = _dict(body, "inferenceConfig")
    reply = _Reply(body, config.get("max_new_tokens", config.get("maxTokens")), n, _tool(body))
    usage = {
        "inputTokens": reply.input_tokens,
        "outputTokens": reply.output_tokens,
        "totalTokens": reply.input_tokens + reply.output_tokens,
        "cacheReadInputTokenCount": 0,
        "cacheWriteInputTokenCount": 0,
    }
    content: list[JsonDict] = [{"text": reply.text}]
    if reply.tool:
        content.append({"toolUse": {"toolUseId": reply.tool_id, **reply.tool}})
    full = {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": reply.stop, "usage": usage}
    chunks: Chunks = [{"messageStart": {"role": "assistant"}}]
    for piece in _split(reply.text, CHUNKS):
        chunks.append({"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": 0}})
    chunks.append({"contentBlockStop": {"contentBlockIndex": 0}})
    if reply.tool:
        start = {"toolUse": {"toolUseId": reply.tool_id, "name": reply.tool["name"]}}
        chunks.append({"contentBlockStart": {"start": start, "contentBlockIndex": 1}})
        delta = {"toolUse": {"input": json.dumps(reply.tool["input"])}}
        chunks.append({"contentBlockDelta": {"delta": delta, "contentBlockIndex": 1}})
        chunks.append({"contentBlockStop": {"contentBlockIndex": 1}})
    chunks.append({"messageStop": {"stopReason": reply.stop}})
    chunks.append({"metadata": {"usage": usage}})
    return full, chunks, reply


def _titan(body: Body, n: int, model: str) -> tuple[Body, Chunks, _Reply]:
    config = _dict(body, "textGenerationConfig")
    reply = _Reply(body, config.get("maxTokenCount"), n)
    reason = "LENGTH" if reply.cut else "FINISH"
    result = {"tokenCount": reply.output_tokens, "outputText": reply.text, "completionReason": reason}
    full = {"inputTextTokenCount": reply.input_tokens, "results": [result]}
    pieces = _split(reply.text, CHUNKS)
    chunks: Chunks = [
        {"outputText": p, "index": 0, "totalOutputTextTokenCount": None, "completionReason": None} for p in pieces
    ]
    chunks[0]["inputTextTokenCount"] = reply.input_tokens
    chunks[-1].update(totalOutputTextTokenCount=reply.output_tokens, completionReason=reason)
    return full, chunks, reply


def _embedding(count: int) -> list[float]:
    return [round(0.1 * (i + 1), 3) for i in range(count)]


def _titan_embed(body: Body, n: int, model: str) -> tuple[Body, Chunks, _Reply]:
    reply = _Reply(body, None, n)
    reply.output_tokens = 0
    dimensions = body.get("dimensions")
    return (
        {
            "embedding": _embedding(dimensions if isinstance(dimensions, int) else 8),
            "inputTextTokenCount": reply.input_tokens,
        },
        [],
        reply,
    )


def _llama(body: Body, n: int, model: str) -> tuple[Body, Chunks, _Reply]:
    reply = _Reply(body, body.get("max_gen_len"), n)
    reason = "length" if reply.cut else "stop"
    full = {
        "generation": reply.text,
        "prompt_token_count": reply.input_tokens,
        "generation_token_count": reply.output_tokens,
        "stop_reason": reason,
    }
    pieces = _split(reply.text, CHUNKS)
    chunks: Chunks = [
        {"generation": p, "prompt_token_count": None, "generation_token_count": i + 1, "stop_reason": None}
        for i, p in enumerate(pieces)
    ]
    chunks[0]["prompt_token_count"] = reply.input_tokens
    chunks[-1].update(generation_token_count=reply.output_tokens, stop_reason=reason)
    return full, chunks, reply


def _mistral(body: Body, n: int, model: str) -> tuple[Body, Chunks, _Reply]:
    reply = _Reply(body, body.get("max_tokens"), n)
    reason = "length" if reply.cut else "stop"
    full = {"outputs": [{"text": reply.text, "stop_reason": reason}]}
    chunks: Chunks = [{"outputs": [{"text": p, "stop_reason": None}]} for p in _split(reply.text, CHUNKS)]
    chunks[-1]["outputs"][0]["stop_reason"] = reason
    return full, chunks, reply


def _cohere_r(body: Body, n: int, model: str) -> tuple[Body, Chunks, _Reply]:
    reply = _Reply(body, body.get("max_tokens"), n)
    reason = "MAX_TOKENS" if reply.cut else "COMPLETE"
    history = [{"role": "USER", "message": body.get("message")}, {"role": "CHATBOT", "message": reply.text}]
    full = {
        "response_id": f"resp-{n}",
        "text": reply.text,
        "generation_id": f"gen-{n}",
        "chat_history": history,
        "finish_reason": reason,
    }
    chunks: Chunks = [{"is_finished": False, "event_type": "stream-start", "generation_id": f"gen-{n}"}]
    chunks += [{"is_finished": False, "event_type": "text-generation", "text": p} for p in _split(reply.text, CHUNKS)]
    chunks.append({"is_finished": True, "event_type": "stream-end", "finish_reason": reason, "response": full})
    return full, chunks, reply


def _cohere(body: Body, n: int, model: str) -> tuple[Body, Chunks, _Reply]:
    reply = _Reply(body, body.get("max_tokens"), n)
    reason = "MAX_TOKENS" if reply.cut else "COMPLETE"
    generation = {"id": f"gen-{n}", "text": reply.text, "finish_reason": reason}
    full = {"id": _request_id(n), "generations": [generation], "prompt": body.get("prompt")}
    chunks: Chunks = [{"text": p, "is_finished": False} for p in _split(reply.text, CHUNKS)]
    chunks.append({"is_finished": True, "finish_reason": reason, "text": ""})
    return full, chunks, reply


def _cohere_embed(body: Body, n: int, model: str) -> tuple[Body, Chunks, _Reply]:
    reply = _Reply(body, None, n)
    reply.output_tokens = 0
    found = body.get("texts")
    texts = found if isinstance(found, list) else []
    full = {
        "id": f"emb-{n}",
        "embeddings": [_embedding(8) for _ in texts],
        "texts": texts,
        "response_type": "embeddings_floats",
    }
    return full, [], reply


Family = Callable[[Body, int, str], tuple[Body, Chunks, _Reply]]
_FAMILY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("anthropic.", "anthropic"),
    ("amazon.nova", "nova"),
    ("amazon.titan-embed", "titan_embed"),
    ("amazon.titan-text", "titan"),
    ("amazon.titan-tg1", "titan"),
    ("meta.", "llama"),
    ("mistral.", "mistral"),
    ("cohere.command-r", "cohere_r"),
    ("cohere.command", "cohere"),
    ("cohere.embed", "cohere_embed"),
)
_FAMILIES: dict[str, Family] = {
    "anthropic": _anthropic,
    "nova": _nova,
    "titan": _titan,
    "titan_embed": _titan_embed,
    "llama": _llama,
    "mistral": _mistral,
    "cohere_r": _cohere_r,
    "cohere": _cohere,
    "cohere_embed": _cohere_embed,
}


def _invoke(body: Body, model: str, n: int, stream: bool, magic: str, delay: int) -> WireReply:
    family = _FAMILIES.get(_family(model)) or (_llama if magic else None)  # magic ids: a prompt-style model
    if family is None or (stream and family in (_titan_embed, _cohere_embed)):
        return _error(
            400, "ValidationException", "Malformed input request, please reformat your input and try again.", n
        )
    full, chunks, reply = family(body, n, model)
    metrics = {
        "inputTokenCount": reply.input_tokens,
        "outputTokenCount": reply.output_tokens,
        "invocationLatency": LATENCY_MS,
        "firstByteLatency": LATENCY_MS // 2,
    }
    if not stream:
        headers = {
            "X-Amzn-Bedrock-Input-Token-Count": str(reply.input_tokens),
            "X-Amzn-Bedrock-Invocation-Latency": str(LATENCY_MS),
        }
        if chunks:  # embeddings models (no stream) report input tokens only
            headers["X-Amzn-Bedrock-Output-Token-Count"] = str(reply.output_tokens)
        return _json(200, full, n, headers, delay)
    chunks[-1] = {**chunks[-1], "amazon-bedrock-invocationMetrics": metrics}
    events: list[bytes] = []
    for index, chunk in enumerate(chunks):
        data = base64.b64encode(json.dumps(chunk, separators=(",", ":")).encode()).decode()
        events.append(_event("chunk", {"bytes": data}))
        if index == 2 and magic in _CUT_STREAMS:
            return _stream_end(events, magic, n, delay)
    return _stream(events, n, delay)


# -- serving ----------------------------------------------------------------------------------------------------


def serve(request: WireRequest) -> WireReply | None:
    """The reply to a request on one of this API's paths; None for any other path."""
    found = _PATH.match(request.path) if request.method == "POST" else None
    if found is None:
        return None
    model, operation = unquote(found["model"]), found["op"]
    stream = operation.endswith("stream")
    n = request.n
    magic = model if model in MAGIC else ""
    if magic in _ERRORS and not (stream and magic in _CUT_STREAMS):
        status, code, message = _ERRORS[magic]
        return _error(status, code, message, n)
    try:
        body = json.loads(request.raw) if request.raw else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _error(
            400, "ValidationException", "Malformed input request, please reformat your input and try again.", n
        )
    delay = STALL_MS if magic == STALL else 0
    if operation.startswith("converse"):
        return _converse(body, n, stream, magic, delay)
    return _invoke(body, model, n, stream, magic, delay)
