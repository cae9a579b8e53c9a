"""One LLM call: start → (chunks) → end | fail. The only producer of GenAI spans, metric points and events.

An adapter creates an :class:`Invocation` with the request's attributes, writes what the response tells into
``inv.response`` (semconv keys), hands content over with :meth:`Invocation.set_content` when ``inv.capture`` is
true, calls :meth:`Invocation.chunk` once per stream chunk, and finally :meth:`Invocation.end` or
:meth:`Invocation.fail`. Ending is idempotent: the first call wins, later ones do nothing.

Durations come from one monotonic clock: the span's end time is its start time plus the same elapsed time the
duration histogram records, so span and metric always agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import _logs, context, metrics, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc
from llmtel._internal import swallowed
from llmtel.config import Config
from llmtel.core import content, values
from llmtel.core.context import agent_of
from llmtel.core.endpoints import Endpoint, EndpointCache
from llmtel.core.metrics import CHUNK_METRIC_ATTRIBUTE_KEYS, METRIC_ATTRIBUTE_KEYS, Instruments
from llmtel.version import __version__

_perf_ns = time.perf_counter_ns
_INPUT = {sc.GEN_AI_TOKEN_TYPE: sc.GenAiTokenTypeValues.INPUT}
_OUTPUT = {sc.GEN_AI_TOKEN_TYPE: sc.GenAiTokenTypeValues.OUTPUT}
DETAILS_EVENT = sc.GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS
_FINISH_REASONS = sc.GEN_AI_RESPONSE_FINISH_REASONS
# Exemplars (metric point → trace) go on the call's latency points, where they answer "show me a slow call". Token
# and per-chunk points get a context without a span, so the SDK skips its exemplar work for them (~5 µs per
# point; bench/); between chunks the current span is the app's, which an exemplar would wrongly point to. Not an
# empty Context: the SDK takes ``context or get_current()``, and an empty Context is falsy (it then looked up the
# current context, ~870 instructions, and attached an exemplar of the app's span after all).
NO_EXEMPLAR = context.Context({"llmtel.no_exemplar": True})  # no span key: the SDK sees no span
SCOPE = "llmtel"


class Telemetry:
    """What one instrumentor uses of OpenTelemetry: a tracer, the instruments, an event logger, the config."""

    __slots__ = ("capture", "config", "endpoint_cache", "instruments", "logger", "tracer")

    def __init__(
        self,
        config: Config,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        logger_provider: _logs.LoggerProvider | None = None,
        scope: str = SCOPE,
    ) -> None:
        self.config = config
        self.capture = config.capture_content  # read on every call: a plain attribute, not the property
        self.endpoint_cache = EndpointCache()  # filled by the providers' endpoint_of
        self.tracer = trace.get_tracer(scope, __version__, tracer_provider, schema_url=sc.SCHEMA_URL)
        meter = metrics.get_meter(scope, __version__, meter_provider, schema_url=sc.SCHEMA_URL)
        self.instruments = Instruments(meter)
        self.logger = _logs.get_logger(scope, __version__, logger_provider, schema_url=sc.SCHEMA_URL)


_INFERENCE_OPERATIONS = frozenset(
    {
        sc.GenAiOperationNameValues.CHAT,
        sc.GenAiOperationNameValues.TEXT_COMPLETION,
        sc.GenAiOperationNameValues.GENERATE_CONTENT,
        sc.GenAiOperationNameValues.EMBEDDINGS,
    }
)
_EVENT_OPERATIONS = _INFERENCE_OPERATIONS - {sc.GenAiOperationNameValues.EMBEDDINGS}


def suppressed(ctx: context.Context | None = None) -> bool:
    """True when this call must not get a span of ours.

    Either OpenTelemetry instrumentation is suppressed in the context, or an inference span is already current:
    ours while an SDK method delegates to another wrapped one (old ``beta...parse`` calls ``create``), or another
    instrumentation's (another OpenAI instrumentation that wrapped the SDK after us, or a framework recording the
    same LLM call). One span per LLM call: the outer one stays alone. Our spans are current only during the SDK's
    own call, never while the app runs, so an app's own nested calls are never suppressed by us.
    """
    if ctx is None:
        ctx = context.get_current()
    if ctx.get(_SUPPRESS_INSTRUMENTATION_KEY):
        return True
    span = trace.get_current_span(ctx)
    if not span.is_recording():
        return False
    attrs = getattr(span, "attributes", None)
    return attrs is not None and attrs.get(sc.GEN_AI_OPERATION_NAME) in _INFERENCE_OPERATIONS


def error_type_of(exc: BaseException) -> str:
    """``error.type``: the HTTP status for API status errors (``429``, ``500`` …), else the exception's class.

    Status codes are low-cardinality and the same across providers, so one alert rule (``error_type="429"``)
    catches rate limiting everywhere. Other errors use ``<top-level package>.<class>`` (``openai.APITimeoutError``,
    ``asyncio.CancelledError``), or the bare name for builtins (``ValueError``).
    """
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        return str(status)
    cls = type(exc)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    return f"{module.partition('.')[0]}.{cls.__qualname__}"


# The metric attributes an invocation knows from its start; the rest of the metric attribute keys come from the
# response (or from request attributes an adapter added), read when the points are recorded.
_START_METRIC_KEYS = frozenset(
    {sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL, sc.SERVER_ADDRESS, sc.SERVER_PORT}
)
assert _START_METRIC_KEYS <= set(CHUNK_METRIC_ATTRIBUTE_KEYS) <= set(METRIC_ATTRIBUTE_KEYS)
_LATE_METRIC_KEYS = tuple(k for k in METRIC_ATTRIBUTE_KEYS if k not in _START_METRIC_KEYS)
_LATE_CHUNK_METRIC_KEYS = tuple(k for k in CHUNK_METRIC_ATTRIBUTE_KEYS if k not in _START_METRIC_KEYS)


class Invocation:
    __slots__ = (
        "_agent",
        "_classify",
        "_content",
        "_context",
        "_ended",
        "_first_chunk",
        "_last_chunk",
        "_metric_base",
        "_reported_error",
        "_start",
        "_start_ns",
        "_telemetry",
        "_tpoc_attributes",
        "_tpoc_record",
        "attributes",
        "capture",
        "response",
        "span",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        operation: str,
        model: str | None,
        endpoint: Endpoint,
        attributes: dict[str, AttributeValue],
        *,
        stream: bool = False,
        parent: context.Context | None = None,
        classify: Callable[[BaseException], str | None] | None = None,
    ) -> None:
        """Start the span, as a child of ``parent`` (default: the current context). ``attributes`` holds the
        request's attributes; it is kept (not copied). ``classify`` is the adapter's ``error.type`` for an
        exception (None: :func:`error_type_of`), on the call's path and a stream's alike."""
        base: dict[str, AttributeValue] = {
            sc.GEN_AI_OPERATION_NAME: operation,
            sc.GEN_AI_PROVIDER_NAME: endpoint.provider,
        }
        if model:
            if not model.isascii():  # the span's name: a lone surrogate there fails the whole export batch
                model = values.text(model)
            base[sc.GEN_AI_REQUEST_MODEL] = model
        if endpoint.address:
            base[sc.SERVER_ADDRESS] = endpoint.address
            if endpoint.port is not None:
                base[sc.SERVER_PORT] = endpoint.port
        attributes.update(base)
        if stream:
            attributes[sc.GEN_AI_REQUEST_STREAM] = True
        # Inside llmtel.agent(...): count this call for the agent, and carry its conversation id.
        agent = agent_of(parent if parent is not None else context.get_current())
        if agent is not None and operation in _EVENT_OPERATIONS:
            agent.inference_calls += 1
            if agent.conversation_id and sc.GEN_AI_CONVERSATION_ID not in attributes:
                attributes[sc.GEN_AI_CONVERSATION_ID] = agent.conversation_id
        else:
            agent = None
        self._agent = agent
        self._classify = classify
        self._metric_base = base
        self._context = parent
        self._telemetry = telemetry
        self.attributes = attributes
        self.response: dict[str, AttributeValue] = {}
        self.capture = telemetry.capture
        self._content: dict[str, Any] | None = None
        self._ended = False
        self._first_chunk = 0
        self._last_chunk = 0
        self._tpoc_attributes: dict[str, AttributeValue] | None = None
        self._reported_error: tuple[str, str | None] | None = None
        self._start_ns = time.time_ns()
        self._start = _perf_ns()
        self.span = telemetry.tracer.start_span(
            f"{operation} {model}" if model else operation,
            parent,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=self._start_ns,
        )

    # -- during the call -------------------------------------------------------------------------------------

    def attach(self) -> object:
        """Make the span current (for the SDK's own HTTP spans) until :meth:`detach` with the returned token."""
        self._context = ctx = trace.set_span_in_context(self.span, self._context)
        return context.attach(ctx)

    @staticmethod
    def detach(token: object) -> None:
        context.detach(token)  # type: ignore[arg-type]

    def set_content(self, name: str, value: Any) -> None:
        """Content attribute ``name`` (structured: lists/dicts). Only call when ``self.capture`` is true."""
        if self._content is None:
            self._content = {}
        self._content[name] = value

    def chunk(self) -> None:
        """One stream chunk arrived. Feeds time to first chunk and the per-chunk histogram."""
        now = _perf_ns()
        last = self._last_chunk
        self._last_chunk = now
        if not last:
            self._first_chunk = now
            self._tpoc_record = self._telemetry.instruments.time_per_output_chunk.record
            return
        attrs = self._tpoc_attributes
        if attrs is None:
            # Made once per stream, from what the adapter wrote so far: a chunk handler writes the model as soon
            # as a chunk names it, before any helper of the response's end has looked at it.
            attrs = self._tpoc_attributes = values.fit_texts(self._metric_attributes(_LATE_CHUNK_METRIC_KEYS))
        self._tpoc_record((now - last) / 1e9, attrs, NO_EXEMPLAR)

    def chunk_point(self) -> tuple[Callable[..., None], dict[str, AttributeValue]] | None:
        """The per-chunk histogram's ``record`` and the point's attributes, once :meth:`chunk` has made both (from
        the second chunk on); None before. A stream loop holding them takes chunk()'s steps itself for each later
        chunk (streams._chunks: one Python call per chunk less): ``record((now - self._last_chunk) / 1e9, attrs,
        NO_EXEMPLAR)`` with ``now`` from the same clock, then ``self._last_chunk = now`` (the span's end reads it)."""
        attrs = self._tpoc_attributes
        return None if attrs is None else (self._tpoc_record, attrs)

    @property
    def ended(self) -> bool:
        return self._ended

    # -- the end ---------------------------------------------------------------------------------------------

    def report_error(self, error_type: str, message: str | None) -> None:
        """The provider reported a failure in-band (e.g. a ``response.failed`` stream event): end as failed."""
        self._reported_error = (error_type, message)

    def end(self) -> None:
        error_type, message = self._reported_error or (None, None)
        self._finish(None, error_type, _perf_ns(), message)

    def fail(self, exc: BaseException | None, error_type: str | None = None, message: str | None = None) -> None:
        """End with an error: an exception, or an error the provider reported in-band (``exc`` None)."""
        if error_type is None and exc is not None and self._classify is not None:
            try:
                error_type = self._classify(exc)
            except Exception:
                swallowed("classifying an error")
        if error_type is None:
            error_type = error_type_of(exc) if exc is not None else sc.ErrorTypeValues.OTHER
        self._finish(exc, error_type, _perf_ns(), message)

    def abandon(self) -> None:
        """The caller dropped the result without finishing it: end as of the last thing we saw happen."""
        self._finish(None, None, self._last_chunk or _perf_ns(), None)

    def _metric_attributes(self, late_keys: tuple[str, ...] = _LATE_METRIC_KEYS) -> dict[str, AttributeValue]:
        attrs, resp = self.attributes, self.response
        out = self._metric_base.copy()
        for key in late_keys:
            value = resp.get(key)
            if value is None:
                value = attrs.get(key)
            if value is not None:
                out[key] = value
        return out

    def _finish(self, exc: BaseException | None, error_type: str | None, at: int, message: str | None) -> None:
        if self._ended:
            return
        self._ended = True
        span = self.span
        elapsed = max(at - self._start, 0)
        try:
            self._record(span, exc, error_type, elapsed, message)
        except Exception:
            swallowed("ending a GenAI span")
        finally:
            span.end(end_time=self._start_ns + elapsed)

    def _record(
        self,
        span: trace.Span,
        exc: BaseException | None,
        error_type: str | None,
        elapsed: int,
        message: str | None,
    ) -> None:
        telemetry = self._telemetry
        instruments = telemetry.instruments
        resp = self.response
        if self._first_chunk:
            ttfc = (self._first_chunk - self._start) / 1e9
            resp[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc
        if error_type is not None:
            # Both may quote the server (an in-band error code, an API error's message). A lone surrogate in the
            # status message would fail the export of the whole batch of spans, not just this attribute.
            resp[sc.ERROR_TYPE] = error_type = values.text(str(error_type))
            if message is None and exc is not None:
                message = str(exc) or type(exc).__name__
            span.set_status(Status(StatusCode.ERROR, values.text(message) if isinstance(message, str) else None))
        # Finish reasons are the server's words, and adapters build the list themselves: checked here, for all of
        # them. Joined, they are one ASCII check (a one-item list joins to its item, without a copy).
        reasons: Any = resp.get(_FINISH_REASONS)
        if reasons is not None:
            try:
                clean = "".join(reasons).isascii()
            except TypeError:
                clean = False
            if not clean:
                resp[_FINISH_REASONS] = values.texts(reasons)
        if resp:
            span.set_attributes(resp)

        metric_attrs = self._metric_attributes()
        # the context the span was current in (exemplars link metric points to it); made now if it never was
        span_ctx = self._context
        if span_ctx is None or trace.get_current_span(span_ctx) is not span:
            span_ctx = trace.set_span_in_context(span)
        if error_type is not None:
            instruments.duration.record(elapsed / 1e9, {**metric_attrs, sc.ERROR_TYPE: error_type}, span_ctx)
        else:
            instruments.duration.record(elapsed / 1e9, metric_attrs, span_ctx)
        if self._first_chunk:
            instruments.time_to_first_chunk.record(
                (self._first_chunk - self._start) / 1e9,
                self._tpoc_attributes or self._metric_attributes(_LATE_CHUNK_METRIC_KEYS),
                span_ctx,
            )
        input_tokens = resp.get(sc.GEN_AI_USAGE_INPUT_TOKENS)
        if isinstance(input_tokens, int):
            instruments.token_usage.record(input_tokens, {**metric_attrs, **_INPUT}, NO_EXEMPLAR)
        output_tokens = resp.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS)
        if isinstance(output_tokens, int):
            instruments.token_usage.record(output_tokens, {**metric_attrs, **_OUTPUT}, NO_EXEMPLAR)
        if self._agent is not None:
            self._agent.add_usage(input_tokens, output_tokens)

        config = telemetry.config
        prepared: dict[str, Any] | None = None
        if self._content:
            prepared, texts = self._prepared_content(config)
            if texts:
                span.set_attributes(texts)
        # The details event is defined for inference operations only (embeddings have no content and no event).
        if config.emit_event and self.attributes.get(sc.GEN_AI_OPERATION_NAME) in _EVENT_OPERATIONS:
            self._emit_event(span_ctx, prepared if config.capture.on_event else None, elapsed)

    def _prepared_content(self, config: Config) -> tuple[dict[str, Any], dict[str, str]]:
        """The content values, redacted and limited, and (when the span carries content) their JSON texts."""
        prepared: dict[str, Any] = {}
        texts: dict[str, str] = {}
        on_span, on_event = config.capture.on_span, config.capture.on_event
        for name, value in (self._content or {}).items():
            if on_span:
                found = content.prepare_with_json(config, name, value, on_event)
                if found is not None:
                    prepared[name], texts[name] = found
            else:
                value = content.prepare(config, name, value)
                if value is not None:
                    prepared[name] = value
        return prepared, texts

    def _emit_event(self, span_ctx: context.Context, prepared: Mapping[str, Any] | None, elapsed: int) -> None:
        attrs: dict[str, Any] = {**self.attributes, **self.response}
        # An extension of the event's attribute set (the span does not carry it: its parent invoke_agent span
        # does): a logs pipeline has no parent span to look at, and "which agent made this call" is the first
        # filter of a completion log (Loki, llmtel logs reading collector files).
        if self._agent is not None and self._agent.name:
            attrs[sc.GEN_AI_AGENT_NAME] = self._agent.name
        if prepared:
            attrs.update(prepared)
        self._telemetry.logger.emit(
            _logs.LogRecord(
                timestamp=self._start_ns + elapsed,
                context=span_ctx,
                event_name=DETAILS_EVENT,
                attributes=attrs,
            )
        )
