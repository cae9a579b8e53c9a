"""End to end, nothing in-process: a plain openai app run under ``opentelemetry-instrument``, exporting OTLP.

The app (written to ``tmp_path``) knows nothing about OpenTelemetry. It talks to the local OpenAI-wire server;
the zero-code agent (configured by environment variables only) loads our instrumentor through its entry point
and exports traces, metrics and logs to an OTLP receiver running in the test (HTTP/protobuf or gRPC). The test
then checks what arrived on the wire.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmtel.demo.server import FakeOpenAIServer
from tests.instrumented import needs_instrument, run_instrumented
from tests.otlp_receiver import OtlpGrpcReceiver, OtlpHttpReceiver, Receiver

SEMCONV_JSON = Path(__file__).resolve().parents[1].parent / "shared" / "semconv" / "genai-semconv.json"

pytestmark = needs_instrument

SCOPE = "llmtel"
HTTP_SCOPE = "opentelemetry.instrumentation.httpx"
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
SPAN_KIND_CLIENT = 3  # opentelemetry.proto.trace.v1.Span.SpanKind
STATUS_UNSET, STATUS_ERROR = 0, 2
CUMULATIVE = 2  # AggregationTemporality
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")
TTFC = "gen_ai.response.time_to_first_chunk"

APP = """\
import json

import openai

client = openai.OpenAI(max_retries=0)  # OPENAI_BASE_URL and OPENAI_API_KEY come from the environment
out = {}

chat = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Say this is a test"}]
)
out["chat"] = {
    "id": chat.id,
    "model": chat.model,
    "text": chat.choices[0].message.content,
    "finish_reason": chat.choices[0].finish_reason,
    "service_tier": chat.service_tier,
    "system_fingerprint": chat.system_fingerprint,
    "usage": chat.usage.model_dump(),
}

chunks = list(
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Count to five please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
)
out["stream"] = {
    "id": chunks[0].id,
    "model": chunks[0].model,
    "text": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
    "finish_reason": [c.choices[0].finish_reason for c in chunks if c.choices][-1],
    "service_tier": chunks[0].service_tier,
    "system_fingerprint": chunks[0].system_fingerprint,
    "usage": chunks[-1].usage.model_dump(),
}

embeddings = client.embeddings.create(model="text-embedding-3-small", input=["hello world", "good night moon"])
out["embeddings"] = {"model": embeddings.model, "usage": embeddings.usage.model_dump(), "count": len(embeddings.data)}

try:
    # extra_body replaces the model on the wire: the server rate-limits the model named "rate-limited"
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"model": "rate-limited"},
    )
except openai.RateLimitError as exc:
    out["error"] = {"status": exc.status_code, "message": str(exc)}

print(json.dumps(out))
"""


# -- decoding OTLP -------------------------------------------------------------------------------------------


def any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def attributes(message: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in message.attributes}


def decoded(attrs: dict[str, Any]) -> dict[str, Any]:
    """Span attributes with the content attributes (JSON strings on spans) decoded."""
    return {k: json.loads(v) if k in CONTENT_KEYS else v for k, v in attrs.items()}


def latest_metrics(receiver: Receiver, scope: str) -> dict[str, Any]:
    """Metric name → the metric from the latest export that carried it (cumulative: that one holds the totals)."""
    found: dict[str, Any] = {}
    for _, sc, metric in receiver.metrics():
        if sc.name == scope:
            found[metric.name] = metric
    return found


def points(metric: Any) -> list[Any]:
    return list(getattr(metric, metric.WhichOneof("data")).data_points)


def key(attrs: dict[str, Any]) -> frozenset[tuple[str, Any]]:
    return frozenset(attrs.items())


# -- running the app -----------------------------------------------------------------------------------------


def run_app(tmp_path: Path, server: FakeOpenAIServer, receiver: Receiver, **extra: str) -> Any:
    app = tmp_path / "app.py"
    app.write_text(APP, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "LLMTEL_"))}
    env.update(
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="test",
        OTEL_SERVICE_NAME="e2e-app",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT",
        OTEL_METRIC_EXPORT_INTERVAL="500",
        **extra,
    )
    proc = run_instrumented(app, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Failed to export" not in proc.stderr, proc.stderr
    assert not receiver.errors
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # the app itself worked: the calls succeeded and the 429 reached it as the SDK's exception
    assert out["chat"]["text"] and out["stream"]["text"] == out["chat"]["text"]
    assert out["embeddings"]["count"] == 2
    assert out["error"]["status"] == 429
    return out


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


TRANSPORTS = [
    pytest.param(OtlpHttpReceiver, {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, id="http"),
    pytest.param(
        OtlpHttpReceiver,
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"},
        id="http-gzip",
    ),
    pytest.param(OtlpGrpcReceiver, {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, id="grpc"),
]


@pytest.mark.parametrize(("receiver_class", "protocol_env"), TRANSPORTS)
def test_openai_app_exports_genai_telemetry(
    tmp_path: Path, server: FakeOpenAIServer, receiver_class: type[Receiver], protocol_env: dict[str, str]
) -> None:
    with receiver_class() as receiver:
        out = run_app(tmp_path, server, receiver, **protocol_env)
        assert receiver.wait_for(
            lambda r: (
                len([s for _, sc, s in r.spans() if sc.name == SCOPE]) >= 4
                and len([x for _, sc, x in r.log_records() if sc.name == SCOPE]) >= 3
                and any(sc.name == SCOPE for _, sc, _ in r.metrics())
            ),
            timeout=10,
        ), "telemetry did not arrive"
        check_transport(receiver, protocol_env)
        check_all(receiver, server, out)


def check_transport(receiver: Receiver, protocol_env: dict[str, str]) -> None:
    if protocol_env.get("OTEL_EXPORTER_OTLP_COMPRESSION") == "gzip":
        assert all(h.get("content-encoding") == "gzip" for h in receiver.received_headers)
    elif isinstance(receiver, OtlpHttpReceiver):
        assert all(h.get("content-type") == "application/x-protobuf" for h in receiver.received_headers)
        assert not any(h.get("content-encoding") for h in receiver.received_headers)


def check_all(receiver: Receiver, server: FakeOpenAIServer, out: dict[str, Any]) -> None:
    # -- resource ---------------------------------------------------------------------------------------------
    everything = [*receiver.spans(), *receiver.metrics(), *receiver.log_records()]
    assert {attributes(resource)["service.name"] for resource, _, _ in everything} == {"e2e-app"}

    # -- GenAI spans ------------------------------------------------------------------------------------------
    genai = [span for _, sc, span in receiver.spans() if sc.name == SCOPE]
    assert sorted(s.name for s in genai) == [
        "chat gpt-4o-mini",
        "chat gpt-4o-mini",
        "chat gpt-4o-mini",
        "embeddings text-embedding-3-small",
    ]
    for span in genai:
        assert span.kind == SPAN_KIND_CLIENT
        assert span.parent_span_id == b""  # the app has no spans of its own
    assert len({s.trace_id for s in genai}) == 4

    endpoint = {"gen_ai.provider.name": "openai", "server.address": "127.0.0.1", "server.port": server.port}
    chat_request = {
        "openai.api.type": "chat_completions",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        **endpoint,
    }

    def chat_response(result: dict[str, Any]) -> dict[str, Any]:
        usage = result["usage"]
        return {
            "gen_ai.response.id": result["id"],
            "gen_ai.response.model": result["model"],
            "gen_ai.response.finish_reasons": [result["finish_reason"]],
            "openai.response.service_tier": result["service_tier"],
            "openai.response.system_fingerprint": result["system_fingerprint"],
            "gen_ai.usage.input_tokens": usage["prompt_tokens"],
            "gen_ai.usage.output_tokens": usage["completion_tokens"],
            "gen_ai.usage.cache_read.input_tokens": usage["prompt_tokens_details"]["cached_tokens"],
            "gen_ai.usage.reasoning.output_tokens": usage["completion_tokens_details"]["reasoning_tokens"],
        }

    def user(text: str) -> list[dict[str, Any]]:
        return [{"role": "user", "parts": [{"type": "text", "content": text}]}]

    def answer(result: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": result["text"]}],
                "finish_reason": result["finish_reason"],
            }
        ]

    by_id = {}
    for span in genai:
        attrs = attributes(span)
        by_id[attrs.get("gen_ai.response.id", "error" if "error.type" in attrs else "embeddings")] = span

    chat_span = by_id[out["chat"]["id"]]
    assert out["chat"]["model"] == "gpt-4o-mini-2026-01-01"
    assert decoded(attributes(chat_span)) == {
        **chat_request,
        **chat_response(out["chat"]),
        "gen_ai.input.messages": user("Say this is a test"),
        "gen_ai.output.messages": answer(out["chat"]),
    }
    assert chat_span.status.code == STATUS_UNSET

    stream_span = by_id[out["stream"]["id"]]
    stream_attrs = decoded(attributes(stream_span))
    ttfc = stream_attrs.pop(TTFC)
    assert isinstance(ttfc, float)
    assert 0 < ttfc * 1e9 <= stream_span.end_time_unix_nano - stream_span.start_time_unix_nano
    assert stream_attrs == {
        **chat_request,
        "gen_ai.request.stream": True,
        **chat_response(out["stream"]),
        "gen_ai.input.messages": user("Count to five please"),
        "gen_ai.output.messages": answer(out["stream"]),
    }
    assert stream_span.status.code == STATUS_UNSET

    error_span = by_id["error"]
    assert decoded(attributes(error_span)) == {
        **chat_request,
        "error.type": "429",
        "gen_ai.input.messages": user("hi"),
    }
    assert error_span.status.code == STATUS_ERROR
    assert error_span.status.message == out["error"]["message"]

    embeddings_span = by_id["embeddings"]
    assert attributes(embeddings_span) == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.model": "text-embedding-3-small",
        **endpoint,
        "gen_ai.response.model": out["embeddings"]["model"],
        "gen_ai.usage.input_tokens": out["embeddings"]["usage"]["prompt_tokens"],
    }

    # -- the HTTP client spans (opentelemetry-instrumentation-httpx instruments httpx2 too) ---------------------
    http = [span for _, sc, span in receiver.spans() if sc.name == HTTP_SCOPE]
    assert len(http) == 4  # one per request: no retries (max_retries=0)
    parents = {s.span_id: s for s in genai}
    for span in http:
        parent = parents[span.parent_span_id]  # every HTTP span is a child of a GenAI span
        assert span.trace_id == parent.trace_id
        assert span.kind == SPAN_KIND_CLIENT
        assert parent.start_time_unix_nano <= span.start_time_unix_nano
        assert span.end_time_unix_nano <= parent.end_time_unix_nano
    statuses = {parents[s.parent_span_id].span_id: attributes(s)["http.status_code"] for s in http}
    assert statuses == {
        chat_span.span_id: 200,
        stream_span.span_id: 200,
        embeddings_span.span_id: 200,
        error_span.span_id: 429,
    }
    assert {sc.name for _, sc, _ in receiver.spans()} == {SCOPE, HTTP_SCOPE}

    # -- metrics ----------------------------------------------------------------------------------------------
    metrics = latest_metrics(receiver, SCOPE)
    chat_metric = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        **endpoint,
        "gen_ai.response.model": out["chat"]["model"],
        "openai.response.service_tier": out["chat"]["service_tier"],
    }
    error_metric = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", **endpoint}
    embeddings_metric = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.model": "text-embedding-3-small",
        **endpoint,
        "gen_ai.response.model": out["embeddings"]["model"],
    }

    duration = metrics["gen_ai.client.operation.duration"]
    assert duration.unit == "s"
    assert duration.histogram.aggregation_temporality == CUMULATIVE
    buckets = DURATION_BUCKETS
    if SEMCONV_JSON.exists():
        spec = json.loads(SEMCONV_JSON.read_text(encoding="utf-8"))["metrics"]["gen_ai.client.operation.duration"]
        assert spec["buckets"] == buckets
    counts = {key(attributes(p)): p.count for p in points(duration)}
    assert counts == {
        key(chat_metric): 2,
        key({**error_metric, "error.type": "429"}): 1,
        key(embeddings_metric): 1,
    }
    for point in points(duration):
        assert list(point.explicit_bounds) == buckets
        assert point.sum > 0

    chat_usage, stream_usage = out["chat"]["usage"], out["stream"]["usage"]
    token_usage = metrics["gen_ai.client.token.usage"]
    assert token_usage.unit == "{token}"
    usage = {key(attributes(p)): (p.sum, p.count) for p in points(token_usage)}
    assert usage == {
        key({**chat_metric, "gen_ai.token.type": "input"}): (
            chat_usage["prompt_tokens"] + stream_usage["prompt_tokens"],
            2,
        ),
        key({**chat_metric, "gen_ai.token.type": "output"}): (
            chat_usage["completion_tokens"] + stream_usage["completion_tokens"],
            2,
        ),
        key({**embeddings_metric, "gen_ai.token.type": "input"}): (out["embeddings"]["usage"]["prompt_tokens"], 1),
    }

    time_to_first_chunk = metrics["gen_ai.client.operation.time_to_first_chunk"]
    assert time_to_first_chunk.unit == "s"
    (first_chunk,) = points(time_to_first_chunk)
    assert attributes(first_chunk) == {k: v for k, v in chat_metric.items() if k != "openai.response.service_tier"}
    assert first_chunk.count == 1
    assert first_chunk.sum == pytest.approx(ttfc, abs=1e-9)

    # -- details events ---------------------------------------------------------------------------------------
    records = [(sc, r) for _, sc, r in receiver.log_records()]
    assert {sc.name for sc, _ in records} == {SCOPE}
    events = [r for _, r in records if r.event_name == DETAILS_EVENT]
    assert len(events) == len(records)
    for span in (chat_span, stream_span, error_span):
        (event,) = [e for e in events if e.span_id == span.span_id]
        assert event.trace_id == span.trace_id
        assert event.time_unix_nano == span.end_time_unix_nano
        by_key = {kv.key: kv.value for kv in event.attributes}
        # content travels as structured AnyValues on the event, not as JSON strings
        assert by_key["gen_ai.input.messages"].WhichOneof("value") == "array_value"
        assert all(m.WhichOneof("value") == "kvlist_value" for m in by_key["gen_ai.input.messages"].array_value.values)
        # and the event mirrors the span
        assert attributes(event) == decoded(attributes(span))
    # exactly one per inference call; the embeddings call has none (the event is defined for inference only)
    assert sorted(e.span_id for e in events) == sorted(s.span_id for s in (chat_span, stream_span, error_span))


def test_disabled_instrumentation_sends_no_genai_telemetry(tmp_path: Path, server: FakeOpenAIServer) -> None:
    with OtlpHttpReceiver() as receiver:
        run_app(
            tmp_path,
            server,
            receiver,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="llmtel_openai",
        )
        # the rest of the agent still runs: the HTTP client spans arrive, now as roots
        assert receiver.wait_for(lambda r: len(r.spans()) >= 4, timeout=10)
        http = [span for _, sc, span in receiver.spans()]
        assert {sc.name for _, sc, _ in receiver.spans()} == {HTTP_SCOPE}
        assert len(http) == 4
        assert all(s.parent_span_id == b"" for s in http)
        assert not any(sc.name == SCOPE for _, sc, _ in receiver.metrics())
        assert not any(sc.name == SCOPE for _, sc, _ in receiver.log_records())
        assert {m.name for _, _, m in receiver.metrics()}.isdisjoint(
            {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"}
        )
