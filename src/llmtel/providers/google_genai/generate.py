"""``models.generate_content`` / ``generate_content_stream`` (sync and ``aio``): SDK fields → GenAI facts.

Operation ``generate_content``: the conventions name Gemini's ``generateContent`` so (genai-semconv.md §10.5,
and the span-type note: "Gemini ``generateContent`` → ``generate_content``"); ``chat`` is the OpenAI and
Anthropic chat APIs' name. A chat session's ``send_message`` is the same ``generateContent`` call with the
history as ``contents``, so it is ``generate_content`` too.

Usage (``usage_metadata``): the conventions' totals include what their sub-counts count, Gemini's counts are
disjoint. So ``input_tokens`` = ``prompt_token_count`` (which includes the cached content) +
``tool_use_prompt_token_count`` (the results of Google-run tools, e.g. search, fed to the model),
``output_tokens`` = ``candidates_token_count`` + ``thoughts_token_count``, ``cache_read.input_tokens`` =
``cached_content_token_count``, ``reasoning.output_tokens`` = ``thoughts_token_count``: input + output is the
service's ``total_token_count``. A stream's counts are cumulative (every chunk reports the whole so far), so the
last reported counts are the call's: never a sum over chunks (the official instrumentation's over-count,
contrib #4120). With automatic function calling inside one ``generate_content`` call, the counts are those of
the response the app gets (the last model call), as the SDK reports them.

Finish reasons: ``gen_ai.response.finish_reasons`` has one entry per candidate, the service's reason in lower
case (``stop``, ``max_tokens``, ``safety`` …: the conventions leave the values to the provider; lower case is how
every other provider reports them). A prompt the service blocked has no candidate: its ``block_reason``
(``safety``, ``prohibited_content`` …) is the one entry, and the output message's ``finish_reason`` is
``content_filter``. A blocked prompt or reply is a successful call (no ``error.type``), as the SDK returns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc
from llmtel.core import content as c
from llmtel.core.adapter import (
    choice_count,
    field,
    integer,
    number,
    put,
    stop_sequences,
    string_fields,
    view,
)
from llmtel.core.invocation import Invocation
from llmtel.core.values import token_count
from llmtel.providers.google_genai._common import (
    Api,
    ConfigTable,
    config_attributes,
    config_field,
    enum_text,
    one_shot,
)


def _top_k(value: Any) -> int | None:
    """``top_k`` is a float in the SDK's config, an int in the conventions: whole numbers only."""
    if isinstance(value, float) and value.is_integer():
        return integer(int(value))
    return integer(value)


_JSON_MIME = frozenset({"application/json", "text/x.enum"})


def _output_type(mime: Any) -> str | None:
    if mime in _JSON_MIME:
        return sc.GenAiOutputTypeValues.JSON
    if mime == "text/plain":
        return sc.GenAiOutputTypeValues.TEXT
    return None


def _reasoning_level(thinking: Any) -> str | None:
    """``thinking_config.thinking_level`` (Gemini 3's LOW / HIGH …), as sent."""
    return enum_text(config_field(thinking, "thinking_level", "thinkingLevel"))


_CONFIG = ConfigTable(
    {
        "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
        "top_p": (sc.GEN_AI_REQUEST_TOP_P, number),
        "top_k": (sc.GEN_AI_REQUEST_TOP_K, _top_k),
        "max_output_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer),
        "stop_sequences": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, stop_sequences),
        "candidate_count": (sc.GEN_AI_REQUEST_CHOICE_COUNT, choice_count),
        "seed": (sc.GEN_AI_REQUEST_SEED, integer),
        "presence_penalty": (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, number),
        "frequency_penalty": (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, number),
        "response_mime_type": (sc.GEN_AI_OUTPUT_TYPE, _output_type),
        "thinking_config": (sc.GEN_AI_REQUEST_REASONING_LEVEL, _reasoning_level),
    }
)


# -- usage and finish reasons ------------------------------------------------------------------------------------


def _count(fields: Mapping[str, Any], name: str) -> int | None:
    value = fields.get(name)
    return value if type(value) is int and value >= 0 and value <= 0x3FFF_FFFF else token_count(value)


def _sum(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else token_count(a + b)  # two valid counts may still sum past int64


def usage_attributes(usage: Any, resp: dict[str, AttributeValue]) -> None:
    """The usage counts (see the module docstring): each one validated, a sum left out if it does not fit."""
    if usage is None:
        return
    fields = view(usage)
    thoughts = _count(fields, "thoughts_token_count")
    put(
        resp,
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        _sum(_count(fields, "prompt_token_count"), _count(fields, "tool_use_prompt_token_count")),
    )
    put(resp, sc.GEN_AI_USAGE_OUTPUT_TOKENS, _sum(_count(fields, "candidates_token_count"), thoughts))
    put(resp, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, _count(fields, "cached_content_token_count"))
    put(resp, sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, thoughts)


def _reason(value: Any) -> str:
    text = enum_text(value)
    return text.lower() if text else "error"


# The output message's finish_reason (the conventions' schema) for the service's reasons.
_CONTENT_FILTER = "content_filter"
_MESSAGE_REASONS = {
    "stop": "stop",
    "max_tokens": "length",
    **dict.fromkeys(
        (
            "safety",
            "recitation",
            "blocklist",
            "prohibited_content",
            "spii",
            "image_safety",
            "image_prohibited_content",
            "image_recitation",
            "model_armor",
            "jailbreak",
        ),
        _CONTENT_FILTER,
    ),
    **dict.fromkeys(
        ("malformed_function_call", "unexpected_tool_call", "too_many_tool_calls", "malformed_response"), "error"
    ),
}


def _message_reason(reason: str, parts: list[c.Part]) -> str:
    found = _MESSAGE_REASONS.get(reason, reason)
    if found == "stop" and any(p.get("type") == "tool_call" for p in parts):
        return "tool_call"
    return found


_RESPONSE_STRINGS = (("response_id", sc.GEN_AI_RESPONSE_ID), ("model_version", sc.GEN_AI_RESPONSE_MODEL))


def _block_reason(fields: Mapping[str, Any]) -> str | None:
    reason = enum_text(field(fields.get("prompt_feedback"), "block_reason"))
    return reason.lower() if reason else None


# -- content -----------------------------------------------------------------------------------------------------

_PART_ALIASES = {
    "functionCall": "function_call",
    "functionResponse": "function_response",
    "inlineData": "inline_data",
    "fileData": "file_data",
    "executableCode": "executable_code",
    "codeExecutionResult": "code_execution_result",
}
_PART_KINDS = (
    "text",
    "function_call",
    "function_response",
    "inline_data",
    "file_data",
    "executable_code",
    "code_execution_result",
    "tool_call",
    "tool_response",
)


def _part_fields(part: Any) -> Mapping[str, Any]:
    if type(part) is dict and any(k in _PART_ALIASES for k in part):
        return {_PART_ALIASES.get(k) or k: v for k, v in part.items()}
    return view(part)


def _modality(mime: Any) -> str:
    kind = mime.partition("/")[0] if isinstance(mime, str) else ""
    return kind if kind in ("image", "audio", "video") else "document"


def part_of(part: Any) -> c.Part:
    """One SDK ``Part`` (or part dict, or a plain string) in the conventions' part schema."""
    if isinstance(part, str):
        return c.text(part)
    fields = _part_fields(part)
    text = fields.get("text")
    if text is not None:
        return c.reasoning(text) if fields.get("thought") is True else c.text(text)
    call = fields.get("function_call")
    if call is not None:
        return c.tool_call(field(call, "id"), field(call, "name"), field(call, "args"))
    response = fields.get("function_response")
    if response is not None:
        return c.tool_call_response(field(response, "id"), field(response, "response"))
    blob = fields.get("inline_data")
    if blob is not None:
        mime = field(blob, "mime_type") or field(blob, "mimeType")
        return c.blob(_modality(mime), field(blob, "data"), mime if isinstance(mime, str) else None)
    data = fields.get("file_data")
    if data is not None:
        mime = field(data, "mime_type") or field(data, "mimeType")
        uri = field(data, "file_uri") or field(data, "fileUri")
        return c.media(_modality(mime), str(uri or ""), mime if isinstance(mime, str) else None)
    for kind in _PART_KINDS:
        if fields.get(kind) is not None:
            return {"type": kind}
    return {"type": type(part).__name__ if not fields else "unknown"}


def _parts(value: Any) -> list[c.Part]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [part_of(p) for p in value]
    return [part_of(value)]


_ROLES = {"model": "assistant", "user": "user"}


def _message(role: Any, parts: list[c.Part]) -> c.Message:
    if parts and all(p.get("type") == "tool_call_response" for p in parts):
        return c.message("tool", parts)
    return c.message(_ROLES.get(role, role) if isinstance(role, str) else "user", parts)


def _content_fields(item: Any) -> Mapping[str, Any] | None:
    """A ``Content`` (role and parts) as its fields; None for a part."""
    if isinstance(item, str):
        return None
    fields = view(item)
    return fields if "parts" in fields or "role" in fields else None


def input_messages(contents: Any) -> list[c.Message]:
    """``contents`` as the SDK reads it (``t_contents``): one content, or a list in which consecutive parts make
    one content (the model's when they are function calls, else the user's)."""
    if contents is None:
        return []
    if isinstance(contents, tuple):  # any iterable but a list: the parts of one user content
        return [_message("user", _parts(contents))]
    items = contents if isinstance(contents, list) else [contents]
    messages: list[c.Message] = []
    pending: list[c.Part] = []

    def flush() -> None:
        if pending:
            calls = all(p.get("type") == "tool_call" for p in pending)
            messages.append(_message("model" if calls else "user", list(pending)))
            pending.clear()

    for item in items:
        fields = _content_fields(item)
        if fields is None:
            pending.append(part_of(item))
            continue
        flush()
        messages.append(_message(fields.get("role"), _parts(fields.get("parts"))))
    flush()
    return messages


def system_instructions(value: Any) -> list[c.Part]:
    """``config.system_instruction``: a string, a ``Content``, a part or a list of parts."""
    fields = _content_fields(value)
    return _parts(fields.get("parts") if fields is not None else value)


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """``config.tools``: ``Tool`` models or dicts (function declarations, or a Google-run tool such as
    ``google_search``), or Python functions (the SDK's automatic function calling). What has no name to tell (not
    a tool at all) is left out: the conventions' definitions need one."""
    result: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, (list, tuple)) else ():
        if callable(tool) and not isinstance(tool, type):
            name = getattr(tool, "__name__", None)
            definition: dict[str, Any] = {"type": "function", "name": name if isinstance(name, str) else "function"}
            doc = getattr(tool, "__doc__", None)
            if isinstance(doc, str) and doc.strip():
                definition["description"] = doc.strip()
            result.append(definition)
            continue
        if type(tool) is not dict and not hasattr(type(tool), "model_fields"):
            if tool is not None and not isinstance(tool, (str, int, float)):  # an MCP session, say: named by class
                result.append({"type": type(tool).__name__, "name": type(tool).__name__})
            continue
        fields = view(tool)
        declarations = fields.get("function_declarations") or fields.get("functionDeclarations")
        for declaration in declarations if isinstance(declarations, (list, tuple)) else ():
            info = view(declaration)
            name = info.get("name")
            if not isinstance(name, str):
                continue
            definition = {"type": "function", "name": name}
            description = info.get("description")
            if description is not None:
                definition["description"] = description
            for key in ("parameters_json_schema", "parametersJsonSchema", "parameters"):
                if info.get(key) is not None:
                    definition["parameters"] = info[key]
                    break
            result.append(definition)
        for name, value in fields.items():
            if (
                value is not None
                and isinstance(name, str)
                and name not in ("function_declarations", "functionDeclarations")
            ):
                result.append({"type": name, "name": name})
    return result


def _output_messages(fields: Mapping[str, Any]) -> list[c.Message]:
    messages: list[c.Message] = []
    for candidate in fields.get("candidates") or ():
        info = view(candidate)
        parts = _parts(field(info.get("content"), "parts"))
        msg = c.message("assistant", parts)
        msg["finish_reason"] = _message_reason(_reason(info.get("finish_reason")), parts)
        messages.append(msg)
    if not messages and _block_reason(fields) is not None:
        msg = c.message("assistant", [])
        msg["finish_reason"] = _CONTENT_FILTER
        messages.append(msg)
    return messages


# -- the API -----------------------------------------------------------------------------------------------------


class GenerateContentApi(Api):
    operation = sc.GenAiOperationNameValues.GENERATE_CONTENT

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        config = kwargs.get("config")
        if config is None:
            return
        config_attributes(config, _CONFIG, attrs)
        if sc.GEN_AI_OUTPUT_TYPE not in attrs and (
            config_field(config, "response_schema", "responseSchema") is not None
            or config_field(config, "response_json_schema", "responseJsonSchema") is not None
        ):
            attrs[sc.GEN_AI_OUTPUT_TYPE] = sc.GenAiOutputTypeValues.JSON

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        config = kwargs.get("config")
        instruction = config_field(config, "system_instruction", "systemInstruction")
        if instruction is not None:
            inv.set_content(sc.GEN_AI_SYSTEM_INSTRUCTIONS, system_instructions(instruction))
        inv.set_content(sc.GEN_AI_INPUT_MESSAGES, input_messages(one_shot(kwargs, "contents")))
        tools = config_field(config, "tools", "tools")
        if isinstance(tools, (list, tuple)) and tools:
            inv.set_content(sc.GEN_AI_TOOL_DEFINITIONS, tool_definitions(tools))

    def response(self, inv: Invocation, result: Any) -> None:
        resp = inv.response
        fields = string_fields(result, _RESPONSE_STRINGS, resp)
        candidates = fields.get("candidates")
        if candidates:
            resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [_reason(field(ch, "finish_reason")) for ch in candidates]
        else:
            blocked = _block_reason(fields)
            if blocked is not None:
                resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [blocked]
        usage_attributes(fields.get("usage_metadata"), resp)
        if inv.capture:
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, _output_messages(fields))


class GenerateContentStreamApi(GenerateContentApi):
    streaming = True

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> GenerateStream:
        return GenerateStream(inv.capture)


class GenerateStream:
    """A ``generate_content_stream``: every chunk is a ``GenerateContentResponse`` with the candidates' new parts,
    the cumulative usage so far, and, on the last, the finish reasons."""

    __slots__ = ("blocked", "capture", "named", "parts", "reasons", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.named = False  # the response id and model are written (from the first chunk that has them)
        self.usage: Any = None
        self.blocked: str | None = None
        self.reasons: dict[int, str] = {}
        # candidate index → its parts so far; consecutive text pieces of one kind are joined at the end
        self.parts: dict[int, list[Any]] = {}

    def on_chunk(self, inv: Invocation, chunk: Any) -> bool:
        # The SDK's GenerateContentResponse (pydantic) has its few fields read as attributes (a dict, which the SDK
        # never gives, by key): a view() of the chunk and of its candidate cost ~3,300 of the ~8,300 instructions
        # this took per chunk (callgrind). Plain reads, with getattr(..., None) only for an object that lacks one
        # (try costs nothing until it raises): a getattr call with a default costs ~150 more per field, and
        # enumerate() ~800 per chunk more than counting positions.
        if type(chunk) is dict:
            usage, candidates = chunk.get("usage_metadata"), chunk.get("candidates")
        else:
            try:
                usage, candidates = chunk.usage_metadata, chunk.candidates
            except AttributeError:
                usage, candidates = getattr(chunk, "usage_metadata", None), getattr(chunk, "candidates", None)
        if not self.named and field(chunk, "model_version") is not None:
            self.named = True
            string_fields(chunk, _RESPONSE_STRINGS, inv.response)
        if usage is not None:
            self.usage = usage
        if not candidates:
            if field(chunk, "prompt_feedback") is not None:
                self.blocked = _block_reason(view(chunk))
            return False
        reasons = self.reasons
        position = 0
        for candidate in candidates:
            if type(candidate) is dict:
                index, reason = candidate.get("index"), candidate.get("finish_reason")
            else:
                try:  # pydantic keeps declared fields (defaults included) in __dict__: ~560 instructions less
                    found = candidate.__dict__
                    index, reason = found["index"], found["finish_reason"]
                except (AttributeError, KeyError):
                    index, reason = getattr(candidate, "index", None), getattr(candidate, "finish_reason", None)
            if type(index) is not int:
                index = position
            position += 1  # noqa: SIM113 (enumerate costs ~800 instructions per chunk more)
            if reason is not None:
                reasons[index] = _reason(reason)
            elif index not in reasons:
                reasons[index] = ""
            if self.capture:
                self._add_parts(index, field(field(candidate, "content"), "parts"))
        return False

    def _add_parts(self, index: int, parts: Any) -> None:
        pieces = self.parts.setdefault(index, [])
        for part in _parts(parts):
            kind = part.get("type")
            last = pieces[-1] if pieces else None
            if kind in ("text", "reasoning") and isinstance(last, list) and last[0] == kind:
                last.append(part.get("content"))
            elif kind in ("text", "reasoning"):
                pieces.append([kind, part.get("content")])
            else:
                pieces.append(part)

    def on_end(self, inv: Invocation) -> None:
        resp = inv.response
        if self.reasons:
            # a candidate the stream never finished (cut off, or the caller stopped reading) reports "error"
            resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [r or "error" for _, r in sorted(self.reasons.items())]
        elif self.blocked is not None:
            resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [self.blocked]
        usage_attributes(self.usage, resp)
        if self.capture:
            messages: list[c.Message] = []
            for index, reason in sorted(self.reasons.items()):
                parts = [
                    (
                        {"type": p[0], "content": "".join(s for s in p[1:] if isinstance(s, str))}
                        if type(p) is list
                        else p
                    )
                    for p in self.parts.get(index, ())
                ]
                msg = c.message("assistant", parts)
                msg["finish_reason"] = _message_reason(reason or "error", parts)
                messages.append(msg)
            if not messages and self.blocked is not None:
                msg = c.message("assistant", [])
                msg["finish_reason"] = _CONTENT_FILTER
                messages.append(msg)
            if messages:  # none when the stream failed before its first chunk
                inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, messages)
