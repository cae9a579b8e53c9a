"""End to end, every part in its own process: an app under ``opentelemetry-instrument`` (standing in for the
container) exports OTLP/HTTP to ``llmtel logs serve`` and, next to ``otlp``, writes records locally through
the ``llmtel_logs`` exporters (the entry points pyproject.toml declares); ``llmtel logs --follow`` tails the
served store while the app runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from llmtel.demo.server import FakeOpenAIServer
from llmtel.logs import prices
from tests.instrumented import needs_instrument, run_instrumented
from tests.logs.conftest import API_KEY, Lines, clean_env, run_cli

pytestmark = needs_instrument

APP = """\
import json, sys, time
import openai, llmtel

client = openai.OpenAI(max_retries=0)
tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
history = [{"role": "user", "content": "Weather in Paris?"}]
with llmtel.agent("weather-bot", conversation_id="conv-42"):
    first = client.chat.completions.create(model="gpt-4o-mini", messages=history, tools=tools)
    print(json.dumps({"first_call_done": time.time()}), flush=True)
    call = first.choices[0].message.tool_calls[0]
    with llmtel.tool("get_weather", call_id=call.id):
        result = "rainy, 14 C"
    history += [first.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": result}]
    client.chat.completions.create(model="gpt-4o-mini", messages=history, extra_body={"x_reply": "It is rainy."})
for _ in client.chat.completions.create(model="gpt-4o-mini", messages=history[:1], stream=True):
    pass
try:
    client.chat.completions.create(model="rate-limited", messages=history[:1])
except openai.RateLimitError:
    pass
time.sleep(float(sys.argv[1]))  # alive while the batches go out: --follow must see them before the exit flush
"""


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_container_to_host(tmp_path: Path, server: FakeOpenAIServer, serve: tuple[str, Path, Lines]) -> None:
    url, served_dir, serve_out = serve
    local_dir = tmp_path / "local"
    follow = subprocess.Popen(
        [sys.executable, "-m", "llmtel.logs", "--follow", "--json", str(served_dir)],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    tail = Lines(follow)
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = clean_env(
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY=API_KEY,
        OTEL_SERVICE_NAME="container-app",
        OTEL_TRACES_EXPORTER="otlp,llmtel_logs",
        OTEL_LOGS_EXPORTER="otlp,llmtel_logs",
        OTEL_METRICS_EXPORTER="otlp",  # accepted and dropped by the receiver
        OTEL_METRIC_EXPORT_INTERVAL="300",
        OTEL_EXPORTER_OTLP_ENDPOINT=url,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_COMPRESSION="gzip",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_BLRP_SCHEDULE_DELAY="100",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY",  # content reaches us as events only
        LLMTEL_LOG_DIR=str(local_dir),
    )
    try:
        proc = run_instrumented(app, "1.5", env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr and "Failed to export" not in proc.stderr, proc.stderr
        done = json.loads(proc.stdout.splitlines()[0])["first_call_done"]
        # the first call's record was on the tail within a second of the call returning, while the app ran
        seen, _ = tail.wait(lambda line: '"finish_reasons": ["tool_calls"]' in line)
        assert seen - done < 1.0, seen - done
        tail.wait(lambda line: '"error_type": "429"' in line)
    finally:
        follow.terminate()
        follow.wait(10)

    listed = run_cli("--json", str(served_dir))
    assert listed.returncode == 0, listed.stderr
    served = [json.loads(line) for line in listed.stdout.splitlines()]
    local = [json.loads(line) for line in run_cli("--json", str(local_dir)).stdout.splitlines()]
    assert served == local  # OTLP to the receiver and the in-process exporter: the same records
    assert [(r["request_model"], r["agent"], r["conversation_id"], r["stream"], r["error_type"]) for r in served] == [
        ("rate-limited", None, None, False, "429"),
        ("gpt-4o-mini", None, None, True, None),
        ("gpt-4o-mini", "weather-bot", "conv-42", False, None),
        ("gpt-4o-mini", "weather-bot", "conv-42", False, None),
    ]
    answer = served[2]
    assert answer["service"] == "container-app"
    assert answer["output_messages"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It is rainy."}], "finish_reason": "stop"}
    ]
    call_id = served[3]["output_messages"][0]["parts"][0]["id"]  # the first call's tool call, answered
    assert answer["input_messages"][-1] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": call_id, "response": "rainy, 14 C"}],
    }
    assert answer["duration_ms"] > 0 and answer["total_tokens"] == answer["input_tokens"] + answer["output_tokens"]

    # priced at the bundled list prices (llmtel.logs.prices): the served store and the local one alike
    table = prices.load()
    for r in served:
        cost = table.cost_usd(r["provider"], r["request_model"], r["input_tokens"], r["output_tokens"],
                              r["cache_read_tokens"], r["cache_write_tokens"])  # fmt: skip
        assert r["cost_usd"] == cost, r
    # the failed call has no tokens, nor does the stream (no include_usage): no cost, not 0
    assert [r["cost_usd"] is not None for r in served] == [False, False, True, True]

    # the reader from another process: search, summary
    found = run_cli("--search", "rainy", "--json", str(served_dir))
    assert [json.loads(line) for line in found.stdout.splitlines()] == [answer]
    summary_out = run_cli("summary", "--by", "model", "--json", str(served_dir))
    by_model = {g["model"]: g for g in map(json.loads, summary_out.stdout.splitlines())}
    assert by_model["gpt-4o-mini"]["calls"] == 3
    assert by_model["gpt-4o-mini"]["cost_usd"] == pytest.approx(served[2]["cost_usd"] + served[3]["cost_usd"])
    assert (by_model["rate-limited"]["errors"], by_model["rate-limited"]["cost_usd"]) == (1, None)

    # the API on the same port
    by_agent = _get(f"{url}/api/logs?agent=weather-bot")["records"]
    assert by_agent == served[2:]
    assert _get(f"{url}/api/logs/{answer['span_id']}") == answer
    assert _get(f"{url}/api/logs?has_error=true&limit=5")["records"] == served[:1]
    summary = _get(f"{url}/api/summary?by=agent")
    assert [(g["agent"], g["calls"], g["errors"]) for g in summary["groups"]] == [(None, 2, 1), ("weather-bot", 2, 0)]

    # the reader on both: a thread, one call in full
    thread = run_cli("conversation", "conv-42", "--source", str(served_dir))
    assert thread.returncode == 0, thread.stderr
    assert "→ tool call get_weather" in thread.stdout and "It is rainy." in thread.stdout
    shown = run_cli("show", answer["span_id"][:8], "--source", str(local_dir),
                    env=clean_env(LLMTEL_JAEGER_URL="http://jaeger:16686/"))  # fmt: skip
    assert f"http://jaeger:16686/trace/{answer['trace_id']}" in shown.stdout

    # never the API key: not in any byte either store holds, nor in anything a process printed
    outputs = [proc.stdout, proc.stderr, listed.stdout, thread.stdout, shown.stdout, found.stdout]
    outputs += [line for _, line in tail.lines] + [line for _, line in serve_out.lines]
    assert not [text for text in outputs if API_KEY in text]
    for directory in (served_dir, local_dir):
        files = [p for p in directory.iterdir() if p.is_file()]
        assert files
        for path in files:
            assert API_KEY.encode() not in path.read_bytes(), path
