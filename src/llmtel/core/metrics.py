"""The GenAI client instruments, created once per MeterProvider with the conventions' units and buckets."""

from __future__ import annotations

from opentelemetry.metrics import Histogram, Meter

from llmtel import semconv as sc

# Attributes the conventions allow on the client metrics that we deliberately leave out: the system
# fingerprint changes with every backend build, so it would multiply series without telling users anything a
# span does not. Everything else the conventions list for these metrics is low-cardinality.
EXCLUDED_METRIC_ATTRIBUTES = frozenset({sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT})

# Keys copied from an invocation's attributes onto its metric points (error.type goes on duration only).
METRIC_ATTRIBUTE_KEYS: tuple[str, ...] = tuple(
    sorted(
        (sc.GEN_AI_CLIENT_OPERATION_DURATION.attributes | sc.GEN_AI_CLIENT_TOKEN_USAGE.attributes)
        - EXCLUDED_METRIC_ATTRIBUTES
        - {sc.ERROR_TYPE, sc.GEN_AI_TOKEN_TYPE}
    )
)


# The chunk-timing metrics allow fewer attributes (no provider refinement adds to them).
CHUNK_METRIC_ATTRIBUTE_KEYS: tuple[str, ...] = tuple(
    k for k in METRIC_ATTRIBUTE_KEYS if k in sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.attributes
)


def _histogram(meter: Meter, spec: sc.MetricSpec) -> Histogram:
    return meter.create_histogram(
        name=spec.name,
        unit=spec.unit,
        description=spec.description,
        explicit_bucket_boundaries_advisory=list(spec.buckets),
    )


class Instruments:
    """Histograms of the GenAI client metrics, and of the agent and tool metrics that
    :func:`llmtel.agent` / :func:`llmtel.tool` record."""

    __slots__ = (
        "agent_duration",
        "agent_inference_calls",
        "agent_tool_calls",
        "duration",
        "time_per_output_chunk",
        "time_to_first_chunk",
        "token_usage",
        "tool_duration",
    )

    def __init__(self, meter: Meter) -> None:
        self.duration = _histogram(meter, sc.GEN_AI_CLIENT_OPERATION_DURATION)
        self.token_usage = _histogram(meter, sc.GEN_AI_CLIENT_TOKEN_USAGE)
        self.time_to_first_chunk = _histogram(meter, sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
        self.time_per_output_chunk = _histogram(meter, sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK)
        self.agent_duration = _histogram(meter, sc.GEN_AI_INVOKE_AGENT_DURATION)
        self.agent_inference_calls = _histogram(meter, sc.GEN_AI_INVOKE_AGENT_INFERENCE_CALLS)
        self.agent_tool_calls = _histogram(meter, sc.GEN_AI_INVOKE_AGENT_TOOL_CALLS)
        self.tool_duration = _histogram(meter, sc.GEN_AI_EXECUTE_TOOL_DURATION)
