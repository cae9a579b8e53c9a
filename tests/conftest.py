"""Shared fixtures: real OpenTelemetry SDK pipelines with in-memory exporters (any provider's instrumentation on
them: ``otel.instrument("anthropic", ...)``), the local OpenAI-wire server, and real openai clients. Every test
that uses ``otel`` has all its telemetry checked against the semantic conventions at teardown (when ../shared is
present; see tests/conformance/semconv_check.py). Without it the check is off, and the run says so once, in its
summary."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmtel import config as config_module
from llmtel.core.instrumentor import Instrumentor
from llmtel.demo.server import FakeOpenAIServer
from tests.conformance.semconv_check import load_checker, semconv_json_path


async def dropped_async_generators_closed(steps: int = 5) -> None:
    """Let the event loop close what an abandoned ``async for`` left behind.

    ``async for`` over a stream holds an async generator (the SDK's own ``__aiter__`` is one, and so is ours);
    when the loop is left and the generator dropped, asyncio closes it a few loop steps later, and only then is
    the stream itself freed."""
    for _ in range(steps):
        await asyncio.sleep(0)


INSTRUMENTORS = {
    "openai": ("llmtel.providers.openai", "OpenAIInstrumentor"),
    "anthropic": ("llmtel.providers.anthropic", "AnthropicInstrumentor"),
    "bedrock": ("llmtel.providers.bedrock", "BedrockInstrumentor"),
    "google_genai": ("llmtel.providers.google_genai", "GoogleGenAIInstrumentor"),
}
"""Provider name → its entry-point instrumentor (module, class)."""


class Otel:
    """One test's OpenTelemetry pipeline and the instrumentation installed on it."""

    def __init__(self) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])
        self.log_exporter = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self.instrumentors: list[Instrumentor] = []
        self._metrics_cache: Any = None

    @property
    def instrumentor(self) -> Instrumentor | None:
        return self.instrumentors[-1] if self.instrumentors else None

    def instrument(self, *providers: str, **env: str) -> Instrumentor:
        """Instrument these providers (by default openai) with the configuration these environment variables
        would give, on this pipeline; return the (last) provider's instrumentor."""
        self.uninstrument()
        config = config_module.from_env(env)
        for provider in providers or ("openai",):
            module, cls = INSTRUMENTORS[provider]
            instrumentor: Instrumentor = getattr(importlib.import_module(module), cls)()
            instrumentor.instrument(
                tracer_provider=self.tracer_provider,
                meter_provider=self.meter_provider,
                logger_provider=self.logger_provider,
                config=config,
            )
            self.instrumentors.append(instrumentor)
        return self.instrumentors[-1]

    def uninstrument(self) -> None:
        while self.instrumentors:
            self.instrumentors.pop().uninstrument()

    # -- reading what was produced --------------------------------------------------------------------------

    def spans(self) -> list[ReadableSpan]:
        """Finished GenAI spans (the HTTP client's own spans, if any, are left out)."""
        return [s for s in self.span_exporter.get_finished_spans() if "gen_ai.operation.name" in (s.attributes or {})]

    def span(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metrics_data(self) -> Any:
        self._metrics_cache = self.metric_reader.get_metrics_data()
        return self._metrics_cache

    def metric(self, name: str) -> Metric | None:
        data = self.metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        return metric
        return None

    def points(self, name: str) -> list[HistogramDataPoint]:
        metric = self.metric(name)
        return list(metric.data.data_points) if metric is not None else []  # type: ignore[attr-defined]

    def logs(self) -> list[Any]:
        return list(self.log_exporter.get_finished_logs())


@pytest.fixture
def otel() -> Iterator[Otel]:
    pipeline = Otel()
    try:
        yield pipeline
    finally:
        pipeline.uninstrument()
    checker = load_checker()
    if checker is None:  # no ../shared: said once, at the end of the run (pytest_terminal_summary)
        return
    problems: list[str] = []
    for span in pipeline.span_exporter.get_finished_spans():
        problems += checker.check_span(span)
    problems += checker.check_metrics(pipeline.metric_reader.get_metrics_data())
    for record in pipeline.logs():
        problems += checker.check_log(record)
    assert not problems, "semantic-convention problems:\n" + "\n".join(problems)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One notice per run, not one warning per test, when the conformance check of ``otel`` was off."""
    if load_checker() is None:
        terminalreporter.write_line(
            f"semconv conformance check OFF: {semconv_json_path()} not found (../shared/semconv beside the clone, "
            "or GENAI_SEMCONV_JSON); telemetry not checked against the conventions"
        )


@pytest.fixture(scope="session")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def client(server: FakeOpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0) as c:
        yield c


@pytest.fixture
async def aclient(server: FakeOpenAIServer) -> Any:
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0) as c:
        yield c
