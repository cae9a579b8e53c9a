"""The supported anthropic range, both ends: this module runs on the newest SDK with the rest of the suite, and
alone on the oldest supported one (anthropic 0.40.0, httpx 0.28; see the provider's docstring). It uses only
what both have: create (complete and streamed), stream() with its helpers, errors, raw responses, sync and async.

Older SDKs differ where it matters here: ``resources/messages.py`` is a module (a package later), the raw
response is a ``LegacyAPIResponse``, and an API error has no ``type`` attribute (the envelope tells it).
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from llmtel import semconv as sc
from llmtel.demo.server import DEFAULT_REPLY, FakeOpenAIServer
from tests.conftest import Otel

MODEL = "claude-x"
MESSAGES = [{"role": "user", "content": "hello there"}]  # two input words
REPLY = len(DEFAULT_REPLY.split())


def attrs(server: FakeOpenAIServer, n: int, stream: bool = False, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: MODEL,
        sc.GEN_AI_REQUEST_MAX_TOKENS: 50,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.GEN_AI_RESPONSE_ID: f"msg_{n}",
        sc.GEN_AI_RESPONSE_MODEL: f"{MODEL}-2026-01-01",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("end_turn",),
        sc.GEN_AI_USAGE_INPUT_TOKENS: 2,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: REPLY,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
        sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 0,
    }
    if stream:
        found[sc.GEN_AI_REQUEST_STREAM] = True
    found.update(extra)
    return found


def spans(otel: Otel) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in (s.attributes or {}).items() if k != "gen_ai.response.time_to_first_chunk"}
        for s in otel.spans()
    ]


def test_sync_calls(otel: Otel, server: FakeOpenAIServer) -> None:
    otel.instrument("anthropic")
    client = anthropic.Anthropic(base_url=server.root_url, api_key="k", max_retries=0)
    first = len(server.requests) + 1
    client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES)
    stream = client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, stream=True)
    assert type(stream) is anthropic.Stream  # the very object: 0.x isinstance() is true for that alone
    assert [e.type for e in stream][-1] == "message_stop"
    with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as helper:
        assert helper.get_final_text() == DEFAULT_REPLY
    with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as helper:
        assert next(iter(helper.text_stream))
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=50, messages=MESSAGES)
    assert raw.parse().stop_reason == "end_turn"
    with client.messages.with_streaming_response.create(model=MODEL, max_tokens=50, messages=MESSAGES) as response:
        assert response.parse().stop_reason == "end_turn"
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="rate-limited", max_tokens=50, messages=MESSAGES)
    with pytest.raises(anthropic.APIStatusError):
        list(client.messages.create(model="stream-error", max_tokens=50, messages=MESSAGES, stream=True))
    left_early = attrs(server, first + 3, True, **{sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1})
    del left_early[sc.GEN_AI_RESPONSE_FINISH_REASONS]
    failed = {k: v for k, v in attrs(server, 0).items() if not k.startswith(("gen_ai.response", "gen_ai.usage"))}
    stream_failed = {
        **attrs(server, first + 7, True, **{sc.GEN_AI_REQUEST_MODEL: "stream-error", sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1}),
        sc.GEN_AI_RESPONSE_MODEL: "stream-error-2026-01-01",
        sc.ERROR_TYPE: "overloaded_error",
    }
    del stream_failed[sc.GEN_AI_RESPONSE_FINISH_REASONS]
    assert spans(otel) == [
        attrs(server, first),
        attrs(server, first + 1, True),
        attrs(server, first + 2, True),
        left_early,
        attrs(server, first + 4),
        attrs(server, first + 5),
        {**failed, sc.GEN_AI_REQUEST_MODEL: "rate-limited", sc.ERROR_TYPE: "429"},
        stream_failed,
    ]


async def test_async_calls(otel: Otel, server: FakeOpenAIServer) -> None:
    otel.instrument("anthropic")
    client = anthropic.AsyncAnthropic(base_url=server.root_url, api_key="k", max_retries=0)
    first = len(server.requests) + 1
    await client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES)
    stream = await client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, stream=True)
    assert type(stream) is anthropic.AsyncStream
    assert [e.type async for e in stream][-1] == "message_stop"
    async with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as helper:
        assert (await helper.get_final_message()).stop_reason == "end_turn"
    raw = await client.messages.with_raw_response.create(model=MODEL, max_tokens=50, messages=MESSAGES)
    parsed = raw.parse()
    assert (await parsed if hasattr(parsed, "__await__") else parsed).stop_reason == "end_turn"
    assert spans(otel) == [
        attrs(server, first),
        attrs(server, first + 1, True),
        attrs(server, first + 2, True),
        attrs(server, first + 3),
    ]
