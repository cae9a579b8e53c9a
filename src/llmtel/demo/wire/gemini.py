"""The Gemini wire format on the demo server: the Gemini Developer API and Vertex AI, on the same handler.

Paths (``POST``), as the ``google-genai`` SDK builds them from its ``http_options.base_url``:

* Gemini Developer API: ``/{v1beta|v1|v1alpha}/models/{model}:{method}`` (``tunedModels/`` too);
* Vertex AI: ``/{v1beta1|v1}/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}``,
  or without the project and location (express mode, API key) ``/{version}/publishers/{publisher}/models/...``.

Methods: ``generateContent``, ``streamGenerateContent`` (server-sent events, as the SDK asks with ``alt=sse``;
frames ``data: {json}\\r\\n\\r\\n`` as the real service writes them), ``embedContent``, ``batchEmbedContents``
and Vertex AI's ``predict`` (the embedding models'). Bodies and replies are the services' camelCase JSON, which
the SDK parses with its own types.

Deterministic: the response id is ``resp-<n>`` (``n``: the request's position on the server), Vertex AI
replies carry the fixed ``createTime`` 2026-01-01T00:00:00Z, token counts are whitespace word counts, and the
response's ``modelVersion`` is the requested model (without ``models/``) with ``-001`` appended.

What the request asks shapes the reply: ``tools`` with function declarations get a function call (unless the
last content holds a function response); ``generationConfig.thinkingConfig`` with ``includeThoughts`` a thought
part, and any thinking budget other than 0 :data:`THOUGHT_TOKENS` thinking tokens; ``cachedContent`` half the
prompt as cached tokens; ``maxOutputTokens`` truncates (``MAX_TOKENS``); ``candidateCount`` that many
candidates. Streams report cumulative usage on every chunk, as the service does. Body knobs the SDK sends
through ``http_options.extra_body``: ``x_reply`` (reply text), ``x_chunks`` (stream chunks, default 5).

Magic models (the model name in the path): ``does-not-exist`` 404 ``NOT_FOUND``, ``rate-limited`` 429
``RESOURCE_EXHAUSTED``, ``server-error`` 500 ``INTERNAL``, ``stall`` (200 ms before the reply and every chunk),
``broken-stream`` / ``stream-error`` (streams: two chunks, then the socket closes mid-body / an in-band error
event; 500 when not streaming), ``safety-blocked`` (the prompt is blocked: ``promptFeedback.blockReason``
``SAFETY``, no candidates), ``safety-stopped`` (the candidate stops with ``finishReason`` ``SAFETY`` and no
content), ``malformed-reply`` (data no exporter would take: negative and beyond-int64 token counts, a lone
surrogate in the model version and response id, an unknown finish reason).

    client = genai.Client(api_key="test", http_options=types.HttpOptions(base_url=server.root_url))
    client.models.generate_content(model="gemini-2.5-flash", contents="hi")
"""

from __future__ import annotations

import json
import re
from typing import Any

from llmtel.demo.server import DEFAULT_REPLY, WireReply, WireRequest

NOT_FOUND = "does-not-exist"
RATE_LIMITED = "rate-limited"
SERVER_ERROR = "server-error"
STALL = "stall"
BROKEN_STREAM = "broken-stream"
STREAM_ERROR = "stream-error"
SAFETY_BLOCKED = "safety-blocked"
SAFETY_STOPPED = "safety-stopped"
MALFORMED = "malformed-reply"
MAGIC_MODELS = frozenset(
    {
        NOT_FOUND,
        RATE_LIMITED,
        SERVER_ERROR,
        STALL,
        BROKEN_STREAM,
        STREAM_ERROR,
        SAFETY_BLOCKED,
        SAFETY_STOPPED,
        MALFORMED,
    }
)

MODEL_VERSION_SUFFIX = "-001"
CREATE_TIME = "2026-01-01T00:00:00Z"
THOUGHT_TOKENS = 7
THOUGHT_TEXT = "Thinking about the question."
FUNCTION_ARGS = {"city": "Paris"}
DEFAULT_CHUNKS = 5
DIMENSIONS = 8
STALL_MS = 200

_PATH = re.compile(
    r"^/(?P<version>v1|v1beta|v1beta1|v1alpha)/"
    r"(?:projects/[^/]+/locations/[^/]+/)?(?P<vertex>publishers/[^/]+/)?"
    r"(?:models|tunedModels)/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$"
)
_JSON = {"content-type": "application/json; charset=UTF-8"}
_SSE = {"content-type": "text/event-stream", "x-accel-buffering": "no"}
_SAFE = [
    {"category": c, "probability": "NEGLIGIBLE"}
    for c in ("HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_HARASSMENT")
]
_UNSAFE = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]

JsonDict = dict[str, Any]


def serve(request: WireRequest) -> WireReply | None:
    """The reply to a request on one of this API's paths; None for any other path."""
    match = _PATH.match(request.path)
    if match is None or request.method != "POST":
        return None
    method, model = match["method"], match["model"]
    vertex = match["vertex"] is not None or match["version"] == "v1beta1"
    try:
        body = json.loads(request.raw) if request.raw else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
    failed = _magic_error(model, method)
    if failed is not None:
        return failed
    delay = STALL_MS if model == STALL else 0
    call = _Call(request.n, model, body, vertex)
    if method == "generateContent":
        if model in (BROKEN_STREAM, STREAM_ERROR):
            return _error(500, "An internal error has occurred.", "INTERNAL")
        return _reply(call.response(), delay)
    if method == "streamGenerateContent":
        return call.stream(delay)
    if method in ("embedContent", "batchEmbedContents", "predict"):
        return _reply(call.embeddings(method), delay)
    return _error(400, f"Method {method} is not served by the llmtel demo server.", "INVALID_ARGUMENT")


def _json(payload: Any, **options: Any) -> bytes:
    """UTF-8 JSON as the service writes it; a lone surrogate (``malformed-reply``) as the ``\\ud800`` escape
    that decodes to one."""
    try:
        return json.dumps(payload, ensure_ascii=False, **options).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(payload, **options).encode("ascii")


def _reply(payload: Any, delay: int = 0, status: int = 200) -> WireReply:
    data = _json(payload, indent=2)
    return WireReply(status, dict(_JSON), [data], delay_ms=delay)


def _error(code: int, message: str, status: str) -> WireReply:
    return _reply({"error": {"code": code, "message": message, "status": status}}, status=code)


def _magic_error(model: str, method: str) -> WireReply | None:
    if model == NOT_FOUND:
        return _error(
            404, f"models/{model} is not found for API version v1beta, or is not supported for {method}.", "NOT_FOUND"
        )
    if model == RATE_LIMITED:
        return _error(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED")
    if model == SERVER_ERROR:
        return _error(500, "An internal error has occurred.", "INTERNAL")
    return None


def _words(value: Any) -> int:
    """Words in every ``text`` string under ``value`` (contents, parts, instances)."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(v) for v in value)
    if isinstance(value, dict):
        return sum(_words(v) for k, v in value.items() if k in ("text", "parts", "content", "contents"))
    return 0


def _get(obj: Any, camel: str) -> Any:
    """A field by its JSON name or its proto name (the service's JSON parser takes both; the SDK passes nested
    dicts of a dict config as the app wrote them, e.g. ``thinkingConfig: {"include_thoughts": true}``)."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(camel)
    return obj.get(re.sub(r"([A-Z])", lambda m: "_" + m[1].lower(), camel)) if value is None else value


def _frame(obj: Any) -> bytes:
    return b"data: " + _json(obj, separators=(",", ":")) + b"\r\n\r\n"


class _Call:
    def __init__(self, n: int, model: str, body: JsonDict, vertex: bool) -> None:
        self.n, self.model, self.body, self.vertex = n, model, body, vertex
        config = _get(body, "generationConfig")
        self.config: JsonDict = config if isinstance(config, dict) else {}
        contents = body.get("contents")
        self.contents: list[Any] = contents if isinstance(contents, list) else []
        self.prompt = max(1, _words(self.contents) + _words(_get(body, "systemInstruction")))

    # -- what the request asks -------------------------------------------------------------------------------

    def _function(self) -> str | None:
        last = self.contents[-1] if self.contents else None
        parts = last.get("parts") if isinstance(last, dict) else None
        if isinstance(parts, list) and any(_get(p, "functionResponse") is not None for p in parts):
            return None  # the app answered the call: reply with text
        for tool in self.body.get("tools") or ():
            for declaration in _get(tool, "functionDeclarations") or ():
                if isinstance(declaration, dict) and isinstance(declaration.get("name"), str):
                    return str(declaration["name"])
        return None

    def _thinking(self) -> tuple[bool, int]:
        """(a thought part, thinking tokens)."""
        thinking = _get(self.config, "thinkingConfig")
        if not isinstance(thinking, dict):
            return False, 0
        budget = _get(thinking, "thinkingBudget")
        return _get(thinking, "includeThoughts") is True, 0 if budget == 0 else THOUGHT_TOKENS

    def _text(self) -> tuple[str, bool]:
        """The reply text and whether maxOutputTokens cut it."""
        reply = self.body.get("x_reply")
        text = reply if isinstance(reply, str) else DEFAULT_REPLY
        limit = _get(self.config, "maxOutputTokens")
        words = text.split()
        if isinstance(limit, int) and not isinstance(limit, bool) and 0 <= limit < len(words):
            return " ".join(words[:limit]), True
        return text, False

    def _candidates(self) -> int:
        count = _get(self.config, "candidateCount")
        return count if isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= 8 else 1

    # -- replies ---------------------------------------------------------------------------------------------

    def _base(self) -> JsonDict:
        base: JsonDict = {"modelVersion": self.model + MODEL_VERSION_SUFFIX}
        if self.vertex:
            base["createTime"] = CREATE_TIME
        base["responseId"] = f"resp-{self.n}"
        return base

    def _usage(self, output: int, thoughts: int) -> JsonDict:
        usage: JsonDict = {"promptTokenCount": self.prompt}
        if output:
            usage["candidatesTokenCount"] = output
        usage["totalTokenCount"] = self.prompt + output + thoughts
        usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.prompt}]
        if isinstance(_get(self.body, "cachedContent"), str):
            usage["cachedContentTokenCount"] = self.prompt // 2
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        if self.vertex:
            usage["trafficType"] = "ON_DEMAND"
        return usage

    def response(self) -> JsonDict:
        if self.model == SAFETY_BLOCKED:
            return self._blocked()
        if self.model == MALFORMED:
            return self._malformed()
        thought, thoughts = self._thinking()
        candidates: list[JsonDict] = []
        output = 0
        for index in range(self._candidates()):
            candidate, tokens = self._candidate(index, thought)
            candidates.append(candidate)
            output += tokens
        return {"candidates": candidates, "usageMetadata": self._usage(output, thoughts), **self._base()}

    def _candidate(self, index: int, thought: bool) -> tuple[JsonDict, int]:
        if self.model == SAFETY_STOPPED:
            return {"finishReason": "SAFETY", "index": index, "safetyRatings": _UNSAFE}, 0
        parts: list[JsonDict] = [{"text": THOUGHT_TEXT, "thought": True}] if thought else []
        function = self._function()
        if function is not None:
            parts.append({"functionCall": {"name": function, "args": FUNCTION_ARGS}})
            tokens, reason = 3, "STOP"
        else:
            text, cut = self._text()
            parts.append({"text": text})
            tokens, reason = len(text.split()), "MAX_TOKENS" if cut else "STOP"
        candidate: JsonDict = {"content": {"role": "model", "parts": parts}, "finishReason": reason}
        if not self.vertex or self._candidates() > 1:
            candidate["index"] = index
        return candidate, tokens

    def _blocked(self) -> JsonDict:
        usage = {"promptTokenCount": self.prompt, "totalTokenCount": self.prompt}
        feedback = {"blockReason": "SAFETY", "safetyRatings": _UNSAFE}
        return {"promptFeedback": feedback, "usageMetadata": usage, **self._base()}

    def _malformed(self) -> JsonDict:
        return {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "odd"}]}, "finishReason": "NOT_A_REASON", "index": 0}
            ],
            "usageMetadata": {"promptTokenCount": -5, "candidatesTokenCount": 2**70, "thoughtsTokenCount": -1},
            "modelVersion": "bad\ud800model",
            "responseId": "id\udfff",
        }

    def stream(self, delay: int) -> WireReply:
        if self.model == STALL:
            delay = STALL_MS
        frames = [_frame(chunk) for chunk in self._chunks()]
        abort = False
        if self.model in (BROKEN_STREAM, STREAM_ERROR):
            frames = frames[:2]
            if self.model == STREAM_ERROR:
                frames.append(_frame({"error": {"code": 500, "message": "An internal error.", "status": "INTERNAL"}}))
            else:
                abort = True
        return WireReply(200, dict(_SSE), frames, stream=True, abort=abort, delay_ms=delay)

    def _chunks(self) -> list[JsonDict]:
        base = self._base()
        if self.model in (SAFETY_BLOCKED, MALFORMED):
            return [self.response()]
        thought, thoughts = self._thinking()
        function = self._function()
        usage_base = {"promptTokenCount": self.prompt, "totalTokenCount": self.prompt}
        if self.model == SAFETY_STOPPED:
            candidate: JsonDict = {"finishReason": "SAFETY", "safetyRatings": _UNSAFE}
            return [{"candidates": [candidate], "usageMetadata": self._usage(0, 0), **base}]
        chunks: list[JsonDict] = []
        if thought:
            part = {"text": THOUGHT_TEXT, "thought": True}
            chunks.append({"candidates": [{"content": {"role": "model", "parts": [part]}}], **base})
        if function is not None:
            part2: JsonDict = {"functionCall": {"name": function, "args": FUNCTION_ARGS}}
            final: JsonDict = {"content": {"role": "model", "parts": [part2]}, "finishReason": "STOP"}
            chunks.append({"candidates": [final], "usageMetadata": self._usage(3, thoughts), **base})
            return chunks
        text, cut = self._text()
        requested = self.body.get("x_chunks")
        count = requested if isinstance(requested, int) and not isinstance(requested, bool) and requested > 0 else 0
        pieces = _split(text, count or DEFAULT_CHUNKS)
        many = self._candidates()
        sent = ""
        for position, piece in enumerate(pieces):
            sent += piece
            last = position == len(pieces) - 1
            candidates: list[JsonDict] = []
            for index in range(many):
                candidate = {"content": {"role": "model", "parts": [{"text": piece}]}}
                if last:
                    candidate["finishReason"] = "MAX_TOKENS" if cut else "STOP"
                if many > 1 or not self.vertex:
                    candidate["index"] = index
                candidates.append(candidate)
            # the service's usage is cumulative: every chunk reports the whole count so far
            output = many * len(sent.split())
            usage = self._usage(output, thoughts) if last else {**usage_base}
            if not last and output:
                usage["candidatesTokenCount"] = output
                usage["totalTokenCount"] = self.prompt + output
            chunks.append({"candidates": candidates, "usageMetadata": usage, **base})
        return chunks

    def embeddings(self, method: str) -> JsonDict:
        dimensions = self.body.get("outputDimensionality")
        parameters = self.body.get("parameters")
        if isinstance(parameters, dict):
            dimensions = parameters.get("outputDimensionality", dimensions)
        size = dimensions if isinstance(dimensions, int) and not isinstance(dimensions, bool) and dimensions > 0 else 0
        values = [round(0.1 * (i + 1), 3) for i in range(min(size or DIMENSIONS, 4096))]
        if method == "predict":  # Vertex AI's text embedding models: one prediction per instance
            instances = [i for i in self.body.get("instances") or () if isinstance(i, dict)]
            predictions = [
                {"embeddings": {"values": values, "statistics": {"truncated": False, "token_count": _words(i)}}}
                for i in instances
            ]
            chars = sum(len(i.get("content") or "") for i in instances if isinstance(i.get("content"), str))
            return {"predictions": predictions, "metadata": {"billableCharacterCount": chars}}
        if method == "embedContent":
            tokens = max(1, _words(self.body.get("content")))
            usage = {"promptTokenCount": tokens, "totalTokenCount": tokens}
            return {"embedding": {"values": values}, "usageMetadata": usage, "truncated": False}
        requests = [r for r in self.body.get("requests") or () if isinstance(r, dict)]
        first = requests[0] if requests else {}
        first_size = first.get("outputDimensionality")
        if isinstance(first_size, int) and not isinstance(first_size, bool) and first_size > 0:
            values = [round(0.1 * (i + 1), 3) for i in range(min(first_size, 4096))]
        tokens = max(1, sum(_words(r.get("content")) for r in requests))
        usage = {"promptTokenCount": tokens, "totalTokenCount": tokens}
        return {"embeddings": [{"values": values} for _ in requests], "usageMetadata": usage}


def _split(text: str, parts: int) -> list[str]:
    """``text`` in at most ``parts`` pieces of whole words (their leading spaces kept) that join to ``text``."""
    words = re.findall(r"\s*\S+", text) or [text]
    parts = max(1, min(parts, len(words)))
    size, extra = divmod(len(words), parts)
    pieces, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        pieces.append("".join(words[start:end]))
        start = end
    pieces[-1] += text[len("".join(pieces)) :]
    return pieces
