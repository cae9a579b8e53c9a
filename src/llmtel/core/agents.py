"""In-process agent and tool spans: what :func:`llmtel.agent` and :func:`llmtel.tool` record.

An LLM SDK cannot tell which agent a call belongs to, or when the app runs a tool the model asked for: the app
says so by wrapping the agent's turn in ``with llmtel.agent("name"):`` and each tool execution in
``with llmtel.tool("name", call_id=...):``. That gives, as the GenAI conventions define them:

- an ``invoke_agent {name}`` INTERNAL span (``gen_ai.invoke_agent.internal``), parent of the agent's LLM call
  spans, with the token usage of those calls summed up; ``gen_ai.invoke_agent.duration``,
  ``gen_ai.invoke_agent.inference_calls`` and ``gen_ai.invoke_agent.tool_calls`` per invocation;
- an ``execute_tool {name}`` INTERNAL span (``gen_ai.execute_tool.internal``) and
  ``gen_ai.execute_tool.duration``, carrying the enclosing agent's name.

Both are context managers (``with`` and ``async with``). Like everything in the package they never change what
the app sees: the app's exception leaves the block untouched (recorded as ``error.type`` on the way), and an
error of ours is swallowed and logged at debug.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from llmtel import config as config_module
from llmtel import semconv as sc
from llmtel._internal import swallowed
from llmtel._providers import Setup
from llmtel.core import content
from llmtel.core.context import AGENT_KEY, AgentFrame, agent_of
from llmtel.core.invocation import NO_EXEMPLAR, Telemetry, error_type_of
from llmtel.core.values import text, token_count

_perf_ns = time.perf_counter_ns
_INVOKE_AGENT = sc.GenAiOperationNameValues.INVOKE_AGENT
_EXECUTE_TOOL = sc.GenAiOperationNameValues.EXECUTE_TOOL


_cache: tuple[int, Telemetry] | None = None


def _telemetry() -> Telemetry:
    """Telemetry on the providers the last ``instrument()`` was given (the global ones before or after)."""
    global _cache
    cached = _cache
    if cached is not None and cached[0] == Setup.generation:
        return cached[1]
    generation = Setup.generation
    telemetry = Telemetry(Setup.config or config_module.from_env(), **Setup.providers)
    _cache = (generation, telemetry)
    return telemetry


def _text(value: object) -> str | None:
    """A non-empty string attribute value, or None (odd types are turned into text rather than dropped), valid
    UTF-8 as every string attribute (:func:`llmtel.core.values.text`)."""
    if value is None:
        return None
    found = value if isinstance(value, str) else str(value)
    return text(found) if found else None


class _Operation:
    """Shared by agent and tool: an INTERNAL span made current for the block, ended with the metric's clock."""

    __slots__ = ("_context", "_start", "_start_ns", "_telemetry", "_token", "span")

    span: trace.Span

    def __init__(self) -> None:
        self.span = trace.INVALID_SPAN
        self._token: object | None = None
        self._telemetry: Telemetry | None = None
        self._context: context.Context | None = None
        self._start = 0
        self._start_ns = 0

    # -- what the subclasses say ---------------------------------------------------------------------------

    def _span_name(self) -> str:
        raise NotImplementedError

    def _begin(self, parent: context.Context, attrs: dict[str, AttributeValue]) -> context.Context:
        """Fill the span's start attributes; return the context the block runs in (the span is added later)."""
        raise NotImplementedError

    def _finish(self, telemetry: Telemetry, error_type: str | None, seconds: float, ctx: context.Context) -> None:
        """Set the end attributes on ``self.span`` and record the metric points."""
        raise NotImplementedError

    # -- the block -------------------------------------------------------------------------------------------

    def __enter__(self) -> Any:
        try:
            self._enter()
        except Exception:
            swallowed(f"starting {type(self).__name__}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc)  # returns nothing: the app's exception (if any) goes on, untouched

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def _enter(self) -> None:
        telemetry = _telemetry()
        parent = context.get_current()
        attrs: dict[str, AttributeValue] = {}
        block = self._begin(parent, attrs)
        self._start_ns = time.time_ns()
        self._start = _perf_ns()
        self.span = span = telemetry.tracer.start_span(
            self._span_name(), parent, kind=SpanKind.INTERNAL, attributes=attrs, start_time=self._start_ns
        )
        self._telemetry = telemetry
        self._context = ctx = trace.set_span_in_context(span, block)
        self._token = context.attach(ctx)

    def _exit(self, exc: BaseException | None) -> None:
        telemetry, ctx, token = self._telemetry, self._context, self._token
        if telemetry is None or ctx is None:
            return  # never started (an error of ours on the way in, already logged)
        self._telemetry = self._context = self._token = None
        elapsed = max(_perf_ns() - self._start, 0)
        span = self.span
        try:
            if token is not None:
                context.detach(token)  # type: ignore[arg-type]
        except Exception:
            swallowed(f"detaching {type(self).__name__}")
        try:
            error_type = None
            # A generator closed mid-block (GeneratorExit) is the caller stopping early, not a failure.
            if exc is not None and not isinstance(exc, GeneratorExit):
                error_type = error_type_of(exc)
                span.set_attribute(sc.ERROR_TYPE, error_type)
                span.set_status(Status(StatusCode.ERROR, str(exc) or type(exc).__name__))
            self._finish(telemetry, error_type, elapsed / 1e9, ctx)
        except Exception:
            swallowed(f"ending {type(self).__name__}")
        finally:
            span.end(end_time=self._start_ns + elapsed)


class AgentInvocation(_Operation):
    """``with llmtel.agent(name):`` — one in-process agent invocation (see :func:`llmtel.agent`)."""

    __slots__ = ("_frame", "conversation_id", "description", "model", "name")

    def __init__(
        self,
        name: str | None,
        *,
        description: str | None = None,
        conversation_id: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__()
        self.name = _text(name)
        self.description = _text(description)
        self.conversation_id = _text(conversation_id)
        self.model = _text(model)
        self._frame: AgentFrame | None = None

    @property
    def inference_calls(self) -> int:
        """LLM calls made in this invocation so far (sub-agents' calls not included)."""
        return self._frame.inference_calls if self._frame is not None else 0

    @property
    def tool_calls(self) -> int:
        """Tool executions (``llmtel.tool``) in this invocation so far."""
        return self._frame.tool_calls if self._frame is not None else 0

    def _span_name(self) -> str:
        return f"{_INVOKE_AGENT} {self.name}" if self.name else _INVOKE_AGENT

    def _begin(self, parent: context.Context, attrs: dict[str, AttributeValue]) -> context.Context:
        outer = agent_of(parent)
        conversation_id = self.conversation_id or (outer.conversation_id if outer is not None else None)
        attrs[sc.GEN_AI_OPERATION_NAME] = _INVOKE_AGENT
        if self.name:
            attrs[sc.GEN_AI_AGENT_NAME] = self.name
        if self.description:
            attrs[sc.GEN_AI_AGENT_DESCRIPTION] = self.description
        if conversation_id:
            attrs[sc.GEN_AI_CONVERSATION_ID] = conversation_id
        if self.model:
            attrs[sc.GEN_AI_REQUEST_MODEL] = self.model
        self._frame = frame = AgentFrame(self.name, conversation_id)
        return context.set_value(AGENT_KEY, frame, parent)

    def _finish(self, telemetry: Telemetry, error_type: str | None, seconds: float, ctx: context.Context) -> None:
        frame = self._frame
        assert frame is not None
        usage: dict[str, AttributeValue] = {}
        # Each call's count was valid; their sum need not fit int64 (token_count drops it, as for one call).
        input_tokens, output_tokens = token_count(frame.input_tokens), token_count(frame.output_tokens)
        if input_tokens is not None:
            usage[sc.GEN_AI_USAGE_INPUT_TOKENS] = input_tokens
        if output_tokens is not None:
            usage[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
        if usage:
            self.span.set_attributes(usage)
        instruments = telemetry.instruments
        counts: dict[str, AttributeValue] = {sc.GEN_AI_AGENT_NAME: self.name} if self.name else {}
        duration = dict(counts)
        if self.model:
            duration[sc.GEN_AI_REQUEST_MODEL] = self.model
        if error_type is not None:
            duration[sc.ERROR_TYPE] = error_type
        instruments.agent_duration.record(seconds, duration, ctx)
        instruments.agent_inference_calls.record(frame.inference_calls, counts, NO_EXEMPLAR)
        instruments.agent_tool_calls.record(frame.tool_calls, counts, NO_EXEMPLAR)


class ToolExecution(_Operation):
    """``with llmtel.tool(name):`` — one local tool execution (see :func:`llmtel.tool`)."""

    __slots__ = ("_agent_name", "_result", "arguments", "call_id", "description", "name", "type")

    _UNSET: Any = object()

    def __init__(
        self,
        name: str,
        *,
        call_id: str | None = None,
        type: str | None = "function",
        description: str | None = None,
        arguments: Any = None,
    ) -> None:
        super().__init__()
        self.name = _text(name) or "unknown"
        self.call_id = _text(call_id)
        self.type = _text(type)
        self.description = _text(description)
        self.arguments = arguments
        self._result: Any = self._UNSET
        self._agent_name: str | None = None

    def set_result(self, result: Any) -> None:
        """The tool's result: recorded as ``gen_ai.tool.call.result`` when content capture covers spans."""
        self._result = result

    def _span_name(self) -> str:
        return f"{_EXECUTE_TOOL} {self.name}"

    def _begin(self, parent: context.Context, attrs: dict[str, AttributeValue]) -> context.Context:
        frame = agent_of(parent)
        attrs[sc.GEN_AI_OPERATION_NAME] = _EXECUTE_TOOL
        attrs[sc.GEN_AI_TOOL_NAME] = self.name
        if self.type:
            attrs[sc.GEN_AI_TOOL_TYPE] = self.type
        if self.call_id:
            attrs[sc.GEN_AI_TOOL_CALL_ID] = self.call_id
        if self.description:
            attrs[sc.GEN_AI_TOOL_DESCRIPTION] = self.description
        if frame is not None:
            frame.tool_calls += 1
            if frame.name:
                self._agent_name = frame.name
                attrs[sc.GEN_AI_AGENT_NAME] = frame.name
        return parent

    def _finish(self, telemetry: Telemetry, error_type: str | None, seconds: float, ctx: context.Context) -> None:
        config = telemetry.config
        if config.capture.on_span:
            captured: dict[str, AttributeValue] = {}
            wanted: dict[str, Any] = {}
            if self.arguments is not None:
                wanted[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = content.json_or_text(self.arguments)
            if self._result is not self._UNSET and error_type is None:  # the result of a successful call only
                wanted[sc.GEN_AI_TOOL_CALL_RESULT] = self._result
            for name, value in wanted.items():
                found = content.prepare_with_json(config, name, value)
                if found is not None:
                    captured[name] = found[1]
            if captured:
                self.span.set_attributes(captured)
        attrs: dict[str, AttributeValue] = {sc.GEN_AI_TOOL_NAME: self.name}
        if self.type:
            attrs[sc.GEN_AI_TOOL_TYPE] = self.type
        if self._agent_name:
            attrs[sc.GEN_AI_AGENT_NAME] = self._agent_name
        if error_type is not None:
            attrs[sc.ERROR_TYPE] = error_type
        telemetry.instruments.tool_duration.record(seconds, attrs, ctx)
