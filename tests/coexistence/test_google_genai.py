"""llmtel next to the official ``opentelemetry-instrumentation-google-genai`` (1.3b0), the real package, in both
orders: exactly one GenAI span per call, the other package's wherever it instruments the call (llmtel stands
down: found when it wraps, or at call time when the other one wrapped after it), and one warning on the
``llmtel`` logger naming it.

Its metadata wants ``google-genai >= 1.32, < 3`` (its ``instruments`` extra and ``instrumentation_dependencies``):
pip installs it beside google-genai 3 without the extra, but its ``instrument()`` then refuses (a dependency
conflict, logged), as ``opentelemetry-instrument`` does: llmtel's spans are the only ones. Forced
(``skip_dep_check=True``) it wraps 3.x too, and the one-span rule holds the same. requirements-google_genai.txt
here lists what this file runs with; the other coexistence tests need other versions of the shared
``opentelemetry-util-genai``, so this one runs in a venv of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

peer = pytest.importorskip("opentelemetry.instrumentation.google_genai", reason="the official peer is not installed")

from google import genai  # noqa: E402
from google.genai import models as sdk_models  # noqa: E402  (imported before anything is instrumented)
from google.genai import types  # noqa: E402

from llmtel.demo.server import FakeOpenAIServer  # noqa: E402
from llmtel.providers.google_genai import _INSTALLER  # noqa: E402
from tests.conftest import Otel  # noqa: E402

MODEL = "gemini-2.5-flash"
PEER_SCOPE = "opentelemetry.instrumentation.google_genai"
PEER_NAME = "opentelemetry-instrumentation-google-genai"
SDK_3 = int(genai.__version__.split(".")[0]) >= 3


@pytest.fixture(scope="module")
def local() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def pipeline() -> Iterator[Otel]:
    otel = Otel()
    yield otel
    otel.uninstrument()
    _INSTALLER.uninstall()


def client(server: FakeOpenAIServer) -> genai.Client:
    options = types.HttpOptions(base_url=server.root_url, retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="k", http_options=options)


async def calls(c: genai.Client) -> list[str]:
    """One of each wrapped method; the names in order."""
    c.models.generate_content(model=MODEL, contents="hi")
    list(c.models.generate_content_stream(model=MODEL, contents="hi"))
    await c.aio.models.generate_content(model=MODEL, contents="hi")
    [x async for x in await c.aio.models.generate_content_stream(model=MODEL, contents="hi")]
    c.models.embed_content(model="text-embedding-004", contents=["hi"])
    return ["generate_content", "generate_content_stream", "async generate_content", "async stream", "embed"]


def genai_spans(otel: Otel) -> list[tuple[str, str]]:
    return [
        (s.instrumentation_scope.name if s.instrumentation_scope else "?", str(s.attributes["gen_ai.operation.name"]))
        for s in otel.span_exporter.get_finished_spans()
        if "gen_ai.operation.name" in (s.attributes or {})
    ]


def instrument_peer(otel: Otel) -> Any:
    instrumentor = peer.GoogleGenAiSdkInstrumentor()
    instrumentor.instrument(
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
        logger_provider=otel.logger_provider,
        skip_dep_check=SDK_3,  # its metadata excludes google-genai 3: forced here to see what it does there
    )
    return instrumentor


def instrument_llmtel(otel: Otel) -> None:
    _INSTALLER.install(
        tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider, logger_provider=otel.logger_provider
    )


@pytest.mark.parametrize("first", ["peer", "llmtel"])
async def test_one_span_per_call_in_either_order(
    pipeline: Otel, local: FakeOpenAIServer, caplog: pytest.LogCaptureFixture, first: str
) -> None:
    assert sdk_models.Models.generate_content  # the SDK module is loaded before either instruments
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        if first == "peer":
            other = instrument_peer(pipeline)
            instrument_llmtel(pipeline)
        else:
            instrument_llmtel(pipeline)
            other = instrument_peer(pipeline)
        names = await calls(client(local))
    spans = genai_spans(pipeline)
    # the peer wraps all five (generate_content and its stream, sync and async, and embed_content); llmtel
    # makes none of its own for them
    assert len(spans) == len(names), spans
    assert {scope for scope, _ in spans} == {PEER_SCOPE}
    warnings = [r.getMessage() for r in caplog.records if r.name == "llmtel"]
    assert len(warnings) == 1 and PEER_NAME in warnings[0] and "google-genai" in warnings[0]
    other.uninstrument()


async def test_without_the_forced_check_the_peer_stays_out_of_google_genai_3(
    pipeline: Otel, local: FakeOpenAIServer
) -> None:
    if not SDK_3:
        pytest.skip("google-genai < 3: the peer's dependency check passes")
    instrumentor = peer.GoogleGenAiSdkInstrumentor()
    instrumentor.instrument(tracer_provider=pipeline.tracer_provider)  # refused: google-genai 3 conflicts
    instrument_llmtel(pipeline)
    names = await calls(client(local))
    assert genai_spans(pipeline) == [("llmtel", op) for op in ["generate_content"] * 4 + ["embeddings"]]
    assert len(names) == 5


async def test_llmtel_first_is_back_after_the_peers_uninstrument(pipeline: Otel, local: FakeOpenAIServer) -> None:
    """The peer's uninstrument takes its wrappers off ours: llmtel's spans are the calls' again. (The other order,
    the peer first, leaves those methods unwrapped by llmtel, which never wrapped them: until the next install.)"""
    instrument_llmtel(pipeline)
    instrument_peer(pipeline).uninstrument()
    await calls(client(local))
    assert genai_spans(pipeline) == [("llmtel", op) for op in ["generate_content"] * 4 + ["embeddings"]]
