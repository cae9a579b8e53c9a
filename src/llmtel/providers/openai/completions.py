"""Legacy text completions (``completions.create``, operation ``text_completion``): SDK fields → GenAI facts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmtel import semconv as sc
from llmtel.core import content as c
from llmtel.core.adapter import RequestTable, field, integer
from llmtel.core.endpoints import Endpoint
from llmtel.core.invocation import Invocation, Telemetry
from llmtel.providers.openai._common import SAMPLING, Api
from llmtel.providers.openai.chat import (
    UsageStream,
    complete_response,
    include_usage,
)


def _prompts(prompt: Any) -> list[c.Message]:
    if isinstance(prompt, str):
        return [c.message("user", [c.text(prompt)])]
    if isinstance(prompt, (list, tuple)) and all(isinstance(p, str) for p in prompt):
        return [c.message("user", [c.text(p)]) for p in prompt]
    return [c.message("user", [{"type": "tokens"}])]  # token-id prompts: nothing readable to record


class CompletionsApi(Api):
    operation = sc.GenAiOperationNameValues.TEXT_COMPLETION

    requests: RequestTable = {**SAMPLING, "max_tokens": (sc.GEN_AI_REQUEST_MAX_TOKENS, integer)}

    def content(self, inv: Invocation, kwargs: Mapping[str, Any]) -> None:
        inv.set_content(sc.GEN_AI_INPUT_MESSAGES, _prompts(kwargs.get("prompt")))

    def response(self, inv: Invocation, result: Any) -> None:
        fields = complete_response(result, inv.response)
        if inv.capture:
            messages = []
            for ch in fields.get("choices") or ():
                msg = c.message("assistant", [c.text(field(ch, "text"))])
                msg["finish_reason"] = field(ch, "finish_reason") or "error"
                messages.append(msg)
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, messages)

    def prepare(self, kwargs: dict[str, Any], telemetry: Telemetry, endpoint: Endpoint) -> bool:
        return include_usage(kwargs, telemetry, endpoint)

    def stream_handler(self, inv: Invocation, kwargs: Mapping[str, Any], hide_usage: bool) -> CompletionStream:
        return CompletionStream(inv.capture, hide_usage)


class CompletionStream(UsageStream):
    __slots__ = ("texts",)

    def __init__(self, capture: bool, hide_usage: bool) -> None:
        super().__init__(capture, hide_usage)
        self.texts: dict[int, list[str]] = {}

    def on_choice(self, index: int, choice: Any) -> None:
        self.texts.setdefault(index, []).append(str(field(choice, "text") or ""))

    def on_end(self, inv: Invocation) -> None:
        indices = self.finish(inv)
        if self.capture:
            messages = []
            for index in indices:
                msg = c.message("assistant", [c.text("".join(self.texts.get(index, [])))])
                msg["finish_reason"] = self.reasons[index] or "error"
                messages.append(msg)
            inv.set_content(sc.GEN_AI_OUTPUT_MESSAGES, messages)
