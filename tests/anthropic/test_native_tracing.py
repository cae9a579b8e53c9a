"""anthropic 2.x's native tracing and ours: exactly one GenAI span per call, semconv-named, with the metrics,
whether the SDK's own tracing is on (its default) or off (``ANTHROPIC_OPEN_TELEMETRY=false``, or the client's
``open_telemetry=False``).

The strategy (llmtel/providers/anthropic/_common.py): under our span the SDK gets a non-recording span carrying our
span's context instead of its own, so it records nothing and the trace context it sends (``traceparent``) is our
span's. Calls we do not wrap keep the SDK's own spans. The native spans of these tests go to the test's pipeline
(the client's ``tracer_provider``), so a second span would be seen; the sanity tests without llmtel send them to
a pipeline of their own (the SDK's span names are not the conventions', and the conformance check would say so).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.anthropic.helpers import DURATION, MAX_TOKENS, MESSAGES, MODEL, create, drain, helper, run


class Native:
    """A pipeline of its own for the SDK's spans."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def names(self) -> list[str]:
        return [s.name for s in self.exporter.get_finished_spans()]


@pytest.fixture
def native() -> Iterator[Native]:
    pipeline = Native()
    yield pipeline
    pipeline.provider.shutdown()


def client(server: Any, is_async: bool, open_telemetry: Any) -> Any:
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(base_url=server.root_url, api_key="k", max_retries=0, open_telemetry=open_telemetry)


async def every_kind_of_call(llm: Any, is_async: bool) -> None:
    """create, create(stream=True) read to the end, and stream() with get_final_text()."""
    await create(llm)
    await drain(await create(llm, stream=True))
    await helper(llm.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES), "get_final_text")


def traceparent_ids(server: Any, count: int) -> list[tuple[str, str]]:
    """(trace id, parent span id) of the ``traceparent`` each of the last ``count`` requests carried."""
    found = []
    for request in server.requests[-count:]:
        _, trace_id, span_id, _ = request.headers["traceparent"].split("-")
        found.append((trace_id, span_id))
    return found


def ids(span: Any) -> tuple[str, str]:
    context = span.get_span_context()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


async def test_without_llmtel_the_sdk_makes_its_own_spans(server: Any, native: Native, is_async: bool) -> None:
    """The premise: native tracing is on by default and spans every call."""
    llm = client(server, is_async, {"tracer_provider": native.provider})
    await every_kind_of_call(llm, is_async)
    await run(llm.close())
    assert native.names() == ["anthropic.messages.create"] * 3
    assert traceparent_ids(server, 3) == [ids(s) for s in native.exporter.get_finished_spans()]


async def test_native_on_one_span_per_call_ours(otel: Any, server: Any, is_async: bool) -> None:
    otel.instrument("anthropic")
    llm = client(server, is_async, {"tracer_provider": otel.tracer_provider})
    await every_kind_of_call(llm, is_async)
    await run(llm.close())
    spans = otel.span_exporter.get_finished_spans()  # every span, the SDK's included
    assert [s.name for s in spans] == [f"chat {MODEL}"] * 3
    assert [s.instrumentation_scope.name for s in spans] == ["llmtel"] * 3
    # the SDK still propagates the trace context, now our span's: the server joins the same trace
    assert traceparent_ids(server, 3) == [ids(s) for s in spans]
    assert [p.count for p in otel.points(DURATION)] == [3]


@pytest.mark.parametrize("switch", ["env", "client-option"])
async def test_native_off_one_span_per_call_ours(
    otel: Any, server: Any, is_async: bool, switch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    otel.instrument("anthropic")
    if switch == "env":
        monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")  # read when the client is made
        llm = client(server, is_async, None)
    else:
        llm = client(server, is_async, False)
    await every_kind_of_call(llm, is_async)
    await run(llm.close())
    spans = otel.span_exporter.get_finished_spans()
    assert [s.name for s in spans] == [f"chat {MODEL}"] * 3
    # without the SDK's tracing nothing sends a trace context (no HTTP instrumentation here)
    assert all("traceparent" not in r.headers for r in server.requests[-3:])
    assert [p.count for p in otel.points(DURATION)] == [3]


async def test_calls_we_do_not_wrap_keep_their_native_spans(
    otel: Any, server: Any, native: Native, is_async: bool
) -> None:
    otel.instrument("anthropic")
    llm = client(server, is_async, {"tracer_provider": native.provider})
    await run(llm.messages.count_tokens(model=MODEL, messages=MESSAGES))
    await create(llm)  # ours: the SDK's span stands down
    await run(llm.close())
    assert native.names() == ["anthropic.messages.count_tokens"]
    assert [s.name for s in otel.spans()] == [f"chat {MODEL}"]


async def test_uninstrument_gives_the_sdk_its_spans_back(
    otel: Any, server: Any, native: Native, is_async: bool
) -> None:
    otel.instrument("anthropic")
    otel.uninstrument()
    llm = client(server, is_async, {"tracer_provider": native.provider})
    await create(llm)
    await run(llm.close())
    assert native.names() == ["anthropic.messages.create"]
    assert otel.spans() == []


async def test_native_content_mode_records_nothing_under_our_span(otel: Any, server: Any, is_async: bool) -> None:
    """The SDK's own content mode (``traces.content_mode="content"``, which without llmtel puts the prompt on
    its span) has no span to put content on: under llmtel, prompts are recorded by llmtel's capture setting
    alone (off here), never by the SDK's."""
    otel.instrument("anthropic")
    llm = client(server, is_async, {"tracer_provider": otel.tracer_provider, "traces": {"content_mode": "content"}})
    await every_kind_of_call(llm, is_async)
    await run(llm.close())
    spans = otel.span_exporter.get_finished_spans()
    assert len(spans) == 3
    assert "What is the weather" not in repr([dict(s.attributes or {}) for s in spans])
    assert otel.logs() == []
