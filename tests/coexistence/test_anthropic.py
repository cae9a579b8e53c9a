"""llmtel next to openinference-instrumentation-anthropic (the real package, requirements-anthropic.txt here), in
both orders: one span of an instrumentation per Messages call, the other package's.

That package wraps the very class attributes llmtel wraps (``Messages.create`` / ``stream`` / ``parse``, sync and
async, and beta's). So llmtel stands down for them, whichever was installed first (found when llmtel wraps, or
at call time when it wrapped over llmtel), with one warning naming it; the app's results work as without either.
After its own uninstrument(), llmtel's spans come back. The warning says it records prompts by default, which is
checked against its spans.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from llmtel.demo.server import FakeOpenAIServer
from tests.conftest import Otel

anthropic = pytest.importorskip("anthropic")
openinference = pytest.importorskip("openinference.instrumentation.anthropic")

MODEL = "claude-sonnet-4-5"
PROMPT = "Say hello to the coexistence test"
MESSAGES = [{"role": "user", "content": PROMPT}]


def calls(client: Any) -> list[Any]:
    """create, create(stream=True) and stream(), consumed as an app would; what the app got."""
    got = [client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES).content[0].text]
    got.append([e.type for e in client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, stream=True)])
    with client.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        got.append(stream.get_final_text())
    return got


@pytest.fixture
def pipeline() -> Iterator[Otel]:
    """Not the ``otel`` fixture: its conventions check is for llmtel's telemetry alone."""
    otel = Otel()
    yield otel
    otel.uninstrument()


@pytest.fixture
def client(server: FakeOpenAIServer) -> Any:
    # the SDK's own tracing off: only the two instrumentations' spans are counted here
    return anthropic.Anthropic(base_url=server.root_url, api_key="k", max_retries=0, open_telemetry=False)


def _peer(otel: Otel) -> Any:
    instrumentor = openinference.AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    return instrumentor


def scopes(otel: Otel) -> list[str]:
    return [
        s.instrumentation_scope.name if s.instrumentation_scope else "?"
        for s in otel.span_exporter.get_finished_spans()
    ]


@pytest.mark.parametrize("order", ["llmtel first", "peer first"])
def test_one_span_per_call(pipeline: Otel, client: Any, caplog: pytest.LogCaptureFixture, order: str) -> None:
    plain = calls(client)
    caplog.set_level(logging.WARNING, logger="llmtel")
    if order == "peer first":
        peer = _peer(pipeline)
        pipeline.instrument("anthropic")
    else:
        pipeline.instrument("anthropic")
        peer = _peer(pipeline)
    try:
        assert calls(client) == plain
        found = scopes(pipeline)
        assert len(found) == 3 and all(
            scope.startswith("openinference.instrumentation.anthropic") for scope in found
        ), found
        warnings = [r.getMessage() for r in caplog.records if r.name == "llmtel"]
        assert len(warnings) == 1 and "openinference-instrumentation-anthropic" in warnings[0]
        assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=anthropic" in warnings[0]
    finally:
        peer.uninstrument()


def test_llmtel_spans_return_after_the_peer_uninstruments(pipeline: Otel, client: Any) -> None:
    pipeline.instrument("anthropic")
    peer = _peer(pipeline)
    calls(client)
    peer.uninstrument()
    pipeline.span_exporter.clear()
    calls(client)
    assert scopes(pipeline) == ["llmtel"] * 3


def test_the_peer_records_prompts_by_default(pipeline: Otel, client: Any) -> None:
    """What the warning says of it."""
    peer = _peer(pipeline)
    try:
        calls(client)
    finally:
        peer.uninstrument()
    assert PROMPT in repr([dict(s.attributes or {}) for s in pipeline.span_exporter.get_finished_spans()])
