"""The supported openai range, both ends: this module runs on the newest SDK with the rest of the suite, and
alone on the oldest supported SDK (``./dev test`` runs it again in ``.venv-minimal``, the install with no extras,
with openai 1.40)."""

from __future__ import annotations

import gc
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from llmtel import semconv as sc
from llmtel.demo.server import FakeOpenAIServer
from tests.conftest import Otel, dropped_async_generators_closed

MESSAGES = [{"role": "user", "content": "hello there"}]
REPLY_WORDS = 10  # the local server's default reply has ten words


def _parse_method(client: Any) -> Any:
    chat = client.chat.completions
    return chat.parse if hasattr(chat, "parse") else client.beta.chat.completions.parse


def _stream_method(client: Any) -> Any:
    chat = client.chat.completions
    return chat.stream if hasattr(chat, "stream") else client.beta.chat.completions.stream


class Answer(BaseModel):
    answer: str


def _base(server: FakeOpenAIServer, operation: str, model: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: operation,
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
    }
    if operation == "chat":
        attrs[sc.OPENAI_API_TYPE] = "chat_completions"
    return attrs


def _chat_response(response_id: str, output_tokens: int, input_tokens: int = 2) -> dict[str, Any]:
    return {
        sc.GEN_AI_RESPONSE_ID: response_id,
        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2026-01-01",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        sc.OPENAI_RESPONSE_SERVICE_TIER: "default",
        sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_demo",
        sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 0,
    }


def test_chat_create(otel: Otel, server: FakeOpenAIServer, client: openai.OpenAI) -> None:
    otel.instrument()
    result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.5)
    span = otel.span()
    assert span.name == "chat gpt-4o-mini"
    assert dict(span.attributes or {}) == {
        **_base(server, "chat", "gpt-4o-mini"),
        sc.GEN_AI_REQUEST_TEMPERATURE: 0.5,
        **_chat_response(result.id, REPLY_WORDS),
    }


def test_chat_stream_with_usage(otel: Otel, server: FakeOpenAIServer, client: openai.OpenAI) -> None:
    otel.instrument()
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    span = otel.span()
    attrs = dict(span.attributes or {})
    ttfc = attrs.pop(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    assert isinstance(ttfc, float) and ttfc > 0
    assert attrs == {
        **_base(server, "chat", "gpt-4o-mini"),
        sc.GEN_AI_REQUEST_STREAM: True,
        **_chat_response(chunks[0].id, REPLY_WORDS),
    }
    assert sum(p.sum for p in otel.points(sc.GEN_AI_CLIENT_TOKEN_USAGE.name)) == 2 + REPLY_WORDS


def test_raw_and_streaming_response(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument()
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.headers["x-request-id"].startswith("req_")
    first = raw.parse()
    assert raw.parse() is first
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        texts = [c.choices[0].delta.content for c in response.parse() if c.choices]
    assert "".join(t or "" for t in texts) == "This is a deterministic reply from the llmtel demo server."
    raw_span, streamed_span = otel.spans()
    assert raw_span.attributes[sc.GEN_AI_RESPONSE_ID] == first.id  # type: ignore[index]
    assert streamed_span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)  # type: ignore[index]
    assert streamed_span.attributes[sc.GEN_AI_REQUEST_STREAM] is True  # type: ignore[index]


def test_parse_and_stream_helper(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument()
    parsed = _parse_method(client)(model="gpt-4o-mini", messages=MESSAGES, response_format=Answer)
    assert parsed.choices[0].message.parsed == Answer(answer="demo")
    with _stream_method(client)(model="gpt-4o-mini", messages=MESSAGES) as stream:
        final = stream.get_final_completion()
    spans = otel.spans()
    assert len(spans) == 2
    assert spans[0].attributes[sc.GEN_AI_OUTPUT_TYPE] == "json"  # type: ignore[index]
    assert spans[1].attributes[sc.GEN_AI_RESPONSE_ID] == final.id  # type: ignore[index]
    assert spans[1].attributes[sc.GEN_AI_REQUEST_STREAM] is True  # type: ignore[index]


def test_embeddings_and_completions(otel: Otel, server: FakeOpenAIServer, client: openai.OpenAI) -> None:
    otel.instrument()
    client.embeddings.create(model="text-embedding-3-small", input="one two three")
    done = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="one two")
    embeddings, completion = otel.spans()
    assert dict(embeddings.attributes or {}) == {
        **_base(server, "embeddings", "text-embedding-3-small"),
        sc.GEN_AI_RESPONSE_MODEL: "text-embedding-3-small-2026-01-01",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 3,
    }
    assert completion.name == "text_completion gpt-3.5-turbo-instruct"
    assert completion.attributes[sc.GEN_AI_RESPONSE_ID] == done.id  # type: ignore[index]
    assert completion.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == REPLY_WORDS  # type: ignore[index]


def test_error_passes_through(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument()
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="rate-limited", messages=MESSAGES)
    assert caught.value.status_code == 429
    span = otel.span()
    assert span.attributes[sc.ERROR_TYPE] == "429"  # type: ignore[index]
    assert span.status.status_code.name == "ERROR"


async def test_async_stream_abandoned(otel: Otel, aclient: openai.AsyncOpenAI) -> None:
    otel.instrument()
    stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.AsyncStream)
    async for _ in stream:
        break
    assert otel.spans() == []
    del stream
    gc.collect()
    await dropped_async_generators_closed()
    span = otel.span()
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True  # type: ignore[index]
    assert sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in (span.attributes or {})


def test_responses_when_available(otel: Otel, client: openai.OpenAI) -> None:
    if not hasattr(client, "responses"):
        pytest.skip(f"openai {openai.__version__} has no Responses API")
    otel.instrument()
    result = client.responses.create(model="gpt-4o-mini", input="one two", instructions="be brief")
    span = otel.span()
    assert span.attributes[sc.OPENAI_API_TYPE] == "responses"  # type: ignore[index]
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == result.id  # type: ignore[index]
