"""The floor: what any semconv-compliant instrumentation must at least do per call, done as cheaply as possible.

Start one ``CLIENT`` span with the call's request attributes, add the response attributes, end it; record one
``gen_ai.client.operation.duration`` point and the ``gen_ai.client.token.usage`` points; for streams also one
``time_to_first_chunk`` point and one ``time_per_output_chunk`` point per later chunk. Nothing else: no
wrapper library, no context propagation, no exemplar context, no reading of the SDK's objects — every attribute
set is precomputed. The span name, the attribute sets and the number of points are copied from what our
instrumentation emitted for the same call in a calibration run (:func:`calibrate`), so the floor and ours
produce the same telemetry and differ only in how they get there.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc

from .pipeline import OPERATION_NAME, Pipeline

T = TypeVar("T")
Attributes = dict[str, AttributeValue]
SCOPE = "bench.floor"
OURS = "llmtel"

_REQUEST_KEYS = frozenset(
    {
        OPERATION_NAME,
        sc.GEN_AI_PROVIDER_NAME,
        sc.SERVER_ADDRESS,
        sc.SERVER_PORT,
        sc.OPENAI_API_TYPE,
        sc.GEN_AI_OUTPUT_TYPE,
        sc.GEN_AI_CONVERSATION_ID,
    }
)


def _known_at_start(key: str) -> bool:
    return key in _REQUEST_KEYS or key.startswith(("gen_ai.request.", "openai.request."))


@dataclass(frozen=True)
class Shape:
    """The telemetry of one call, as our instrumentation emitted it."""

    span_name: str
    request: Attributes
    response: Attributes
    duration: Attributes
    tokens: tuple[tuple[int, Attributes], ...]
    ttfc: Attributes | None
    tpoc: Attributes | None
    tpoc_points: int

    def describe(self) -> str:
        parts = [f"1 span ({len(self.request) + len(self.response)} attributes)", "duration"]
        if self.tokens:
            parts.append(f"{len(self.tokens)} token-usage")
        if self.ttfc is not None:
            parts.append("TTFC")
        if self.tpoc_points:
            parts.append(f"{self.tpoc_points} time-per-chunk")
        return " + ".join(parts)


class Calibration:
    """A throw-away pipeline with exporters that keep everything, to read one call's telemetry."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.logger_provider = LoggerProvider()

    def shape(self) -> Shape:
        """The shape of the one call made since the last :meth:`shape` (and reset for the next one)."""
        spans = [s for s in self.spans.get_finished_spans() if s.attributes and OPERATION_NAME in s.attributes]
        if len(spans) != 1:  # e.g. a provider whose instrumentation is missing or broken: its scenarios say so
            raise RuntimeError(f"llmtel made {len(spans)} GenAI spans for one call ({[s.name for s in spans]})")
        span = spans[0]
        attrs: Attributes = dict(span.attributes or {})
        points: dict[str, list[HistogramDataPoint]] = {}
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    points[metric.name] = [p for p in metric.data.data_points if isinstance(p, HistogramDataPoint)]
        self.spans.clear()

        def only(name: str) -> Attributes | None:
            found = points.get(name, [])
            assert len(found) <= 1, (name, found)
            return dict(found[0].attributes or {}) if found else None

        duration = only(sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
        if duration is None:
            raise RuntimeError("llmtel recorded no duration point for the call")
        tpoc = points.get(sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK.name, [])
        return Shape(
            span_name=span.name,
            request={k: v for k, v in attrs.items() if _known_at_start(k)},
            response={k: v for k, v in attrs.items() if not _known_at_start(k)},
            duration=duration,
            tokens=tuple(
                (int(p.sum), dict(p.attributes or {})) for p in points.get(sc.GEN_AI_CLIENT_TOKEN_USAGE.name, [])
            ),
            ttfc=only(sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name),
            tpoc=dict(tpoc[0].attributes or {}) if tpoc else None,
            tpoc_points=sum(p.count for p in tpoc),
        )

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()


class Floor:
    """The minimal instrumentation of one scenario's call, on the benchmark's pipeline."""

    def __init__(self, pipeline: Pipeline, shape: Shape) -> None:
        self.shape = shape
        self._tracer = pipeline.tracer_provider.get_tracer(SCOPE)
        meter = pipeline.meter_provider.get_meter(SCOPE)

        def histogram(spec: sc.MetricSpec) -> Any:
            return meter.create_histogram(
                spec.name,
                unit=spec.unit,
                description=spec.description,
                explicit_bucket_boundaries_advisory=spec.buckets,
            )

        self._duration = histogram(sc.GEN_AI_CLIENT_OPERATION_DURATION)
        self._tokens = histogram(sc.GEN_AI_CLIENT_TOKEN_USAGE)
        self._ttfc = histogram(sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
        self._tpoc = histogram(sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK)

    def _start(self) -> Any:
        return self._tracer.start_span(self.shape.span_name, kind=trace.SpanKind.CLIENT, attributes=self.shape.request)

    def _end(self, span: Any, started: float) -> None:
        elapsed = time.perf_counter() - started
        shape = self.shape
        span.set_attributes(shape.response)
        self._duration.record(elapsed, shape.duration)
        for value, attrs in shape.tokens:
            self._tokens.record(value, attrs)
        span.end()

    def _fail(self, span: Any, exc: BaseException) -> None:
        span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
        span.end()

    def call(self, fn: Callable[[], T]) -> T:
        span = self._start()
        started = time.perf_counter()
        try:
            result = fn()
        except BaseException as exc:
            self._fail(span, exc)
            raise
        self._end(span, started)
        return result

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        span = self._start()
        started = time.perf_counter()
        try:
            result = await fn()
        except BaseException as exc:
            self._fail(span, exc)
            raise
        self._end(span, started)
        return result

    def stream(self, fn: Callable[[], Any]) -> Iterator[Any]:
        """A generator around the SDK's stream: the cheapest interception of every chunk there is."""
        span = self._start()
        started = last = time.perf_counter()
        ttfc, tpoc = self.shape.ttfc or {}, self.shape.tpoc or {}
        first = True
        try:
            for chunk in fn():
                now = time.perf_counter()
                if first:
                    self._ttfc.record(now - started, ttfc)
                    first = False
                else:
                    self._tpoc.record(now - last, tpoc)
                last = now
                yield chunk
        except BaseException as exc:
            self._fail(span, exc)
            raise
        self._end(span, started)

    async def astream(self, fn: Callable[[], Awaitable[Any]]) -> AsyncIterator[Any]:
        span = self._start()
        started = last = time.perf_counter()
        ttfc, tpoc = self.shape.ttfc or {}, self.shape.tpoc or {}
        first = True
        try:
            async for chunk in await fn():
                now = time.perf_counter()
                if first:
                    self._ttfc.record(now - started, ttfc)
                    first = False
                else:
                    self._tpoc.record(now - last, tpoc)
                last = now
                yield chunk
        except BaseException as exc:
            self._fail(span, exc)
            raise
        self._end(span, started)
