"""Legacy text completions (``completions.create``, operation ``text_completion``): SDK fields → GenAI facts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from genai_otel import semconv as sc
from genai_otel.core import content as c
from genai_otel.core.invocation import Invocation, Telemetry
from genai_otel.providers.openai._common import (
    Api,
    field,
    integer,
    put,
    sampling_attributes,
    string,
    usage_attributes,
)
from genai_otel.providers.openai.chat import CHAT_USAGE, UsageStream, common_response, include_usage


def _prompts(prompt: Any) -> list[c.Message]:
    if isinstance(prompt, str):
        return [c.message("user", [c.text(prompt)])]
    if isinstance(prompt, (list, tuple)) and all(isinstance(p, str) for p in prompt):
        return [c.message("user", [c.text(p)]) for p in prompt]
    return [c.message("user", [{"type": "tokens"}])]  # token-id prompts: nothing readable to record


class CompletionsApi(Api):
    operation = sc.GenAiOperationNameValues.TEXT_COMPLETION

    def request(self, kwargs: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
        sampling_attributes(kwargs, attrs)
        put(attrs, sc.GEN_AI_REQUEST_MAX_TOKENS, integer(kwargs.get("max_tokens")))

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        inv.set_content(sc.GEN_AI_INPUT_MESSAGES, _prompts(kwargs.get("prompt")))

    def response(self, inv: Invocation, result: Any) -> None:
        resp = inv.response
        common_response(result, resp)
        choices = field(result, "choices") or ()
        resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [str(field(ch, "finish_reason") or "error") for ch in choices]
        usage_attributes(field(result, "usage"), CHAT_USAGE, resp)
        if inv.capture:
            messages = []
            for ch in choices:
                msg = c.message("assistant", [c.text(field(ch, "text"))])
                msg["finish_reason"] = field(ch, "finish_reason") or "error"
                messages.append(msg)
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, messages)

    def prepare(self, kwargs: dict[str, Any], telemetry: Telemetry) -> bool:
        return include_usage(kwargs, telemetry)

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> CompletionStream:
        return CompletionStream(inv.capture, hide_usage)


class CompletionStream(UsageStream):
    __slots__ = ("reasons", "result", "texts")

    def __init__(self, capture: bool, hide_usage: bool) -> None:
        super().__init__(capture, hide_usage)
        self.result: Any = None
        self.reasons: dict[int, Any] = {}
        self.texts: dict[int, list[str]] = {}

    def on_chunk(self, inv: Invocation, chunk: Any) -> bool:
        if self.result is None:
            self.result = chunk
            put(inv.response, sc.GEN_AI_RESPONSE_MODEL, string(field(chunk, "model")))
        choices = self.choices_of(chunk)
        if not choices:
            return self.hides(chunk)
        for choice in choices:
            index = field(choice, "index") or 0
            reason = field(choice, "finish_reason")
            self.reasons.setdefault(index, None)
            if reason is not None:
                self.reasons[index] = reason
            if self.capture:
                self.texts.setdefault(index, []).append(str(field(choice, "text") or ""))
        return False

    def on_end(self, inv: Invocation) -> None:
        resp = inv.response
        if self.result is not None:
            common_response(self.result, resp)
        reasons = [self.reasons[i] for i in sorted(self.reasons)]
        if reasons and all(reasons):
            resp[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [str(r) for r in reasons]
        usage_attributes(self.usage, CHAT_USAGE, resp)
        if self.capture:
            messages = []
            for index in sorted(self.reasons):
                msg = c.message("assistant", [c.text("".join(self.texts.get(index, [])))])
                msg["finish_reason"] = self.reasons[index] or "error"
                messages.append(msg)
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, messages)
