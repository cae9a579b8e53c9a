"""llmtel: OpenTelemetry instrumentation for LLM client SDKs, following the GenAI semantic conventions.

Under ``opentelemetry-instrument`` nothing needs calling: the ``llmtel_*`` instrumentor entry points do it.
Apps that set OpenTelemetry up in code call :func:`instrument` once after creating their providers; apps that
cannot use the wrapper (notebooks, serverless handlers) call :func:`setup`, which configures OpenTelemetry from
the same ``OTEL_*`` variables first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmtel.version import __version__

if TYPE_CHECKING:
    from llmtel.core.agents import AgentInvocation, ToolExecution

__all__ = ["__version__", "agent", "instrument", "setup", "tool", "uninstrument"]


def _installers() -> list[Any]:
    """One installer module per supported SDK. They import nothing of their SDK (post-import hooks), so an SDK
    that is not installed, or that the app never imports, costs nothing."""
    from llmtel.providers import anthropic, bedrock, google_genai, openai

    return [openai, anthropic, bedrock, google_genai]


def instrument(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
) -> None:
    """Instrument every supported SDK that is installed. Idempotent: a second call changes nothing.

    Providers default to the global ones. Configuration comes from the environment (see the README).
    """
    for installer in _installers():
        installer.install(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
        )


def setup() -> bool:
    """``opentelemetry-instrument`` in one call: configure OpenTelemetry from the ``OTEL_*`` variables as the
    wrapper would (installed distro and configurator; ``llmtel[otlp]`` brings them), then :func:`instrument`.

    For notebooks and serverless handlers. Call it once, early; later calls only instrument. If the app has
    configured OpenTelemetry already, its providers are kept. Returns whether this call configured the SDK;
    never raises (what cannot be configured is logged once as a warning).
    """
    from llmtel._setup import setup as _setup

    return _setup()


def uninstrument() -> None:
    """Restore every instrumented SDK exactly. Idempotent."""
    for installer in _installers():
        installer.uninstall()


def agent(
    name: str | None,
    *,
    description: str | None = None,
    conversation_id: str | None = None,
    model: str | None = None,
) -> AgentInvocation:
    """Mark one invocation of an in-process agent: ``with llmtel.agent("support-bot"):`` (or ``async with``).

    The block gets an ``invoke_agent {name}`` span that parents the LLM calls made in it, with their token usage
    summed, and the ``gen_ai.invoke_agent.*`` metrics (duration; inference and tool calls per invocation, counted
    for this agent only, not for sub-agents). ``conversation_id`` also goes on every LLM call span in the block
    (and in nested agents); ``model`` only if the agent is bound to that one model. An exception leaving the
    block is recorded as ``error.type`` and re-raised unchanged. Use a new ``agent(...)`` for each invocation.
    """
    from llmtel.core.agents import AgentInvocation

    return AgentInvocation(name, description=description, conversation_id=conversation_id, model=model)


def tool(
    name: str,
    *,
    call_id: str | None = None,
    type: str | None = "function",
    description: str | None = None,
    arguments: Any = None,
) -> ToolExecution:
    """Mark one execution of a tool the model asked for: ``with llmtel.tool("get_weather", call_id=c.id) as t:``.

    The block gets an ``execute_tool {name}`` span (a child of the current agent's span, carrying the agent's
    name) and a ``gen_ai.execute_tool.duration`` point; it counts as one of the agent's tool calls. Pass the
    model's ``call_id`` to tie the span to the tool call in the LLM span's output. ``arguments`` and the value
    given to ``t.set_result(...)`` are recorded only when content capture includes spans.
    """
    from llmtel.core.agents import ToolExecution

    return ToolExecution(name, call_id=call_id, type=type, description=description, arguments=arguments)
