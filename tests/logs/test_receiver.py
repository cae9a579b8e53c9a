"""The OTLP/HTTP receiver answers like a collector, over real HTTP: protobuf and JSON, gzip, metrics dropped,
bad bodies refused without a retry loop; the API and the live feed."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from google.protobuf import json_format  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from llmtel.logs import receiver as receiver_module
from llmtel.logs.receiver import Receiver
from llmtel.logs.store import Query, Store
from tests.conftest import Otel
from tests.logs.test_record import MESSAGES, records_of


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Receiver]:
    store = Store(tmp_path / "store", max_age_s=None)
    server = Receiver(store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        store.close()


def post(url: str, body: bytes, content_type: str, **headers: str) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type, **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers["Content-Type"]


def hex_ids(value: Any) -> Any:
    """protobuf's JSON mapping → OTLP/JSON, as the collector's file exporter writes it: ids in hex, not base64."""
    import base64

    if isinstance(value, list):
        return [hex_ids(v) for v in value]
    if isinstance(value, dict):
        return {
            k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") else hex_ids(v)
            for k, v in value.items()
        }
    return value


def otlp_json(otel: Otel) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pipeline's spans and logs as OTLP/JSON requests (the SDK's own protobuf encoder, then the JSON form)."""
    spans = json_format.MessageToDict(encode_spans(otel.span_exporter.get_finished_spans()))
    logs = json_format.MessageToDict(encode_logs(otel.logs()))
    return hex_ids(spans), hex_ids(logs)


def test_sdk_exporters_to_the_receiver(live: Receiver, otel: Otel, client: openai.OpenAI) -> None:
    """The SDK's own OTLP/HTTP exporters (protobuf, gzip) to the receiver: records equal the in-process ones."""
    from opentelemetry.exporter.otlp.proto.http import Compression

    otel.tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(f"{live.url}/v1/traces", compression=Compression.Gzip))
    )
    otel.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(f"{live.url}/v1/logs")))
    otel.instrument("openai", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert live.store.query() == records_of(otel)
    assert len(live.store.query()) == 1


def test_json_bodies_and_responses(live: Receiver, otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument("openai", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    spans, logs = otlp_json(otel)
    # the event first this time, gzip on the spans
    assert post(f"{live.url}/v1/logs", json.dumps(logs).encode(), "application/json") == (
        200,
        b"{}",
        "application/json",
    )
    status, body, _ = post(
        f"{live.url}/v1/traces", gzip.compress(json.dumps(spans).encode()), "application/json", **{
            "Content-Encoding": "gzip"}
    )  # fmt: skip
    assert (status, body) == (200, b"{}")
    assert live.store.query() == records_of(otel)


def test_metrics_accepted_and_dropped(live: Receiver) -> None:
    assert post(f"{live.url}/v1/metrics", b"", "application/x-protobuf") == (200, b"", "application/x-protobuf")
    assert post(f"{live.url}/v1/metrics", b"{}", "application/json")[:2] == (200, b"{}")


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status"),
    [
        (b"\xff\xfe not protobuf", "application/x-protobuf", {}, 400),
        (b"[1, 2]", "application/json", {}, 400),
        (b"{nope", "application/json", {}, 400),
        (b"x", "text/plain", {}, 415),
        (b"x", "application/json", {"Content-Encoding": "br"}, 415),
        (b"not gzip", "application/json", {"Content-Encoding": "gzip"}, 400),
    ],
)
def test_bad_requests_are_refused_not_retried(
    live: Receiver, body: bytes, content_type: str, headers: dict[str, str], status: int
) -> None:
    assert post(f"{live.url}/v1/traces", body, content_type, **headers)[0] == status
    assert live.store.count() == 0


def test_a_gzip_bomb_stops_at_the_cap(live: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receiver_module, "MAX_BODY", 1000)
    bomb = gzip.compress(b"{" + b" " * 100_000 + b"}")
    assert len(bomb) < 1000
    assert post(f"{live.url}/v1/traces", bomb, "application/json", **{"Content-Encoding": "gzip"})[0] == 413


def test_store_failure_is_a_partial_success(
    live: Receiver, otel: Otel, client: openai.OpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK must not retry a batch the store cannot take: 200, with the rejected count and why; one warning
    for the outage however many batches fail, and one when records are written again."""
    otel.instrument("openai")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    request = encode_spans(otel.span_exporter.get_finished_spans()).SerializeToString()
    healthy = live.store
    live.store.close()
    caplog.set_level(logging.WARNING, logger="llmtel")
    for _ in range(3):
        status, body, content_type = post(f"{live.url}/v1/traces", request, "application/x-protobuf")
        response = trace_service_pb2.ExportTraceServiceResponse.FromString(body)
        assert (status, content_type) == (200, "application/x-protobuf")
        assert response.partial_success.rejected_spans == len(otel.span_exporter.get_finished_spans())
        assert response.partial_success.error_message.startswith("records not written: ")
    live.store = Store(tmp_path / "store", max_age_s=None)
    try:
        assert post(f"{live.url}/v1/traces", request, "application/x-protobuf")[0] == 200
        assert len(live.store.query()) == 1
    finally:
        live.store.close()
        live.store = healthy
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("llmtel")]
    assert len(messages) == 2 and messages[0].startswith("llmtel logs serve: records not written: ")
    assert messages[1] == "llmtel logs serve: records are written again"


def test_untrusted_json_shapes_never_break_the_server(live: Receiver) -> None:
    bad_spans = [
        {"resourceSpans": "x"},
        {"resourceSpans": [{"scopeSpans": [{"spans": [1, None, {"traceId": 5}]}]}]},
        {"resourceSpans": [{"scopeSpans": [{"spans": [{
            "traceId": "ab" * 16, "spanId": "cd" * 8, "startTimeUnixNano": "1000", "endTimeUnixNano": "x",
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                           {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "lots"}},
                           {"key": "gen_ai.request.model", "value": {"stringValue": "m\udcff"}},
                           {"key": 3, "value": {}}]}]}]}]},
    ]  # fmt: skip
    for request in bad_spans:
        assert post(f"{live.url}/v1/traces", json.dumps(request).encode(), "application/json")[0] == 200
    (record,) = live.store.query()
    assert (record["request_model"], record["input_tokens"], record["duration_ms"]) == ("m\ufffd", None, None)


def test_api_and_live_feed(live: Receiver, otel: Otel, client: openai.OpenAI) -> None:
    otel.instrument("openai")
    stream = urllib.request.urlopen(f"{live.url}/api/stream?model=gpt-4o-mini", timeout=10)
    assert stream.readline() == b": llmtel logs\n"
    otel.tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(f"{live.url}/v1/traces")))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.chat.completions.create(model="other", messages=MESSAGES)
    lines = [stream.readline(), stream.readline()]
    while lines[0] == b"\n":
        lines = [lines[1], stream.readline()]
    stream.close()
    assert lines[0].startswith(b"data: ") and lines[1] == b"\n"
    record = json.loads(lines[0][len(b"data: ") :])
    assert record == live.store.query(Query(model="gpt-4o-mini"))[0]
    with urllib.request.urlopen(f"{live.url}/api/logs?model=other", timeout=10) as response:
        assert [r["request_model"] for r in json.loads(response.read())["records"]] == ["other"]
    for path, status in (("/api/logs/ffffffffffffffff", 404), ("/api/logs?since=later", 400),
                         ("/api/summary?by=colour", 400), ("/nothing", 404)):  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(f"{live.url}{path}", timeout=10)
        assert failure.value.code == status, path
