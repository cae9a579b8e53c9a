"""``llmtel demo``: real SDK calls (OpenAI, Anthropic, Bedrock, Gemini), instrumented by llmtel, and a summary
of the telemetry.

The demo builds its own OpenTelemetry SDK pipeline (it never touches the global providers): a TracerProvider,
MeterProvider and LoggerProvider with in-memory exporters/readers, which the summary is read from, plus OTLP
exporters when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or a signal-specific endpoint) is set. It instruments the SDK
with :func:`llmtel.instrument`, makes labelled calls through every installed provider SDK (``--provider`` picks
one) against the built-in :class:`~llmtel.demo.server.FakeOpenAIServer`, which speaks each provider's wire format
(or OpenAI's calls against a real endpoint), then uninstruments, shuts everything
down and prints one block per GenAI span, one span in full (attributes and captured content, as exported), the
metric totals, the number of events and where it all went.

The SDK, the OTLP exporters and openai are optional dependencies of llmtel: without them :func:`run` says, in
one line, what is missing and how to install it (exit code 2).

Nothing is left running afterwards: the server, the HTTP client, the batch processors' and the metric reader's
threads are all stopped before :func:`run` returns.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import llmtel
from llmtel import config as config_module
from llmtel import semconv as sc
from llmtel.core.invocation import DETAILS_EVENT
from llmtel.demo import providers as demo_providers

# The OpenTelemetry SDK, the OTLP exporters and openai are optional dependencies of llmtel (the otlp and openai
# extras): they are imported only once run() has checked they are there, so a minimal install gets one clear
# line, not a traceback, and `llmtel --help` works everywhere.
if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.metrics.export import HistogramDataPoint, MetricExporter, MetricsData
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_MODEL",
    "DEFAULT_SERVICE_NAME",
    "DemoError",
    "DemoOptions",
    "run",
]

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
DEFAULT_SERVICE_NAME = "llmtel-demo"
DEFAULT_API_KEY = "demo"
DEMO_CAPTURE = config_module.ContentCapture.SPAN_AND_EVENT
NONEXISTENT_MODEL = "does-not-exist"
"""The error call's model on a real endpoint (the built-in server uses ``rate-limited`` → HTTP 429)."""
EXPORT_TIMEOUT_S = 3.0
"""OTLP export timeout when neither ``OTEL_EXPORTER_OTLP_TIMEOUT`` nor a signal-specific one is set, so an
unreachable collector delays the demo by a few seconds rather than the exporters' default ten per signal."""
STREAM_DELAY_MS = 40
"""Built-in server only: delay before each stream event, so the streamed reply visibly arrives piecemeal."""
STREAM_WORDS = 10
"""Built-in server only: stream the reply in this many chunks (its default reply has ten words)."""

SYSTEM_PROMPT = "You are a concise assistant."
CHAT_PROMPT = "Say hello to OpenTelemetry in one sentence."
STREAM_PROMPT = "Tell me a very short story about tracing."
TOOL_PROMPT = "What is the weather in Paris today?"
AGENT_NAME = "weather-assistant"
EMBEDDING_INPUTS = ("OpenTelemetry traces LLM calls.", "Spans, metrics and events.")
RESPONSES_PROMPT = "Explain an OpenTelemetry span in one sentence."
ERROR_PROMPT = "This call is meant to fail."

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name, e.g. Paris"}},
            "required": ["city"],
        },
    },
}

_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
_OTLP_TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT"
_SIGNALS = ("traces", "metrics", "logs")
_PROTOCOLS = ("http/protobuf", "grpc")
_BATCH_DELAY_MS = 60_000
"""The demo lasts seconds: its batch processors export once, at shutdown (as the metric reader, whose interval
is a minute by default, does), so an unreachable collector costs one export timeout, not several."""
_IN_MEMORY_ONLY = "in-memory only (set OTEL_EXPORTER_OTLP_ENDPOINT to send it to a collector)"
_WIDTH = 80
_INDENT = "    "


class DemoError(Exception):
    """A configuration problem found before any call was made (reported to the user, exit code 2)."""


INSTALL_COMMAND = "pip install 'llmtel[all]'"
"""What brings everything the demo needs: the OpenTelemetry SDK, the OTLP exporters and openai."""

# (module, distribution, what the demo needs it for), checked before anything else happens
_REQUIRED = (("opentelemetry.sdk.trace", "opentelemetry-sdk", "for its OpenTelemetry pipeline"),)


def _not_installed(package: str, module: str, purpose: str, exc: ImportError) -> DemoError:
    """The one line a missing dependency gets: what is missing, why it is needed, how to install it."""
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    if missing is not None and (f"{module}.".startswith(f"{missing}.") or missing.startswith(f"{module}.")):
        problem = "is not installed"
    else:  # it is there but fails to import (a dependency of its own is missing, a broken install): say why
        problem = f"cannot be imported ({type(exc).__name__}: {exc})"
    return DemoError(f"{package} {problem}; the demo needs it {purpose}. Install it with: {INSTALL_COMMAND}")


def _check_installed(chosen: Sequence[str]) -> None:
    """Raise DemoError when the OpenTelemetry SDK or a chosen provider's SDK is missing (llmtel needs neither)."""
    required = [
        *_REQUIRED,
        *(
            (p.module, p.distribution, f"for its {p.distribution} SDK calls")
            for p in demo_providers.PROVIDERS
            if p.name in chosen
        ),
    ]
    for module, package, purpose in required:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise _not_installed(package, module, purpose, exc) from exc


def _providers(options: DemoOptions, base_url: str | None) -> tuple[list[str], list[str]]:
    """The providers whose calls the demo makes, and those left out because their SDK is not installed.

    Asked for by name (``--provider``): those, installed or not (a missing one is an error). Otherwise every
    provider whose SDK is installed, on the built-in server; with a real OpenAI endpoint only OpenAI's calls (the
    other providers' calls have no endpoint of theirs to go to).
    """
    if options.providers:
        return list(dict.fromkeys(options.providers)), []
    if base_url:
        return ["openai"], []
    chosen = [p.name for p in demo_providers.PROVIDERS if p.installed()]
    return chosen or ["openai"], [p.name for p in demo_providers.PROVIDERS if p.name not in chosen]


@dataclass(frozen=True)
class DemoOptions:
    base_url: str | None = None
    """A real OpenAI-compatible endpoint; ``None`` means ``OPENAI_BASE_URL`` or else the built-in server."""
    model: str = DEFAULT_MODEL
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    local: bool = False
    """Use the built-in server even when ``OPENAI_BASE_URL`` is set."""
    json: bool = False
    """Print the summary as one JSON object and nothing else on stdout."""
    providers: tuple[str, ...] = ()
    """The providers whose calls to make (names of :data:`llmtel.demo.providers.PROVIDERS`); empty: see
    :func:`_providers`."""


# ----------------------------------------------------------------------------------------------------------
# OTLP export, with a tally of what each exporter delivered
# ----------------------------------------------------------------------------------------------------------


@dataclass
class _Destination:
    """One signal's OTLP exporter: where it sends, and how many items it delivered or failed to."""

    signal: str
    protocol: str
    endpoint: str
    exported: int = 0
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, ok: bool, items: int) -> None:
        with self._lock:
            if ok:
                self.exported += items
            else:
                self.failed += items


def _tallied_span_exporter(inner: SpanExporter, tally: _Destination) -> SpanExporter:
    """``inner``, counting in ``tally`` the spans it delivered or failed to."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class TalliedSpanExporter(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            try:
                result = inner.export(spans)
            except Exception:
                tally.record(False, len(spans))
                raise
            tally.record(result is SpanExportResult.SUCCESS, len(spans))
            return result

        def shutdown(self) -> None:
            inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return inner.force_flush(timeout_millis)

    return TalliedSpanExporter()


def _tallied_log_exporter(inner: LogRecordExporter, tally: _Destination) -> LogRecordExporter:
    """``inner``, counting in ``tally`` the log records it delivered or failed to."""
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

    class TalliedLogExporter(LogRecordExporter):
        def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
            try:
                result = inner.export(batch)
            except Exception:
                tally.record(False, len(batch))
                raise
            tally.record(result is LogRecordExportResult.SUCCESS, len(batch))
            return result

        def shutdown(self) -> None:
            inner.shutdown()  # type: ignore[no-untyped-call]

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return inner.force_flush(timeout_millis)

    return TalliedLogExporter()


def _point_count(data: MetricsData) -> int:
    count = 0
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            count += sum(len(metric.data.data_points) for metric in sm.metrics)
    return count


def _tallied_metric_exporter(inner: MetricExporter, tally: _Destination) -> MetricExporter:
    """``inner``, counting in ``tally`` the metric points it delivered or failed to."""
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

    class TalliedMetricExporter(MetricExporter):
        def export(
            self,
            metrics_data: MetricsData,
            timeout_millis: float = 10_000,
            **kwargs: Any,
        ) -> MetricExportResult:
            points = _point_count(metrics_data)
            try:
                result = inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
            except Exception:
                tally.record(False, points)
                raise
            tally.record(result is MetricExportResult.SUCCESS, points)
            return result

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return inner.force_flush(timeout_millis)

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            inner.shutdown(timeout_millis=timeout_millis, **kwargs)

    # The reader asks the exporter for its preferred temporality/aggregation (which the OTLP exporter takes
    # from OTEL_EXPORTER_OTLP_METRICS_*): pass the inner exporter's on.
    return TalliedMetricExporter(
        preferred_temporality=getattr(inner, "_preferred_temporality", None),
        preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
    )


def _signal_env(signal: str, what: str) -> str | None:
    """``OTEL_EXPORTER_OTLP_<SIGNAL>_<WHAT>``, else ``OTEL_EXPORTER_OTLP_<WHAT>`` (blank counts as unset)."""
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_{what}", f"OTEL_EXPORTER_OTLP_{what}"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _display_endpoint(signal: str, protocol: str) -> str:
    """The URL the exporter sends to, resolved the way the OTLP exporters resolve it."""
    specific = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    if specific:
        return specific
    base = os.environ.get(_OTLP_ENDPOINT, "").strip()
    if protocol == "grpc":
        return base
    return f"{base.removesuffix('/')}/v1/{signal}"


def _otlp_plan() -> list[tuple[str, str]]:
    """(signal, protocol) for every signal that has an OTLP endpoint configured. Raises DemoError."""
    plan: list[tuple[str, str]] = []
    for signal in _SIGNALS:
        if _signal_env(signal, "ENDPOINT") is None:
            continue
        protocol = (_signal_env(signal, "PROTOCOL") or "http/protobuf").lower()
        if protocol not in _PROTOCOLS:
            raise DemoError(
                f"unsupported OTLP protocol {protocol!r} for {signal} (from {_OTLP_PROTOCOL} or "
                f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL); use http/protobuf or grpc"
            )
        plan.append((signal, protocol))
    return plan


def _make_exporter(signal: str, protocol: str) -> Any:
    """The OTLP exporter for one signal; it reads endpoint, headers, TLS, compression from the environment."""
    kwargs: dict[str, Any] = {}
    if _signal_env(signal, "TIMEOUT") is None:
        kwargs["timeout"] = EXPORT_TIMEOUT_S
    if protocol == "grpc":
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans

            return GrpcSpans(**kwargs)
        if signal == "metrics":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcMetrics,
            )

            return GrpcMetrics(**kwargs)
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs

        return GrpcLogs(**kwargs)
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans

        return HttpSpans(**kwargs)
    if signal == "metrics":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics

        return HttpMetrics(**kwargs)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs

    return HttpLogs(**kwargs)


# ----------------------------------------------------------------------------------------------------------
# The pipeline
# ----------------------------------------------------------------------------------------------------------


class _Pipeline:
    """The demo's own providers: in-memory exporters/readers, plus OTLP ones when configured."""

    def __init__(self, service_name: str, plan: list[tuple[str, str]]) -> None:
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import (
            BatchLogRecordProcessor,
            InMemoryLogRecordExporter,
            SimpleLogRecordProcessor,
        )
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader, PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON

        self.service_name = service_name
        self.destinations: dict[str, _Destination] = {}
        # Exporters first: they start no threads, so a failure here leaves nothing behind.
        exporters: list[tuple[str, str, Any]] = []
        for signal, protocol in plan:
            try:
                exporters.append((signal, protocol, _make_exporter(signal, protocol)))
            except ImportError as exc:
                kind = "grpc" if protocol == "grpc" else "http"
                package, module = (
                    f"opentelemetry-exporter-otlp-proto-{kind}",
                    f"opentelemetry.exporter.otlp.proto.{kind}",
                )
                raise _not_installed(package, module, f"to export {signal} over OTLP/{protocol}", exc) from exc
            except Exception as exc:
                raise DemoError(f"cannot create the OTLP {signal} exporter ({protocol}): {exc}") from exc

        # shutdown_on_exit=False: run() shuts the providers down itself, and registers nothing at exit.
        resource = Resource.create({"service.name": service_name})
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(resource=resource, sampler=ALWAYS_ON, shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metric_reader = InMemoryMetricReader()
        readers: list[MetricReader] = [self.metric_reader]
        self.logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))

        for signal, protocol, exporter in exporters:
            endpoint = _display_endpoint(signal, protocol)
            tally = self.destinations[signal] = _Destination(signal, protocol, endpoint)
            if signal == "traces":
                spans = _tallied_span_exporter(exporter, tally)
                processor = BatchSpanProcessor(spans, schedule_delay_millis=_BATCH_DELAY_MS)
                self.tracer_provider.add_span_processor(processor)
            elif signal == "metrics":
                readers.append(PeriodicExportingMetricReader(_tallied_metric_exporter(exporter, tally)))
            else:
                logs = _tallied_log_exporter(exporter, tally)
                log_processor = BatchLogRecordProcessor(logs, schedule_delay_millis=_BATCH_DELAY_MS)
                self.logger_provider.add_log_record_processor(log_processor)
        self.meter_provider = MeterProvider(metric_readers=readers, resource=resource, shutdown_on_exit=False)

    def finished_spans(self) -> tuple[ReadableSpan, ...]:
        return self.spans.get_finished_spans()

    def shutdown(self) -> None:
        """Flush and stop the providers concurrently: unreachable collectors cost one timeout, not three."""
        threads = [
            threading.Thread(target=stop, name=f"llmtel-demo-shutdown-{index}", daemon=True)
            for index, stop in enumerate(
                (self.tracer_provider.shutdown, self.meter_provider.shutdown, self.logger_provider.shutdown)
            )
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


@contextmanager
def _env_default(name: str, value: str) -> Iterator[bool]:
    """Set ``name`` for the duration unless the user set it; yields True when the demo's value is used."""
    if os.environ.get(name, "").strip():
        yield False
        return
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield True
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


# ----------------------------------------------------------------------------------------------------------
# The calls
# ----------------------------------------------------------------------------------------------------------


class _LiveText:
    """Writes streamed text as it arrives, indented and wrapped to the terminal width."""

    _TOKENS = re.compile(r"\n|[^\S\n]*\S+|[^\S\n]+")

    def __init__(self, out: TextIO | None) -> None:
        self._out = out
        self._column = 0

    def write(self, text: str) -> None:
        out = self._out
        if out is None:
            return
        for token in self._TOKENS.findall(text):
            if token == "\n":
                self.end()
                continue
            if self._column and self._column + len(token) > _WIDTH and token[0].isspace():
                self.end()
            if not self._column:
                token = token.lstrip()
                if not token:
                    continue
                out.write(_INDENT)
                self._column = len(_INDENT)
            out.write(token)
            self._column += len(token)
        out.flush()

    def end(self) -> None:
        if self._out is not None and self._column:
            self._out.write("\n")
            self._out.flush()
        self._column = 0


@dataclass
class _Context:
    client: Any
    """The OpenAI client (None when OpenAI's calls are not made)."""
    local: bool
    model: str
    embedding_model: str
    live: _LiveText
    stream_usage_by_demo: bool = False
    """The demo set ``LLMTEL_OPENAI_STREAM_USAGE=true`` (the built-in server is not one llmtel asks by itself)."""
    usage_chunks_seen: int = 0
    """Stream chunks with usage that reached the app's loop."""
    clients: dict[str, Any] = field(default_factory=dict)
    """The other providers' clients, by provider name."""


@dataclass
class _Step:
    label: str
    call: Callable[[_Context], str]
    expect_error: bool = False
    note: Callable[[_Context, Sequence[ReadableSpan]], str] | None = None
    """What to say after a successful call, from its spans (printed where ``call``'s result would be)."""
    provider: str = "openai"


def _chat(ctx: _Context) -> str:
    completion = ctx.client.chat.completions.create(
        model=ctx.model,
        messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": CHAT_PROMPT}],
    )
    return str(completion.choices[0].message.content or "").strip()


def _stream(ctx: _Context) -> str:
    # The built-in server streams the reply word by word, slowly enough to watch (x_* fields are its knobs).
    extra: dict[str, Any] = (
        {"extra_body": {"x_chunks": STREAM_WORDS, "x_delay_ms": STREAM_DELAY_MS}} if ctx.local else {}
    )
    # No stream_options, as in most apps: token usage on a stream is only sent when asked for, and asking for it
    # (llmtel's job) is what the note after the stream explains.
    stream = ctx.client.chat.completions.create(
        model=ctx.model,
        messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": STREAM_PROMPT}],
        stream=True,
        **extra,
    )
    with stream:
        for chunk in stream:
            if getattr(chunk, "usage", None) is not None:
                ctx.usage_chunks_seen += 1
            for choice in chunk.choices:
                if choice.delta is not None and choice.delta.content:
                    ctx.live.write(choice.delta.content)
    ctx.live.end()
    return ""  # already printed, live


def _stream_note(ctx: _Context, spans: Sequence[ReadableSpan]) -> str:
    """Where the stream's token usage came from: the app did not ask for it."""
    attrs = spans[0].attributes or {} if spans else {}
    tokens_in, tokens_out = attrs.get(sc.GEN_AI_USAGE_INPUT_TOKENS), attrs.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS)
    if tokens_in is None and tokens_out is None:
        return (
            "No token usage on the span: the endpoint sent none. llmtel asks for it (stream_options.include_usage) "
            "by itself only on endpoints known to accept it, such as api.openai.com; set "
            f"{config_module.OPENAI_STREAM_USAGE}=true to ask this one too."
        )
    usage = f"tokens in {'-' if tokens_in is None else tokens_in} / out {'-' if tokens_out is None else tokens_out}"
    if ctx.usage_chunks_seen:
        return f"The endpoint sent usage unasked, and the app saw it; the span has it too ({usage})."
    said = (
        "llmtel asked for usage (stream_options.include_usage; the app passed no stream_options) and hid the "
        f"extra usage chunk from the app: the span has {usage}."
    )
    if ctx.stream_usage_by_demo:
        said += (
            " It does this by itself for api.openai.com and other known endpoints; for this built-in server "
            f"the demo turned it on ({config_module.OPENAI_STREAM_USAGE}=true)."
        )
    return said


def _get_weather(city: str) -> dict[str, Any]:
    """The demo's tool: a local function the model can ask for."""
    return {"city": city, "celsius": 21}


def _agent_turn(ctx: _Context) -> str:
    """A small agent: the model asks for a tool, the app runs it, the model answers with the result.

    ``llmtel.agent`` and ``llmtel.tool`` are the app's only telemetry code: they add the invoke_agent span
    (parent of the two LLM calls, with their usage summed) and the execute_tool span, and the agent/tool metrics.
    """
    question = {"role": "user", "content": TOOL_PROMPT}
    with llmtel.agent(AGENT_NAME, description="Answers weather questions with a tool."):
        first = ctx.client.chat.completions.create(model=ctx.model, messages=[question], tools=[WEATHER_TOOL])
        message = first.choices[0].message
        calls = [c for c in message.tool_calls or () if getattr(c, "function", None) is not None]
        if not calls:
            return f"no tool call; the model answered: {str(message.content or '').strip()}"
        messages: list[Any] = [question, message.model_dump(exclude_none=True)]
        ran: list[str] = []
        for call in calls:
            name, arguments = call.function.name, call.function.arguments
            with llmtel.tool(name, call_id=call.id, arguments=arguments) as execution:
                try:
                    city = str(json.loads(arguments).get("city", ""))
                except (ValueError, AttributeError):
                    city = ""
                result = _get_weather(city)
                execution.set_result(result)
            ran.append(f"{name}({arguments}) -> {json.dumps(result)}")
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
        answer = ctx.client.chat.completions.create(model=ctx.model, messages=messages, tools=[WEATHER_TOOL])
        text = str(answer.choices[0].message.content or "").strip()
    return "ran " + ", ".join(ran) + f"; the model answered: {text}"


def _embeddings(ctx: _Context) -> str:
    result = ctx.client.embeddings.create(model=ctx.embedding_model, input=list(EMBEDDING_INPUTS))
    dimensions = len(result.data[0].embedding) if result.data else 0
    return f"{len(result.data)} vectors of {dimensions} dimensions"


def _responses(ctx: _Context) -> str:
    response = ctx.client.responses.create(
        model=ctx.model,
        instructions=SYSTEM_PROMPT,
        input=RESPONSES_PROMPT,
    )
    return str(response.output_text or "").strip()


def _error_model(local: bool) -> str:
    from llmtel.demo.server import RATE_LIMITED

    return RATE_LIMITED if local else NONEXISTENT_MODEL


def _error(ctx: _Context) -> str:
    ctx.client.with_options(max_retries=0).chat.completions.create(
        model=_error_model(ctx.local), messages=[{"role": "user", "content": ERROR_PROMPT}]
    )
    return "the call unexpectedly succeeded"


def _openai_steps(local: bool) -> list[_Step]:
    return [
        _Step("chat completion", _chat),
        _Step("streamed chat completion", _stream, note=_stream_note),
        _Step("agent with a tool", _agent_turn),
        _Step("embeddings", _embeddings),
        _Step("Responses API", _responses),
        _Step(f"error, on purpose (model {_error_model(local)!r})", _error, expect_error=True),
    ]


_PROMPTS = demo_providers.Prompts(
    SYSTEM_PROMPT, CHAT_PROMPT, STREAM_PROMPT, TOOL_PROMPT, EMBEDDING_INPUTS, ERROR_PROMPT
)


def _provider_step(name: str, label: str, call: demo_providers.Call, expect_error: bool) -> _Step:
    def run(ctx: _Context) -> str:
        return call(ctx.clients[name], ctx.live.write, _PROMPTS)

    return _Step(label, run, expect_error=expect_error, provider=name)


def _steps(local: bool, chosen: Sequence[str]) -> list[_Step]:
    """The calls of the chosen providers, provider by provider, labelled with the provider when there are several."""
    steps: list[_Step] = []
    for name in chosen:
        own = (
            _openai_steps(local)
            if name == "openai"
            else [_provider_step(name, *step) for step in demo_providers.STEPS[name]]
        )
        if len(chosen) > 1:
            title = demo_providers.BY_NAME[name].title
            for step in own:
                step.label = f"{title}: {step.label}"
        steps += own
    return steps


@dataclass
class _Outcome:
    step: _Step
    said: str = ""
    error: BaseException | None = None
    spans: list[ReadableSpan] = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        """Why this step counts as a failure of the demo, if it does."""
        if not self.step.expect_error and self.error is not None:
            return f"the call failed: {_describe_error(self.error)}"
        if self.step.expect_error and self.error is None:
            return "the deliberate error did not happen"
        if not self.spans:
            return f"no GenAI span was recorded (is another {self.step.provider} instrumentation active?)"
        return None


_STATUS_PREFIX = re.compile(r"^Error code: \d+ - ")  # the openai SDK's; the status is shown separately


def _genai_spans(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    """The GenAI spans among ``spans`` (an HTTP client instrumentation may add its own)."""
    return [span for span in spans if sc.GEN_AI_OPERATION_NAME in (span.attributes or {})]


def _details_events(records: Sequence[ReadableLogRecord]) -> int:
    return sum(1 for record in records if record.log_record.event_name == DETAILS_EVENT)


def _describe_error(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    name = f"{type(exc).__module__.partition('.')[0]}.{type(exc).__qualname__}"
    if name.startswith("builtins."):
        name = type(exc).__qualname__
    message = _STATUS_PREFIX.sub("", " ".join(str(exc).split()), count=1)
    if len(message) > 120:
        message = message[:117] + "..."
    if isinstance(status, int):
        name = f"{name} (HTTP {status})"
    return f"{name}: {message}" if message else name


# ----------------------------------------------------------------------------------------------------------
# The summary
# ----------------------------------------------------------------------------------------------------------


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 3)


def _call_summary(outcome: _Outcome, span: ReadableSpan) -> dict[str, Any]:
    attrs = span.attributes or {}

    def get(key: str) -> Any:
        value = attrs.get(key)
        return list(value) if isinstance(value, tuple) else value

    ttfc = attrs.get(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    latency = None
    if span.end_time is not None and span.start_time is not None:
        latency = span.end_time - span.start_time
    return {
        "label": outcome.step.label,
        "span_name": span.name,
        "operation": get(sc.GEN_AI_OPERATION_NAME),
        "provider": get(sc.GEN_AI_PROVIDER_NAME),
        "request_model": get(sc.GEN_AI_REQUEST_MODEL),
        "response_model": get(sc.GEN_AI_RESPONSE_MODEL),
        "stream": bool(attrs.get(sc.GEN_AI_REQUEST_STREAM, False)),
        "input_tokens": get(sc.GEN_AI_USAGE_INPUT_TOKENS),
        "output_tokens": get(sc.GEN_AI_USAGE_OUTPUT_TOKENS),
        "latency_ms": _ms(latency),
        "time_to_first_chunk_ms": round(ttfc * 1000, 3) if isinstance(ttfc, (int, float)) else None,
        "finish_reasons": get(sc.GEN_AI_RESPONSE_FINISH_REASONS) or [],
        "error_type": get(sc.ERROR_TYPE),
        "expected_error": outcome.step.expect_error,
        "agent": get(sc.GEN_AI_AGENT_NAME),
        "tool": get(sc.GEN_AI_TOOL_NAME),
    }


def _histogram_points(data: MetricsData | None, name: str) -> list[HistogramDataPoint]:
    from opentelemetry.sdk.metrics.export import HistogramDataPoint

    points: list[HistogramDataPoint] = []
    for rm in data.resource_metrics if data is not None else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    points += [p for p in metric.data.data_points if isinstance(p, HistogramDataPoint)]
    return points


def _metrics_summary(data: MetricsData | None, events: int) -> dict[str, Any]:
    duration = _histogram_points(data, sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
    tokens = _histogram_points(data, sc.GEN_AI_CLIENT_TOKEN_USAGE.name)
    ttfc = _histogram_points(data, sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name)
    tpoc = _histogram_points(data, sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK.name)
    agent = _histogram_points(data, sc.GEN_AI_INVOKE_AGENT_DURATION.name)
    inference_calls = _histogram_points(data, sc.GEN_AI_INVOKE_AGENT_INFERENCE_CALLS.name)
    tool_calls = _histogram_points(data, sc.GEN_AI_INVOKE_AGENT_TOOL_CALLS.name)
    tool = _histogram_points(data, sc.GEN_AI_EXECUTE_TOOL_DURATION.name)

    def timing(points: list[HistogramDataPoint]) -> dict[str, Any]:
        return {"count": sum(p.count for p in points), "sum_ms": round(sum(p.sum for p in points) * 1000, 3)}

    def token_type(kind: str) -> dict[str, int]:
        chosen = [p for p in tokens if (p.attributes or {}).get(sc.GEN_AI_TOKEN_TYPE) == kind]
        return {"count": sum(p.count for p in chosen), "sum": int(sum(p.sum for p in chosen))}

    return {
        sc.GEN_AI_CLIENT_OPERATION_DURATION.name: {
            **timing(duration),
            "errors": sum(p.count for p in duration if (p.attributes or {}).get(sc.ERROR_TYPE) is not None),
        },
        sc.GEN_AI_CLIENT_TOKEN_USAGE.name: {kind: token_type(kind) for kind in ("input", "output")},
        sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name: timing(ttfc),
        sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK.name: timing(tpoc),
        sc.GEN_AI_INVOKE_AGENT_DURATION.name: {
            **timing(agent),
            "inference_calls": int(sum(p.sum for p in inference_calls)),
            "tool_calls": int(sum(p.sum for p in tool_calls)),
        },
        sc.GEN_AI_EXECUTE_TOOL_DURATION.name: timing(tool),
        "content_events": events,
    }


def _exported_summary(pipeline: _Pipeline) -> dict[str, Any]:
    protocols = sorted({d.protocol for d in pipeline.destinations.values()})
    return {
        "otlp": bool(pipeline.destinations),
        "protocol": ", ".join(protocols) or None,
        "service_name": pipeline.service_name,
        "signals": {
            d.signal: {
                "endpoint": d.endpoint,
                "protocol": d.protocol,
                "exported": d.exported,
                "failed": d.failed,
            }
            for d in pipeline.destinations.values()
        },
    }


def _wrap_items(items: list[str], indent: str = _INDENT, sep: str = "   ") -> list[str]:
    """``items`` joined by ``sep`` on lines no wider than the terminal (an item is never split)."""
    lines: list[str] = []
    line = ""
    for item in items:
        candidate = f"{line}{sep}{item}" if line else item
        if line and len(indent) + len(candidate) > _WIDTH:
            lines.append(indent + line)
            line = item
        else:
            line = candidate
    if line:
        lines.append(indent + line)
    return lines


def _fmt_ms(value: Any) -> str:
    return f"{value:.1f} ms" if isinstance(value, (int, float)) else "-"


# The span shown in full: its content attributes hold JSON strings (as exported), pretty-printed below the
# attribute list in this order.
_CONTENT_ATTRIBUTES = (
    sc.GEN_AI_SYSTEM_INSTRUCTIONS,
    sc.GEN_AI_INPUT_MESSAGES,
    sc.GEN_AI_OUTPUT_MESSAGES,
    sc.GEN_AI_TOOL_DEFINITIONS,
    sc.GEN_AI_TOOL_CALL_ARGUMENTS,
    sc.GEN_AI_TOOL_CALL_RESULT,
)
_LABEL = 8  # width of the name/kind/status/scope/event labels


@dataclass(frozen=True)
class _Showcase:
    """The span the text output shows in full, with what it needs from the rest of the telemetry."""

    index: int
    """Its number in the per-span blocks."""
    label: str
    span: ReadableSpan
    parent: str | None
    """Its parent: ``[n] 'name'`` when that is one of the demo's GenAI spans; None for a root span."""
    event: dict[str, Any] | None
    """The attributes of the details event emitted in its context, if there is one."""


def _showcase(outcomes: Sequence[_Outcome], records: Sequence[ReadableLogRecord]) -> _Showcase | None:
    """The chat in which the model asked for a tool (it has the most kinds of content: a question, tool
    definitions, a tool call), else the first chat that succeeded, else the first span."""
    numbered = [(outcome.step.label, span) for outcome in outcomes for span in outcome.spans]

    def finish_reasons(span: ReadableSpan) -> tuple[Any, ...]:
        value = (span.attributes or {}).get(sc.GEN_AI_RESPONSE_FINISH_REASONS)
        return tuple(value) if isinstance(value, (tuple, list)) else ()

    def is_chat(span: ReadableSpan) -> bool:
        attrs = span.attributes or {}
        return attrs.get(sc.GEN_AI_OPERATION_NAME) == "chat" and sc.ERROR_TYPE not in attrs

    for wanted in (lambda s: is_chat(s) and "tool_calls" in finish_reasons(s), is_chat, lambda s: True):
        chosen = next(((i, label, s) for i, (label, s) in enumerate(numbered, 1) if wanted(s)), None)
        if chosen is not None:
            break
    else:
        return None
    index, label, span = chosen
    parent = None
    if span.parent is not None:
        parent = next(
            (
                f"[{i}] {s.name!r}"
                for i, (_, s) in enumerate(numbered, 1)
                if s.context is not None and s.context.span_id == span.parent.span_id
            ),
            "a non-GenAI span",  # e.g. the app's own, had it made one around the call
        )
    event = None
    span_id = span.context.span_id if span.context is not None else None
    for record in records:
        log = record.log_record
        if log.event_name == DETAILS_EVENT and span_id is not None and log.span_id == span_id:
            event = dict(log.attributes or {})
            break
    return _Showcase(index, label, span, parent, event)


def _cut(line: str) -> str:
    return line if len(line) <= _WIDTH else line[: _WIDTH - 3] + "..."


def _attribute_value(value: Any) -> str:
    """An attribute value as its OpenTelemetry type reads in JSON: "text", 7, true, ["stop"]."""
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False)


def _fitted_string(value: str, room: int) -> str:
    """``value`` as a JSON string of at most ``room`` characters, its end cut and marked "..." if need be."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= room:
        return text
    low, high = 0, len(value)  # escapes make the JSON longer than the text: search the longest prefix that fits
    while low < high:
        middle = (low + high + 1) // 2
        if len(json.dumps(value[:middle] + "...", ensure_ascii=False)) <= room:
            low = middle
        else:
            high = middle - 1
    return json.dumps(value[:low] + "...", ensure_ascii=False)


def _pretty_json(value: Any, indent: str, prefix: str = "", suffix: str = "") -> list[str]:
    """``value`` as JSON, on one line when that fits the terminal, else one member or item per line; a string
    too long for its line is cut (a real model's reply can be pages long)."""
    room = _WIDTH - len(indent) - len(prefix) - len(suffix)
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) <= room or not value or not isinstance(value, (list, dict)):
        if isinstance(value, str) and len(flat) > room:
            flat = _fitted_string(value, max(room, 8))
        return [_cut(f"{indent}{prefix}{flat}{suffix}")]
    inner = indent + "  "
    if isinstance(value, dict):
        members = list(value.items())
        body = [
            line
            for n, (key, item) in enumerate(members, 1)
            for line in _pretty_json(item, inner, f"{json.dumps(key)}: ", "," if n < len(members) else "")
        ]
        return [f"{indent}{prefix}{{", *body, f"{indent}}}{suffix}"]
    body = [
        line for n, item in enumerate(value, 1) for line in _pretty_json(item, inner, "", "," if n < len(value) else "")
    ]
    return [f"{indent}{prefix}[", *body, f"{indent}]{suffix}"]


def _labelled(label: str, text: str) -> list[str]:
    """``label`` in the label column, ``text`` wrapped beside it."""
    lines = _wrap_items(text.split(), indent=" " * _LABEL, sep=" ")
    return [label.ljust(_LABEL) + lines[0][_LABEL:], *lines[1:]] if lines else [label]


def _content_json(raw: Any) -> Any:
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw


def _span_in_full(show: _Showcase, capture_note: str) -> list[str]:
    """One span the way an exporter sends it, its content pretty-printed, and its details event."""
    span = show.span
    attrs = dict(span.attributes or {})
    lines = ["", f"Span [{show.index}] in full ({show.label}), as exported", "=" * 40]
    lines += _labelled("name", span.name)
    kind = span.kind.name + (f", child of {show.parent}" if show.parent else ", a root span")
    lines += _labelled("kind", kind)
    status = span.status.status_code.name + (f": {span.status.description}" if span.status.description else "")
    lines += _labelled("status", status)
    scope = span.instrumentation_scope
    if scope is not None:
        lines += _labelled("scope", f"{scope.name} {scope.version or ''}".strip())
    lines.append(f"attributes ({len(attrs)})")
    width = max((len(key) for key in attrs), default=0)
    for key in sorted(attrs):
        value = attrs[key]
        if key in _CONTENT_ATTRIBUTES and isinstance(value, str):
            shown = f"<JSON string, {len(value)} chars: see below>"
        else:
            shown = _attribute_value(value)
        lines.append(_cut(f"{_INDENT}{key:<{width}} = {shown}"))

    # Content is on the span (SPAN_ONLY, SPAN_AND_EVENT), else only on the event (EVENT_ONLY), else nowhere.
    event = show.event or {}
    source, where = attrs, "on the span"
    if not any(key in attrs for key in _CONTENT_ATTRIBUTES):
        source, where = event, "on the details event only"
    content = [key for key in _CONTENT_ATTRIBUTES if key in source]
    if content:
        lines.append(f"content ({where}), pretty-printed; long strings cut to fit")
        for key in content:
            lines.append(f"{_INDENT}{key}")
            lines += _pretty_json(_content_json(source[key]), _INDENT * 2)
    else:
        lines += _labelled(
            "content",
            f"not captured: content capture is {capture_note}. To see the messages here, set it to "
            "SPAN_AND_EVENT or unset it (the demo's default).",
        )

    if show.event is None:
        note = (
            f"none for this span ({DETAILS_EVENT} is emitted when content capture includes events, "
            f"or with {config_module.EMIT_EVENT}=true)"
        )
    else:
        extra = sorted(set(show.event) - set(attrs))
        missing = sorted(set(attrs) - set(show.event))
        if not extra and not missing:
            same = f"the span's {len(attrs)} attributes"
        else:
            same = f"{len(show.event)} attributes: the span's" + "".join(
                f" {word} {', '.join(keys)}" for word, keys in (("plus", extra), ("minus", missing)) if keys
            )
        note = f"{DETAILS_EVENT} (a log record in this span's context), with {same}"
    lines += _labelled("event", note)
    return lines


def _text_summary(summary: dict[str, Any], problems: list[str], in_full: list[str]) -> list[str]:
    calls: list[dict[str, Any]] = summary["calls"]
    lines = ["", f"Telemetry: {len(calls)} GenAI span{'s' if len(calls) != 1 else ''}", "=" * 40]
    for index, call in enumerate(calls, 1):
        stream = " (stream)" if call["stream"] else ""
        lines.append(f"[{index}] {call['label']}: span {call['span_name']!r}{stream}")
        if call["provider"] is None:  # an agent or tool span: no provider, no model
            who = [f"operation {call['operation']}"]
            if call["tool"] is not None:
                who.append(f"tool {call['tool']}")
            if call["agent"] is not None:
                who.append(f"agent {call['agent']}")
            lines += _wrap_items(who)
        else:
            lines += _wrap_items(
                [
                    f"operation {call['operation']}",
                    f"provider {call['provider']}",
                    f"model {call['request_model'] or '-'} -> {call['response_model'] or '-'}",
                ]
            )
        facts: list[str] = []
        if call["input_tokens"] is not None or call["output_tokens"] is not None:
            tokens_in = "-" if call["input_tokens"] is None else call["input_tokens"]
            tokens_out = "-" if call["output_tokens"] is None else call["output_tokens"]
            facts.append(f"tokens in {tokens_in} / out {tokens_out}")
        facts.append(f"latency {_fmt_ms(call['latency_ms'])}")
        if call["time_to_first_chunk_ms"] is not None:
            facts.append(f"first chunk {_fmt_ms(call['time_to_first_chunk_ms'])}")
        if call["finish_reasons"]:
            facts.append("finish " + ",".join(call["finish_reasons"]))
        if call["error_type"] is not None:
            expected = " (expected)" if call["expected_error"] else ""
            facts.append(f"error.type {call['error_type']}{expected}")
        lines += _wrap_items(facts)
    lines += in_full

    metrics = summary["metrics"]
    duration = metrics[sc.GEN_AI_CLIENT_OPERATION_DURATION.name]
    tokens = metrics[sc.GEN_AI_CLIENT_TOKEN_USAGE.name]
    ttfc = metrics[sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name]
    tpoc = metrics[sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK.name]
    agent = metrics[sc.GEN_AI_INVOKE_AGENT_DURATION.name]
    tool = metrics[sc.GEN_AI_EXECUTE_TOOL_DURATION.name]
    rows = [
        (
            sc.GEN_AI_CLIENT_OPERATION_DURATION.name,
            f"{duration['count']} calls, {duration['errors']} with error",
        ),
        (
            sc.GEN_AI_CLIENT_TOKEN_USAGE.name,
            f"input {tokens['input']['sum']}, output {tokens['output']['sum']} tokens",
        ),
        (sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name, f"{ttfc['count']} stream(s)"),
        (sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK.name, f"{tpoc['count']} chunk interval(s)"),
        (
            sc.GEN_AI_INVOKE_AGENT_DURATION.name,
            f"runs {agent['count']}, LLM calls {agent['inference_calls']}, tools {agent['tool_calls']}",
        ),
        (sc.GEN_AI_EXECUTE_TOOL_DURATION.name, f"{tool['count']} tool execution(s)"),
    ]
    lines += ["", "Metrics"]
    lines += [f"{_INDENT}{name:<46} {value}" for name, value in rows]
    lines += ["", "Events"]
    lines.append(f"{_INDENT}{DETAILS_EVENT:<46} {metrics['content_events']}")

    exported = summary["exported_to"]
    lines += ["", "Exported to"]
    if not exported["otlp"]:
        lines.append(f"{_INDENT}{_IN_MEMORY_ONLY}")
    else:
        lines.append(f"{_INDENT}OTLP {exported['protocol']}, service.name={exported['service_name']}")
        for signal, info in exported["signals"].items():
            if info["failed"]:
                status = f"FAILED ({info['failed']} item(s) not delivered)"
            elif info["exported"]:
                status = f"ok ({info['exported']} item(s))"
            else:
                status = "nothing sent"
            lines.append(f"{_INDENT}{signal:<8} {info['endpoint']}  {status}")
        failed = [signal for signal, info in exported["signals"].items() if info["failed"]]
        if failed:
            lines += _wrap_items(
                f"Is a collector listening there? The exporters' own messages about {', '.join(failed)} "
                "are on stderr.".split(),
                sep=" ",
            )
    if problems:
        lines += ["", "Problems"]
        lines += [f"{_INDENT}{problem}" for problem in problems]
    return lines


# ----------------------------------------------------------------------------------------------------------
# run
# ----------------------------------------------------------------------------------------------------------


def _capture_note(set_by_demo: bool) -> str:
    name = config_module.CAPTURE_MESSAGE_CONTENT
    if set_by_demo:
        return f"{DEMO_CAPTURE.value} (the demo's default; set {name} to change it)"
    return f"{os.environ.get(name, '').strip()} (from {name})"


def _instrument(pipeline: _Pipeline, err: TextIO, local: bool) -> tuple[str, bool]:
    """Instrument openai onto the demo's providers; returns how content capture is set, for the header, and
    whether the demo turned stream usage on."""
    from llmtel.providers.openai import OpenAIInstrumentor

    if OpenAIInstrumentor().is_instrumented_by_opentelemetry:
        err.write(
            "llmtel demo: openai was already instrumented in this process; "
            "re-instrumenting it with the demo's own pipeline\n"
        )
        llmtel.uninstrument()
    # Configuration is read once, in instrument(): the demo's defaults only need to be in place then. llmtel
    # asks for a stream's usage by itself only on endpoints known to accept stream_options (api.openai.com,
    # Azure ...); the built-in server is not one of them, so there the demo asks for it, as a user of such a
    # server would. On a real endpoint the automatic rule decides (or the user's LLMTEL_OPENAI_STREAM_USAGE).
    usage_default: AbstractContextManager[bool] = (
        _env_default(config_module.OPENAI_STREAM_USAGE, "true") if local else nullcontext(False)
    )
    with (
        _env_default(config_module.CAPTURE_MESSAGE_CONTENT, DEMO_CAPTURE.value) as set_by_demo,
        usage_default as usage_by_demo,
    ):
        llmtel.instrument(
            tracer_provider=pipeline.tracer_provider,
            meter_provider=pipeline.meter_provider,
            logger_provider=pipeline.logger_provider,
        )
    return _capture_note(set_by_demo), usage_by_demo


def _call_all(
    options: DemoOptions,
    base_url: str | None,
    chosen: Sequence[str],
    left_out: Sequence[str],
    pipeline: _Pipeline,
    text: TextIO | None,
    capture_note: str,
    stream_usage_by_demo: bool,
) -> tuple[list[_Outcome], str | None]:
    """Make the calls, printing each as it goes (in text mode); returns the outcomes and, if the endpoint
    could not be reached, why the remaining calls were skipped."""
    from llmtel.demo.server import FakeOpenAIServer

    live = _LiveText(text)
    outcomes: list[_Outcome] = []
    server: FakeOpenAIServer | None = None
    client: Any = None
    clients: dict[str, Any] = {}
    try:
        if base_url is None or any(name != "openai" for name in chosen):
            server = FakeOpenAIServer().start()
        targets = []
        if "openai" in chosen:
            import openai

            if base_url is None:
                assert server is not None
                client = openai.OpenAI(base_url=server.base_url, api_key=DEFAULT_API_KEY, max_retries=0)
                targets.append(f"the built-in OpenAI-compatible server at {server.base_url}")
            else:
                api_key = os.environ.get("OPENAI_API_KEY", "").strip() or DEFAULT_API_KEY
                client = openai.OpenAI(base_url=base_url, api_key=api_key)
                targets.append(base_url)
        others = [name for name in chosen if name != "openai"]
        if others:
            assert server is not None
            for name in others:
                clients[name] = demo_providers.client(name, server.root_url)
            titles = ", ".join(demo_providers.BY_NAME[name].title for name in others)
            targets.append(f"{titles}: the built-in server at {server.root_url}, in each one's wire format")
        if text is not None:
            sdks = ", ".join(demo_providers.BY_NAME[name].version() for name in chosen)
            lines = [
                f"llmtel demo: {sdks}, instrumented by llmtel {llmtel.__version__}",
                f"calls go to {'; '.join(targets)}",
                f"content capture {capture_note}",
            ]
            if left_out:
                missing = ", ".join(demo_providers.BY_NAME[name].distribution for name in left_out)
                lines.append(f"not installed, so not shown: {missing} (pip install 'llmtel[all]' adds them)")
            for line in lines:
                text.write("\n".join(_wrap_items(line.split(), indent="", sep=" ")) + "\n")
        ctx = _Context(
            client, server is not None, options.model, options.embedding_model, live, stream_usage_by_demo, 0, clients
        )
        steps = _steps(base_url is None, chosen)
        for index, step in enumerate(steps, 1):
            if text is not None:
                text.write(f"\n[{index}/{len(steps)}] {step.label}\n")
                text.flush()
            outcome = _Outcome(step)
            seen = len(pipeline.finished_spans())
            try:
                outcome.said = step.call(ctx)
            except Exception as exc:  # a failing call is reported, the demo goes on
                outcome.error = exc
            live.end()
            # in the order they started: an agent's span before the calls it made
            spans = _genai_spans(pipeline.finished_spans()[seen:])
            outcome.spans = sorted(spans, key=lambda span: span.start_time or 0)
            if step.note is not None and outcome.error is None:
                outcome.said = step.note(ctx, outcome.spans)
            outcomes.append(outcome)
            if text is not None:
                said = outcome.said
                if outcome.error is not None:
                    verb = "caught, as intended:" if step.expect_error else "FAILED:"
                    said = f"{verb} {_describe_error(outcome.error)}"
                for line in _wrap_items(said.split(), sep=" ") if said else ():
                    text.write(line + "\n")
            if _unreachable(outcome.error) and index < len(steps):
                skipped = f"cannot reach {targets[0]}; the remaining {len(steps) - index} call(s) were skipped"
                if text is not None:
                    text.write("\n".join(_wrap_items(skipped.split(), sep=" ")) + "\n")
                return outcomes, skipped
        return outcomes, None
    finally:
        if client is not None:
            client.close()
        for name, other in clients.items():
            demo_providers.close(name, other)
        if server is not None:
            server.stop()


def _unreachable(exc: BaseException | None) -> bool:
    """The (real) OpenAI endpoint cannot be reached: the remaining calls would fail the same way."""
    openai = sys.modules.get("openai")
    return exc is not None and openai is not None and isinstance(exc, openai.APIConnectionError)


def run(options: DemoOptions, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the demo; return the exit code (0 success, 1 a call did not behave, 2 configuration error).

    In JSON mode nothing but the summary object is written to ``out``. Notes go to ``err``.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    base_url = options.base_url or (None if options.local else os.environ.get("OPENAI_BASE_URL", "").strip())
    service_name = os.environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME
    chosen, left_out = _providers(options, base_url)
    try:
        _check_installed(chosen)
        pipeline = _Pipeline(service_name, _otlp_plan())
    except DemoError as exc:
        err.write(f"llmtel demo: {exc}\n")
        return 2

    text = None if options.json else out
    try:
        try:
            capture_note, usage_by_demo = _instrument(pipeline, err, local=not base_url)
            outcomes, unreachable = _call_all(
                options, base_url or None, chosen, left_out, pipeline, text, capture_note, usage_by_demo
            )
        finally:
            llmtel.uninstrument()
        metrics_data = pipeline.metric_reader.get_metrics_data()
        records = pipeline.logs.get_finished_logs()
        events = _details_events(records)
        if text is not None and pipeline.destinations:
            text.write("\nflushing telemetry to the OTLP endpoint(s)...\n")
            text.flush()
    finally:
        pipeline.shutdown()

    problems = [
        f"[{index}] {outcome.step.label}: {problem}"
        for index, outcome in enumerate(outcomes, 1)
        if (problem := outcome.problem) is not None
    ]
    if unreachable:
        problems.append(unreachable)
    summary: dict[str, Any] = {
        "calls": [_call_summary(outcome, span) for outcome in outcomes for span in outcome.spans],
        "metrics": _metrics_summary(metrics_data, events),
        "exported_to": _exported_summary(pipeline),
    }
    if options.json:
        out.write(json.dumps(summary, indent=2) + "\n")
    else:
        show = _showcase(outcomes, records)
        in_full = _span_in_full(show, capture_note) if show is not None else []
        out.write("\n".join(_text_summary(summary, problems, in_full)) + "\n")
    out.flush()
    for problem in problems:
        err.write(f"llmtel demo: {problem}\n")
    return 1 if problems else 0
