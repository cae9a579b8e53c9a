"""Messages (``messages.create`` / ``parse`` / ``stream()``, and ``beta.messages``): SDK fields → GenAI facts.

Usage: Anthropic's ``input_tokens`` leaves out the cached tokens, so ``gen_ai.usage.input_tokens`` is the sum of
``input_tokens``, ``cache_read_input_tokens`` and ``cache_creation_input_tokens`` (the conventions, §10.3); the
two cache counts also go under their own attributes (``cache_creation`` under ``cache_write``, the upstream name
the OpenAI provider uses too), and ``output_tokens_details.thinking_tokens`` under reasoning (a part of
``output_tokens``, which includes it). ``gen_ai.response.finish_reasons`` holds the ``stop_reason`` as sent
(``end_turn``, ``tool_use``, ``max_tokens`` …); an output message's ``finish_reason`` is the conventions' word
for it where there is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc
from llmtel.core import content as c
from llmtel.core.adapter import (
    Adapter,
    RequestTable,
    UsageTable,
    field,
    integer,
    number,
    put,
    request_attributes,
    stop_sequences,
    string,
    string_fields,
    usage_attributes,
    view,
)
from llmtel.core.invocation import Invocation
from llmtel.core.values import token_count

_JSON = sc.GenAiOutputTypeValues.JSON
_INPUT = sc.GEN_AI_USAGE_INPUT_TOKENS
_CACHE_READ = sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
_CACHE_WRITE = sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS


def _output_format(value: Any) -> str | None:
    """``output_format`` (``stream()`` / ``parse()``): a type the SDK turns into a JSON schema."""
    return _JSON if isinstance(value, type) else None


REQUESTS: RequestTable = {
    "max_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer),
    "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
    "top_p": (sc.GEN_AI_REQUEST_TOP_P, number),
    "top_k": (sc.GEN_AI_REQUEST_TOP_K, integer),
    "stop_sequences": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, stop_sequences),
    "output_format": (sc.GEN_AI_OUTPUT_TYPE, _output_format),
}
# anthropic 2.x dropped the sampling kwargs from create(); the API still takes them, through extra_body (which
# the SDK lets win over the kwargs, as it does here).
_EXTRA = ("temperature", "top_p", "top_k")
_GUARDRAIL_HEADER = "x-amzn-bedrock-guardrailidentifier"

USAGE: UsageTable = (
    ("input_tokens", None, _INPUT),
    ("output_tokens", None, sc.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("cache_read_input_tokens", None, _CACHE_READ),
    ("cache_creation_input_tokens", None, _CACHE_WRITE),
    ("output_tokens_details", "thinking_tokens", sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
)


def usage(counts: Any, resp: dict[str, AttributeValue]) -> None:
    """Token counts (see the module docstring): the input total includes both cache counts."""
    usage_attributes(counts, USAGE, resp)
    total = resp.get(_INPUT)
    if isinstance(total, int):
        total += int(resp.get(_CACHE_READ, 0)) + int(resp.get(_CACHE_WRITE, 0))  # type: ignore[arg-type]
        if token_count(total) is None:  # beyond int64: no made-up count
            del resp[_INPUT]
        else:
            resp[_INPUT] = total


_RESPONSE_STRINGS = (("id", sc.GEN_AI_RESPONSE_ID), ("model", sc.GEN_AI_RESPONSE_MODEL))

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}


# -- content ----------------------------------------------------------------------------------------------------


def _source(source: Any, modality: str) -> c.Part:
    """An image's or a document's ``source``: inline data, a URL, an uploaded file, or plain text."""
    kind = field(source, "type")
    media_type = string(field(source, "media_type"))
    if kind == "base64":
        return c.blob(modality, field(source, "data"), media_type)
    if kind == "url":
        url = field(source, "url")
        return c.media(modality, url, media_type) if isinstance(url, str) else {"type": modality}
    if kind == "file":
        return c.file(modality, field(source, "file_id"), media_type)
    if kind == "text":
        return c.text(field(source, "data"))
    return {"type": modality}


def _text_of(value: Any) -> Any:
    """A tool result's content: plain text, or its text blocks joined (images in it are not described)."""
    if isinstance(value, (list, tuple)):
        return "".join(str(field(block, "text") or "") for block in value)
    return value


def part(block: Any) -> c.Part:
    """One content block (a request's param dict or a response's model) as a part of the conventions."""
    kind = field(block, "type")
    if kind == "text":
        return c.text(field(block, "text"))
    if kind == "thinking":
        return c.reasoning(field(block, "thinking"))
    if kind == "tool_use":
        return c.tool_call(field(block, "id"), field(block, "name"), field(block, "input"))
    if kind == "tool_result":
        return c.tool_call_response(field(block, "tool_use_id"), _text_of(field(block, "content")))
    if kind == "image":
        return _source(field(block, "source"), "image")
    if kind == "document":
        return _source(field(block, "source"), "document")
    if kind == "server_tool_use":
        name = field(block, "name")
        call = {"type": name, "arguments": field(block, "input")}
        return {"type": "server_tool_call", "id": field(block, "id"), "name": name, "server_tool_call": call}
    if isinstance(kind, str) and kind.endswith("_tool_result"):  # web_search_tool_result, code_execution_…
        outcome = {"type": kind, "content": field(block, "content")}
        found: c.Part = {"type": "server_tool_call_response", "server_tool_call_response": outcome}
        found["id"] = field(block, "tool_use_id")
        return found
    return {"type": str(kind)}  # redacted_thinking, container_upload …: what it is, not what it holds


def parts(value: Any) -> list[c.Part]:
    """A message's ``content``: a string, or content blocks (any iterable the core has made a list)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [c.text(value)]
    if isinstance(value, (list, tuple)):
        return [part(block) for block in value]
    return []


def input_messages(messages: Any) -> list[c.Message]:
    result: list[c.Message] = []
    if isinstance(messages, (str, bytes)):
        return result  # not a message list; the SDK will say so
    for msg in messages or ():
        role = field(msg, "role")
        if isinstance(role, str):  # anything else is not a message we could describe truthfully
            result.append(c.message(role, parts(field(msg, "content"))))
    return result


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for tool in tools or ():
        kind = field(tool, "type")
        if kind in (None, "custom"):
            definition: dict[str, Any] = {"type": "function", "name": field(tool, "name")}
            for key, name in (("description", "description"), ("input_schema", "parameters")):
                value = field(tool, key)
                if value is not None:
                    definition[name] = value
        else:  # a server tool (web_search_20250305, bash_…): its type and name say what it is
            definition = {"type": str(kind), "name": field(tool, "name")}
        result.append(definition)
    return result


def output_message(content: Any, stop_reason: Any) -> c.Message:
    message = c.message("assistant", parts(content))
    message["finish_reason"] = _FINISH.get(stop_reason, stop_reason) if isinstance(stop_reason, str) else "error"
    return message


# -- the API ----------------------------------------------------------------------------------------------------


class MessagesApi(Adapter):
    """``messages.create`` (a Message, or a Stream of raw events with ``stream=True``) and ``parse``."""

    operation = sc.GenAiOperationNameValues.CHAT
    # The SDK's types take any Iterable for these, and for a message's content blocks.
    iterables = ("messages", "system", "tools")
    item_iterables = ("content",)
    requests = REQUESTS

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        request_attributes(kwargs, REQUESTS, attrs)
        config = kwargs.get("output_config")
        if config is not None:
            put(attrs, sc.GEN_AI_REQUEST_REASONING_LEVEL, string(field(config, "effort")))
            if field(field(config, "format"), "type") == "json_schema":
                attrs[sc.GEN_AI_OUTPUT_TYPE] = _JSON
        # `is not None` first: an ABC isinstance() of the usual None costs more than the rest of this method
        extra = kwargs.get("extra_body")
        if extra is not None and isinstance(extra, Mapping):
            for name in _EXTRA:
                if name in extra:
                    key, convert = REQUESTS[name]
                    put(attrs, key, convert(extra[name]))
        headers = kwargs.get("extra_headers")
        if headers and isinstance(headers, Mapping):
            # Bedrock applies a guardrail named by this header (InvokeModel's); the SDK has no parameter for it
            for name, value in headers.items():
                if isinstance(name, str) and name.lower() == _GUARDRAIL_HEADER:
                    put(attrs, sc.AWS_BEDROCK_GUARDRAIL_ID, string(value))

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        system = kwargs.get("system")
        if isinstance(system, (str, list, tuple)) and system:
            inv.set_content(sc.GEN_AI_SYSTEM_INSTRUCTIONS, parts(system))
        inv.set_content(sc.GEN_AI_INPUT_MESSAGES, input_messages(kwargs.get("messages")))
        tools = kwargs.get("tools")
        if isinstance(tools, (list, tuple)) and tools:
            inv.set_content(sc.GEN_AI_TOOL_DEFINITIONS, tool_definitions(tools))

    def response(self, inv: Invocation, result: Any) -> None:
        resp = inv.response
        fields = string_fields(result, _RESPONSE_STRINGS, resp)
        reason = string(fields.get("stop_reason"))
        if reason:
            resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
        usage(fields.get("usage"), resp)
        if inv.capture:
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, [output_message(fields.get("content"), reason)])

    def error_type(self, exc: BaseException) -> str | None:
        """The HTTP status of a failed response; for an ``error`` event in a stream (whose response was a 200)
        the type of the API's error envelope (``overloaded_error`` …); the core's rule for the rest."""
        status = getattr(exc, "status_code", None)
        if type(status) is not int or status >= 400:
            return None  # the core's rule: that status as a string, or the exception's class
        kind = string(getattr(exc, "type", None))
        if kind is None:  # SDKs before the ``type`` attribute: the envelope itself
            kind = string(field(field(getattr(exc, "body", None), "error"), "type"))
        if kind:
            return kind
        cls = type(exc)
        return f"{cls.__module__.partition('.')[0]}.{cls.__qualname__}"

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> MessageEvents:
        return MessageEvents(inv.capture)


class StreamApi(MessagesApi):
    """``messages.stream()``: a stream manager whose ``__enter__`` makes the request; always a stream."""

    streaming = True


class _Block:
    __slots__ = ("block", "pieces")

    def __init__(self, block: Any) -> None:
        self.block = block  # the content_block of its start event
        self.pieces: list[str] = []  # text, thinking or tool input JSON, as the deltas bring it


class MessageEvents:
    """The chunk handler of a Messages stream: the raw events (``message_start``, ``content_block_*``,
    ``message_delta``, ``message_stop``), whichever helper of the SDK reads them. Ids, model and input usage come
    with ``message_start``; the stop reason and the final usage (output, and on newer APIs the input counts
    again) with ``message_delta``. Content is accumulated only with capture on."""

    __slots__ = ("blocks", "capture", "counts", "message", "reason")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.message: Any = None
        self.reason: Any = None
        self.counts: dict[str, Any] = {}  # usage field → the latest count the events gave
        self.blocks: dict[Any, _Block] = {}

    def on_chunk(self, inv: Invocation, event: Any) -> bool:
        kind = event.type
        if kind == "content_block_delta":
            if self.capture:
                self._delta(event)
        elif kind == "message_start":
            message = self.message = event.message
            model = string(field(message, "model"))  # on the chunk metrics from now on
            if model:
                inv.response[sc.GEN_AI_RESPONSE_MODEL] = model
            self._usage(field(message, "usage"))
        elif kind == "message_delta":
            reason = field(field(event, "delta"), "stop_reason")
            if reason is not None:
                self.reason = reason
            self._usage(field(event, "usage"))
        elif kind == "content_block_start" and self.capture:
            self.blocks[field(event, "index")] = _Block(field(event, "content_block"))
        return False

    def _usage(self, counts: Any) -> None:
        for name, value in view(counts).items():
            if value is not None:
                self.counts[name] = value

    def _delta(self, event: Any) -> None:
        state = self.blocks.get(field(event, "index"))
        if state is None:
            return
        delta = field(event, "delta")
        kind = field(delta, "type")
        piece = None
        if kind == "text_delta":
            piece = field(delta, "text")
        elif kind == "thinking_delta":
            piece = field(delta, "thinking")
        elif kind == "input_json_delta":
            piece = field(delta, "partial_json")
        if isinstance(piece, str):
            state.pieces.append(piece)

    def on_end(self, inv: Invocation) -> None:
        resp = inv.response
        if self.message is not None:
            string_fields(self.message, _RESPONSE_STRINGS, resp)
        reason = string(self.reason)
        if reason:  # a stream closed early has no stop reason to report
            resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
        usage(self.counts, resp)
        if self.capture:
            content = [self._part(self.blocks[i]) for i in sorted(self.blocks, key=_order)]
            message = c.message("assistant", content)
            message["finish_reason"] = _FINISH.get(reason, reason) if reason else "error"
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, [message])

    @staticmethod
    def _part(state: _Block) -> c.Part:
        found = part(state.block)
        if not state.pieces:
            return found
        joined = "".join(state.pieces)
        kind = found.get("type")
        if kind in ("text", "reasoning"):
            found["content"] = joined
        elif kind == "tool_call":
            found["arguments"] = c.json_or_text(joined)
        elif kind == "server_tool_call":
            found["server_tool_call"]["arguments"] = c.json_or_text(joined)
        return found


def _order(index: Any) -> int:
    return index if type(index) is int else 0
