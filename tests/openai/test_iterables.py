"""One-shot iterables from the app: ``messages``, ``tools`` and a message's content parts given as generators.

The SDK's types take any Iterable for them. With content capture on, our content code reads the request before
the SDK does; a generator read by us would reach the SDK empty (HTTP 400). The core reads each once into a list
and passes that on, so the server receives exactly what the same call with lists sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from llmtel import semconv as sc
from llmtel.demo.server import FakeOpenAIServer
from tests.openai.helpers import run

MODEL = "gpt-4o-mini"
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
SYSTEM = {"role": "system", "content": "Be brief"}
PARTS = [{"type": "text", "text": "What is"}, {"type": "text", "text": "the weather"}]


def gen(items: list[Any]) -> Iterator[Any]:
    yield from items


def last_body(server: FakeOpenAIServer) -> Any:
    return server.requests[-1].body


@pytest.mark.parametrize("mode", ["SPAN_ONLY", "EVENT_ONLY", "NO_CONTENT"])
async def test_generators_reach_the_sdk_whole(otel: Any, server: FakeOpenAIServer, sdk: Any, mode: str) -> None:
    otel.instrument(**{CAPTURE: mode})
    user = {"role": "user", "content": gen(PARTS)}
    await run(sdk.chat.completions.create(model=MODEL, messages=gen([SYSTEM, user]), tools=gen([TOOL])))
    sent = last_body(server)
    # what the same call with lists sends
    await run(sdk.chat.completions.create(model=MODEL, messages=[SYSTEM, {**user, "content": PARTS}], tools=[TOOL]))
    assert sent == last_body(server)
    assert sent["messages"] == [SYSTEM, {"role": "user", "content": PARTS}]
    assert sent["tools"] == [TOOL]
    first, second = otel.spans()
    if mode == "SPAN_ONLY":
        assert json.loads(first.attributes[sc.GEN_AI_INPUT_MESSAGES]) == [
            {"role": "system", "parts": [{"type": "text", "content": "Be brief"}]},
            {
                "role": "user",
                "parts": [{"type": "text", "content": "What is"}, {"type": "text", "content": "the weather"}],
            },
        ]
        assert json.loads(first.attributes[sc.GEN_AI_TOOL_DEFINITIONS]) == [
            {"type": "function", "name": "get_weather", "parameters": TOOL["function"]["parameters"]}  # type: ignore[index]
        ]
    # the generator call's span is the list call's, input content and all (ids differ: the server counts calls)
    differ = (sc.GEN_AI_RESPONSE_ID, sc.GEN_AI_OUTPUT_MESSAGES)
    assert {k: v for k, v in first.attributes.items() if k not in differ} == {
        k: v for k, v in second.attributes.items() if k not in differ
    }


async def test_the_apps_own_objects_are_not_changed(otel: Any, server: FakeOpenAIServer, sdk: Any) -> None:
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    parts = gen(PARTS)
    user = {"role": "user", "content": parts}
    messages = [SYSTEM, user]
    await run(sdk.chat.completions.create(model=MODEL, messages=messages))
    assert messages == [SYSTEM, user] and messages[1] is user
    assert user["content"] is parts  # still the app's generator (read, as the SDK would have read it)
    assert last_body(server)["messages"] == [SYSTEM, {"role": "user", "content": PARTS}]


async def test_a_failing_generator_raises_the_apps_exception(otel: Any, server: FakeOpenAIServer, sdk: Any) -> None:
    boom = ValueError("no more messages")

    def failing() -> Iterator[Any]:
        yield SYSTEM
        raise boom

    before = len(server.requests)
    with pytest.raises(ValueError) as uninstrumented:
        await run(sdk.chat.completions.create(model=MODEL, messages=failing()))
    assert uninstrumented.value is boom
    otel.instrument(**{CAPTURE: "SPAN_ONLY"})
    with pytest.raises(ValueError) as instrumented:
        await run(sdk.chat.completions.create(model=MODEL, messages=failing()))
    assert instrumented.value is boom
    assert len(server.requests) == before  # neither sent anything
    assert otel.spans() == []
