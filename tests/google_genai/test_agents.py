"""Gemini calls inside ``llmtel.agent(...)``: counted for the agent, its conversation id on every call span, the
agent's span their parent; a tool the SDK runs itself (automatic function calling) is the call's child."""

from __future__ import annotations

from typing import Any

import pytest

import llmtel
from tests.google_genai.helpers import MODEL, PROMPT, SDK


@pytest.mark.skipif(
    SDK < (2, 0), reason="google-genai 1.x cannot call functions with string annotations (this module's)"
)
def test_agent_with_a_chat_and_a_function_the_sdk_runs(otel: Any, gemini: Any) -> None:
    otel.instrument("google_genai")

    def get_weather(city: str) -> str:
        """The weather in a city."""
        with llmtel.tool("get_weather"):
            return "sunny"

    with llmtel.agent("weather-bot", conversation_id="c-1") as agent:
        chat = gemini.chats.create(model=MODEL)
        chat.send_message(PROMPT)
        gemini.models.generate_content(model=MODEL, contents=PROMPT, config={"tools": [get_weather]})
    assert (agent.inference_calls, agent.tool_calls) == (2, 1)
    spans = {s.name: s for s in otel.span_exporter.get_finished_spans()}
    agent_span = spans["invoke_agent weather-bot"]
    calls = [s for s in otel.spans() if s.name == f"generate_content {MODEL}"]
    assert len(calls) == 2
    for call in calls:
        assert call.parent is not None and call.parent.span_id == agent_span.context.span_id
        assert call.attributes["gen_ai.conversation.id"] == "c-1"
    tool_span = spans["execute_tool get_weather"]
    assert tool_span.parent is not None and tool_span.parent.span_id == calls[1].context.span_id
    assert agent_span.attributes["gen_ai.usage.input_tokens"] == sum(
        c.attributes["gen_ai.usage.input_tokens"] for c in calls
    )
