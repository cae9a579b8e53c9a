"""The stream contract, for every provider's streaming call: whatever the app does with the stream (reads it to
the end, leaves it early and closes it, drops it, raises inside a ``with`` block, never reads it), the call has
exactly one span, ended exactly once, with one duration point; chunks seen give time to first chunk; the app's own
span stays current between chunks; the app's exception reaches it untouched. Real SDKs over HTTP against the
built-in server. A provider gets these by adding its :class:`Kit` (each provider's own suite covers the rest of
its stream API: helpers, managers, in-band errors)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from llmtel import semconv as sc
from llmtel.demo import providers as demo

MESSAGES = [{"role": "user", "content": "Tell me a very short story about tracing."}]
DURATION = sc.GEN_AI_CLIENT_OPERATION_DURATION.name
TTFC = sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name


@dataclass(frozen=True)
class Kit:
    instrumentor: str  # the otel fixture's name for it
    client: Callable[[Any], Any]  # server -> client
    open: Callable[[Any], Any]  # client -> the object the SDK returns for a stream
    chunks: Callable[[Any], Iterator[Any]]  # that object -> the app's iteration
    close: Callable[[Any], None]
    has_with: bool  # the returned object is a context manager


def _openai_client(server: Any) -> Any:
    import openai

    return openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)


def _anthropic_open(client: Any) -> Any:
    return client.messages.create(model="claude-x", max_tokens=100, messages=MESSAGES, stream=True)


def _bedrock_open(client: Any) -> Any:
    return client.converse_stream(
        modelId="amazon.nova-micro-v1:0", messages=[{"role": "user", "content": [{"text": "hi"}]}]
    )


KITS = {
    "openai": Kit(
        "openai",
        _openai_client,
        lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True),
        iter,
        lambda s: s.close(),
        True,
    ),
    "anthropic": Kit(
        "anthropic", lambda s: demo.client("anthropic", s.root_url), _anthropic_open, iter, lambda s: s.close(), True
    ),
    "bedrock": Kit(
        "bedrock",
        lambda s: demo.client("bedrock", s.root_url),
        _bedrock_open,
        lambda r: iter(r["stream"]),
        lambda r: r["stream"].close(),
        False,
    ),
    "gemini": Kit(
        "google_genai",
        lambda s: demo.client("gemini", s.root_url),
        lambda c: c.models.generate_content_stream(model="gemini-2.5-flash", contents="Tell me a story."),
        iter,
        lambda g: g.close(),
        False,
    ),
}


@dataclass
class Seen:
    chunks: int = 0
    foreign_current: int = 0  # chunks during which a span other than the app's was current


def _read(kit: Kit, stream: Any, parent: Any, seen: Seen, limit: int | None = None) -> None:
    for _ in kit.chunks(stream):
        seen.chunks += 1
        if trace.get_current_span().get_span_context().span_id != parent.get_span_context().span_id:
            seen.foreign_current += 1
        if limit is not None and seen.chunks >= limit:
            break


def exhausted(kit: Kit, client: Any, parent: Any, seen: Seen) -> None:
    _read(kit, kit.open(client), parent, seen)


def closed_early(kit: Kit, client: Any, parent: Any, seen: Seen) -> None:
    stream = kit.open(client)
    _read(kit, stream, parent, seen, limit=2)
    kit.close(stream)


def dropped(kit: Kit, client: Any, parent: Any, seen: Seen) -> None:
    stream = kit.open(client)
    _read(kit, stream, parent, seen, limit=2)
    del stream
    gc.collect()


def never_read(kit: Kit, client: Any, parent: Any, seen: Seen) -> None:
    stream = kit.open(client)
    del stream
    gc.collect()


def raises_in_with(kit: Kit, client: Any, parent: Any, seen: Seen) -> None:
    with pytest.raises(ValueError, match="the app's own"), kit.open(client) as stream:
        _read(kit, stream, parent, seen, limit=1)
        raise ValueError("the app's own")


CASES: dict[str, tuple[Callable[[Kit, Any, Any, Seen], None], bool]] = {
    "exhausted": (exhausted, False),
    "closed-early": (closed_early, False),
    "dropped": (dropped, False),
    "never-read": (never_read, False),
    "raises-in-with": (raises_in_with, True),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", list(KITS))
def test_one_span_ended_once_whatever_the_app_does(otel: Any, server: Any, name: str, case: str) -> None:
    kit = KITS[name]
    run, needs_with = CASES[case]
    if needs_with and not kit.has_with:
        pytest.skip(f"{name}'s stream is not a context manager")
    otel.instrument(kit.instrumentor)
    client = kit.client(server)
    seen = Seen()
    tracer = otel.tracer_provider.get_tracer("app")
    try:
        with tracer.start_as_current_span("app") as parent:
            run(kit, client, parent, seen)
        gc.collect()
    finally:
        if name == "openai":
            client.close()
        else:
            demo.close(name, client)

    span = otel.span()  # exactly one GenAI span
    attrs = dict(span.attributes or {})
    assert span.end_time is not None
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert seen.foreign_current == 0, "our span was current while the app handled a chunk"
    [point] = otel.points(DURATION)
    assert point.count == 1
    assert point.sum == pytest.approx((span.end_time - span.start_time) / 1e9, abs=1e-6)
    if case == "raises-in-with":
        assert span.status.status_code is StatusCode.ERROR
        assert attrs[sc.ERROR_TYPE] == point.attributes[sc.ERROR_TYPE] == "ValueError"
        assert span.status.description == "the app's own"
    else:
        assert span.status.status_code is StatusCode.UNSET
        assert sc.ERROR_TYPE not in attrs and sc.ERROR_TYPE not in point.attributes
    if seen.chunks:
        assert attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
        assert [p.count for p in otel.points(TTFC)] == [1]
    else:
        assert sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in attrs
        assert otel.points(TTFC) == []
    if case == "exhausted":
        assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS], "a stream read to its end has its finish reason"
    # nothing ends twice later
    gc.collect()
    assert len(otel.spans()) == 1
    assert [p.count for p in otel.points(DURATION)] == [1]
