"""The benchmark's provider scenarios (bench/transport.py, bench/scenarios.py): each provider's replies recorded
from the demo server and replayed in-process at the SDK's own lowest layer (httpx2 transport, botocore's
before-send), the streams at 200 chunks, and a provider that cannot be measured named in the report while the
others are measured. The full runs are ``python -m bench`` and tests/test_bench_smoke.py."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator

import pytest

from bench import chunks, pipeline, report, runner, transport
from bench.scenarios import STREAM_CHUNKS, Scenario, scenarios

PROVIDER_STREAMS = ("anthropic_stream", "bedrock_stream", "gemini_stream")


@pytest.fixture(scope="module")
def bound() -> Iterator[dict[str, Scenario]]:
    chosen = [s for s in scenarios() if s.sdk != "openai"]
    replies = transport.record({s.name: s.record_request() for s in chosen})
    for scenario in chosen:
        scenario.bind(replies[scenario.name])
    yield {s.name: s for s in chosen}


def test_replayed_streams_have_200_chunks_framed_as_the_service_frames_them(bound: dict[str, Scenario]) -> None:
    for name in PROVIDER_STREAMS:
        assert len(bound[name].parsed_chunks()) == STREAM_CHUNKS, name
    gemini = bound["gemini_stream"].parsed_chunks()
    assert gemini[-1].candidates[0].finish_reason == "STOP"
    assert "".join(c.text for c in gemini).split() == [f"word{i}" for i in range(STREAM_CHUNKS)]
    events = bound["bedrock_stream"].parsed_chunks()
    assert list(events[0]) == ["messageStart"] and list(events[-1]) == ["metadata"]
    assert sum("contentBlockDelta" in e for e in events) == STREAM_CHUNKS - 4


def test_sse_frames_split_on_either_line_ending() -> None:
    body = b"data: {}\r\n\r\ndata: {}\r\n\r\n"
    reply = transport.Reply(200, (("content-type", "text/event-stream"),), body, True)
    assert reply.frames == (b"data: {}\r\n\r\n", b"data: {}\r\n\r\n")
    lf = transport.Reply(200, (("content-type", "text/event-stream"),), b"event: a\ndata: 1\n\nevent: b\ndata: 2", True)
    assert lf.frames == (b"event: a\ndata: 1\n\n", b"event: b\ndata: 2")


def test_a_stretched_event_stream_copies_the_recorded_messages(bound: dict[str, Scenario]) -> None:
    scenario = bound["bedrock_stream"]
    replies = transport.record({scenario.name: scenario.record_request()})
    recorded = replies[scenario.name]
    stretched = recorded.stretched("contentBlockDelta", STREAM_CHUNKS)
    messages = stretched.frames
    assert len(messages) == STREAM_CHUNKS
    assert set(messages) == set(recorded.frames)  # byte for byte: nothing re-encoded
    types = [transport.event_type(m) for m in messages]  # botocore's decoder checks every CRC
    assert types[0] == "messageStart" and types[-3:] == ["contentBlockStop", "messageStop", "metadata"]


def test_the_isolated_streams_are_fed_parsed_chunks(bound: dict[str, Scenario]) -> None:
    for name in PROVIDER_STREAMS:
        scenario = bound[name]
        for items in chunks.lengths(scenario):
            with chunks.fed(scenario, items, None) as (_, iterable):
                assert list(iterable) == items, name


def test_the_fed_chunks_go_through_our_instrumentation(bound: dict[str, Scenario]) -> None:
    """Fed below whatever our instrumentation wraps: ours sees every chunk (a time-per-chunk point after the
    first), and the SDK's classes are exactly restored after."""
    instrumentation, providers = pipeline.Instrumentation(), pipeline.Pipeline()
    before = pipeline.sdk_methods()
    try:
        for name in PROVIDER_STREAMS:
            scenario = bound[name]
            _, items = chunks.lengths(scenario, 600)
            instrumentation.set(providers)
            with chunks.fed(scenario, items, None) as (_, iterable):
                assert sum(1 for _ in iterable) == 600
            instrumentation.set(None)
            points = providers.histogram_points("llmtel")["gen_ai.client.operation.time_per_output_chunk"]
            provider = [p for p in points if p.attributes and p.attributes["gen_ai.provider.name"] != "openai"]
            assert sum(p.count for p in provider) >= 599, name
            providers.shutdown()
            providers = pipeline.Pipeline()
        assert pipeline.changed(before, pipeline.sdk_methods()) == []
    finally:
        instrumentation.set(None)
        providers.shutdown()


def test_a_failing_request_is_named_and_the_others_recorded() -> None:
    good = next(s for s in scenarios() if s.name == "anthropic")
    bad = next(s for s in scenarios() if s.name == "anthropic")
    bad.kwargs = {**bad.kwargs, "model": "server-error"}  # the wire module's magic 500
    errors: dict[str, str] = {}
    replies = transport.record({"good": good.record_request(), "bad": bad.record_request()}, errors)
    assert set(replies) == {"good"}
    assert errors["bad"].startswith("recording its reply failed (InternalServerError")


def test_a_provider_that_cannot_be_instrumented_is_reported_and_the_others_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(pipeline.INSTRUMENTORS, "gemini", "llmtel.providers.not_there:NoInstrumentor")
    chosen = ("chat", "bedrock", "gemini", "gemini_stream")
    monkeypatch.setattr(runner, "scenarios", lambda: [s for s in scenarios() if s.name in chosen])
    settings = runner.Settings(rounds=1, calls=2, chunk_rounds=1, chunk_reps=1, instructions=False)
    bench = runner.Bench(settings)
    try:
        bench.prepare()
        bench.timed_rounds()
        bench.per_chunk()
    finally:
        bench.instrumentation.set(None)
        bench.pipeline.shutdown()
        bench.loop.close()
    by_name = bench.by_name
    assert by_name["chat"].error == by_name["bedrock"].error == ""
    for name in ("gemini", "gemini_stream"):
        assert "llmtel.providers.not_there:NoInstrumentor cannot be loaded" in by_name[name].error
    assert {name for name, _ in bench.results.times} == {"chat", "bedrock"}
    results = bench.results
    results.started = datetime.datetime.now(datetime.timezone.utc)
    text = report.render(results)
    assert "| Gemini generate_content | not measured: calibrating the floor on llmtel's telemetry failed" in text
    assert "| Bedrock converse | 1 span (" in text
    assert "- Gemini generate_content_stream, 200 chunks (`gemini_stream`): calibrating the floor" in text
    found = {t.name: t for t in report.targets(results)}
    non_stream = found[f"non-streaming overhead ≤ {report.NON_STREAM_RATIO} x floor"]
    assert not non_stream.met and non_stream.measured.endswith("; not measured: gemini (see below)")
    assert "chat " in non_stream.measured and "bedrock " in non_stream.measured
    assert not found[report.PER_CHUNK_NAME].met


def test_async_openai_client_still_replays() -> None:
    scenario = next(s for s in scenarios() if s.name == "async_chat")
    scenario.bind(transport.record({scenario.name: scenario.record_request()})[scenario.name])
    loop = asyncio.new_event_loop()
    try:
        assert scenario.batch(runner.BASE, loop)(2) > 0
    finally:
        loop.close()
