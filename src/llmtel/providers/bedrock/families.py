"""``invoke_model`` bodies, model family by model family: which attributes a request body gives, what a
response body and each decoded stream chunk tell.

A body is the model's own JSON, read as untrusted data: every value goes through the core's helpers (numbers,
integers within int64, valid UTF-8 strings, valid token counts). Token usage of a complete response comes from
the service's ``X-Amzn-Bedrock-*-Token-Count`` headers (the same for every family, see :mod:`.invoke`), and of a
stream from its last chunk's ``amazon-bedrock-invocationMetrics``; the bodies' own counts serve when those are
missing.

Families, by the model id (after a cross-region prefix such as ``us.``, or the last part of an ARN), else by
the body's shape: Anthropic Claude (Messages API, and the legacy ``prompt``), Amazon Nova (the Converse shapes),
Amazon Titan Text and Titan Embeddings, Meta Llama, Mistral (``prompt``, and the chat ``messages`` of Mistral
Large), Cohere Command (``prompt``), Command R (``message``) and Embed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc
from llmtel.core import content as c
from llmtel.core.adapter import RequestTable, integer, number, request_attributes, stop_sequences, string
from llmtel.core.invocation import Invocation
from llmtel.core.values import token_count
from llmtel.providers.bedrock import converse
from llmtel.providers.bedrock._common import UsageNames, usage

CHAT = sc.GenAiOperationNameValues.CHAT
COMPLETION = sc.GenAiOperationNameValues.TEXT_COMPLETION
EMBEDDINGS = sc.GenAiOperationNameValues.EMBEDDINGS
GENERATE = sc.GenAiOperationNameValues.GENERATE_CONTENT

_FINISH = sc.GEN_AI_RESPONSE_FINISH_REASONS


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if type(obj) is dict else None


def _reason(value: Any, reasons: list[str]) -> None:
    if isinstance(value, str) and value:
        reasons.append(value)


def _text_messages(role: str, text: Any) -> list[c.Message]:
    return [c.message(role, [c.text(text)])] if isinstance(text, str) else []


def _output(text: str, reason: Any) -> c.Message:
    out = c.message("assistant", [c.text(text)])
    out["finish_reason"] = reason if isinstance(reason, str) and reason else "error"
    return out


class Family:
    """One model family's bodies. The defaults read nothing (an unknown family still gets its span)."""

    name = "unknown"
    requests: RequestTable = {}
    usage_names: UsageNames | None = None  # where a complete body reports its token counts

    def operation(self, body: Mapping[str, Any]) -> str:
        if "messages" in body:
            return CHAT
        if "prompt" in body or "inputText" in body:
            return COMPLETION
        return GENERATE  # an image model, or a body we do not know: the conventions' most general operation

    def request(self, body: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        request_attributes(body, self.requests, attrs)

    def content(self, inv: Invocation, body: Mapping[str, Any]) -> None:
        """The request's content (with capture on)."""

    def response(self, inv: Invocation, body: dict[str, Any]) -> None:
        """A complete response body (a dict): finish reasons, ids, content (with capture on)."""

    def chunks(self, capture: bool) -> Chunks:
        return Chunks(capture)


class Chunks:
    """A stream's decoded chunks (the model's own JSON of each ``chunk`` event): per family, what to keep.
    ``on_chunk`` gets every chunk as a dict; ``on_end`` writes the facts (usage aside: see :mod:`.invoke`)."""

    __slots__ = ("capture", "reasons", "texts", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.reasons: list[str] = []
        self.texts: list[str] = []
        self.usage: dict[str, AttributeValue] = {}  # the body's own counts (when the service's metrics are missing)

    def on_chunk(self, inv: Invocation, chunk: dict[str, Any]) -> None:
        pass

    def on_end(self, inv: Invocation) -> None:
        if self.reasons:
            inv.response[_FINISH] = self.reasons
        if self.capture and (self.texts or self.reasons):
            reason = self.reasons[-1] if self.reasons else None
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, [_output("".join(self.texts), reason)])


def _counts(resp: dict[str, AttributeValue], input_tokens: Any, output_tokens: Any) -> None:
    found = token_count(input_tokens)
    if found is not None:
        resp[sc.GEN_AI_USAGE_INPUT_TOKENS] = found
    found = token_count(output_tokens)
    if found is not None:
        resp[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = found


# -- Anthropic Claude -------------------------------------------------------------------------------------------

ANTHROPIC_USAGE: UsageNames = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def _anthropic_part(block: Any) -> c.Part | None:
    kind = _get(block, "type")
    if kind is None and type(block) is dict and "text" in block:
        kind = "text"  # the cassettes' apps send {"text": …} blocks with the type after it; either way text
    if kind == "text":
        return c.text(block.get("text"))
    if kind == "tool_use":
        return c.tool_call(block.get("id"), block.get("name"), block.get("input"))
    if kind == "tool_result":
        inner = block.get("content")
        if isinstance(inner, list):
            inner = "".join(str(_get(item, "text") or "") for item in inner)
        return c.tool_call_response(block.get("tool_use_id"), inner)
    if kind in ("thinking", "redacted_thinking"):
        return c.reasoning(block.get("thinking"))
    if kind in ("image", "document"):
        source = _get(block, "source")
        if _get(source, "type") == "base64":
            return c.blob(kind, source.get("data"), _get(source, "media_type"))
        url = _get(source, "url")
        if isinstance(url, str):
            return c.media(kind, url)
        return {"type": kind}
    return {"type": str(kind)}


def _anthropic_parts(value: Any) -> list[c.Part]:
    if isinstance(value, str):
        return [c.text(value)]
    if not isinstance(value, list):
        return []
    return [part for part in map(_anthropic_part, value) if part is not None]


class Anthropic(Family):
    name = "anthropic"
    requests: RequestTable = {
        "max_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer),
        "max_tokens_to_sample": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer),  # the legacy Text Completions API
        "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
        "top_p": (sc.GEN_AI_REQUEST_TOP_P, number),
        "top_k": (sc.GEN_AI_REQUEST_TOP_K, integer),
        "stop_sequences": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, stop_sequences),
    }
    usage_names = ANTHROPIC_USAGE

    def operation(self, body: Mapping[str, Any]) -> str:
        return COMPLETION if "prompt" in body and "messages" not in body else CHAT

    def content(self, inv: Invocation, body: Mapping[str, Any]) -> None:
        if "messages" not in body:
            inv.set_content(sc.GEN_AI_INPUT_MESSAGES, _text_messages("user", body.get("prompt")))
            return
        messages = body.get("messages")
        inv.set_content(
            sc.GEN_AI_INPUT_MESSAGES,
            [
                c.message(m["role"], _anthropic_parts(m.get("content")))
                for m in (messages if isinstance(messages, list) else ())
                if type(m) is dict and isinstance(m.get("role"), str)
            ],
        )
        system = _anthropic_parts(body.get("system"))
        if system:
            inv.set_content(sc.GEN_AI_SYSTEM_INSTRUCTIONS, system)
        tools = body.get("tools")
        if isinstance(tools, list) and tools:
            definitions = []
            for tool in tools:
                if type(tool) is dict:
                    definition: dict[str, Any] = {"type": "function", "name": tool.get("name")}
                    if tool.get("description") is not None:
                        definition["description"] = tool["description"]
                    if tool.get("input_schema") is not None:
                        definition["parameters"] = tool["input_schema"]
                    definitions.append(definition)
            inv.set_content(sc.GEN_AI_TOOL_DEFINITIONS, definitions)

    def response(self, inv: Invocation, body: dict[str, Any]) -> None:
        resp = inv.response
        for name, key in (("id", sc.GEN_AI_RESPONSE_ID), ("model", sc.GEN_AI_RESPONSE_MODEL)):
            found = string(body.get(name))
            if found is not None:
                resp[key] = found
        reason = body.get("stop_reason")
        if isinstance(reason, str):
            resp[_FINISH] = [reason]
        if inv.capture:
            if "completion" in body:
                inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, [_output(str(body.get("completion") or ""), reason)])
                return
            out = c.message(string(body.get("role")) or "assistant", _anthropic_parts(body.get("content")))
            out["finish_reason"] = reason if isinstance(reason, str) else "error"
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, [out])

    def chunks(self, capture: bool) -> Chunks:
        return AnthropicChunks(capture)


class AnthropicChunks(Chunks):
    __slots__ = ("blocks", "ids")

    def __init__(self, capture: bool) -> None:
        super().__init__(capture)
        self.ids: dict[str, AttributeValue] = {}
        self.blocks: dict[int, list[Any]] = {}  # index → [type, id, name, pieces]

    def on_chunk(self, inv: Invocation, chunk: dict[str, Any]) -> None:
        kind = chunk.get("type")
        if kind == "message_start":
            message = chunk.get("message")
            for name, key in (("id", sc.GEN_AI_RESPONSE_ID), ("model", sc.GEN_AI_RESPONSE_MODEL)):
                found = string(_get(message, name))
                if found is not None:
                    inv.response[key] = found  # the model at once: it goes on the chunk metrics
            usage(_get(message, "usage"), ANTHROPIC_USAGE, self.usage)
            self.usage.pop(sc.GEN_AI_USAGE_OUTPUT_TOKENS, None)  # message_start's output count is a placeholder
        elif kind == "message_delta":
            _reason(_get(chunk.get("delta"), "stop_reason"), self.reasons)
            _counts(self.usage, None, _get(chunk.get("usage"), "output_tokens"))
        elif "completion" in chunk:  # the legacy Text Completions stream
            _reason(chunk.get("stop_reason"), self.reasons)
            if self.capture and isinstance(chunk["completion"], str):
                self.texts.append(chunk["completion"])
        elif self.capture:
            index = chunk.get("index")
            index = index if type(index) is int else 0
            if kind == "content_block_start":
                block = chunk.get("content_block")
                self.blocks[index] = [_get(block, "type"), _get(block, "id"), _get(block, "name"), []]
            elif kind == "content_block_delta":
                delta = chunk.get("delta")
                piece = _get(delta, "text") or _get(delta, "partial_json") or _get(delta, "thinking")
                if isinstance(piece, str):
                    self.blocks.setdefault(index, ["text", None, None, []])[3].append(piece)

    def on_end(self, inv: Invocation) -> None:
        if self.reasons:
            inv.response[_FINISH] = self.reasons
        if not self.capture:
            return
        if not self.blocks:
            super().on_end(inv)
            return
        parts: list[c.Part] = []
        for index in sorted(self.blocks):
            kind, call_id, name, pieces = self.blocks[index]
            if kind == "tool_use":
                parts.append(c.tool_call(call_id, name, "".join(pieces)))
            elif kind == "thinking":
                parts.append(c.reasoning("".join(pieces)))
            else:
                parts.append(c.text("".join(pieces)))
        out = c.message("assistant", parts)
        out["finish_reason"] = self.reasons[-1] if self.reasons else "error"
        inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, [out])


# -- Amazon Nova: the Converse shapes ---------------------------------------------------------------------------

NOVA_USAGE: UsageNames = ("inputTokens", "outputTokens", "cacheReadInputTokenCount", "cacheWriteInputTokenCount")


class Nova(Family):
    name = "nova"
    inference: RequestTable = {**converse.INFERENCE, "max_new_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer)}
    usage_names = NOVA_USAGE

    def operation(self, body: Mapping[str, Any]) -> str:
        return CHAT if "messages" in body else GENERATE  # Nova Canvas / Reel bodies are no chat

    def request(self, body: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        converse.converse_request(body, self.inference, attrs)

    def content(self, inv: Invocation, body: Mapping[str, Any]) -> None:
        converse.converse_content(inv, body)

    def response(self, inv: Invocation, body: dict[str, Any]) -> None:
        converse.converse_response(inv, body, None)

    def chunks(self, capture: bool) -> Chunks:
        return NovaChunks(capture)


class NovaChunks(Chunks):
    """Nova's stream chunks are the Converse stream's events, one per chunk."""

    __slots__ = ("events",)

    def __init__(self, capture: bool) -> None:
        super().__init__(capture)
        self.events = converse.ConverseEvents(capture, NOVA_USAGE)

    def on_chunk(self, inv: Invocation, chunk: dict[str, Any]) -> None:
        self.events.on_chunk(inv, chunk)

    def on_end(self, inv: Invocation) -> None:
        self.events.on_end(inv)  # writes the stream's own usage too; invoke's metrics, when present, win


# -- Amazon Titan -----------------------------------------------------------------------------------------------


class Titan(Family):
    name = "titan"
    config: RequestTable = {
        "maxTokenCount": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer),
        "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
        "topP": (sc.GEN_AI_REQUEST_TOP_P, number),
        "stopSequences": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, stop_sequences),
    }

    def operation(self, body: Mapping[str, Any]) -> str:
        return COMPLETION

    def request(self, body: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        config = body.get("textGenerationConfig")
        if type(config) is dict:
            request_attributes(config, self.config, attrs)

    def content(self, inv: Invocation, body: Mapping[str, Any]) -> None:
        inv.set_content(sc.GEN_AI_INPUT_MESSAGES, _text_messages("user", body.get("inputText")))

    def response(self, inv: Invocation, body: dict[str, Any]) -> None:
        results = body.get("results")
        results = [r for r in results if type(r) is dict] if isinstance(results, list) else []
        reasons = [str(r.get("completionReason") or "error") for r in results]
        if reasons:
            inv.response[_FINISH] = reasons
        if inv.capture:
            outputs = [_output(str(r.get("outputText") or ""), r.get("completionReason")) for r in results]
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, outputs)

    def chunks(self, capture: bool) -> Chunks:
        return TitanChunks(capture)


class TitanChunks(Chunks):
    __slots__ = ()

    def on_chunk(self, inv: Invocation, chunk: dict[str, Any]) -> None:
        _reason(chunk.get("completionReason"), self.reasons)
        _counts(self.usage, chunk.get("inputTextTokenCount"), chunk.get("totalOutputTextTokenCount"))
        if self.capture and isinstance(chunk.get("outputText"), str):
            self.texts.append(chunk["outputText"])


class TitanEmbed(Family):
    name = "titan_embed"
    requests: RequestTable = {"dimensions": (sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, integer)}

    def operation(self, body: Mapping[str, Any]) -> str:
        return EMBEDDINGS


# -- Meta Llama, Mistral, Cohere --------------------------------------------------------------------------------


class Llama(Family):
    name = "llama"
    requests: RequestTable = {
        "max_gen_len": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer),
        "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
        "top_p": (sc.GEN_AI_REQUEST_TOP_P, number),
    }

    def operation(self, body: Mapping[str, Any]) -> str:
        return COMPLETION

    def content(self, inv: Invocation, body: Mapping[str, Any]) -> None:
        inv.set_content(sc.GEN_AI_INPUT_MESSAGES, _text_messages("user", body.get("prompt")))

    def response(self, inv: Invocation, body: dict[str, Any]) -> None:
        reason = body.get("stop_reason")
        if isinstance(reason, str):
            inv.response[_FINISH] = [reason]
        if inv.capture:
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, [_output(str(body.get("generation") or ""), reason)])

    def chunks(self, capture: bool) -> Chunks:
        return LlamaChunks(capture)


class LlamaChunks(Chunks):
    __slots__ = ()

    def on_chunk(self, inv: Invocation, chunk: dict[str, Any]) -> None:
        _reason(chunk.get("stop_reason"), self.reasons)
        _counts(self.usage, chunk.get("prompt_token_count"), chunk.get("generation_token_count"))
        if self.capture and isinstance(chunk.get("generation"), str):
            self.texts.append(chunk["generation"])


class Mistral(Family):
    name = "mistral"
    requests: RequestTable = {
        "max_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer),
        "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
        "top_p": (sc.GEN_AI_REQUEST_TOP_P, number),
        "top_k": (sc.GEN_AI_REQUEST_TOP_K, integer),
        "stop": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, stop_sequences),
    }

    def content(self, inv: Invocation, body: Mapping[str, Any]) -> None:
        messages = body.get("messages")
        if isinstance(messages, list):
            inv.set_content(
                sc.GEN_AI_INPUT_MESSAGES,
                [
                    c.message(m["role"], [c.text(m.get("content"))])
                    for m in messages
                    if type(m) is dict and isinstance(m.get("role"), str)
                ],
            )
        else:
            inv.set_content(sc.GEN_AI_INPUT_MESSAGES, _text_messages("user", body.get("prompt")))

    def response(self, inv: Invocation, body: dict[str, Any]) -> None:
        # the prompt API answers "outputs", the chat API (Mistral Large) OpenAI-style "choices"
        outputs = body.get("outputs")
        chat = not isinstance(outputs, list)
        items = body.get("choices") if chat else outputs
        items = [i for i in items if type(i) is dict] if isinstance(items, list) else []
        key = "finish_reason" if chat else "stop_reason"
        reasons = [str(i.get(key) or "error") for i in items]
        if reasons:
            inv.response[_FINISH] = reasons
        if inv.capture:
            texts = [_get(i.get("message"), "content") if chat else i.get("text") for i in items]
            messages = [_output(t if isinstance(t, str) else "", i.get(key)) for t, i in zip(texts, items, strict=True)]
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, messages)

    def chunks(self, capture: bool) -> Chunks:
        return MistralChunks(capture)


class MistralChunks(Chunks):
    __slots__ = ()

    def on_chunk(self, inv: Invocation, chunk: dict[str, Any]) -> None:
        items = chunk.get("outputs") or chunk.get("choices")
        first = items[0] if isinstance(items, list) and items else None
        if type(first) is not dict:
            return
        _reason(first.get("stop_reason") or first.get("finish_reason"), self.reasons)
        if self.capture:
            text = first.get("text", _get(first.get("delta"), "content"))
            if isinstance(text, str):
                self.texts.append(text)


_COHERE = {
    "max_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer),
    "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
    "p": (sc.GEN_AI_REQUEST_TOP_P, number),
    "k": (sc.GEN_AI_REQUEST_TOP_K, integer),
    "stop_sequences": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, stop_sequences),
    "seed": (sc.GEN_AI_REQUEST_SEED, integer),
    "frequency_penalty": (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, number),
    "presence_penalty": (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, number),
}
_COHERE_ROLES = {"USER": "user", "CHATBOT": "assistant", "SYSTEM": "system", "TOOL": "tool"}


class Cohere(Family):
    """Command (``prompt``, ``generations``) and Command R (``message``, ``chat_history``, ``text``)."""

    name = "cohere"
    requests: RequestTable = _COHERE

    def operation(self, body: Mapping[str, Any]) -> str:
        return CHAT if "message" in body else COMPLETION

    def content(self, inv: Invocation, body: Mapping[str, Any]) -> None:
        if "message" not in body:
            inv.set_content(sc.GEN_AI_INPUT_MESSAGES, _text_messages("user", body.get("prompt")))
            return
        history = body.get("chat_history")
        messages = [
            c.message(_COHERE_ROLES.get(str(m.get("role")), str(m.get("role"))), [c.text(m.get("message"))])
            for m in (history if isinstance(history, list) else ())
            if type(m) is dict
        ]
        messages += _text_messages("user", body.get("message"))
        inv.set_content(sc.GEN_AI_INPUT_MESSAGES, messages)
        if isinstance(body.get("preamble"), str):
            inv.set_content(sc.GEN_AI_SYSTEM_INSTRUCTIONS, [c.text(body["preamble"])])

    def response(self, inv: Invocation, body: dict[str, Any]) -> None:
        resp = inv.response
        if "generations" in body:
            found = string(body.get("id"))
            generations = body.get("generations")
            items = [g for g in generations if type(g) is dict] if isinstance(generations, list) else []
            reasons = [str(g.get("finish_reason") or "error") for g in items]
            outputs = [_output(str(g.get("text") or ""), g.get("finish_reason")) for g in items]
        else:
            found = string(body.get("response_id"))
            reason = body.get("finish_reason")
            reasons = [reason] if isinstance(reason, str) else []
            outputs = [_output(str(body.get("text") or ""), reason)]
        if found is not None:
            resp[sc.GEN_AI_RESPONSE_ID] = found
        if reasons:
            resp[_FINISH] = reasons
        if inv.capture:
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, outputs)

    def chunks(self, capture: bool) -> Chunks:
        return CohereChunks(capture)


class CohereChunks(Chunks):
    __slots__ = ()

    def on_chunk(self, inv: Invocation, chunk: dict[str, Any]) -> None:
        if chunk.get("is_finished") is True:
            _reason(chunk.get("finish_reason"), self.reasons)
        elif self.capture and isinstance(chunk.get("text"), str):
            self.texts.append(chunk["text"])


class CohereEmbed(Family):
    name = "cohere_embed"

    def operation(self, body: Mapping[str, Any]) -> str:
        return EMBEDDINGS

    def response(self, inv: Invocation, body: dict[str, Any]) -> None:
        found = string(body.get("id"))
        if found is not None:
            inv.response[sc.GEN_AI_RESPONSE_ID] = found


# -- which family -----------------------------------------------------------------------------------------------

UNKNOWN = Family()
_PREFIXES: tuple[tuple[str, Family], ...] = (
    ("anthropic.", Anthropic()),
    ("amazon.nova", Nova()),
    ("amazon.titan-embed", TitanEmbed()),
    ("amazon.titan-", Titan()),
    ("meta.", Llama()),
    ("mistral.", Mistral()),
    ("cohere.embed", CohereEmbed()),
    ("cohere.", Cohere()),
)
_BY_NAME = {family.name: family for _, family in _PREFIXES}
# Cross-region inference profiles prefix the model id with a geography ("us.", "eu.", "apac.", "global." …);
# foundation-model ARNs end in the id after a slash.
_GEOGRAPHY = re.compile(r"^[a-z]{2,6}(-[a-z]+)?\.")
_cache: dict[str, Family] = {}


def family_of(model: Any, body: Mapping[str, Any] | None) -> Family:
    """The family of a model id; for ids that do not tell (provisioned throughput or application inference
    profile ARNs), the body's shape."""
    if isinstance(model, str):
        found = _cache.get(model)
        if found is not None:
            return found
        bare = model.rpartition("/")[2].lower()
        for candidate in (bare, _GEOGRAPHY.sub("", bare, count=1)):
            for prefix, family in _PREFIXES:
                if candidate.startswith(prefix):
                    if len(_cache) < 256:
                        _cache[model] = family
                    return family
    return _by_shape(body) if body is not None else UNKNOWN


def _by_shape(body: Mapping[str, Any]) -> Family:
    if "anthropic_version" in body:
        return _BY_NAME["anthropic"]
    if body.get("schemaVersion") == "messages-v1" or "inferenceConfig" in body:
        return _BY_NAME["nova"]
    if "textGenerationConfig" in body:
        return _BY_NAME["titan"]
    if "max_gen_len" in body:
        return _BY_NAME["llama"]
    return UNKNOWN
