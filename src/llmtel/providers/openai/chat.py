"""Chat Completions (``chat.completions.create`` / ``parse`` / ``stream``): SDK fields → GenAI facts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc
from llmtel.core import content as c
from llmtel.core.adapter import (
    RequestTable,
    UsageTable,
    content_parts,
    field,
    integer,
    put,
    request_attributes,
    string,
    string_fields,
    usage_attributes,
)
from llmtel.core.endpoints import Endpoint
from llmtel.core.invocation import Invocation, Telemetry
from llmtel.providers.openai._common import SAMPLING, Api, service_tier

_JSON = sc.GenAiOutputTypeValues.JSON


def output_type(response_format: Any) -> str | None:
    """``gen_ai.output.type`` from ``response_format`` (a dict, or a pydantic class given to ``parse``)."""
    if isinstance(response_format, type):
        return _JSON
    kind = field(response_format, "type")
    if kind in ("json_object", "json_schema"):
        return _JSON
    if kind == "text":
        return sc.GenAiOutputTypeValues.TEXT
    return None


CHAT_USAGE: UsageTable = (
    ("prompt_tokens", None, sc.GEN_AI_USAGE_INPUT_TOKENS),
    ("completion_tokens", None, sc.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("prompt_tokens_details", "cached_tokens", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    # the name upstream adopted after our pinned conventions (cache_creation → cache_write), as util-genai emits it
    ("prompt_tokens_details", "cache_write_tokens", sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
    ("completion_tokens_details", "reasoning_tokens", sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
)


_RESPONSE_STRINGS = (
    ("id", sc.GEN_AI_RESPONSE_ID),
    ("model", sc.GEN_AI_RESPONSE_MODEL),
    ("service_tier", sc.OPENAI_RESPONSE_SERVICE_TIER),
    ("system_fingerprint", sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
)


def common_response(result: Any, resp: dict[str, AttributeValue]) -> Mapping[str, Any]:
    """The ids, model, tier and fingerprint (of a response or a stream's chunk); returns the object's view."""
    return string_fields(result, _RESPONSE_STRINGS, resp)


def complete_response(result: Any, resp: dict[str, AttributeValue]) -> Mapping[str, Any]:
    """What complete chat and legacy completion responses tell; returns the result's view."""
    fields = common_response(result, resp)
    resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [
        str(field(ch, "finish_reason") or "error") for ch in fields.get("choices") or ()
    ]
    usage_attributes(fields.get("usage"), CHAT_USAGE, resp)
    return fields


def top_k(extra_body: Any) -> int | None:
    """``top_k`` is not an OpenAI parameter; OpenAI-compatible servers (vLLM, Ollama) take it in ``extra_body``."""
    return integer(extra_body.get("top_k")) if isinstance(extra_body, Mapping) else None


def unset_usage(chunk: Any) -> None:
    """With ``include_usage`` the server sends ``"usage": null`` on every chunk. When we asked for it, not the app,
    mark the field unset again so ``chunk.to_json()`` / ``model_dump(exclude_unset=True)`` match an
    uninstrumented run."""
    fields_set = getattr(chunk, "__pydantic_fields_set__", None)
    if isinstance(fields_set, set):
        fields_set.discard("usage")


def include_usage(kwargs: dict[str, Any], telemetry: Telemetry, endpoint: Endpoint) -> bool:
    """``LLMTEL_OPENAI_STREAM_USAGE``: ask for the usage chunk on streams that did not; True if we did.

    ``true``/``false`` decide for every endpoint; unset (``None``) asks only where the endpoint is known to accept
    the option (``endpoint.stream_usage``, worked out once per base URL in core/endpoints.py): an unknown server
    may reject an unknown field and fail the app's call.
    """
    wanted = telemetry.config.openai_stream_usage
    if wanted is None:
        wanted = endpoint.stream_usage
    if not wanted or kwargs.get("stream") is not True:
        return False
    options = kwargs.get("stream_options")
    if isinstance(options, Mapping):
        if options.get("include_usage") is not None:
            return False
        kwargs["stream_options"] = {**options, "include_usage": True}
        return True
    if options is None or type(options).__name__ in ("Omit", "NotGiven"):
        kwargs["stream_options"] = {"include_usage": True}
        return True
    return False


# -- content ----------------------------------------------------------------------------------------------------


def _part(item: Any, kind: Any) -> c.Part:
    """One typed Chat Completions content part (multimodal)."""
    if kind == "text":
        return c.text(field(item, "text"))
    if kind == "refusal":
        return c.text(field(item, "refusal"))
    if kind == "image_url":
        url = field(field(item, "image_url"), "url")
        return c.media("image", url) if isinstance(url, str) else {"type": "image_url"}
    if kind == "input_audio":
        audio = field(item, "input_audio")
        fmt = field(audio, "format")
        return c.blob("audio", field(audio, "data"), f"audio/{fmt}" if isinstance(fmt, str) else None)
    if kind == "file":
        file = field(item, "file")
        if field(file, "file_id") is not None:
            return c.file("document", field(file, "file_id"))
        return c.media("document", str(field(file, "file_data") or ""))
    return {"type": str(kind)}


def _content_parts(value: Any) -> list[c.Part]:
    return content_parts(value, _part)


def _tool_call_parts(tool_calls: Any) -> list[c.Part]:
    parts: list[c.Part] = []
    for call in tool_calls or ():
        function = field(call, "function") or field(call, "custom")
        arguments = field(function, "arguments")
        if arguments is None:
            arguments = field(function, "input")
        name = field(function, "name")
        if isinstance(name, str):  # a call without a name is not a tool call we can describe
            parts.append(c.tool_call(field(call, "id"), name, arguments))
    return parts


def input_messages(messages: Any) -> list[c.Message]:
    result: list[c.Message] = []
    if isinstance(messages, (str, bytes)):
        return result  # not a message list; the SDK will say so
    for msg in messages or ():
        role = field(msg, "role")
        if not isinstance(role, str):
            continue  # not a message: nothing we could describe truthfully
        if role == "tool":
            parts: list[c.Part] = [c.tool_call_response(field(msg, "tool_call_id"), _text_of(field(msg, "content")))]
        else:
            parts = _content_parts(field(msg, "content"))
            parts.extend(_tool_call_parts(field(msg, "tool_calls")))
            legacy_call = field(msg, "function_call")
            if legacy_call is not None:
                parts.append(c.tool_call(None, field(legacy_call, "name"), field(legacy_call, "arguments")))
        result.append(c.message(role, parts, field(msg, "name")))
    return result


def _text_of(value: Any) -> Any:
    """A tool result's content: plain text, or the text parts joined."""
    if isinstance(value, (list, tuple)):
        return "".join(str(field(p, "text") or "") for p in value)
    return value


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for tool in tools or ():
        kind = field(tool, "type") or "function"
        spec = field(tool, kind) or {}
        definition: dict[str, Any] = {"type": kind, "name": field(spec, "name")}
        for key in ("description", "parameters"):
            value = field(spec, key)
            if value is not None:
                definition[key] = value
        result.append(definition)
    return result


def output_message(message: Any, finish_reason: Any) -> c.Message:
    parts = _content_parts(field(message, "content"))
    refusal = field(message, "refusal")
    if refusal:
        parts.append(c.text(refusal))
    parts.extend(_tool_call_parts(field(message, "tool_calls")))
    legacy_call = field(message, "function_call")
    if legacy_call is not None:
        parts.append(c.tool_call(None, field(legacy_call, "name"), field(legacy_call, "arguments")))
    out = c.message(field(message, "role") or "assistant", parts)
    out["finish_reason"] = finish_reason or "error"
    return out


# -- the API ----------------------------------------------------------------------------------------------------


class ChatApi(Api):
    operation = sc.GenAiOperationNameValues.CHAT
    api_type = sc.OpenaiApiTypeValues.CHAT_COMPLETIONS
    # The SDK's types take any Iterable for these (and for a message's content parts and tool calls).
    iterables = ("messages", "tools")
    item_iterables = ("content", "tool_calls")

    requests: RequestTable = {
        **SAMPLING,
        "response_format": (sc.GEN_AI_OUTPUT_TYPE, output_type),
        "reasoning_effort": (sc.GEN_AI_REQUEST_REASONING_LEVEL, string),
        "service_tier": (sc.OPENAI_REQUEST_SERVICE_TIER, service_tier),
        "extra_body": (sc.GEN_AI_REQUEST_TOP_K, top_k),
    }

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        request_attributes(kwargs, self.requests, attrs)
        # max_completion_tokens replaced max_tokens; when both are given it is the one that counts
        max_tokens = integer(kwargs.get("max_completion_tokens"))
        if max_tokens is None:
            max_tokens = integer(kwargs.get("max_tokens"))
        put(attrs, sc.GEN_AI_REQUEST_MAX_TOKENS, max_tokens)

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        inv.set_content(sc.GEN_AI_INPUT_MESSAGES, input_messages(kwargs.get("messages")))
        tools = kwargs.get("tools")
        if isinstance(tools, (list, tuple)) and tools:
            inv.set_content(sc.GEN_AI_TOOL_DEFINITIONS, tool_definitions(tools))

    def response(self, inv: Invocation, result: Any) -> None:
        fields = complete_response(result, inv.response)
        if inv.capture:
            choices = fields.get("choices") or ()
            inv.set_content(
                sc.GEN_AI_OUTPUT_MESSAGES,
                [output_message(field(ch, "message"), field(ch, "finish_reason")) for ch in choices],
            )

    def prepare(self, kwargs: dict[str, Any], telemetry: Telemetry, endpoint: Endpoint) -> bool:
        return include_usage(kwargs, telemetry, endpoint)

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> ChatStream:
        return ChatStream(inv.capture, hide_usage)


class UsageStream:
    """What chat and legacy completion streams share, read at the lowest cost per chunk (the per-chunk budget is
    about a microsecond; bench/): the model as soon as a chunk names it (it goes on the chunk metrics), the last
    chunk (ids, model, tier and fingerprint are on every chunk; Azure's first one has them empty), the usage
    chunk (hidden when we asked for it ourselves), and each choice's finish reason.
    """

    __slots__ = ("capture", "has_model", "hide_usage", "last", "reasons", "usage")

    def __init__(self, capture: bool, hide_usage: bool) -> None:
        self.capture = capture
        self.hide_usage = hide_usage
        self.has_model = False
        self.last: Any = None
        self.usage: Any = None
        self.reasons: dict[Any, Any] = {}  # choice index → finish reason (None until it arrives)

    def hides(self, chunk: Any) -> bool:
        return self.hide_usage and not field(chunk, "choices") and field(chunk, "usage") is not None

    def on_chunk(self, inv: Invocation, chunk: Any) -> bool:
        # Plain attribute reads: the SDK's Stream yields its chunk models, which declare all of these (an odd chunk
        # raises, our stream proxy swallows it and the caller still gets the chunk).
        if not self.has_model:
            model = string(chunk.model)  # valid UTF-8, as every string attribute (core.values)
            if model:
                inv.response[sc.GEN_AI_RESPONSE_MODEL] = model
                self.has_model = True
        self.last = chunk
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
        elif self.hide_usage:
            unset_usage(chunk)
        choices = chunk.choices
        if not choices:
            return self.hide_usage and usage is not None
        reasons = self.reasons
        for choice in choices:
            index = choice.index or 0
            reason = choice.finish_reason
            if reason is not None:
                reasons[index] = reason
            elif index not in reasons:
                reasons[index] = None
            if self.capture:
                self.on_choice(index, choice)
        return False

    def on_choice(self, index: int, choice: Any) -> None:
        """One choice of one chunk, with content capture on."""

    def finish(self, inv: Invocation) -> list[Any]:
        """Write what every stream of this kind tells into ``inv``; return the choice indices in order."""
        resp = inv.response
        if self.last is not None:
            common_response(self.last, resp)
        indices = sorted(self.reasons)
        reasons = [self.reasons[i] for i in indices]
        if reasons and all(reasons):  # a stream closed early has no finish reason to report
            resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [str(r) for r in reasons]
        usage_attributes(self.usage, CHAT_USAGE, resp)
        return indices


class _Choice:
    __slots__ = ("role", "text", "tool_calls")

    def __init__(self) -> None:
        self.role: Any = None
        self.text: list[str] = []
        self.tool_calls: dict[int, list[Any]] = {}  # index → [id, name, [argument pieces]]


class ChatStream(UsageStream):
    """Accumulates a chat stream: per-choice finish reasons always; text and tool calls only with capture."""

    __slots__ = ("choices",)

    def __init__(self, capture: bool, hide_usage: bool) -> None:
        super().__init__(capture, hide_usage)
        self.choices: dict[int, _Choice] = {}

    def on_choice(self, index: int, choice: Any) -> None:
        state = self.choices.get(index)
        if state is None:
            state = self.choices[index] = _Choice()
        self._content(state, field(choice, "delta"))

    @staticmethod
    def _content(state: _Choice, delta: Any) -> None:
        if delta is None:
            return
        role = field(delta, "role")
        if role:
            state.role = role
        text = field(delta, "content")
        if text:
            state.text.append(text)
        refusal = field(delta, "refusal")
        if refusal:
            state.text.append(refusal)
        for call in field(delta, "tool_calls") or ():
            index = field(call, "index") or 0
            entry = state.tool_calls.get(index)
            if entry is None:
                entry = state.tool_calls[index] = [None, None, []]
            if field(call, "id"):
                entry[0] = field(call, "id")
            function = field(call, "function")
            if field(function, "name"):
                entry[1] = field(function, "name")
            arguments = field(function, "arguments")
            if arguments:
                entry[2].append(arguments)

    def on_end(self, inv: Invocation) -> None:
        indices = self.finish(inv)
        if self.capture:
            messages = []
            for index in indices:
                state = self.choices.get(index) or _Choice()
                parts: list[c.Part] = [c.text("".join(state.text))] if state.text else []
                for call_index in sorted(state.tool_calls):
                    call_id, name, pieces = state.tool_calls[call_index]
                    parts.append(c.tool_call(call_id, name, "".join(pieces)))
                msg = c.message(state.role or "assistant", parts)
                msg["finish_reason"] = self.reasons[index] or "error"
                messages.append(msg)
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, messages)
