"""llmtel next to opentelemetry-instrumentation-botocore (the real package, requirements-bedrock.txt here), in
both orders: one GenAI span per Bedrock call.

That package wraps the same ``botocore.client.BaseClient._make_api_call`` and its Bedrock extension makes a
GenAI span (``gen_ai.operation.name`` and the rest) of every converse / converse_stream / invoke_model(+stream)
call, with no switch to turn the extension off alone. So llmtel stands down for the calls it instruments,
whichever was installed first (found when llmtel wraps, or at call time when it wrapped over llmtel), with one
warning naming it; the app's results (streams, the invoke body) work as without either. After its own
uninstrument(), llmtel's spans come back (when llmtel was there first: its wrapper is put back in place).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from llmtel.demo.server import FakeOpenAIServer
from tests.bedrock import support
from tests.conftest import Otel

botocore_instrumentation = pytest.importorskip("opentelemetry.instrumentation.botocore")

MODEL = "amazon.nova-micro-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Say hello to the coexistence test"}]}]
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
CLAUDE_BODY = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "messages": MESSAGES})
PEER_SCOPE = "opentelemetry.instrumentation.botocore"


def calls(client: Any) -> list[Any]:
    """Each of the four operations, consumed as an app would; what the app got."""
    got = [client.converse(modelId=MODEL, messages=MESSAGES)["output"]]
    got.append([e for e in client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]][-2])
    got.append(json.loads(client.invoke_model(modelId=CLAUDE, body=CLAUDE_BODY)["body"].read())["content"])
    events = list(client.invoke_model_with_response_stream(modelId=CLAUDE, body=CLAUDE_BODY)["body"])
    got.append(len(events))
    return got


@pytest.fixture
def pipeline() -> Iterator[Otel]:
    """Not the ``otel`` fixture: its conventions check is for llmtel's telemetry alone."""
    otel = Otel()
    yield otel
    otel.uninstrument()


def _peer(otel: Otel) -> Any:
    instrumentor = botocore_instrumentation.BotocoreInstrumentor()
    instrumentor.instrument(
        tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider, logger_provider=otel.logger_provider
    )
    return instrumentor


def genai_scopes(otel: Otel) -> list[str]:
    return [s.instrumentation_scope.name if s.instrumentation_scope else "?" for s in otel.spans()]


@pytest.mark.parametrize("order", ["llmtel first", "peer first"])
def test_one_genai_span_per_call(
    pipeline: Otel, server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture, order: str
) -> None:
    client = support.client(server.root_url)
    plain = calls(client)
    caplog.set_level(logging.WARNING, logger="llmtel")
    peer = None
    if order == "peer first":
        peer = _peer(pipeline)
        pipeline.instrument("bedrock")
    else:
        pipeline.instrument("bedrock")
        peer = _peer(pipeline)
    try:
        assert calls(client) == plain
        scopes = genai_scopes(pipeline)
        assert len(scopes) == 4 and all(scope.startswith(PEER_SCOPE) for scope in scopes), scopes
        warnings = [r.getMessage() for r in caplog.records if r.name == "llmtel"]
        assert len(warnings) == 1 and "opentelemetry-instrumentation-botocore" in warnings[0]
        assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=botocore" in warnings[0]
    finally:
        peer.uninstrument()


def test_llmtel_spans_return_after_the_peer_uninstruments(pipeline: Otel, server: FakeOpenAIServer) -> None:
    client = support.client(server.root_url)
    pipeline.instrument("bedrock")
    peer = _peer(pipeline)
    calls(client)
    peer.uninstrument()
    pipeline.span_exporter.clear()
    calls(client)
    assert genai_scopes(pipeline) == ["llmtel"] * 4


def test_the_peer_records_no_content_by_default(pipeline: Otel, server: FakeOpenAIServer) -> None:
    """What the warning says of it: no prompt on its spans or events unless the capture variable is set."""
    client = support.client(server.root_url)
    peer = _peer(pipeline)
    try:
        calls(client)
    finally:
        peer.uninstrument()
    text = repr([dict(s.attributes or {}) for s in pipeline.span_exporter.get_finished_spans()])
    text += repr([r.log_record.body for r in pipeline.logs()])
    assert "coexistence test" not in text
