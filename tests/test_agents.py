"""llmtel.agent(...) and llmtel.tool(...): invoke_agent / execute_tool spans and the agent and tool metrics,
with the real openai SDK calling the local OpenAI-wire server inside the blocks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import llmtel
from llmtel.core import agents
from tests.conftest import Otel

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
QUESTION = {"role": "user", "content": "What is the weather in Paris?"}


def by_name(otel: Otel) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for span in otel.spans():
        out.setdefault(span.name, []).append(span)
    return out


def points(otel: Otel, name: str) -> list[tuple[dict[str, Any], int, float]]:
    return sorted(
        ((dict(p.attributes or {}), p.count, p.sum) for p in otel.points(name)),
        key=lambda p: sorted(p[0].items()),
    )


def weather_turn(client: openai.OpenAI) -> tuple[str, str]:
    """The classic loop: the model asks for a tool, the app runs it, the model answers with the result."""
    first = client.chat.completions.create(model="gpt-4o-mini", messages=[QUESTION], tools=[WEATHER_TOOL])
    message = first.choices[0].message
    call = (message.tool_calls or [])[0]
    with llmtel.tool(call.function.name, call_id=call.id, arguments=call.function.arguments) as t:
        result = {"city": "Paris", "celsius": 21}
        t.set_result(result)
    answer = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            QUESTION,
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)},
        ],
    )
    return str(answer.choices[0].message.content), call.id


def test_agent_turn_spans_nest_and_carry_the_conventions_attributes(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument()
    with llmtel.agent("weather-assistant", description="Answers weather questions", conversation_id="c-42") as a:
        said, call_id = weather_turn(client)
    assert said and call_id
    assert (a.inference_calls, a.tool_calls) == (2, 1)

    spans = by_name(otel)
    assert sorted(spans) == ["chat gpt-4o-mini", "execute_tool get_weather", "invoke_agent weather-assistant"]
    (agent_span,) = spans["invoke_agent weather-assistant"]
    (tool_span,) = spans["execute_tool get_weather"]
    chats = spans["chat gpt-4o-mini"]
    assert agent_span.kind is SpanKind.INTERNAL and tool_span.kind is SpanKind.INTERNAL
    assert agent_span.parent is None
    for child in [tool_span, *chats]:
        assert child.parent is not None and child.parent.span_id == agent_span.context.span_id
        assert child.context.trace_id == agent_span.context.trace_id
    assert [c.attributes["gen_ai.conversation.id"] for c in chats] == ["c-42", "c-42"]  # type: ignore[index]
    usage_in = sum(c.attributes["gen_ai.usage.input_tokens"] for c in chats)  # type: ignore[index,misc]
    usage_out = sum(c.attributes["gen_ai.usage.output_tokens"] for c in chats)  # type: ignore[index,misc]
    assert dict(agent_span.attributes or {}) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "weather-assistant",
        "gen_ai.agent.description": "Answers weather questions",
        "gen_ai.conversation.id": "c-42",
        "gen_ai.usage.input_tokens": usage_in,
        "gen_ai.usage.output_tokens": usage_out,
    }
    assert dict(tool_span.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": call_id,
        "gen_ai.agent.name": "weather-assistant",
    }  # content capture is off: no arguments, no result
    assert agent_span.status.status_code is StatusCode.UNSET
    # The agent's span covers its children; the durations equal the metric points (one clock).
    assert agent_span.start_time <= min(s.start_time for s in [tool_span, *chats])  # type: ignore[type-var]
    assert agent_span.end_time >= max(s.end_time for s in [tool_span, *chats])  # type: ignore[type-var]

    assert points(otel, "gen_ai.invoke_agent.inference_calls") == [({"gen_ai.agent.name": "weather-assistant"}, 1, 2)]
    assert points(otel, "gen_ai.invoke_agent.tool_calls") == [({"gen_ai.agent.name": "weather-assistant"}, 1, 1)]
    ((attrs, count, seconds),) = points(otel, "gen_ai.invoke_agent.duration")
    assert (attrs, count) == ({"gen_ai.agent.name": "weather-assistant"}, 1)
    assert seconds == pytest.approx((agent_span.end_time - agent_span.start_time) / 1e9, abs=1e-9)  # type: ignore[operator]
    ((attrs, count, seconds),) = points(otel, "gen_ai.execute_tool.duration")
    assert (attrs, count) == (
        {"gen_ai.tool.name": "get_weather", "gen_ai.tool.type": "function", "gen_ai.agent.name": "weather-assistant"},
        1,
    )
    assert seconds == pytest.approx((tool_span.end_time - tool_span.start_time) / 1e9, abs=1e-9)  # type: ignore[operator]
    # The LLM calls' own metrics are unchanged by the agent: no agent label on client metrics.
    assert all("gen_ai.agent.name" not in p.attributes for p in otel.points("gen_ai.client.operation.duration"))  # type: ignore[operator]


def test_tool_arguments_and_result_are_captured_only_with_content_on_spans(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY")
    with llmtel.agent("weather-assistant"):
        weather_turn(client)
    (tool_span,) = by_name(otel)["execute_tool get_weather"]
    assert json.loads(tool_span.attributes["gen_ai.tool.call.arguments"]) == {"city": "Paris"}  # type: ignore[arg-type,index]
    assert json.loads(tool_span.attributes["gen_ai.tool.call.result"]) == {"city": "Paris", "celsius": 21}  # type: ignore[arg-type,index]

    otel.span_exporter.clear()
    otel.instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY")
    with llmtel.tool("get_weather", arguments={"city": "Paris"}) as t:
        t.set_result("sunny")
    (tool_span,) = by_name(otel)["execute_tool get_weather"]
    assert "gen_ai.tool.call.arguments" not in tool_span.attributes  # type: ignore[operator]
    assert "gen_ai.tool.call.result" not in tool_span.attributes  # type: ignore[operator]


def test_exceptions_pass_through_untouched_and_are_recorded(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY")
    boom = LookupError("no such city")
    with pytest.raises(LookupError) as caught, llmtel.agent("weather-assistant"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[QUESTION])
        with llmtel.tool("get_weather", call_id="call_9", arguments='{"city": "Atlantis"}') as t:
            t.set_result("never recorded: the tool failed")
            raise boom
    assert caught.value is boom
    spans = by_name(otel)
    (tool_span,) = spans["execute_tool get_weather"]
    (agent_span,) = spans["invoke_agent weather-assistant"]
    for span in (tool_span, agent_span):
        assert span.attributes["error.type"] == "LookupError"  # type: ignore[index]
        assert span.status.status_code is StatusCode.ERROR and span.status.description == "no such city"
    assert json.loads(tool_span.attributes["gen_ai.tool.call.arguments"]) == {"city": "Atlantis"}  # type: ignore[arg-type,index]
    assert "gen_ai.tool.call.result" not in tool_span.attributes  # type: ignore[operator]
    assert [p[0] for p in points(otel, "gen_ai.execute_tool.duration")] == [
        {
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.type": "function",
            "gen_ai.agent.name": "weather-assistant",
            "error.type": "LookupError",
        }
    ]
    assert [p[0] for p in points(otel, "gen_ai.invoke_agent.duration")] == [
        {"gen_ai.agent.name": "weather-assistant", "error.type": "LookupError"}
    ]
    # The failed tool still counts: the conventions count failed calls too.
    assert points(otel, "gen_ai.invoke_agent.tool_calls") == [({"gen_ai.agent.name": "weather-assistant"}, 1, 1)]


def test_an_llm_error_inside_the_agent_is_counted_and_typed(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument()
    with pytest.raises(openai.RateLimitError), llmtel.agent("retrying-agent", model="rate-limited"):
        client.chat.completions.create(model="rate-limited", messages=[QUESTION])
    (agent_span,) = by_name(otel)["invoke_agent retrying-agent"]
    assert agent_span.attributes["error.type"] == "429"  # type: ignore[index]
    assert agent_span.attributes["gen_ai.request.model"] == "rate-limited"  # type: ignore[index]
    assert "gen_ai.usage.input_tokens" not in agent_span.attributes  # type: ignore[operator]
    assert [p[0] for p in points(otel, "gen_ai.invoke_agent.duration")] == [
        {"gen_ai.agent.name": "retrying-agent", "gen_ai.request.model": "rate-limited", "error.type": "429"}
    ]
    assert points(otel, "gen_ai.invoke_agent.inference_calls") == [({"gen_ai.agent.name": "retrying-agent"}, 1, 1)]
    assert points(otel, "gen_ai.invoke_agent.tool_calls") == [({"gen_ai.agent.name": "retrying-agent"}, 1, 0)]


def test_sub_agents_count_their_own_calls_and_inherit_the_conversation(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument()
    with llmtel.agent("planner", conversation_id="c-7"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[QUESTION])
        with llmtel.agent("researcher"):
            client.chat.completions.create(model="gpt-4.1", messages=[QUESTION])
            client.chat.completions.create(model="gpt-4.1", messages=[QUESTION])
            with llmtel.tool("search", type="datastore"):
                pass
        client.embeddings.create(model="text-embedding-3-small", input="not an inference call")
    spans = by_name(otel)
    (planner,) = spans["invoke_agent planner"]
    (researcher,) = spans["invoke_agent researcher"]
    assert researcher.parent is not None and researcher.parent.span_id == planner.context.span_id
    assert researcher.attributes["gen_ai.conversation.id"] == "c-7"  # type: ignore[index]
    for chat in spans["chat gpt-4.1"]:
        assert chat.parent is not None and chat.parent.span_id == researcher.context.span_id
        assert chat.attributes["gen_ai.conversation.id"] == "c-7"  # type: ignore[index]
    (tool_span,) = spans["execute_tool search"]
    assert tool_span.attributes["gen_ai.agent.name"] == "researcher"  # type: ignore[index]
    assert tool_span.attributes["gen_ai.tool.type"] == "datastore"  # type: ignore[index]
    (embedding,) = spans["embeddings text-embedding-3-small"]
    assert "gen_ai.conversation.id" not in embedding.attributes  # type: ignore[operator]
    assert points(otel, "gen_ai.invoke_agent.inference_calls") == [
        ({"gen_ai.agent.name": "planner"}, 1, 1),
        ({"gen_ai.agent.name": "researcher"}, 1, 2),
    ]
    assert points(otel, "gen_ai.invoke_agent.tool_calls") == [
        ({"gen_ai.agent.name": "planner"}, 1, 0),
        ({"gen_ai.agent.name": "researcher"}, 1, 1),
    ]
    (own_chat,) = spans["chat gpt-4o-mini"]  # the planner's usage is its own call's, not the researcher's
    assert planner.attributes["gen_ai.usage.input_tokens"] == own_chat.attributes["gen_ai.usage.input_tokens"]  # type: ignore[index]


def test_streams_in_an_agent_count_and_add_their_usage(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument()
    with llmtel.agent("streamer"):
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[QUESTION], stream=True, stream_options={"include_usage": True}
        )
        for _ in stream:
            pass
    spans = by_name(otel)
    (agent_span,) = spans["invoke_agent streamer"]
    (chat,) = spans["chat gpt-4o-mini"]
    assert agent_span.attributes["gen_ai.usage.output_tokens"] == chat.attributes["gen_ai.usage.output_tokens"]  # type: ignore[index]
    assert points(otel, "gen_ai.invoke_agent.inference_calls") == [({"gen_ai.agent.name": "streamer"}, 1, 1)]


async def test_async_agent_and_tool(otel: Otel, aclient: openai.AsyncOpenAI) -> None:
    otel.instrument()

    async def turn(name: str) -> None:
        async with llmtel.agent(name):
            await aclient.chat.completions.create(model="gpt-4o-mini", messages=[QUESTION])
            async with llmtel.tool("get_weather"):
                await asyncio.sleep(0)
            await aclient.chat.completions.create(model="gpt-4o-mini", messages=[QUESTION])

    await asyncio.gather(turn("agent-a"), turn("agent-b"))  # concurrent tasks keep their own agent
    spans = by_name(otel)
    agent_ids = {s.context.span_id: s.name for s in spans["invoke_agent agent-a"] + spans["invoke_agent agent-b"]}
    for chat in spans["chat gpt-4o-mini"]:
        assert chat.parent is not None and chat.parent.span_id in agent_ids
    assert points(otel, "gen_ai.invoke_agent.inference_calls") == [
        ({"gen_ai.agent.name": "agent-a"}, 1, 2),
        ({"gen_ai.agent.name": "agent-b"}, 1, 2),
    ]
    tool_agents = sorted(s.attributes["gen_ai.agent.name"] for s in spans["execute_tool get_weather"])  # type: ignore[index,type-var]
    assert tool_agents == ["agent-a", "agent-b"]


def test_odd_names_and_no_agent(otel: Otel) -> None:
    otel.instrument()
    with llmtel.agent(None):
        pass
    with llmtel.agent(123):  # type: ignore[arg-type]
        pass
    with llmtel.tool(""):  # outside any agent
        pass
    names = sorted(s.name for s in otel.spans())
    assert names == ["execute_tool unknown", "invoke_agent", "invoke_agent 123"]
    unnamed = next(s for s in otel.spans() if s.name == "invoke_agent")
    assert dict(unnamed.attributes or {}) == {"gen_ai.operation.name": "invoke_agent"}
    tool_span = next(s for s in otel.spans() if s.name.startswith("execute_tool"))
    assert "gen_ai.agent.name" not in tool_span.attributes  # type: ignore[operator]
    assert points(otel, "gen_ai.invoke_agent.inference_calls") == [({}, 1, 0), ({"gen_ai.agent.name": "123"}, 1, 0)]


def test_hostile_names_and_usage_sums_export_cleanly(otel: Otel) -> None:
    """A lone surrogate in a name or conversation id is repaired; a usage sum beyond int64 is left out."""
    from llmtel.core.context import agent_of

    otel.instrument()
    with llmtel.agent("bot\ud800", conversation_id="c\udfff"):
        frame = agent_of(context.get_current())
        assert frame is not None
        frame.add_usage(2**62, 5)
        frame.add_usage(2**62, 7)
    (span,) = otel.spans()
    assert span.name == "invoke_agent bot\ufffd"
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "bot\ufffd",
        "gen_ai.conversation.id": "c\ufffd",
        "gen_ai.usage.output_tokens": 12,
    }


def test_a_failure_of_ours_never_reaches_the_app(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    otel.instrument()

    def broken() -> Any:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(agents, "_telemetry", broken)
    ran = []
    with llmtel.agent("a") as a, llmtel.tool("t"):
        ran.append(trace.get_current_span())
    assert ran == [trace.INVALID_SPAN]  # nothing of ours became current
    assert a.span is trace.INVALID_SPAN
    assert otel.spans() == []
    monkeypatch.undo()

    # A failure while ending still ends the span, and the app's exception still wins.
    def broken_finish(*args: Any) -> None:
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(agents.AgentInvocation, "_finish", broken_finish)
    with pytest.raises(KeyError), llmtel.agent("b"):
        raise KeyError("app")
    (span,) = otel.spans()
    assert span.name == "invoke_agent b" and span.end_time is not None


def test_agent_spans_follow_instrument_and_uninstrument(otel: Otel) -> None:
    """They go to the providers instrument() was given; after uninstrument, to the global (here: no-op) ones."""
    otel.instrument()
    with llmtel.agent("first"):
        pass
    otel.uninstrument()
    with llmtel.agent("second"):
        pass
    assert [s.name for s in otel.spans()] == ["invoke_agent first"]
