"""Steady GenAI traffic for the example stack (deploy/docker-compose.yml, profile ``example``).

Real SDK calls against the package's built-in server (:class:`llmtel.demo.server.FakeOpenAIServer`, started in
this process on 127.0.0.1, which speaks the OpenAI, Anthropic, Bedrock and Gemini wire formats), round after
round, so that every panel of the Grafana dashboards has something to show: chat calls, streams (time to first
chunk, time per output chunk, token usage), embeddings, a Responses API call, a slow model, the two failures the
alert rules know best (HTTP 429 rate limiting and HTTP 500), and two small agents: one that runs a tool the model
asks for, and one whose tool fails. Every other provider whose SDK is installed makes the demo's calls for it
(a call, a stream, a tool or embeddings call, a 429) in each round too: one dashboard serves every provider.

The container runs it under ``opentelemetry-instrument``, which finds llmtel's instrumentors (``llmtel_openai``,
``llmtel_anthropic`` …) through their entry points and exports over OTLP as the ``OTEL_*`` variables say; this file itself knows nothing
about OpenTelemetry. Its only telemetry code is ``llmtel.agent(...)`` and ``llmtel.tool(...)`` around the
agent turns and tool executions, which no SDK could know about. A long-running process matters: the metrics
are cumulative, and Prometheus can only compute rates from a series that is exported again and again.

    opentelemetry-instrument python deploy/example/traffic.py     # forever, one round every 2 s
    TRAFFIC_ROUNDS=3 TRAFFIC_INTERVAL_S=0 python deploy/example/traffic.py

tests/deploy/test_dashboards_live.py imports :func:`run_round` to drive the dashboards' queries against a real
Prometheus.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

import openai

import llmtel
from llmtel.demo import providers
from llmtel.demo.server import RATE_LIMITED, SERVER_ERROR, STALL, FakeOpenAIServer

CHAT_MODELS = ("gpt-4o-mini", "gpt-4.1")
EMBEDDING_MODEL = "text-embedding-3-small"
STREAM_CHUNKS = 6
STREAM_DELAY_MS = 20
STALL_DELAY_MS = 150

_MESSAGES = [{"role": "user", "content": "Say hello to OpenTelemetry in one sentence."}]
AGENTS = ("weather-assistant", "support-agent")
TOOLS = ("get_weather", "lookup_order")


def _function(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}


def _get_weather(arguments: str) -> dict[str, Any]:
    return {"arguments": json.loads(arguments or "{}"), "celsius": 21}


def _lookup_order(arguments: str) -> dict[str, Any]:
    raise LookupError("no such order")  # a tool that fails: the agent tells the model and goes on


def agent_turn(client: openai.OpenAI, agent: str, tool: str) -> None:
    """One agent turn: the model asks for ``tool``, the app runs it (it may fail), the model answers."""
    question = {"role": "user", "content": f"Please use {tool}."}
    with llmtel.agent(agent, description=f"Example agent using {tool}"):
        first = client.chat.completions.create(model=CHAT_MODELS[0], messages=[question], tools=[_function(tool)])
        message = first.choices[0].message
        messages: list[Any] = [question, message.model_dump(exclude_none=True)]
        for call in message.tool_calls or ():
            run = _get_weather if tool == "get_weather" else _lookup_order
            try:
                with llmtel.tool(call.function.name, call_id=call.id, arguments=call.function.arguments) as t:
                    result: Any = run(call.function.arguments)
                    t.set_result(result)
            except LookupError as exc:
                result = {"error": str(exc)}
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
        client.chat.completions.create(model=CHAT_MODELS[0], messages=messages)


def run_round(client: openai.OpenAI) -> int:
    """One round of calls (every kind the dashboards and alert rules look at). Returns how many failed."""
    failures = 0
    for model in CHAT_MODELS:
        client.chat.completions.create(model=model, messages=_MESSAGES)
        stream = client.chat.completions.create(
            model=model,
            messages=_MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"x_chunks": STREAM_CHUNKS, "x_delay_ms": STREAM_DELAY_MS},
        )
        for _ in stream:
            pass
    client.embeddings.create(model=EMBEDDING_MODEL, input=["OpenTelemetry traces LLM calls."])
    client.responses.create(model=CHAT_MODELS[0], input="Explain an OpenTelemetry span in one sentence.")
    client.chat.completions.create(model=STALL, messages=_MESSAGES, extra_body={"x_delay_ms": STALL_DELAY_MS})
    for failing_model in (RATE_LIMITED, SERVER_ERROR):
        try:
            client.chat.completions.create(model=failing_model, messages=_MESSAGES)
        except openai.APIStatusError:
            failures += 1
    for agent, tool in zip(AGENTS, TOOLS, strict=True):
        agent_turn(client, agent, tool)
    return failures


_PROMPTS = providers.Prompts(
    system="You are a concise assistant.",
    chat="Say hello to OpenTelemetry in one sentence.",
    stream="Tell me a very short story about tracing.",
    tool="What is the weather in Paris today?",
    embeddings=("OpenTelemetry traces LLM calls.",),
    error="This call is meant to fail.",
)


def _ignore(text: str) -> None:
    pass


def other_clients(root_url: str) -> dict[str, Any]:
    """A client of every other provider whose SDK (and llmtel provider) is installed, for :func:`run_others`."""
    return {p.name: providers.client(p.name, root_url) for p in providers.PROVIDERS[1:] if p.installed()}


def run_others(clients: Mapping[str, Any]) -> int:
    """One round of the demo's calls through each other provider's SDK. Returns how many failed (on purpose)."""
    failures = 0
    for name, client in clients.items():
        for _label, call, expect_error in providers.STEPS[name]:
            try:
                call(client, _ignore, _PROMPTS)
            except Exception:
                if not expect_error:
                    raise
                failures += 1
    return failures


def main() -> int:
    rounds = int(os.environ.get("TRAFFIC_ROUNDS", "0"))  # 0: until stopped
    interval = float(os.environ.get("TRAFFIC_INTERVAL_S", "2"))
    with FakeOpenAIServer() as server:
        # No retries: one call, one span, one data point (the SDK would retry 429 and 500 twice by default).
        client = openai.OpenAI(base_url=server.base_url, api_key="demo", max_retries=0)
        others = other_clients(server.root_url)
        done = 0
        while rounds == 0 or done < rounds:
            run_round(client)
            run_others(others)
            done += 1
            print(f"traffic: round {done} done", file=sys.stderr, flush=True)
            time.sleep(interval)
        client.close()
        for name, other in others.items():
            providers.close(name, other)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
