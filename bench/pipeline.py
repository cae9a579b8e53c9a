"""The OpenTelemetry SDK pipeline every measurement runs on, and switching our instrumentation on and off.

Traces: ``BatchSpanProcessor`` → a counting exporter (the production processor; export on its own thread).
Metrics: ``InMemoryMetricReader``. The record path (attribute hashing, aggregation into the cumulative
histogram state) is the same for every reader; what differs is only who collects and when. A
``PeriodicExportingMetricReader`` would wake a thread every interval and collect in the middle of a timed
batch, adding noise that belongs to neither configuration; with the in-memory reader we collect between
batches, untimed, when we check what was recorded.
Logs: a ``LoggerProvider`` with ``BatchLogRecordProcessor`` → a counting exporter (details events, when the
configuration emits them).
"""

from __future__ import annotations

import collections
import importlib
import sys
import threading
import time
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from llmtel import config as config_module

OPERATION_NAME = "gen_ai.operation.name"


class CountingSpanExporter(SpanExporter):
    """Counts exported spans per instrumentation scope; GenAI spans (with ``gen_ai.operation.name``) apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans: collections.Counter[str] = collections.Counter()
        self.genai: collections.Counter[str] = collections.Counter()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            for span in spans:
                scope = span.instrumentation_scope.name if span.instrumentation_scope else ""
                self.spans[scope] += 1
                if span.attributes and OPERATION_NAME in span.attributes:
                    self.genai[scope] += 1
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class CountingLogExporter(LogRecordExporter):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records = 0

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        with self._lock:
            self.records += len(batch)
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        return None


class OpenSpanCounter(SpanProcessor):
    """Started minus ended spans (only on the pipeline of the abandoned-stream check: it is not free)."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        self.started += 1

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


class Pipeline:
    """One set of SDK providers with counting exporters."""

    def __init__(self, *, count_open_spans: bool = False) -> None:
        self.span_exporter = CountingSpanExporter()
        self.open_spans = OpenSpanCounter() if count_open_spans else None
        self.tracer_provider = TracerProvider()
        if self.open_spans is not None:
            self.tracer_provider.add_span_processor(self.open_spans)
        self.tracer_provider.add_span_processor(BatchSpanProcessor(self.span_exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])
        self.log_exporter = CountingLogExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(BatchLogRecordProcessor(self.log_exporter))

    def flush(self) -> None:
        """Drain the batch processors (so every timed batch starts with empty queues and idle workers)."""
        self.tracer_provider.force_flush()
        self.logger_provider.force_flush()

    def histogram_points(self, scope: str) -> dict[str, list[HistogramDataPoint]]:
        """Metric name → data points recorded under ``scope`` (collected now)."""
        found: dict[str, list[HistogramDataPoint]] = {}
        data = self.metric_reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                if sm.scope.name != scope:
                    continue
                for metric in sm.metrics:
                    points = [p for p in metric.data.data_points if isinstance(p, HistogramDataPoint)]
                    found.setdefault(metric.name, []).extend(points)
        return found

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()


class Providers(Protocol):
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider


INSTRUMENTORS = {
    "openai": "llmtel.providers.openai:OpenAIInstrumentor",
    "anthropic": "llmtel.providers.anthropic:AnthropicInstrumentor",
    "bedrock": "llmtel.providers.bedrock:BedrockInstrumentor",
    "gemini": "llmtel.providers.google_genai:GoogleGenAIInstrumentor",
}
"""Every provider's ``opentelemetry-instrument`` entry point, by bench.transport's SDK name."""


class Instrumentation:
    """Our instrumentation of every provider, switched between configurations (``None`` = not instrumented) in
    one process. A provider whose instrumentor cannot be loaded or fails to (un)instrument is left out and
    named in :attr:`failed` (its scenarios then say so); the others carry on."""

    def __init__(self) -> None:
        self._current: tuple[int, tuple[tuple[str, str], ...]] | None = None
        self.failed: dict[str, str] = {}  # SDK → why it is not instrumented
        self._instrumentors: dict[str, Any] = {}
        for sdk, target in INSTRUMENTORS.items():
            module, _, name = target.partition(":")
            try:
                self._instrumentors[sdk] = getattr(importlib.import_module(module), name)()
            except Exception as exc:  # a provider still being written: say so, measure the others
                self.failed[sdk] = f"{target} cannot be loaded ({type(exc).__name__}: {exc})"

    def set(self, pipeline: Providers | None, env: Mapping[str, str] | None = None) -> None:
        """Instrument on ``pipeline`` with the configuration ``env`` would give, or uninstrument (None)."""
        wanted = None if pipeline is None else (id(pipeline), tuple(sorted((env or {}).items())))
        if wanted == self._current:
            return
        if self._current is not None:
            for sdk, instrumentor in self._instrumentors.items():
                self._guarded(sdk, "uninstrument", instrumentor.uninstrument)
            self._current = None
        if pipeline is not None:
            options = {
                "tracer_provider": pipeline.tracer_provider,
                "meter_provider": pipeline.meter_provider,
                "logger_provider": pipeline.logger_provider,
                "config": config_module.from_env(dict(env or {})),
            }
            for sdk, instrumentor in self._instrumentors.items():
                if sdk not in self.failed:
                    self._guarded(sdk, "instrument", instrumentor.instrument, **options)
            self._current = wanted

    def _guarded(self, sdk: str, what: str, fn: Callable[..., Any], **kwargs: Any) -> None:
        try:
            fn(**kwargs)
        except Exception as exc:
            self.failed.setdefault(sdk, f"{what}() failed ({type(exc).__name__}: {exc})")

    def switch_cost_ms(self, pipeline: Pipeline, repeats: int) -> tuple[list[float], list[float]]:
        """Times of ``instrument()`` and ``uninstrument()`` in milliseconds (leaves it uninstrumented)."""
        self.set(None)
        instrument: list[float] = []
        uninstrument: list[float] = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            self.set(pipeline)
            t1 = time.perf_counter()
            self.set(None)
            t2 = time.perf_counter()
            instrument.append((t1 - t0) * 1e3)
            uninstrument.append((t2 - t1) * 1e3)
        return instrument, uninstrument


# -- does uninstrument() restore the SDK exactly? ---------------------------------------------------------------

_SDK_MODULES = (
    "openai.resources",
    "openai._response",
    "openai._legacy_response",
    "openai.lib.streaming",
    "anthropic.resources",
    "anthropic._response",
    "anthropic._base_client",
    "anthropic.lib",
    "google.genai.models",
    "google.genai.chats",
    "botocore.client",
)
_METHOD_TYPES = (types.FunctionType, staticmethod, classmethod, property)


def _method_like(value: Any) -> bool:
    return isinstance(value, _METHOD_TYPES) or type(value).__module__.startswith("wrapt")


def sdk_methods() -> dict[str, int]:
    """``module.Class.attr`` (and ``module.function``) → id of the object, for every method-like attribute of
    every provider SDK's classes and module-level functions.

    Wrapping replaces such an attribute with a wrapt wrapper; an exact restore puts the very same object back.
    Comparing these maps before instrumenting, while instrumented and after uninstrumenting tells both.
    """
    found: dict[str, int] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(_SDK_MODULES):
            continue
        for name, value in list(vars(module).items()):
            if isinstance(value, type):
                if value.__module__ != module_name:
                    continue
                for attr, member in list(vars(value).items()):
                    if _method_like(member):
                        found[f"{module_name}.{name}.{attr}"] = id(member)
            elif _method_like(value):  # module-level, imported ones too (a hook may wrap the name a module uses)
                found[f"{module_name}.{name}"] = id(value)
    return found


def changed(before: Mapping[str, int], after: Mapping[str, int]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
