"""Responses API (``responses.create`` / ``parse`` / ``stream``): SDK fields → GenAI facts (operation ``chat``)."""

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
    number,
    put,
    request_attributes,
    string,
    string_fields,
    usage_attributes,
)
from llmtel.core.invocation import Invocation
from llmtel.providers.openai._common import Api, service_tier

# Responses have a status, not a finish reason; this is the reason the status stands for.
_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _output_type(text: Any) -> str | None:
    """``gen_ai.output.type`` from ``text.format.type`` (``parse(text_format=...)`` is handled apart)."""
    kind = field(field(text, "format"), "type")
    if kind in ("json_schema", "json_object"):
        return sc.GenAiOutputTypeValues.JSON
    if kind == "text":
        return sc.GenAiOutputTypeValues.TEXT
    return None


def _reasoning_level(reasoning: Any) -> str | None:
    return string(field(reasoning, "effort"))


def _conversation_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    return string(field(value, "id"))


def finish_reason(response: Any) -> str:
    status = field(response, "status")
    if status == "completed":
        outputs = field(response, "output") or ()
        return "tool_call" if any(field(o, "type") == "function_call" for o in outputs) else "stop"
    if status == "incomplete":
        reason = field(field(response, "incomplete_details"), "reason")
        return _INCOMPLETE_REASONS.get(str(reason), str(reason or "error"))
    return "error"


RESPONSES_USAGE: UsageTable = (
    ("input_tokens", None, sc.GEN_AI_USAGE_INPUT_TOKENS),
    ("output_tokens", None, sc.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("input_tokens_details", "cached_tokens", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    # the name upstream adopted after our pinned conventions (cache_creation → cache_write), as util-genai emits it
    ("input_tokens_details", "cache_write_tokens", sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
    ("output_tokens_details", "reasoning_tokens", sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
)


_RESPONSE_STRINGS = (
    ("id", sc.GEN_AI_RESPONSE_ID),
    ("model", sc.GEN_AI_RESPONSE_MODEL),
    ("service_tier", sc.OPENAI_RESPONSE_SERVICE_TIER),
)


def response_attributes(inv: Invocation, response: Any) -> None:
    resp = inv.response
    fields = string_fields(response, _RESPONSE_STRINGS, resp)
    status = fields.get("status")
    if status is not None:
        resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [finish_reason(response)]
    usage_attributes(fields.get("usage"), RESPONSES_USAGE, resp)
    if status == "failed":
        error = fields.get("error")
        inv.report_error(str(field(error, "code") or "response.failed"), string(field(error, "message")))
    if inv.capture:
        inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, [output_message(response)])


# -- content ----------------------------------------------------------------------------------------------------


def _part(item: Any, kind: Any) -> c.Part:
    """One typed Responses input content item."""
    if kind in ("input_text", "output_text", "text"):
        return c.text(field(item, "text"))
    if kind == "refusal":
        return c.text(field(item, "refusal"))
    if kind == "input_image":
        if field(item, "file_id"):
            return c.file("image", field(item, "file_id"))
        return c.media("image", str(field(item, "image_url") or ""))
    if kind == "input_file":
        if field(item, "file_id"):
            return c.file("document", field(item, "file_id"))
        if field(item, "file_url"):
            return c.media("document", str(field(item, "file_url")))
        return c.media("document", str(field(item, "file_data") or ""))
    if kind == "input_audio":
        audio = field(item, "input_audio")
        return c.blob("audio", field(audio, "data"), f"audio/{field(audio, 'format')}")
    return {"type": str(kind)}


def _input_parts(value: Any) -> list[c.Part]:
    return content_parts(value, _part)


def input_messages(value: Any) -> list[c.Message]:
    if isinstance(value, str):
        return [c.message("user", [c.text(value)])]
    messages: list[c.Message] = []
    for item in value or ():
        kind = field(item, "type")
        role = field(item, "role")
        if kind == "function_call":
            messages.append(
                c.message(
                    "assistant",
                    [c.tool_call(field(item, "call_id"), field(item, "name"), field(item, "arguments"))],
                )
            )
        elif kind == "function_call_output":
            messages.append(c.message("tool", [c.tool_call_response(field(item, "call_id"), field(item, "output"))]))
        elif kind == "reasoning":
            text = "".join(str(field(s, "text") or "") for s in field(item, "summary") or ())
            messages.append(c.message("assistant", [c.reasoning(text)]))
        elif role is not None:
            messages.append(c.message(role, _input_parts(field(item, "content"))))
        else:
            messages.append(c.message("user", [{"type": str(kind)}]))
    return messages


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for tool in tools or ():
        kind = str(field(tool, "type") or "function")
        definition: dict[str, Any] = {"type": kind, "name": field(tool, "name") or kind}
        for key in ("description", "parameters"):
            value = field(tool, key)
            if value is not None:
                definition[key] = value
        result.append(definition)
    return result


def output_message(response: Any) -> c.Message:
    parts: list[c.Part] = []
    for item in field(response, "output") or ():
        kind = field(item, "type")
        if kind == "message":
            for piece in field(item, "content") or ():
                piece_kind = field(piece, "type")
                parts.append(c.text(field(piece, "refusal" if piece_kind == "refusal" else "text")))
        elif kind == "function_call":
            parts.append(c.tool_call(field(item, "call_id"), field(item, "name"), field(item, "arguments")))
        elif kind == "reasoning":
            text = "".join(str(field(s, "text") or "") for s in field(item, "summary") or ())
            parts.append(c.reasoning(text))
        elif isinstance(kind, str) and kind.endswith("_call"):
            # provider-executed tools: web_search_call, file_search_call, code_interpreter_call, ...
            parts.append(
                {
                    "type": "server_tool_call",
                    "id": field(item, "id"),
                    "name": kind[:-5],
                    "server_tool_call": {"type": kind[:-5]},
                }
            )
        else:
            parts.append({"type": str(kind)})
    out = c.message("assistant", parts)
    out["finish_reason"] = finish_reason(response)
    return out


# -- the API ----------------------------------------------------------------------------------------------------


class ResponsesApi(Api):
    operation = sc.GenAiOperationNameValues.CHAT
    api_type = sc.OpenaiApiTypeValues.RESPONSES

    requests: RequestTable = {
        "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
        "top_p": (sc.GEN_AI_REQUEST_TOP_P, number),
        "max_output_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer),
        "text": (sc.GEN_AI_OUTPUT_TYPE, _output_type),
        "reasoning": (sc.GEN_AI_REQUEST_REASONING_LEVEL, _reasoning_level),
        "previous_response_id": (sc.GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID, string),
        "conversation": (sc.GEN_AI_CONVERSATION_ID, _conversation_id),
        "service_tier": (sc.OPENAI_REQUEST_SERVICE_TIER, service_tier),
    }

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        request_attributes(kwargs, self.requests, attrs)
        if isinstance(kwargs.get("text_format"), type):  # parse(text_format=Model): structured output
            attrs[sc.GEN_AI_OUTPUT_TYPE] = sc.GenAiOutputTypeValues.JSON

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        instructions = kwargs.get("instructions")
        if isinstance(instructions, str) and instructions:
            inv.set_content(sc.GEN_AI_SYSTEM_INSTRUCTIONS, [c.text(instructions)])
        inv.set_content(sc.GEN_AI_INPUT_MESSAGES, input_messages(kwargs.get("input")))
        tools = kwargs.get("tools")
        if isinstance(tools, (list, tuple)) and tools:
            inv.set_content(sc.GEN_AI_TOOL_DEFINITIONS, tool_definitions(tools))

    def response(self, inv: Invocation, result: Any) -> None:
        response_attributes(inv, result)

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> ResponsesStream:
        return ResponsesStream()


_STARTED_EVENTS = frozenset({"response.created", "response.in_progress"})
_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_NOTED_EVENTS = _STARTED_EVENTS | _FINAL_EVENTS | {"error"}


class ResponsesStream:
    """Responses streams are typed events; the final ``response.*`` event carries the whole response."""

    __slots__ = ("final", "started")

    def __init__(self) -> None:
        self.final: Any = None
        self.started: Any = None

    def on_chunk(self, inv: Invocation, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind not in _NOTED_EVENTS:  # the text deltas and the rest: one set lookup each
            return False
        if kind == "error":
            inv.report_error(str(field(event, "code") or "error"), string(field(event, "message")))
        elif kind in _STARTED_EVENTS:
            self.started = field(event, "response")
            put(inv.response, sc.GEN_AI_RESPONSE_MODEL, string(field(self.started, "model")))
        else:
            self.final = field(event, "response")
        return False

    def on_end(self, inv: Invocation) -> None:
        if self.final is not None:
            response_attributes(inv, self.final)
        elif self.started is not None:
            put(inv.response, sc.GEN_AI_RESPONSE_ID, string(field(self.started, "id")))
