"""The reader against an OTLP JSON encoding that is not ours: the OpenTelemetry JavaScript SDK's own serializer.

test_cli.py's collector files are built with Python's protobuf and our own hex conversion, i.e. our idea of OTLP
JSON. Here real JS SDK spans and log records (a GenAI chat call inside an agent, a failed call, its details
events with structured content) go through @opentelemetry/otlp-transformer's JSON serializers
(tests/logs/otlp_js/encode.cjs, pinned by its package-lock.json), the bytes the JS OTLP/HTTP exporters send as
application/json. Where that encoding differs from Python's protobuf JSON mapping, the reader must still read it:
intValue is a JSON number, not a string (and a whole-number double such as 1.0 arrives as intValue 1), enums are
numbers, a record without a body has ``"body": {}``, span flags carry the W3C "is remote" bits (257).

``llmtel logs FILE --json`` (a subprocess) must give exactly the records below, and so must ``llmtel logs serve``
given the same bytes over HTTP.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from llmtel.logs.record import FIELDS, Record, iso
from tests import nodejs
from tests.logs.conftest import run_cli

ENCODER = Path(__file__).resolve().parent / "otlp_js"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
AGENT_SPAN, CALL_SPAN, FAILED_SPAN = "00f067aa0ba902b7", "00f067aa0ba902b8", "00f067aa0ba902b9"
MS = 10**6
INPUT = [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
OUTPUT = [{"role": "assistant", "parts": [{"type": "text", "content": "Sunny, 21 °C."}], "finish_reason": "stop"}]


@pytest.fixture(scope="module")
def encoded() -> tuple[int, str, str]:
    """(the calls' start in ms, the traces request, the logs request) as the JS SDK serializes them. Recent, so no
    store prunes them as old."""
    start_ms = (time.time_ns() // MS // 1000 - 60) * 1000
    payload = {"traceId": TRACE_ID, "spanIds": [AGENT_SPAN, CALL_SPAN, FAILED_SPAN], "startMs": start_ms}
    out = nodejs.run(ENCODER, "encode.cjs", {**payload, "service": "js-agent"})
    return start_ms, out["traces"], out["logs"]


def record(**fields: Any) -> Record:
    out: Record = dict.fromkeys(FIELDS)
    out.update(fields)
    return out


def expected(start_ms: int) -> list[Record]:
    """Newest first: the failed call, then the call."""
    common = {"trace_id": TRACE_ID, "service": "js-agent", "agent": "planner", "operation": "chat"}
    call = record(
        **common,
        time=iso((start_ms + 10) * MS),
        span_id=CALL_SPAN,
        conversation_id="conv-7",
        provider="openai",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        stream=True,
        duration_ms=250.0,
        time_to_first_chunk_ms=1000.0,
        input_tokens=12,
        output_tokens=7,
        total_tokens=19,
        cache_read_tokens=4,
        reasoning_tokens=0,
        cost_usd=5.7e-06,  # gpt-4o-mini list prices: 8 input x $0.15, 4 cache read x $0.075, 7 output x $0.60 /1M
        finish_reasons=["stop"],
        server_address="api.openai.com",
        system_instructions=[{"type": "text", "content": "Be brief."}],
        input_messages=INPUT,
        output_messages=OUTPUT,
    )
    failed = record(
        **common,
        time=iso((start_ms + 300) * MS),
        span_id=FAILED_SPAN,
        provider="anthropic",
        request_model="claude-sonnet-4-5",
        duration_ms=50.0,
        error_type="429",
        error_message="Error code: 429 - rate limited",
        server_address="api.anthropic.com",
        input_messages=INPUT,
    )
    return [failed, call]


def test_the_encoding_is_the_js_sdks_not_ours(encoded: tuple[int, str, str]) -> None:
    """What makes this encoding foreign, so the test below is not vacuous."""
    _, traces, logs = encoded
    call = next(s for s in json.loads(traces)["resourceSpans"][0]["scopeSpans"][0]["spans"] if s["spanId"] == CALL_SPAN)
    values = {a["key"]: a["value"] for a in call["attributes"]}
    assert values["gen_ai.usage.input_tokens"] == {"intValue": 12}  # a number (protobuf's JSON mapping: "12")
    assert values["gen_ai.response.time_to_first_chunk"] == {"intValue": 1}  # a double that is a whole number
    assert values["gen_ai.request.temperature"] == {"doubleValue": 0.5}
    assert (call["kind"], call["status"], call["flags"]) == (3, {"code": 0}, 257)
    assert isinstance(call["startTimeUnixNano"], str)
    (event, failed_event) = json.loads(logs)["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    assert event["body"] == {} and event["eventName"] == "gen_ai.client.inference.operation.details"
    assert (event["traceId"], event["spanId"], failed_event["spanId"]) == (TRACE_ID, CALL_SPAN, FAILED_SPAN)
    messages = next(a["value"] for a in event["attributes"] if a["key"] == "gen_ai.input.messages")
    assert messages["arrayValue"]["values"][0]["kvlistValue"]["values"][0] == {
        "key": "role",
        "value": {"stringValue": "user"},
    }


def test_llmtel_logs_reads_the_js_files(tmp_path: Path, encoded: tuple[int, str, str]) -> None:
    start_ms, traces, logs = encoded
    traces_file, logs_file = tmp_path / "traces.jsonl", tmp_path / "completions.jsonl"
    traces_file.write_text(traces + "\n", encoding="utf-8")
    logs_file.write_text(logs + "\n", encoding="utf-8")
    both = run_cli(str(logs_file), str(traces_file), "--json")
    assert both.returncode == 0, both.stderr
    assert [json.loads(line) for line in both.stdout.splitlines()] == expected(start_ms)
    # The events alone: no span, so no agent (it is on the invoke_agent span), start, duration or stream; the
    # time is the event's (the call's end); the rest is the event's own.
    alone = run_cli(str(logs_file), "--json")
    assert alone.returncode == 0, alone.stderr
    failed, call = expected(start_ms)
    assert [json.loads(line) for line in alone.stdout.splitlines()] == [
        dict(failed, time=iso((start_ms + 350) * MS), agent=None, duration_ms=None, error_message=None),
        dict(call, time=iso((start_ms + 260) * MS), agent=None, duration_ms=None, stream=None),
    ]


def test_llmtel_logs_serve_takes_the_js_bytes(encoded: tuple[int, str, str], serve: tuple[str, Path, Any]) -> None:
    start_ms, traces, logs = encoded
    url, _, _ = serve
    for path, body in (("/v1/logs", logs), ("/v1/traces", traces)):
        request = urllib.request.Request(
            url.rstrip("/") + path,
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert (response.status, response.read(), response.headers["Content-Type"]) == (
                200,
                b"{}",
                "application/json",
            )
    listed = run_cli(url, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line) for line in listed.stdout.splitlines()] == expected(start_ms)
