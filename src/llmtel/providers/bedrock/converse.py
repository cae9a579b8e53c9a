"""``converse`` / ``converse_stream``: the Converse API's request and response → GenAI facts.

Amazon Nova's own ``invoke_model`` bodies use the same message, content-block and stream-event shapes, so
:mod:`.families` reuses the readers here for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc
from llmtel.core import content as c
from llmtel.core.adapter import RequestTable, integer, number, request_attributes, stop_sequences
from llmtel.core.call import complete
from llmtel.core.invocation import Invocation
from llmtel.core.streams import stream_proxy
from llmtel.providers.bedrock._common import CONVERSE_USAGE, BedrockApi, UsageNames, guardrail, usage

INFERENCE: RequestTable = {
    "maxTokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer),
    "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
    "topP": (sc.GEN_AI_REQUEST_TOP_P, number),
    "stopSequences": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, stop_sequences),
}
"""Converse's ``inferenceConfig``."""


def top_k(extra: Any) -> int | None:
    """``top_k`` is not a Converse parameter: models take it in ``additionalModelRequestFields`` (Anthropic's
    ``top_k``, Nova's ``inferenceConfig.topK``)."""
    if type(extra) is not dict:
        return None
    found = extra.get("top_k", extra.get("topK"))
    if found is None:
        nested = extra.get("inferenceConfig")
        found = nested.get("topK") if type(nested) is dict else None
    return integer(found)


def converse_request(kwargs: Mapping[str, Any], config: RequestTable, attrs: dict[str, AttributeValue]) -> None:
    """The attributes of a Converse-shaped request (``config``: the keys of its ``inferenceConfig``)."""
    inference = kwargs.get("inferenceConfig")
    if type(inference) is dict:
        request_attributes(inference, config, attrs)
    k = top_k(kwargs.get("additionalModelRequestFields"))
    if k is None and type(inference) is dict:
        k = integer(inference.get("topK"))  # Nova's invoke body has it there
    if k is not None:
        attrs[sc.GEN_AI_REQUEST_TOP_K] = k
    config_ = kwargs.get("guardrailConfig")
    if type(config_) is dict:
        guardrail(config_.get("guardrailIdentifier"), attrs)
    output = kwargs.get("outputConfig")  # structured output: textFormat {"type": "json_schema", …}
    text_format = output.get("textFormat") if type(output) is dict else None
    if type(text_format) is dict and text_format.get("type") == "json_schema":
        attrs[sc.GEN_AI_OUTPUT_TYPE] = sc.GenAiOutputTypeValues.JSON


# -- content ----------------------------------------------------------------------------------------------------


def _source(block: Any, modality: str, mime: str | None) -> c.Part:
    """An image/document/video block: its bytes, or where it lives in S3."""
    source = block.get("source") if type(block) is dict else None
    if type(source) is dict:
        if "bytes" in source:
            return c.blob(modality, source["bytes"], mime)
        location = source.get("s3Location")
        uri = location.get("uri") if type(location) is dict else None
        if isinstance(uri, str):
            part: c.Part = {"type": "uri", "modality": modality, "uri": uri}
            if mime:
                part["mime_type"] = mime
            return part
    return {"type": modality}


def _format(block: Any, prefix: str) -> str | None:
    fmt = block.get("format") if type(block) is dict else None
    return f"{prefix}/{fmt}" if isinstance(fmt, str) else None


def _tool_result(result: Any) -> Any:
    """A tool result's content blocks: the text, or the JSON value, of each (one alone as itself)."""
    items = result.get("content") if type(result) is dict else None
    if not isinstance(items, list):
        return items
    values = [item.get("text", item.get("json")) if type(item) is dict else item for item in items]
    return values[0] if len(values) == 1 else values


def block_part(block: Any) -> c.Part | None:
    """One Converse content block as a message part; None for one that carries no content (``cachePoint``)."""
    if type(block) is not dict:
        return {"type": type(block).__name__}
    if "text" in block:
        return c.text(block["text"])
    if "toolUse" in block:
        use = block["toolUse"] if type(block["toolUse"]) is dict else {}
        return c.tool_call(use.get("toolUseId"), use.get("name"), use.get("input"))
    if "toolResult" in block:
        result = block["toolResult"] if type(block["toolResult"]) is dict else {}
        return c.tool_call_response(result.get("toolUseId"), _tool_result(result))
    if "image" in block:
        return _source(block["image"], "image", _format(block["image"], "image"))
    if "document" in block:
        return _source(block["document"], "document", None)
    if "video" in block:
        return _source(block["video"], "video", _format(block["video"], "video"))
    if "reasoningContent" in block:
        reasoning = block["reasoningContent"]
        found = reasoning.get("reasoningText") if type(reasoning) is dict else None
        return c.reasoning(found.get("text") if type(found) is dict else None)
    if "guardContent" in block:
        guarded = block["guardContent"]
        inner = guarded.get("text") if type(guarded) is dict else None
        return c.text(inner.get("text") if type(inner) is dict else None)
    if "cachePoint" in block:
        return None
    return {"type": next(iter(block), "unknown")}


def block_parts(blocks: Any) -> list[c.Part]:
    if isinstance(blocks, str):
        return [c.text(blocks)]
    if not isinstance(blocks, (list, tuple)):
        return []
    return [part for part in map(block_part, blocks) if part is not None]


def input_messages(messages: Any) -> list[c.Message]:
    result: list[c.Message] = []
    for msg in messages if isinstance(messages, (list, tuple)) else ():
        if type(msg) is dict and isinstance(msg.get("role"), str):
            result.append(c.message(msg["role"], block_parts(msg.get("content"))))
    return result


def tool_definitions(tool_config: Any) -> list[dict[str, Any]]:
    tools = tool_config.get("tools") if type(tool_config) is dict else None
    result: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else ():
        spec = tool.get("toolSpec") if type(tool) is dict else None
        if type(spec) is not dict:
            continue  # a cachePoint, or a system tool: nothing to describe
        definition: dict[str, Any] = {"type": "function", "name": spec.get("name")}
        if spec.get("description") is not None:
            definition["description"] = spec["description"]
        schema = spec.get("inputSchema")
        if type(schema) is dict and schema.get("json") is not None:
            definition["parameters"] = schema["json"]
        result.append(definition)
    return result


def converse_content(inv: Invocation, kwargs: Mapping[str, Any]) -> None:
    """The request's content, Converse-shaped (Converse itself, and Nova's invoke body)."""
    inv.set_content(sc.GEN_AI_INPUT_MESSAGES, input_messages(kwargs.get("messages")))
    system = block_parts(kwargs.get("system"))
    if system:
        inv.set_content(sc.GEN_AI_SYSTEM_INSTRUCTIONS, system)
    tools = tool_definitions(kwargs.get("toolConfig"))
    if tools:
        inv.set_content(sc.GEN_AI_TOOL_DEFINITIONS, tools)


def output_message(message: Any, reason: Any) -> c.Message:
    role = message.get("role") if type(message) is dict else None
    out = c.message(role if isinstance(role, str) else "assistant", block_parts(_get(message, "content")))
    out["finish_reason"] = reason if isinstance(reason, str) else "error"
    return out


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if type(obj) is dict else None


def converse_response(inv: Invocation, body: Any, names: UsageNames | None = CONVERSE_USAGE) -> None:
    """A complete Converse-shaped response (Converse's result, or Nova's invoke body; ``names`` None: its usage
    is read elsewhere)."""
    if type(body) is not dict:
        return
    resp = inv.response
    reason = body.get("stopReason")
    if isinstance(reason, str):
        resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
    if names is not None:
        usage(body.get("usage"), names, resp)
    if inv.capture:
        message = _get(body.get("output"), "message")
        inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, [output_message(message, reason)])


# -- streams ----------------------------------------------------------------------------------------------------


class _Block:
    __slots__ = ("arguments", "kind", "name", "pieces", "tool_id")

    def __init__(self) -> None:
        self.kind = "text"
        self.pieces: list[str] = []
        self.tool_id: Any = None
        self.name: Any = None
        self.arguments: list[str] = []


class ConverseEvents:
    """A Converse stream's events (Converse's own, and the decoded chunks of Nova's invoke stream): the stop
    reason and usage always; the message's blocks only with content capture on. Events are plain dicts of one key
    (botocore's parse of each event-stream message): a few ``dict.get`` per event."""

    __slots__ = ("blocks", "capture", "names", "reason", "role", "usage")

    def __init__(self, capture: bool, names: UsageNames = CONVERSE_USAGE) -> None:
        self.capture = capture
        self.names = names
        self.reason: Any = None
        self.usage: Any = None
        self.role: Any = None
        self.blocks: dict[Any, _Block] = {}

    def on_chunk(self, inv: Invocation, event: Any) -> bool:
        if type(event) is not dict:
            return False
        stop = event.get("messageStop")
        if stop is not None:
            self.reason = _get(stop, "stopReason")
            return False
        metadata = event.get("metadata")
        if metadata is not None:
            self.usage = _get(metadata, "usage")
            return False
        if self.capture:
            self._content(event)
        return False

    def _content(self, event: dict[str, Any]) -> None:
        start = event.get("messageStart")
        if start is not None:
            self.role = _get(start, "role")
            return
        found = event.get("contentBlockStart") or event.get("contentBlockDelta")
        if type(found) is not dict:
            return
        index = found.get("contentBlockIndex")
        if type(index) is not int:
            index = 0
        block = self.blocks.get(index)
        if block is None:
            block = self.blocks[index] = _Block()
        use = _get(found.get("start"), "toolUse")
        if type(use) is dict:
            block.kind, block.tool_id, block.name = "tool_call", use.get("toolUseId"), use.get("name")
        delta = found.get("delta")
        if type(delta) is not dict:
            return
        text = delta.get("text")
        if isinstance(text, str):
            block.pieces.append(text)
            return
        arguments = _get(delta.get("toolUse"), "input")
        if isinstance(arguments, str):
            block.arguments.append(arguments)
            return
        reasoning = _get(delta.get("reasoningContent"), "text")
        if isinstance(reasoning, str):
            block.kind = "reasoning"
            block.pieces.append(reasoning)

    def on_end(self, inv: Invocation) -> None:
        resp = inv.response
        if isinstance(self.reason, str):
            resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [self.reason]
        usage(self.usage, self.names, resp)
        if self.capture:
            parts: list[c.Part] = []
            for index in sorted(self.blocks):
                block = self.blocks[index]
                if block.kind == "tool_call":
                    parts.append(c.tool_call(block.tool_id, block.name, "".join(block.arguments)))
                elif block.kind == "reasoning":
                    parts.append(c.reasoning("".join(block.pieces)))
                else:
                    parts.append(c.text("".join(block.pieces)))
            message = c.message(self.role if isinstance(self.role, str) else "assistant", parts)
            message["finish_reason"] = self.reason if isinstance(self.reason, str) else "error"
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, [message])


# -- the APIs ---------------------------------------------------------------------------------------------------


class ConverseApi(BedrockApi):
    operation = sc.GenAiOperationNameValues.CHAT

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        converse_request(kwargs, INFERENCE, attrs)

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        converse_content(inv, kwargs)

    def response(self, inv: Invocation, result: Any) -> None:
        converse_response(inv, result)

    def deliver(self, inv: Invocation, kwargs: Mapping[str, Any], result: Any) -> Any:
        complete(inv, self, result)
        return result


class ConverseStreamApi(ConverseApi):
    streaming = True

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> ConverseEvents:
        return ConverseEvents(inv.capture)

    def deliver(self, inv: Invocation, kwargs: Mapping[str, Any], result: Any) -> Any:
        # The app reads result["stream"] (botocore's EventStream: __iter__ and close only): the same dict, with
        # the stream in it proxied; the span ends when the stream does.
        stream = result.get("stream") if type(result) is dict else None
        if stream is None:
            inv.end()
            return result
        result["stream"] = stream_proxy(stream, inv, self.stream_handler(inv, kwargs, False))
        return result
