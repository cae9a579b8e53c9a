"""``llmtel demo``: in-process (JSON and text), as the installed console script, and with OTLP export to a
closed port and to a local OTLP/HTTP receiver.

Token counts are the built-in server's: whitespace word counts of every message ``content`` (and, for the
Responses API, of ``input`` plus ``instructions``); its default reply has ten words; a tool call's output
is the word count of ``{"city": "Paris"}`` (two). The agent step makes two LLM calls (the tool call, then the
answer from the tool's result) inside an ``invoke_agent`` span, with an ``execute_tool`` span between them.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmtel.cli import main
from llmtel.demo import run as demo_run
from llmtel.demo.server import FakeOpenAIServer
from llmtel.providers.openai import OpenAIInstrumentor
from llmtel.version import __version__

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
STREAM_USAGE = "LLMTEL_OPENAI_STREAM_USAGE"

# After the streamed reply: the app passed no stream_options; the usage is on the span all the same.
STREAM_NOTE_BUILT_IN = [
    "    llmtel asked for usage (stream_options.include_usage; the app passed no",
    "    stream_options) and hid the extra usage chunk from the app: the span has",
    "    tokens in 13 / out 10. It does this by itself for api.openai.com and other",
    "    known endpoints; for this built-in server the demo turned it on",
    "    (LLMTEL_OPENAI_STREAM_USAGE=true).",
]
STREAM_NOTE_UNKNOWN_ENDPOINT = [
    "    No token usage on the span: the endpoint sent none. llmtel asks for it",
    "    (stream_options.include_usage) by itself only on endpoints known to accept",
    "    it, such as api.openai.com; set LLMTEL_OPENAI_STREAM_USAGE=true to ask this",
    "    one too.",
]

# (operation, request model, response model, input tokens, output tokens, finish reasons, error.type)
AGENT = ("invoke_agent", None, None, 7 + 11, 2 + 10, [], None)
TOOL = ("execute_tool", None, None, None, None, [], None)
EXPECTED_CALLS = [
    # system "You are a concise assistant." (5) + "Say hello to OpenTelemetry in one sentence." (7)
    ("chat", "gpt-4o-mini", "gpt-4o-mini-2026-01-01", 12, 10, ["stop"], None),
    # system (5) + "Tell me a very short story about tracing." (8); ten chunks of one word
    ("chat", "gpt-4o-mini", "gpt-4o-mini-2026-01-01", 13, 10, ["stop"], None),
    # the agent: its span has the usage of its two calls summed
    AGENT,
    # "What is the weather in Paris today?" (7); arguments {"city": "Paris"} (2)
    ("chat", "gpt-4o-mini", "gpt-4o-mini-2026-01-01", 7, 2, ["tool_calls"], None),
    TOOL,
    # the question (7) + the tool's result {"city": "Paris", "celsius": 21} (4); the default reply (10)
    ("chat", "gpt-4o-mini", "gpt-4o-mini-2026-01-01", 11, 10, ["stop"], None),
    # "OpenTelemetry traces LLM calls." (4) + "Spans, metrics and events." (4)
    ("embeddings", "text-embedding-3-small", "text-embedding-3-small-2026-01-01", 8, None, [], None),
    # instructions (5) + "Explain an OpenTelemetry span in one sentence." (7)
    ("chat", "gpt-4o-mini", "gpt-4o-mini-2026-01-01", 12, 10, ["stop"], None),
    ("chat", "rate-limited", None, None, None, [], "429"),
]


def _otel_env_names() -> list[str]:
    return [name for name in os.environ if name.startswith(("OTEL_", "OPENAI_", "LLMTEL_"))]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTLP endpoint, no real OpenAI endpoint, no capture or llmtel setting: the demo's defaults."""
    for name in _otel_env_names():
        monkeypatch.delenv(name)
    yield


def _new_threads(before: set[int]) -> list[threading.Thread]:
    """Threads started since ``before`` that are still alive after a short grace period."""
    deadline = time.monotonic() + 3
    while True:
        alive = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _run_json(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["demo", "--provider", "openai", "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)


def test_demo_json_summary(capsys: pytest.CaptureFixture[str]) -> None:
    before = {t.ident for t in threading.enumerate()}
    code, summary = _run_json(capsys)
    assert code == 0
    assert set(summary) == {"calls", "metrics", "exported_to"}

    calls = summary["calls"]
    assert len(calls) == 9
    got = [
        (
            c["operation"],
            c["request_model"],
            c["response_model"],
            c["input_tokens"],
            c["output_tokens"],
            c["finish_reasons"],
            c["error_type"],
        )
        for c in calls
    ]
    assert got == EXPECTED_CALLS
    assert [c["provider"] for c in calls] == ["openai"] * 2 + [None, "openai", None] + ["openai"] * 4
    assert [c["agent"] for c in calls] == [None] * 2 + ["weather-assistant"] + [None, "weather-assistant"] + [None] * 4
    assert [c["tool"] for c in calls] == [None] * 4 + ["get_weather"] + [None] * 4
    assert [c["stream"] for c in calls] == [False, True] + [False] * 7
    assert [c["expected_error"] for c in calls] == [False] * 8 + [True]
    assert [c["span_name"] for c in calls] == [
        "chat gpt-4o-mini",
        "chat gpt-4o-mini",
        "invoke_agent weather-assistant",
        "chat gpt-4o-mini",
        "execute_tool get_weather",
        "chat gpt-4o-mini",
        "embeddings text-embedding-3-small",
        "chat gpt-4o-mini",
        "chat rate-limited",
    ]
    stream = calls[1]
    # The server waits 40 ms before each stream event, the first one included.
    assert stream["time_to_first_chunk_ms"] is not None
    assert 30 <= stream["time_to_first_chunk_ms"] <= stream["latency_ms"]
    assert all(c["time_to_first_chunk_ms"] is None for i, c in enumerate(calls) if i != 1)
    assert all(c["latency_ms"] > 0 for c in calls)

    metrics = summary["metrics"]
    duration = metrics["gen_ai.client.operation.duration"]
    llm_calls = [c for c in calls if c["operation"] in ("chat", "embeddings")]
    assert (duration["count"], duration["errors"]) == (7, 1)
    assert duration["sum_ms"] == pytest.approx(sum(c["latency_ms"] for c in llm_calls), abs=0.1)
    assert metrics["gen_ai.client.token.usage"] == {
        "input": {"count": 6, "sum": 12 + 13 + 7 + 11 + 8 + 12},
        "output": {"count": 5, "sum": 10 + 10 + 2 + 10 + 10},
    }
    agent = metrics["gen_ai.invoke_agent.duration"]
    assert (agent["count"], agent["inference_calls"], agent["tool_calls"]) == (1, 2, 1)
    assert agent["sum_ms"] == pytest.approx(calls[2]["latency_ms"], abs=0.01)
    assert metrics["gen_ai.execute_tool.duration"]["count"] == 1
    ttfc = metrics["gen_ai.client.operation.time_to_first_chunk"]
    assert ttfc["count"] == 1
    assert ttfc["sum_ms"] == pytest.approx(stream["time_to_first_chunk_ms"], abs=0.01)
    # role chunk + 10 content chunks + finish chunk = 12 chunks, 11 intervals: the usage chunk llmtel asked for
    # is hidden from the app, and is no output chunk
    assert metrics["gen_ai.client.operation.time_per_output_chunk"]["count"] == 11
    # One details event per inference call; embeddings have none.
    assert metrics["content_events"] == 6

    assert summary["exported_to"] == {
        "otlp": False,
        "protocol": None,
        "service_name": "llmtel-demo",
        "signals": {},
    }
    # Nothing left behind: no threads, no instrumentation, no capture setting.
    assert _new_threads(before) == []
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry
    assert CAPTURE not in os.environ
    assert STREAM_USAGE not in os.environ


def test_demo_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--provider", "openai"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    for expected in (
        "[1/6] chat completion",
        "[2/6] streamed chat completion",
        "[3/6] agent with a tool",
        "[4/6] embeddings",
        "[5/6] Responses API",
        "[6/6] error, on purpose (model 'rate-limited')",
        '    ran get_weather({"city": "Paris"}) -> {"city": "Paris", "celsius": 21}; the',
        "    2 vectors of 8 dimensions",
        "Telemetry: 9 GenAI spans",
        "[3] agent with a tool: span 'invoke_agent weather-assistant'",
        "    operation invoke_agent   agent weather-assistant",
        "[5] agent with a tool: span 'execute_tool get_weather'",
        "    operation execute_tool   tool get_weather   agent weather-assistant",
        "[7] embeddings: span 'embeddings text-embedding-3-small'",
        "    model gpt-4o-mini -> gpt-4o-mini-2026-01-01",
        "    in-memory only (set OTEL_EXPORTER_OTLP_ENDPOINT to send it to a collector)",
    ):
        assert expected in lines, expected
    # The streamed reply, printed as it arrived, then the stream's span with its time to first chunk.
    stream_at = lines.index("[2/6] streamed chat completion")
    assert lines[stream_at + 1] == "    This is a deterministic reply from the llmtel demo server."
    assert lines[stream_at + 2 : stream_at + 8] == [*STREAM_NOTE_BUILT_IN, ""]
    assert "caught, as intended: openai.RateLimitError (HTTP 429)" in out
    assert "[2] streamed chat completion: span 'chat gpt-4o-mini' (stream)" in lines
    stream_facts = [line for line in lines if line.startswith("    tokens in 13 / out 10   latency ")]
    assert len(stream_facts) == 1 and "first chunk" in stream_facts[0]
    assert any("error.type 429 (expected)" in line for line in lines)
    rows = [line.split() for line in lines]
    assert ["gen_ai.client.operation.duration", "7", "calls,", "1", "with", "error"] in rows
    assert ["gen_ai.client.token.usage", "input", "63,", "output", "42", "tokens"] in rows
    assert "gen_ai.invoke_agent.duration runs 1, LLM calls 2, tools 1" in map(" ".join, rows)
    assert ["gen_ai.execute_tool.duration", "1", "tool", "execution(s)"] in rows
    assert ["gen_ai.client.inference.operation.details", "6"] in rows


# The text output's "Span [n] in full" section: the chat in which the model asked for the tool, with every
# attribute (content as JSON strings, pretty-printed after the list) and its details event. {port} is the
# built-in server's, {version} llmtel's.
SPAN_IN_FULL = """\
Span [4] in full (agent with a tool), as exported
========================================
name    chat gpt-4o-mini
kind    CLIENT, child of [3] 'invoke_agent weather-assistant'
status  UNSET
scope   llmtel {version}
attributes (18)
    gen_ai.input.messages                = <JSON string, 91 chars: see below>
    gen_ai.operation.name                = "chat"
    gen_ai.output.messages               = <JSON string, 146 chars: see below>
    gen_ai.provider.name                 = "openai"
    gen_ai.request.model                 = "gpt-4o-mini"
    gen_ai.response.finish_reasons       = ["tool_calls"]
    gen_ai.response.id                   = "chatcmpl-3"
    gen_ai.response.model                = "gpt-4o-mini-2026-01-01"
    gen_ai.tool.definitions              = <JSON string, 214 chars: see below>
    gen_ai.usage.cache_read.input_tokens = 0
    gen_ai.usage.input_tokens            = 7
    gen_ai.usage.output_tokens           = 2
    gen_ai.usage.reasoning.output_tokens = 0
    openai.api.type                      = "chat_completions"
    openai.response.service_tier         = "default"
    openai.response.system_fingerprint   = "fp_demo"
    server.address                       = "127.0.0.1"
    server.port                          = {port}
content (on the span), pretty-printed; long strings cut to fit
    gen_ai.input.messages
        [
          {
            "role": "user",
            "parts": [
              {"type": "text", "content": "What is the weather in Paris today?"}
            ]
          }
        ]
    gen_ai.output.messages
        [
          {
            "role": "assistant",
            "parts": [
              {
                "type": "tool_call",
                "name": "get_weather",
                "id": "call_3",
                "arguments": {"city": "Paris"}
              }
            ],
            "finish_reason": "tool_calls"
          }
        ]
    gen_ai.tool.definitions
        [
          {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {
              "type": "object",
              "properties": {
                "city": {
                  "type": "string",
                  "description": "City name, e.g. Paris"
                }
              },
              "required": ["city"]
            }
          }
        ]
event   gen_ai.client.inference.operation.details (a log record in this span's
        context), with 19 attributes: the span's plus gen_ai.agent.name
"""

# With NO_CONTENT: the same span without its three content attributes, and no details event.
SPAN_IN_FULL_NO_CONTENT = """\
Span [4] in full (agent with a tool), as exported
========================================
name    chat gpt-4o-mini
kind    CLIENT, child of [3] 'invoke_agent weather-assistant'
status  UNSET
scope   llmtel {version}
attributes (15)
    gen_ai.operation.name                = "chat"
    gen_ai.provider.name                 = "openai"
    gen_ai.request.model                 = "gpt-4o-mini"
    gen_ai.response.finish_reasons       = ["tool_calls"]
    gen_ai.response.id                   = "chatcmpl-3"
    gen_ai.response.model                = "gpt-4o-mini-2026-01-01"
    gen_ai.usage.cache_read.input_tokens = 0
    gen_ai.usage.input_tokens            = 7
    gen_ai.usage.output_tokens           = 2
    gen_ai.usage.reasoning.output_tokens = 0
    openai.api.type                      = "chat_completions"
    openai.response.service_tier         = "default"
    openai.response.system_fingerprint   = "fp_demo"
    server.address                       = "127.0.0.1"
    server.port                          = {port}
content not captured: content capture is NO_CONTENT (from
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). To see the messages
        here, set it to SPAN_AND_EVENT or unset it (the demo's default).
event   none for this span (gen_ai.client.inference.operation.details is emitted
        when content capture includes events, or with
        OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=true)
"""


def _span_in_full(out: str) -> str:
    """The text output's "Span [n] in full" section, with the built-in server's port as {port}."""
    port = re.search(r"http://127\.0\.0\.1:(\d+)/v1", out)
    assert port is not None, out
    start = out.index("Span [")
    end = out.index("\n\nMetrics\n", start)
    return out[start : end + 1].replace(f"= {port.group(1)}\n", "= {port}\n")


def test_demo_shows_one_span_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--provider", "openai"]) == 0
    assert _span_in_full(capsys.readouterr().out) == SPAN_IN_FULL.replace("{version}", __version__)


def test_user_capture_setting_wins(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CAPTURE, "NO_CONTENT")
    code, summary = _run_json(capsys)
    assert code == 0
    assert summary["metrics"]["content_events"] == 0
    assert os.environ[CAPTURE] == "NO_CONTENT"
    # In text, the span shown in full says content is not captured, and how to see it.
    assert main(["demo", "--provider", "openai"]) == 0
    expected = SPAN_IN_FULL_NO_CONTENT.replace("{version}", __version__)
    assert _span_in_full(capsys.readouterr().out) == expected


def test_real_endpoint_leaves_stream_usage_to_llmtel(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer
) -> None:
    """With --base-url the demo does not ask for stream usage itself: an endpoint llmtel does not know (this one,
    on 127.0.0.1) gets no stream_options, unless LLMTEL_OPENAI_STREAM_USAGE says otherwise."""
    assert main(["demo", "--base-url", server.base_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    stream_at = lines.index("[2/6] streamed chat completion")
    assert lines[stream_at + 2 : stream_at + 7] == [*STREAM_NOTE_UNKNOWN_ENDPOINT, ""]
    assert "[2] streamed chat completion: span 'chat gpt-4o-mini' (stream)" in lines
    stream_facts = lines[lines.index("[2] streamed chat completion: span 'chat gpt-4o-mini' (stream)") + 3]
    assert stream_facts.startswith("    latency ")

    monkeypatch.setenv(STREAM_USAGE, "true")
    assert main(["demo", "--base-url", server.base_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    stream_at = lines.index("[2/6] streamed chat completion")
    # llmtel asked, on the user's say-so, not the demo's
    assert lines[stream_at + 2 : stream_at + 6] == [*STREAM_NOTE_BUILT_IN[:2], "    tokens in 13 / out 10.", ""]
    assert os.environ[STREAM_USAGE] == "true"


def test_console_script() -> None:
    script = Path(sys.executable).with_name("llmtel")
    if not script.exists():
        pytest.skip("console script not installed next to the interpreter")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    done = subprocess.run(
        [str(script), "demo", "--provider", "openai"], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "Telemetry: 9 GenAI spans" in done.stdout
    assert "in-memory only" in done.stdout
    assert done.stderr == ""


# Runs the CLI in a fresh interpreter in which the modules named in argv[1] (comma-separated) look uninstalled:
# a finder placed first on sys.meta_path answers for them as the import system does for a module that is not
# there. argv[2:] are the CLI's arguments.
_WITHOUT_MODULES = """\
import sys

blocked = tuple(sys.argv[1].split(","))


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if any(name == module or name.startswith(module + ".") for module in blocked):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
from llmtel.cli import main

sys.exit(main(sys.argv[2:]))
"""


def _run_without(modules: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "LLMTEL_"))}
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_MODULES, modules, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
    )


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ("openai", "openai is not installed; the demo needs it for its openai SDK calls."),
        ("opentelemetry.sdk", "opentelemetry-sdk is not installed; the demo needs it for its OpenTelemetry pipeline."),
        # openai is there, a dependency of its own is not
        (
            "pydantic",
            "openai cannot be imported (ModuleNotFoundError: No module named 'pydantic'); the demo needs it for its "
            "openai SDK calls.",
        ),
    ],
)
def test_minimal_install_gets_one_line(modules: str, message: str) -> None:
    done = _run_without(modules, "demo", "--provider", "openai")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"llmtel demo: {message} Install it with: pip install 'llmtel[all]'\n"


def test_otlp_exporter_is_needed_only_with_an_endpoint() -> None:
    done = _run_without("opentelemetry.exporter", "demo", "--json")
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)["exported_to"]["otlp"] is False

    done = _run_without(
        "opentelemetry.exporter", "demo", OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{_closed_port()}"
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "llmtel demo: opentelemetry-exporter-otlp-proto-http is not installed; the demo needs it to export traces "
        "over OTLP/http/protobuf. Install it with: pip install 'llmtel[all]'\n"
    )
    done = _run_without(
        "opentelemetry.exporter",
        "demo",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4317",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
    )
    assert done.stderr == (
        "llmtel demo: opentelemetry-exporter-otlp-proto-grpc is not installed; the demo needs it to export traces "
        "over OTLP/grpc. Install it with: pip install 'llmtel[all]'\n"
    )


def test_help_needs_no_optional_dependency() -> None:
    done = _run_without("openai,opentelemetry.sdk,opentelemetry.exporter", "demo", "--help")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("usage: llmtel demo ")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_collector_does_not_break_the_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.5")
    before = {t.ident for t in threading.enumerate()}
    started = time.monotonic()
    code, summary = _run_json(capsys)
    assert code == 0
    assert time.monotonic() - started < 8
    assert len(summary["calls"]) == 9
    exported = summary["exported_to"]
    assert exported["otlp"] is True
    assert exported["protocol"] == "http/protobuf"
    assert set(exported["signals"]) == {"traces", "metrics", "logs"}
    for signal, info in exported["signals"].items():
        assert info["endpoint"] == f"http://127.0.0.1:{port}/v1/{signal}"
        assert info["exported"] == 0
        assert info["failed"] > 0
    assert exported["signals"]["traces"]["failed"] == 9
    assert exported["signals"]["logs"]["failed"] == 6
    assert _new_threads(before) == []


class _Receiver(BaseHTTPRequestHandler):
    """A minimal OTLP/HTTP receiver: stores each request body by path and answers 200."""

    received: dict[str, list[bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.setdefault(self.path, []).append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_exports_to_an_otlp_http_receiver(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: dict[str, list[bytes]] = {}
    handler = type("Receiver", (_Receiver,), {"received": received})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{httpd.server_address[1]}/")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "demo-under-test")
        code, summary = _run_json(capsys)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    assert code == 0
    signals = summary["exported_to"]["signals"]
    assert summary["exported_to"]["service_name"] == "demo-under-test"
    assert {s: (i["exported"], i["failed"]) for s, i in signals.items() if s != "metrics"} == {
        "traces": (9, 0),
        "logs": (6, 0),
    }
    assert signals["metrics"]["exported"] > 0 and signals["metrics"]["failed"] == 0

    traces = ExportTraceServiceRequest()
    for body in received["/v1/traces"]:
        traces.MergeFromString(body)
    names = [span.name for rs in traces.resource_spans for ss in rs.scope_spans for span in ss.spans]
    assert sorted(names) == sorted(c["span_name"] for c in summary["calls"])
    resources = [rs.resource for rs in traces.resource_spans]
    service = {a.value.string_value for r in resources for a in r.attributes if a.key == "service.name"}
    assert service == {"demo-under-test"}

    metrics = ExportMetricsServiceRequest()
    for body in received["/v1/metrics"]:
        metrics.MergeFromString(body)
    metric_names = {m.name for rm in metrics.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.invoke_agent.duration",
        "gen_ai.execute_tool.duration",
    } <= metric_names

    logs = ExportLogsServiceRequest()
    for body in received["/v1/logs"]:
        logs.MergeFromString(body)
    events = [r.event_name for rl in logs.resource_logs for sl in rl.scope_logs for r in sl.log_records]
    assert events == ["gen_ai.client.inference.operation.details"] * 6


def test_unsupported_protocol_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    assert main(["demo", "--provider", "openai"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "unsupported OTLP protocol 'http/json'" in captured.err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--help"]) == 0
    text = capsys.readouterr().out
    for word in ("--base-url", "--model", "--json", "OTEL_EXPORTER_OTLP_ENDPOINT", "OPENAI_API_KEY", "grpc"):
        assert word in text
    assert main([]) == 2
    assert "demo" in capsys.readouterr().err


def test_already_instrumented_process(capsys: pytest.CaptureFixture[str]) -> None:
    """An app that instrumented openai already: the demo still records its calls, and uninstruments after."""
    OpenAIInstrumentor().instrument()
    try:
        code = main(["demo", "--provider", "openai", "--json"])
        captured = capsys.readouterr()
    finally:
        still_instrumented = OpenAIInstrumentor().is_instrumented_by_opentelemetry
        if still_instrumented:
            OpenAIInstrumentor().uninstrument()
    assert code == 0
    assert len(json.loads(captured.out)["calls"]) == 9
    assert not still_instrumented
    assert "already instrumented" in captured.err


def test_module_constants_match_the_expected_prompts() -> None:
    """The expected token counts above are computed from these prompts."""
    prompts = (demo_run.SYSTEM_PROMPT, demo_run.CHAT_PROMPT, demo_run.STREAM_PROMPT)
    words = [len(text.split()) for text in prompts]
    assert words == [5, 7, 8]
    assert [len(t.split()) for t in demo_run.EMBEDDING_INPUTS] == [4, 4]
    assert len(demo_run.TOOL_PROMPT.split()) == 7
    assert len(demo_run.RESPONSES_PROMPT.split()) == 7


def test_live_text_is_indented_and_wrapped() -> None:
    """Streamed text from a real model can be long and multi-line: it stays indented and within 80 columns."""
    buffer = io.StringIO()
    live = demo_run._LiveText(buffer)
    for piece in ["Tracing", " records", " each", " step.\n\nSecond", " paragraph:", *([" word"] * 40), "."]:
        live.write(piece)
    live.end()
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "    Tracing records each step."
    assert lines[1].startswith("    Second paragraph: word word")
    assert len(lines) == 4
    assert all(line.startswith("    ") and len(line) <= 80 for line in lines)
    words = ["Tracing", "records", "each", "step.", "Second", "paragraph:", *(["word"] * 39), "word."]
    assert buffer.getvalue().split() == words
