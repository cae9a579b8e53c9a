"""A small, deterministic, OpenAI-compatible HTTP server for the demo and the test suite.

It speaks the wire format of ``api.openai.com`` closely enough for the official ``openai`` SDK to parse every
reply with its own types: chat completions, legacy completions, embeddings and the Responses API, each
non-streaming and (where the API has it) streaming over server-sent events with chunked transfer encoding.

Nothing is random. Every id is derived from a per-server request counter ``n`` (``req_<n>``,
``chatcmpl-<n>``, ``resp_<n>``, ``call_<n>`` ...), timestamps are fixed, and token counts are whitespace
word counts. Magic model names select failure modes (see :data:`MAGIC_MODELS`) and a few ``x_*`` request
body fields, which the SDK sends through ``extra_body``, tune the reply.

Magic models (every endpoint): ``does-not-exist`` 404, ``rate-limited`` 429, ``server-error`` 500,
``stall`` (delay), ``broken-stream`` / ``stream-error`` (streams fail after two content chunks; 500 when
not streaming), ``response-failed`` (Responses API ends in ``response.failed``; 500 elsewhere). Any other
model succeeds and is echoed with ``-2026-01-01`` appended.

Body knobs: ``x_reply`` (reply text), ``x_chunks`` (content chunks per stream; default 5, capped at the word
count unless given, in which case filler words are added and the stream reports that many completion
tokens), ``x_delay_ms`` (delay before a reply and before every stream event; ``stall`` defaults it to 200).

Standard library only: it ships inside the package.

    with FakeOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

The other providers' wire formats (Anthropic Messages, Bedrock runtime, Gemini) are served on the same port by
the modules of :mod:`llmtel.demo.wire` (each answers the paths of its API; see :class:`WireRequest`), so one
server is every provider's local endpoint: ``server.root_url`` for the Anthropic and Gemini SDKs' base URL and
Bedrock's ``endpoint_url``.

Run ``python -m llmtel.demo.server --port 8000`` to serve it in the foreground.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import re
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

__all__ = [
    "BROKEN_STREAM",
    "CREATED",
    "DEFAULT_REPLY",
    "MAGIC_MODELS",
    "MODEL_SUFFIX",
    "NOT_FOUND",
    "RATE_LIMITED",
    "REASONING_TOKENS",
    "RESPONSE_FAILED",
    "SERVER_ERROR",
    "STALL",
    "STREAM_ERROR",
    "TOOL_ARGUMENTS",
    "FakeOpenAIServer",
    "RecordedRequest",
    "example_for_schema",
    "main",
]

# ----------------------------------------------------------------------------------------------------------
# Constants (public so tests can assert against them)
# ----------------------------------------------------------------------------------------------------------

NOT_FOUND = "does-not-exist"
"""404 ``model_not_found`` on every endpoint."""
RATE_LIMITED = "rate-limited"
"""429 ``rate_limit_exceeded`` (type ``requests``) with ``retry-after: 0`` on every endpoint."""
SERVER_ERROR = "server-error"
"""500 ``server_error`` on every endpoint."""
STALL = "stall"
"""Delays the reply (or every stream event) by ``x_delay_ms`` (default 200 ms)."""
BROKEN_STREAM = "broken-stream"
"""Streams: two content chunks, then the socket is closed mid-body. Non-stream: 500."""
STREAM_ERROR = "stream-error"
"""Streams: two content chunks, then an SSE error event. Non-stream: 500."""
RESPONSE_FAILED = "response-failed"
"""Responses API: ends with ``response.failed`` (stream) or returns ``status: failed``. Elsewhere: 500."""

MAGIC_MODELS = frozenset({NOT_FOUND, RATE_LIMITED, SERVER_ERROR, STALL, BROKEN_STREAM, STREAM_ERROR, RESPONSE_FAILED})

MODEL_SUFFIX = "-2026-01-01"
"""Appended to the request model to form the response model: ``gpt-4o-mini`` -> ``gpt-4o-mini-2026-01-01``."""
CREATED = 1767225600
"""Fixed ``created`` / ``created_at`` timestamp (2026-01-01T00:00:00Z)."""
DEFAULT_REPLY = "This is a deterministic reply from the llmtel demo server."
TOOL_ARGUMENTS = '{"city": "Paris"}'
"""Arguments of every generated tool call."""
REASONING_TOKENS = 7
"""Reported (and added to the completion tokens) when the request asks for reasoning."""
DEFAULT_CHUNKS = 5
DEFAULT_STALL_MS = 200
DEFAULT_DIMENSIONS = 8
SYSTEM_FINGERPRINT = "fp_demo"
ORGANIZATION = "demo-org"

_FILLER = ("lorem", "ipsum", "dolor", "sit", "amet")
_WORD = re.compile(r"\s*\S+")
_SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"

JsonDict = dict[str, Any]


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    """The parsed JSON body, or ``None`` when there was no (valid JSON) body."""


# ----------------------------------------------------------------------------------------------------------
# Replies
# ----------------------------------------------------------------------------------------------------------


@dataclass
class _JsonReply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _StreamReply:
    frames: list[str]
    """Complete SSE frames (``data: ...\\n\\n``), written one HTTP chunk each."""
    abort: bool = False
    """Close the socket after the frames without terminating the chunked body."""


_Reply = _JsonReply | _StreamReply


@dataclass
class WireRequest:
    """One request, for a provider wire module (:mod:`llmtel.demo.wire`)."""

    method: str
    path: str
    """Without the query string."""
    query: str
    headers: dict[str, str]
    """Header names lower-cased."""
    raw: bytes
    """The request body as sent."""
    n: int
    """The request's 1-based position on this server (for deterministic ids)."""


@dataclass
class WireReply:
    """A provider wire module's reply: a body sent whole (``Content-Length``), or, with ``stream``, ``chunks``
    written one HTTP chunk each (chunked transfer encoding), ``delay_ms`` before each."""

    status: int
    headers: dict[str, str]
    chunks: list[bytes]
    stream: bool = False
    abort: bool = False
    """With ``stream``: close the socket after the chunks without terminating the chunked body."""
    delay_ms: int = 0


_WIRES = ("anthropic", "bedrock", "gemini")
"""The provider wire modules in :mod:`llmtel.demo.wire`, asked in order; each has
``serve(WireRequest) -> WireReply | None`` (None: not one of its paths)."""


def _error(status: int, message: str, type_: str, code: str | None, param: str | None = None) -> _JsonReply:
    return _JsonReply(status, {"error": {"message": message, "type": type_, "param": param, "code": code}})


def _server_error() -> _JsonReply:
    return _error(
        500,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    )


def _bad_request(message: str, param: str | None = None) -> _JsonReply:
    return _error(400, message, "invalid_request_error", None, param)


def _magic_error(model: str) -> _JsonReply | None:
    if model == NOT_FOUND:
        return _error(404, f"The model `{model}` does not exist", "invalid_request_error", "model_not_found")
    if model == RATE_LIMITED:
        reply = _error(
            429,
            f"Rate limit reached for {model} in organization {ORGANIZATION} on requests per min (RPM): "
            "Limit 1, Used 1, Requested 1.",
            "requests",
            "rate_limit_exceeded",
        )
        reply.headers["retry-after"] = "0"
        return reply
    if model == SERVER_ERROR:
        return _server_error()
    return None


def _dump_compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _data_frame(obj: Any) -> str:
    return f"data: {_dump_compact(obj)}\n\n"


def _event_frame(obj: JsonDict) -> str:
    return f"event: {obj['type']}\ndata: {_dump_compact(obj)}\n\n"


_DONE_FRAME = "data: [DONE]\n\n"


# ----------------------------------------------------------------------------------------------------------
# Text helpers
# ----------------------------------------------------------------------------------------------------------


def _count_words(text: str) -> int:
    return len(text.split())


def _collect_text(value: Any) -> list[str]:
    """Every string under ``content`` / ``text`` / ``output`` keys (or the value itself if it is a string)."""
    if isinstance(value, str):
        return [value]
    out: list[str] = []
    if isinstance(value, list):
        for item in value:
            out.extend(_collect_text(item))
    elif isinstance(value, dict):
        for key in ("content", "text", "output"):
            if key in value:
                out.extend(_collect_text(value[key]))
    return out


def _prompt_tokens(*values: Any) -> int:
    return max(1, sum(_count_words(text) for value in values for text in _collect_text(value)))


def _words(text: str) -> list[str]:
    """Words with their leading whitespace, so that ``"".join(_words(t))`` is ``t`` minus trailing space."""
    return cast(list[str], _WORD.findall(text))


def _truncate(text: str, limit: int) -> str:
    return "".join(_words(text)[: max(0, limit)])


def _pad_words(text: str, count: int) -> str:
    missing = count - _count_words(text)
    if missing <= 0:
        return text
    extra = " ".join(_FILLER[i % len(_FILLER)] for i in range(missing))
    return f"{text} {extra}" if text.strip() else extra


def _split_even(items: list[str], parts: int) -> list[str]:
    parts = max(1, min(parts, len(items)))
    base, extra = divmod(len(items), parts)
    pieces: list[str] = []
    start = 0
    for index in range(parts):
        size = base + (1 if index < extra else 0)
        pieces.append("".join(items[start : start + size]))
        start += size
    return pieces


def _split_text(text: str, parts: int, *, structured: bool) -> list[str]:
    """Split ``text`` into at most ``parts`` pieces whose concatenation is ``text``."""
    items = list(text) if structured else _words(text)
    if not items:
        return [text]
    pieces = _split_even(items, parts)
    covered = sum(len(piece) for piece in pieces)
    if covered < len(text):  # trailing whitespace after the last word
        pieces[-1] += text[covered:]
    return pieces


def _int_field(body: JsonDict, key: str) -> int | None:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


# ----------------------------------------------------------------------------------------------------------
# JSON schema -> example instance
# ----------------------------------------------------------------------------------------------------------

_STRING_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00",
    "duration": "PT1S",
    "email": "demo@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "hostname": "example.com",
}


def _resolve_ref(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return {}
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node


def _bounded(value: float, schema: JsonDict) -> float:
    minimum = schema.get("minimum", schema.get("exclusiveMinimum"))
    maximum = schema.get("maximum", schema.get("exclusiveMaximum"))
    if isinstance(minimum, (int, float)) and value < minimum:
        value = minimum + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    if isinstance(maximum, (int, float)) and value > maximum:
        value = maximum - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
    return value


def example_for_schema(schema: Any, root: Any = None, _depth: int = 0) -> Any:
    """A JSON value satisfying ``schema``: strings ``"demo"``, integers 1, numbers 1.5, booleans true, ..."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or _depth > 24:
        return None
    depth = _depth + 1
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return example_for_schema(_resolve_ref(root, ref), root, depth)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            concrete = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            if not concrete or (_depth > 8 and len(concrete) < len(options)):
                return None  # break recursion through optional self-references
            return example_for_schema(concrete[0], root, depth)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: JsonDict = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in all_of:
            part = _resolve_ref(root, sub["$ref"]) if isinstance(sub, dict) and "$ref" in sub else sub
            if isinstance(part, dict):
                for k, v in part.items():
                    if k == "properties" and isinstance(v, dict):
                        merged["properties"] = {**merged.get("properties", {}), **v}
                    elif k == "required" and isinstance(v, list):
                        merged["required"] = [*merged.get("required", []), *v]
                    else:
                        merged.setdefault(k, v)
        return example_for_schema(merged, root, depth)

    type_ = schema.get("type")
    if isinstance(type_, list):
        concrete_types = [t for t in type_ if t != "null"]
        type_ = concrete_types[0] if concrete_types else "null"
    if type_ is None:
        type_ = "object" if "properties" in schema else "array" if "items" in schema else "string"

    if type_ == "object":
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        result = {name: example_for_schema(sub, root, depth) for name, sub in properties.items()}
        for name in schema.get("required") or []:
            if isinstance(name, str) and name not in result:
                result[name] = "demo"
        return result
    if type_ == "array":
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [example_for_schema(sub, root, depth) for sub in prefix]
        min_items = schema.get("minItems")
        count = min_items if isinstance(min_items, int) and min_items > 0 else 0
        return [example_for_schema(schema.get("items", {}), root, depth) for _ in range(count)]
    if type_ == "string":
        fmt = schema.get("format")
        text = _STRING_FORMATS.get(fmt, "demo") if isinstance(fmt, str) else "demo"
        min_length = schema.get("minLength")
        if isinstance(min_length, int) and len(text) < min_length:
            text = (text * (min_length // len(text) + 1))[:min_length]
        return text
    if type_ == "integer":
        return int(_bounded(1, schema))
    if type_ == "number":
        return _bounded(1.5, schema)
    if type_ == "boolean":
        return True
    return None


# ----------------------------------------------------------------------------------------------------------
# Request interpretation shared by the endpoints
# ----------------------------------------------------------------------------------------------------------

# ("json_object", None) | ("json_schema", schema) | None for plain text
_Format = tuple[str, Any] | None


@dataclass
class _Generated:
    text: str
    pieces: list[str]
    tokens: int
    truncated: bool


@dataclass
class _Call:
    n: int
    body: JsonDict
    model: str
    stream: bool

    @property
    def response_model(self) -> str:
        return f"{self.model}{MODEL_SUFFIX}"

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))

    @property
    def service_tier(self) -> str:
        tier = self.body.get("service_tier")
        return tier if isinstance(tier, str) else "default"

    def cached_tokens(self, prompt_tokens: int) -> int:
        return prompt_tokens // 2 if self.body.get("prompt_cache_key") is not None else 0

    def generate(self, fmt: _Format, limit: int | None) -> _Generated:
        """The reply text, its stream pieces and its completion-token count."""
        text, structured = self._reply_text(fmt)
        requested = _int_field(self.body, "x_chunks")
        explicit = requested is not None and requested > 0
        chunks = requested if requested is not None and requested > 0 else DEFAULT_CHUNKS
        if explicit and self.stream and not structured:
            text = _pad_words(text, chunks)
        truncated = limit is not None and limit < _count_words(text)
        if truncated and limit is not None:
            text = _truncate(text, limit)
        words = _count_words(text)
        pieces = _split_text(text, chunks, structured=structured)
        tokens = chunks if self.stream and explicit and not truncated else words
        return _Generated(text, pieces, tokens, truncated)

    def _reply_text(self, fmt: _Format) -> tuple[str, bool]:
        override = self.body.get("x_reply")
        if fmt is None:
            return (override if isinstance(override, str) else DEFAULT_REPLY), False
        if isinstance(override, str):
            return override, True
        kind, schema = fmt
        if kind == "json_schema" and isinstance(schema, dict):
            return json.dumps(example_for_schema(schema)), True
        return json.dumps({"reply": DEFAULT_REPLY}), True


def _tool_name(tool: Any) -> str | None:
    """Function name of a chat (``{"function": {"name"}}``) or Responses (``{"name"}``) function tool."""
    if not isinstance(tool, dict) or tool.get("type", "function") != "function":
        return None
    function = tool.get("function")
    name = function.get("name") if isinstance(function, dict) else tool.get("name")
    return name if isinstance(name, str) else None


def _chosen_tools(body: JsonDict, *, allow_parallel: bool) -> list[str]:
    names = [name for name in map(_tool_name, body.get("tools") or []) if name]
    choice = body.get("tool_choice")
    if not names or choice == "none":
        return []
    if isinstance(choice, dict):
        function = choice.get("function")
        forced = function.get("name") if isinstance(function, dict) else choice.get("name")
        if isinstance(forced, str) and forced in names:
            return [forced]
    if allow_parallel and body.get("parallel_tool_calls") is not False and len(names) >= 2:
        return names[:2]
    return names[:1]


def _call_id(prefix: str, n: int, index: int) -> str:
    return f"{prefix}_{n}" if index == 0 else f"{prefix}_{n}_{index}"


def _argument_pieces() -> list[str]:
    return ['{"city', '": "Par', 'is"}']


def _reasoning_requested(body: JsonDict) -> bool:
    """``reasoning_effort`` (chat) or ``reasoning.effort`` (Responses) set to anything but ``"none"``."""
    reasoning = body.get("reasoning")
    effort = body.get("reasoning_effort", reasoning.get("effort") if isinstance(reasoning, dict) else None)
    return effort is not None and effort != "none"


# ----------------------------------------------------------------------------------------------------------
# POST /v1/chat/completions
# ----------------------------------------------------------------------------------------------------------


def _chat_format(body: JsonDict) -> _Format:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return ("json_object", None)
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        return ("json_schema", spec.get("schema") if isinstance(spec, dict) else None)
    return None


def _chat_usage(call: _Call, prompt_tokens: int, completion_tokens: int) -> JsonDict:
    reasoning = REASONING_TOKENS if _reasoning_requested(call.body) else 0
    completion_tokens += reasoning
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": call.cached_tokens(prompt_tokens), "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat(call: _Call) -> _Reply:
    body = call.body
    if call.model == RESPONSE_FAILED:
        return _server_error()
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _bad_request("Invalid 'messages': empty array or not an array.", "messages")
    n = _int_field(body, "n") or 1
    prompt_tokens = _prompt_tokens(messages)
    last_role = messages[-1].get("role") if isinstance(messages[-1], dict) else None
    tools = [] if last_role == "tool" else _chosen_tools(body, allow_parallel=True)
    limit = _int_field(body, "max_completion_tokens")
    limit = _int_field(body, "max_tokens") if limit is None else limit
    generated = None if tools else call.generate(_chat_format(body), limit)

    base: JsonDict = {
        "id": f"chatcmpl-{call.n}",
        "object": "chat.completion.chunk" if call.stream else "chat.completion",
        "created": CREATED,
        "model": call.response_model,
        "service_tier": call.service_tier,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    tool_calls: list[JsonDict] = [
        {
            "id": _call_id("call", call.n, index),
            "type": "function",
            "function": {"name": name, "arguments": TOOL_ARGUMENTS},
        }
        for index, name in enumerate(tools)
    ]
    if generated is None:
        finish_reason = "tool_calls"
        per_choice_tokens = _count_words(TOOL_ARGUMENTS) * len(tools)
    else:
        finish_reason = "length" if generated.truncated else "stop"
        per_choice_tokens = generated.tokens
    usage = _chat_usage(call, prompt_tokens, per_choice_tokens * n)

    if not call.stream:
        if call.model in (BROKEN_STREAM, STREAM_ERROR):
            return _server_error()
        message: JsonDict = {
            "role": "assistant",
            "content": None if generated is None else generated.text,
            "refusal": None,
            "annotations": [],
        }
        if tool_calls:
            message["tool_calls"] = tool_calls
        choices = [{"index": i, "message": message, "logprobs": None, "finish_reason": finish_reason} for i in range(n)]
        return _JsonReply(200, {**base, "choices": choices, "usage": usage})

    if call.include_usage:
        base["usage"] = None

    def chunk(index: int, delta: JsonDict, finish: str | None = None) -> str:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _data_frame({**base, "choices": [choice]})

    failing = call.model in (BROKEN_STREAM, STREAM_ERROR)
    frames = [
        chunk(i, {"role": "assistant", "content": None if generated is None else "", "refusal": None}) for i in range(n)
    ]
    if generated is not None:
        pieces = generated.pieces[:2] if failing else generated.pieces
        frames += [chunk(i, {"content": piece}) for piece in pieces for i in range(n)]
    else:
        for i in range(n):
            for index, tool_call in enumerate(tool_calls):
                header = {**tool_call, "index": index, "function": {**tool_call["function"], "arguments": ""}}
                frames.append(chunk(i, {"tool_calls": [header]}))
                frames += [
                    chunk(i, {"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                    for piece in _argument_pieces()
                ]
    if call.model == BROKEN_STREAM:
        return _StreamReply(frames, abort=True)
    if call.model == STREAM_ERROR:
        error = {"message": "stream failed", "type": "server_error", "code": "stream_error"}
        return _StreamReply([*frames, _data_frame({"error": error})])
    frames += [chunk(i, {}, finish_reason) for i in range(n)]
    if call.include_usage:
        frames.append(_data_frame({**base, "choices": [], "usage": usage}))
    frames.append(_DONE_FRAME)
    return _StreamReply(frames)


# ----------------------------------------------------------------------------------------------------------
# POST /v1/completions (legacy)
# ----------------------------------------------------------------------------------------------------------


def _prompts(value: Any) -> list[Any] | None:
    """Normalise ``prompt`` / ``input``: a string, a token array, or a list of either."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(item, int) and not isinstance(item, bool) for item in value):
            return [value]
        if all(isinstance(item, (str, list)) for item in value):
            return list(value)
    return None


def _input_tokens(items: Iterable[Any]) -> int:
    total = 0
    for item in items:
        total += _count_words(item) if isinstance(item, str) else len(item)
    return max(1, total)


def _completions(call: _Call) -> _Reply:
    body = call.body
    if call.model == RESPONSE_FAILED:
        return _server_error()
    prompts = _prompts(body.get("prompt"))
    if prompts is None:
        return _bad_request("Invalid 'prompt': expected a string or an array.", "prompt")
    n = _int_field(body, "n") or 1
    prompt_tokens = _input_tokens(prompts)
    generated = call.generate(None, _int_field(body, "max_tokens"))
    finish_reason = "length" if generated.truncated else "stop"
    count = len(prompts) * n
    completion_tokens = generated.tokens * count
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    base: JsonDict = {
        "id": f"cmpl-{call.n}",
        "object": "text_completion",
        "created": CREATED,
        "model": call.response_model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    if not call.stream:
        if call.model in (BROKEN_STREAM, STREAM_ERROR):
            return _server_error()
        choices = [
            {"text": generated.text, "index": i, "logprobs": None, "finish_reason": finish_reason} for i in range(count)
        ]
        return _JsonReply(200, {**base, "choices": choices, "usage": usage})

    def chunk(index: int, text: str, finish: str | None = None) -> str:
        choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
        return _data_frame({**base, "choices": [choice]})

    failing = call.model in (BROKEN_STREAM, STREAM_ERROR)
    pieces = generated.pieces[:2] if failing else generated.pieces
    frames = [chunk(i, piece) for piece in pieces for i in range(count)]
    if call.model == BROKEN_STREAM:
        return _StreamReply(frames, abort=True)
    if call.model == STREAM_ERROR:
        error = {"message": "stream failed", "type": "server_error", "code": "stream_error"}
        return _StreamReply([*frames, _data_frame({"error": error})])
    frames += [chunk(i, "", finish_reason) for i in range(count)]
    if call.include_usage:
        frames.append(_data_frame({**base, "choices": [], "usage": usage}))
    frames.append(_DONE_FRAME)
    return _StreamReply(frames)


# ----------------------------------------------------------------------------------------------------------
# POST /v1/embeddings
# ----------------------------------------------------------------------------------------------------------


def _embeddings(call: _Call) -> _Reply:
    body = call.body
    inputs = _prompts(body.get("input"))
    if inputs is None:
        return _bad_request("'$.input' is invalid. Please check the API reference.", "input")
    if call.model in (BROKEN_STREAM, STREAM_ERROR, RESPONSE_FAILED):
        return _server_error()
    dimensions = _int_field(body, "dimensions") or DEFAULT_DIMENSIONS
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index in range(len(inputs)):
        vector = [round(0.1 * (i + 1) + 0.01 * index, 3) for i in range(dimensions)]
        embedding: Any = vector
        if as_base64:
            embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = _input_tokens(inputs)
    return _JsonReply(
        200,
        {
            "object": "list",
            "data": data,
            "model": call.response_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
    )


# ----------------------------------------------------------------------------------------------------------
# POST /v1/responses
# ----------------------------------------------------------------------------------------------------------


def _responses_format(body: JsonDict) -> _Format:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return ("json_object", None)
    if fmt.get("type") == "json_schema":
        return ("json_schema", fmt.get("schema"))
    return None


def _has_tool_output(value: Any) -> bool:
    return isinstance(value, list) and any(
        isinstance(item, dict) and item.get("type") == "function_call_output" for item in value
    )


def _echo_tools(tools: Any) -> list[Any]:
    echoed: list[Any] = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            tool = {"description": None, "strict": True, **tool}
        echoed.append(tool)
    return echoed


def _response_object(
    call: _Call,
    *,
    status: str,
    output: list[JsonDict],
    usage: JsonDict | None,
    error: JsonDict | None = None,
    incomplete: JsonDict | None = None,
) -> JsonDict:
    body = call.body
    text = body.get("text")
    reasoning = body.get("reasoning")
    metadata = body.get("metadata")

    def echo(key: str, default: Any) -> Any:
        value = body.get(key)
        return default if value is None else value

    return {
        "id": f"resp_{call.n}",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "background": echo("background", False),
        "completed_at": CREATED if status == "completed" else None,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": call.response_model,
        "output": output,
        "parallel_tool_calls": echo("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": None, "summary": None, **(reasoning if isinstance(reasoning, dict) else {})},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": call.service_tier,
        "store": echo("store", True),
        "temperature": echo("temperature", 1.0),
        "text": text if isinstance(text, dict) and "format" in text else {"format": {"type": "text"}},
        "tool_choice": echo("tool_choice", "auto"),
        "tools": _echo_tools(body.get("tools")),
        "top_logprobs": echo("top_logprobs", 0),
        "top_p": echo("top_p", 1.0),
        "truncation": echo("truncation", "disabled"),
        "usage": usage,
        "user": body.get("user"),
        "metadata": metadata if isinstance(metadata, dict) else {},
    }


def _failed_response(call: _Call) -> JsonDict:
    error = {"code": "server_error", "message": "failed"}
    return _response_object(call, status="failed", output=[], usage=None, error=error)


def _responses(call: _Call) -> _Reply:
    body = call.body
    input_ = body.get("input")
    if input_ is None:
        return _bad_request("Missing required parameter: 'input'.", "input")
    if not call.stream and call.model in (BROKEN_STREAM, STREAM_ERROR):
        return _server_error()
    input_tokens = _prompt_tokens(input_, body.get("instructions"))
    tool = None if _has_tool_output(input_) else next(iter(_chosen_tools(body, allow_parallel=False)), None)
    generated = None if tool else call.generate(_responses_format(body), _int_field(body, "max_output_tokens"))
    truncated = generated is not None and generated.truncated
    status = "incomplete" if truncated else "completed"
    reasoning = REASONING_TOKENS if _reasoning_requested(body) else 0
    output_tokens = reasoning + (_count_words(TOOL_ARGUMENTS) if generated is None else generated.tokens)
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": call.cached_tokens(input_tokens), "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }
    incomplete = {"reason": "max_output_tokens"} if truncated else None

    item_id = f"fc_{call.n}" if generated is None else f"msg_{call.n}"
    if generated is None:
        item: JsonDict = {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "arguments": TOOL_ARGUMENTS,
            "call_id": f"call_{call.n}",
            "name": tool,
        }
    else:
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": generated.text}
        item = {"id": item_id, "type": "message", "status": status, "content": [part], "role": "assistant"}

    if not call.stream:
        if call.model == RESPONSE_FAILED:
            return _JsonReply(200, _failed_response(call))
        final = _response_object(call, status=status, output=[item], usage=usage, incomplete=incomplete)
        return _JsonReply(200, final)

    frames: list[str] = []

    def emit(type_: str, **fields: Any) -> None:
        frames.append(_event_frame({"type": type_, **fields, "sequence_number": len(frames)}))

    in_progress = _response_object(call, status="in_progress", output=[], usage=None)
    emit("response.created", response=in_progress)
    emit("response.in_progress", response=in_progress)
    if call.model == RESPONSE_FAILED:
        emit("response.failed", response=_failed_response(call))
        return _StreamReply(frames)

    failing = call.model in (BROKEN_STREAM, STREAM_ERROR)
    where = {"item_id": item_id, "output_index": 0}
    text_where = {**where, "content_index": 0}
    if generated is None:
        emit(
            "response.output_item.added",
            item={**item, "status": "in_progress", "arguments": ""},
            output_index=0,
        )
        pieces = _argument_pieces()
        for piece in pieces[:2] if failing else pieces:
            emit("response.function_call_arguments.delta", delta=piece, **where)
    else:
        empty_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        emit(
            "response.output_item.added",
            item={**item, "status": "in_progress", "content": []},
            output_index=0,
        )
        emit("response.content_part.added", part=empty_part, **text_where)
        for piece in generated.pieces[:2] if failing else generated.pieces:
            emit("response.output_text.delta", delta=piece, logprobs=[], **text_where)
    if call.model == BROKEN_STREAM:
        return _StreamReply(frames, abort=True)
    if call.model == STREAM_ERROR:
        emit("error", code="stream_error", message="stream failed", param=None)
        return _StreamReply(frames)
    if generated is None:
        emit("response.function_call_arguments.done", arguments=TOOL_ARGUMENTS, **where)
    else:
        emit("response.output_text.done", text=generated.text, logprobs=[], **text_where)
        emit("response.content_part.done", part=item["content"][0], **text_where)
    emit("response.output_item.done", item=item, output_index=0)
    final = _response_object(call, status=status, output=[item], usage=usage, incomplete=incomplete)
    emit("response.incomplete" if truncated else "response.completed", response=final)
    return _StreamReply(frames)


_ROUTES = {
    "/v1/chat/completions": _chat,
    "/v1/completions": _completions,
    "/v1/embeddings": _embeddings,
    "/v1/responses": _responses,
}


# ----------------------------------------------------------------------------------------------------------
# HTTP plumbing
# ----------------------------------------------------------------------------------------------------------


_wire_cache: list[Any] = []


def _wire_modules() -> list[Any]:
    if not _wire_cache:
        import importlib

        _wire_cache.extend(importlib.import_module(f"llmtel.demo.wire.{name}") for name in _WIRES)
    return _wire_cache


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: FakeOpenAIServer) -> None:
        self.owner = owner
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on machines without working DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client went away (reset, broken pipe, or our own shutdown): not worth a traceback
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "llmtel-demo/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections
    disable_nagle_algorithm = True  # small SSE writes on keep-alive connections would wait for delayed ACKs

    @property
    def _owner(self) -> FakeOpenAIServer:
        return cast(_DemoHTTPServer, self.server).owner

    def setup(self) -> None:
        super().setup()
        self._owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self._owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        body: Any = None
        invalid_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                invalid_json = True
        headers = {name.lower(): value for name, value in self.headers.items()}
        path, _, query = self.path.partition("?")
        n = self._owner._record(RecordedRequest(self.command, self.path, headers, body))
        for wire in _wire_modules():
            answer = wire.serve(WireRequest(self.command, path, query, headers, raw, n))
            if answer is not None:
                try:
                    self._send_wire(answer)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                return

        route = _ROUTES.get(path) if self.command == "POST" else None
        delay_ms = 0
        reply: _Reply
        if route is None:
            reply = _error(404, f"Invalid URL ({self.command} {path})", "invalid_request_error", None)
        elif invalid_json or not isinstance(body, dict):
            reply = _bad_request("We could not parse the JSON body of your request.")
        elif not isinstance(body.get("model"), str) or not body["model"]:
            reply = _bad_request("you must provide a model parameter", "model")
        else:
            model = body["model"]
            requested_delay = _int_field(body, "x_delay_ms")
            default_delay = DEFAULT_STALL_MS if model == STALL else 0
            delay_ms = max(0, default_delay if requested_delay is None else requested_delay)
            call = _Call(n=n, body=body, model=model, stream=body.get("stream") is True)
            reply = _magic_error(model) or route(call)

        common = {
            "x-request-id": f"req_{n}",
            "openai-processing-ms": str(delay_ms),
            "openai-organization": ORGANIZATION,
            "openai-version": "2020-10-01",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-limit-tokens": "200000",
            "x-ratelimit-remaining-tokens": "199990",
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-reset-tokens": "3ms",
        }
        try:
            if isinstance(reply, _JsonReply):
                self._send_json(reply, common, delay_ms)
            else:
                self._send_stream(reply, common, delay_ms)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_wire(self, reply: WireReply) -> None:
        self.send_response(reply.status)
        if reply.stream:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(sum(len(c) for c in reply.chunks)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not reply.stream:
            if reply.delay_ms:
                time.sleep(reply.delay_ms / 1000)
            self.wfile.write(b"".join(reply.chunks))
            return
        self.wfile.flush()
        for chunk in reply.chunks:
            if reply.delay_ms:
                time.sleep(reply.delay_ms / 1000)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        if reply.abort:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")

    def _send_json(self, reply: _JsonReply, common: dict[str, str], delay_ms: int) -> None:
        if delay_ms:
            time.sleep(delay_ms / 1000)
        data = json.dumps(reply.payload, indent=2, ensure_ascii=False).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in {**common, **reply.headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, reply: _StreamReply, common: dict[str, str], delay_ms: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", _SSE_CONTENT_TYPE)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        for name, value in common.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        for frame in reply.frames:
            if delay_ms:
                time.sleep(delay_ms / 1000)
            data = frame.encode("utf-8")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        if reply.abort:
            # Leave the chunked body unterminated and close: the client sees an incomplete message.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")


class FakeOpenAIServer:
    """A deterministic OpenAI-compatible server running in a daemon thread.

    ``requests`` records every request received, in order. Ids in replies use the 1-based position of the
    request (``x-request-id: req_<n>``, ``chatcmpl-<n>``, ...), counted per server.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._requested_port = port
        self._httpd: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._counter = 0
        self._connections: set[socket.socket] = set()
        self.requests: list[RecordedRequest] = []

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Bind and serve in a daemon thread. A no-op when already running."""
        if self._httpd is not None:
            return self
        httpd = _DemoHTTPServer((self._host, self._requested_port), self)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"llmtel-demo-server:{httpd.server_address[1]}",
            daemon=True,
        )
        self._httpd, self._thread = httpd, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and close the listening socket. Idempotent."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._httpd = self._thread = None
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI SDK's base URL."""
        return f"{self.root_url}/v1"

    @property
    def root_url(self) -> str:
        """The server's root: the Anthropic and Gemini SDKs' base URL, Bedrock's ``endpoint_url``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    # -- internals used by the handler ---------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> int:
        with self._lock:
            self._counter += 1
            self.requests.append(request)
            return self._counter

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


def main(argv: list[str] | None = None) -> None:
    """Serve in the foreground: ``python -m llmtel.demo.server --port 8000``."""
    parser = argparse.ArgumentParser(description="Deterministic OpenAI-compatible demo server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(args.host, args.port).start()
    print(f"serving on {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
