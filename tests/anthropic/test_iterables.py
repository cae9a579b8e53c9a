"""One-shot iterables from the app: ``messages``, ``system``, ``tools`` and a message's content blocks given as
generators (the SDK's types take any Iterable). With capture on, the core reads each once into a list and passes
that on, so the server receives exactly what the same call with lists sends, and the content is recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from llmtel import semconv as sc
from tests.anthropic.helpers import MAX_TOKENS, MODEL, drain, helper, run

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
TOOL = {"name": "get_weather", "input_schema": {"type": "object"}}
SYSTEM = [{"type": "text", "text": "Be brief"}]
BLOCKS = [{"type": "text", "text": "What is"}, {"type": "text", "text": "the weather"}]


def gen(items: list[Any]) -> Iterator[Any]:
    yield from items


def call(llm: Any, how: str, **kwargs: Any) -> Any:
    if how == "stream-helper":
        return llm.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, **kwargs)
    return llm.messages.create(model=MODEL, max_tokens=MAX_TOKENS, stream=how == "stream", **kwargs)


async def finish(result: Any, how: str) -> None:
    if how == "stream-helper":
        await helper(result, "until_done")
    elif how == "stream":
        await drain(result)


@pytest.mark.parametrize("how", ["create", "stream", "stream-helper"])
@pytest.mark.parametrize("mode", ["SPAN_ONLY", "EVENT_ONLY", "NO_CONTENT"])
async def test_generators_reach_the_sdk_whole(otel: Any, server: Any, llm: Any, mode: str, how: str) -> None:
    otel.instrument("anthropic", **{CAPTURE: mode})
    user = {"role": "user", "content": gen(BLOCKS)}
    await finish(await run(call(llm, how, messages=gen([user]), system=gen(SYSTEM), tools=gen([TOOL]))), how)
    sent = server.requests[-1].body
    await finish(await run(call(llm, how, messages=[{**user, "content": BLOCKS}], system=SYSTEM, tools=[TOOL])), how)
    assert sent == server.requests[-1].body  # what the same call with lists sends
    assert sent["messages"] == [{"role": "user", "content": BLOCKS}] and sent["system"] == SYSTEM
    first, second = otel.spans()
    if mode == "SPAN_ONLY":
        assert json.loads(first.attributes[sc.GEN_AI_INPUT_MESSAGES]) == [
            {
                "role": "user",
                "parts": [{"type": "text", "content": "What is"}, {"type": "text", "content": "the weather"}],
            }
        ]
        assert json.loads(first.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be brief"}]
        assert json.loads(first.attributes[sc.GEN_AI_TOOL_DEFINITIONS]) == [
            {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
        ]
        assert first.attributes[sc.GEN_AI_INPUT_MESSAGES] == second.attributes[sc.GEN_AI_INPUT_MESSAGES]


async def test_a_failing_generator_raises_the_apps_exception(otel: Any, llm: Any) -> None:
    def failing() -> Iterator[Any]:
        yield {"role": "user", "content": "hi"}
        raise LookupError("the app's own generator")

    otel.instrument("anthropic", **{CAPTURE: "SPAN_ONLY"})
    with pytest.raises(LookupError, match="the app's own generator"):
        await run(llm.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=failing()))
