"""Agent identity carried in the OpenTelemetry context: which in-process agent invocation an LLM call belongs to.

:func:`llmtel.agent` puts an :class:`AgentFrame` into the context it makes current, next to its span; every
inference call started in that context (including from threads or tasks that copy it) finds it with one lookup
in the ``Context`` the wrapper already holds, counts itself and adds its token usage. Sub-agents get their own
frame, so each agent counts only the calls it made itself, as ``gen_ai.invoke_agent.inference_calls`` asks.
"""

from __future__ import annotations

from opentelemetry.context import Context, create_key

AGENT_KEY = create_key("llmtel.agent")


class AgentFrame:
    """One in-process agent invocation's identity and running totals."""

    __slots__ = ("conversation_id", "inference_calls", "input_tokens", "name", "output_tokens", "tool_calls")

    def __init__(self, name: str | None, conversation_id: str | None) -> None:
        self.name = name
        self.conversation_id = conversation_id
        self.inference_calls = 0
        self.tool_calls = 0
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None

    def add_usage(self, input_tokens: object, output_tokens: object) -> None:
        """Token usage reported by one of this agent's inference calls (ints only; absent usage adds nothing)."""
        if isinstance(input_tokens, int) and not isinstance(input_tokens, bool):
            self.input_tokens = (self.input_tokens or 0) + input_tokens
        if isinstance(output_tokens, int) and not isinstance(output_tokens, bool):
            self.output_tokens = (self.output_tokens or 0) + output_tokens


def agent_of(ctx: Context) -> AgentFrame | None:
    """The agent invocation ``ctx`` runs in, if any."""
    frame = ctx.get(AGENT_KEY)
    return frame if isinstance(frame, AgentFrame) else None
