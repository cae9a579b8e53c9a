"""Exemplars (metric point → trace) go on the call's latency points only, and point to the call's own span.

The app's span is current around the call (and between stream chunks): an exemplar on a token-usage or
time-per-chunk point would point to it, and costs the SDK's exemplar work on every point. The SDK's default
exemplar filter (trace-based) is what an app gets.
"""

from __future__ import annotations

from typing import Any

import openai
from opentelemetry import trace

from tests.conftest import Otel
from tests.logs.test_record import MESSAGES


def _exemplar_span_ids(otel: Otel) -> dict[str, list[list[int]]]:
    """Per metric, per data point: the span ids of its exemplars. One collection: the SDK's reservoirs are
    emptied by each collection, so a second one would see no exemplars at all."""
    data = otel.metrics_data()
    return {
        metric.name: [[e.span_id for e in point.exemplars] for point in metric.data.data_points]
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }


def _app_span(otel: Otel) -> Any:
    return otel.tracer_provider.get_tracer("app").start_as_current_span("handle request")


def test_only_latency_points_carry_exemplars_of_the_calls_span(otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument("openai")
    with _app_span(otel) as app:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        for _ in client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        ):
            assert trace.get_current_span() is app  # between chunks: the app's span, not the call's
    chat, stream = (s for s in otel.spans() if s.name.startswith("chat"))
    calls = {chat.context.span_id, stream.context.span_id}
    found = _exemplar_span_ids(otel)
    (durations,) = found["gen_ai.client.operation.duration"]
    # one point (same attributes); the SDK keeps one exemplar per bucket, the last call's: never the app's span
    assert durations and set(durations) <= calls
    (ttfc,) = found["gen_ai.client.operation.time_to_first_chunk"]
    assert ttfc == [stream.context.span_id]
    assert found["gen_ai.client.token.usage"] == [[], []]  # input, output
    assert found["gen_ai.client.operation.time_per_output_chunk"] == [[]]
