"""The record built from real GenAI spans and details events (the real openai SDK, instrumented by llmtel)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan

import llmtel
from llmtel.logs.exporter import event_data, span_data, span_entries
from llmtel.logs.record import FIELDS, EventData, SpanData, clean, from_event, from_span, iso
from llmtel.logs.store import Store
from tests.conftest import Otel

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
MESSAGES: list[Any] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
]


def expected(span: ReadableSpan, **fields: Any) -> dict[str, Any]:
    """The record of this span: the values that vary per run read from the span, the rest given."""
    assert span.start_time is not None and span.end_time is not None
    record = dict.fromkeys(FIELDS)
    record.update(
        time=iso(span.start_time),
        trace_id=f"{span.context.trace_id:032x}",
        span_id=f"{span.context.span_id:016x}",
        service="unknown_service:python",
        duration_ms=round((span.end_time - span.start_time) / 1e6, 3),
        provider="openai",
        operation="chat",
        server_address="127.0.0.1",
    )
    record.update(fields)
    return record


def _call(client: openai.OpenAI, **kwargs: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **kwargs)


def records_of(otel: Otel) -> list[dict[str, Any]]:
    """What the store keeps of this pipeline's spans and events (each written as the exporters would)."""
    store = Store(None, max_age_s=None, max_bytes=None)
    entries, links = span_entries([d for d in map(span_data, otel.span_exporter.get_finished_spans()) if d])
    store.write(entries, links)
    store.write([e for e in (from_event(event_data(item)) for item in otel.logs()) if e is not None])
    return store.query(oldest_first=True)


def test_chat_with_content_in_an_agent(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument("openai", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT")
    with llmtel.agent("weather-bot", conversation_id="conv-7"):
        response = _call(client, tools=TOOLS)
    call_id = response.choices[0].message.tool_calls[0].id  # numbered by the session's server
    (span,) = otel.spans()[:1]
    assert span.name.startswith("chat")
    (record,) = records_of(otel)
    assert record == expected(
        span,
        agent="weather-bot",  # from the parent invoke_agent span: the call's span does not carry it
        conversation_id="conv-7",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2026-01-01",
        stream=False,
        input_tokens=5,
        output_tokens=2,
        total_tokens=7,
        cache_read_tokens=0,
        reasoning_tokens=0,
        cost_usd=1.95e-06,  # the bundled list prices of gpt-4o-mini: 5 x $0.15 + 2 x $0.60 per 1M tokens
        finish_reasons=["tool_calls"],
        input_messages=[
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        ],
        output_messages=[
            {
                "role": "assistant",
                "parts": [{"type": "tool_call", "name": "get_weather", "id": call_id, "arguments": {"city": "Paris"}}],
                "finish_reason": "tool_calls",
            }
        ],
        tool_definitions=[
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather of a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    )


def test_event_only_content_joins_its_span(otel: Otel, client: openai.OpenAI) -> None:
    """Content routed to the details event only: the span and its event still make one record."""
    otel.instrument("openai", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY")
    _call(client, extra_body={"x_reply": "Short."})
    span = otel.span()
    assert "gen_ai.input.messages" not in (span.attributes or {})
    assert len(otel.logs()) == 1
    (record,) = records_of(otel)
    assert record["span_id"] == f"{span.context.span_id:016x}"
    assert record["duration_ms"] == round((span.end_time - span.start_time) / 1e6, 3)  # type: ignore[operator]
    assert record["time"] == iso(span.start_time)  # type: ignore[arg-type]
    assert record["input_messages"][1] == {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
    assert record["output_messages"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Short."}], "finish_reason": "stop"}
    ]


def test_stream_and_error_records(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument("openai")  # no content capture: the content fields stay null
    for _ in _call(client, stream=True, stream_options={"include_usage": True}):
        pass
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="rate-limited", messages=MESSAGES)
    stream_span, error_span = otel.spans()
    stream_record, error_record = records_of(otel)
    ttfc = (stream_span.attributes or {})["gen_ai.response.time_to_first_chunk"]
    assert stream_record == expected(
        stream_span,
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2026-01-01",
        stream=True,
        time_to_first_chunk_ms=round(float(ttfc) * 1000, 3),  # type: ignore[arg-type]
        input_tokens=5,
        output_tokens=10,
        total_tokens=15,
        cache_read_tokens=0,
        reasoning_tokens=0,
        cost_usd=6.75e-06,  # 5 x $0.15 + 10 x $0.60 per 1M tokens
        finish_reasons=["stop"],
    )
    assert error_record == expected(
        error_span,
        request_model="rate-limited",
        stream=False,
        error_type="429",
        error_message=error_span.status.description,
    )
    assert error_record["error_message"].startswith("Error code: 429")


def test_agent_and_tool_spans_are_not_records(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument("openai")
    with llmtel.agent("a"), llmtel.tool("get_weather", call_id="call_1"):
        pass
    assert [span.name for span in otel.span_exporter.get_finished_spans()] == [
        "execute_tool get_weather",
        "invoke_agent a",
    ]
    assert records_of(otel) == []


def _span(**attrs: Any) -> SpanData:
    return SpanData("ab" * 16, "cd" * 8, None, 10**18, 10**18 + 2_500_000, attrs)


def test_untrusted_values_are_null_not_guessed() -> None:
    entry = from_span(
        _span(
            **{
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": 42,
                "gen_ai.request.model": "m\udcff",  # a lone surrogate: repaired, never an unwritable row
                "gen_ai.usage.input_tokens": -3,
                "gen_ai.usage.output_tokens": "7",
                "gen_ai.usage.cache_creation.input_tokens": 4,  # the old name still counts
                "gen_ai.response.finish_reasons": ["stop", 3],
                "gen_ai.response.time_to_first_chunk": float("nan"),
                "gen_ai.input.messages": "{not json",
                "gen_ai.output.messages": '{"role": "assistant"}',  # JSON, but not a list of messages
                "gen_ai.request.stream": "yes",
            }
        )
    )
    assert entry is not None
    record = entry.record
    assert record["provider"] is None and record["request_model"] == "m\ufffd"
    assert (record["input_tokens"], record["output_tokens"], record["total_tokens"]) == (None, None, None)
    assert record["cache_write_tokens"] == 4
    assert record["finish_reasons"] is None and record["time_to_first_chunk_ms"] is None
    assert record["input_messages"] is None and record["output_messages"] is None
    assert record["stream"] is None  # not llmtel's span: an absent or odd value is unknown, not False
    assert record["duration_ms"] == 2.5 and record["time"] == "2001-09-09T01:46:40.000000Z"
    # no ids, zero ids, or no operation: no record
    assert from_span(SpanData("0" * 32, "cd" * 8, None, 1, 2, {"gen_ai.operation.name": "chat"})) is None
    assert from_span(SpanData("xyz", "cd" * 8, None, 1, 2, {"gen_ai.operation.name": "chat"})) is None
    assert from_span(_span(**{"http.method": "GET"})) is None
    for operation in ("invoke_agent", "execute_tool", "invoke_workflow"):  # context for calls, not calls
        assert from_span(_span(**{"gen_ai.operation.name": operation})) is None
    event = EventData("ab" * 16, "cd" * 8, 10**18, "some.other.event", {"gen_ai.operation.name": "chat"})
    assert from_event(event) is None


def test_clean_revalidates_jsonl(tmp_path: Path) -> None:
    good = expected_min()
    assert clean(good) == good
    assert clean({**good, "input_tokens": "12", "extra": 1, "stream": 1}) == {**good, "input_tokens": None}
    assert clean({**good, "span_id": "nothex!!nothex!!"}) is None
    assert clean({**good, "time": "yesterday"}) is None
    assert clean([good]) is None


def expected_min() -> dict[str, Any]:
    record = dict.fromkeys(FIELDS)
    record.update(time="2026-01-02T03:04:05.000006Z", trace_id="1" * 32, span_id="2" * 16, operation="chat")
    return record


def _priced(**attrs: Any) -> Any:
    entry = from_span(_span(**{"gen_ai.operation.name": "chat", **attrs}))
    assert entry is not None
    return entry.record["cost_usd"]


def test_cost_from_the_price_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record is priced as it is built (llmtel.logs.prices; its own tests cover the table): cache reads
    and writes at their own prices, an unknown model or unknown tokens null, never 0."""
    claude = {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5"}
    usage = {
        "gen_ai.usage.input_tokens": 1000,  # semconv: includes the cache reads and writes below
        "gen_ai.usage.cache_read.input_tokens": 200,
        "gen_ai.usage.cache_creation.input_tokens": 100,
        "gen_ai.usage.output_tokens": 50,
    }
    # 700 x $3 + 200 x $0.30 + 100 x $3.75 + 50 x $15 per 1M tokens
    assert _priced(**claude, **usage) == 0.003285
    assert _priced(**claude, **{**usage, "gen_ai.usage.output_tokens": None}) is None
    finetune = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "ft:acme"}
    assert _priced(**finetune, **usage) is None
    # LLMTEL_PRICES extends the bundled table for the records of this process
    override = tmp_path / "prices.json"
    override.write_text(
        json.dumps({"providers": {"openai": {"models": [{"ids": ["ft:acme"], "input": 1.0, "output": 2.0}]}}})
    )
    monkeypatch.setenv("LLMTEL_PRICES", str(override))
    assert _priced(**finetune, **usage) == 0.0011  # 1000 x $1 + 50 x $2 (no cache prices: input price)
    assert _priced(**claude, **usage) == 0.003285
