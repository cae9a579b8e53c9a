"""``llmtel.setup()``: the app calls it instead of running under ``opentelemetry-instrument``.

Each case is a separate interpreter (the global OpenTelemetry providers can be set once per process): a plain
openai app whose only telemetry line is ``llmtel.setup()``, against the local OpenAI-wire server, exporting
over real OTLP to a receiver the test runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmtel.demo.server import FakeOpenAIServer
from tests.otlp_receiver import OtlpHttpReceiver
from tests.test_e2e_otlp import attributes

APP = """\
import json, logging, sys

logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
import llmtel
{before}
configured = llmtel.setup()
again = llmtel.setup()  # idempotent

import openai

client = openai.OpenAI(max_retries=0)
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])
print(json.dumps({{"configured": configured, "again": again, "text": reply.choices[0].message.content,
                  "id": reply.id, "model": reply.model, "usage": reply.usage.model_dump()}}))
"""

APP_CONFIGURED_IN_CODE = """\
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
import atexit
atexit.register(lambda: print(json.dumps(sorted(s.name for s in exporter.get_finished_spans()))))
"""


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def run(tmp_path: Path, server: FakeOpenAIServer, before: str = "", **env_extra: str) -> tuple[list[Any], str]:
    app = tmp_path / "app.py"
    app.write_text(APP.format(before=before), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "LLMTEL_"))}
    env.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="test", **env_extra)
    proc = subprocess.run([sys.executable, str(app)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def test_setup_configures_from_otel_variables_and_instruments(tmp_path: Path, server: FakeOpenAIServer) -> None:
    with OtlpHttpReceiver() as receiver:
        (out,), stderr = run(
            tmp_path,
            server,
            OTEL_SERVICE_NAME="notebook",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
        )
        assert out["configured"] is True and out["again"] is False
        assert receiver.wait_for(lambda r: len(r.spans()) >= 1)
        assert stderr == ""
        assert not receiver.errors
        spans = receiver.spans()
    # exactly our span: setup() loads no other instrumentation (the httpx one is installed in this venv)
    ((resource, scope, span),) = spans
    assert scope.name == "llmtel"
    assert attributes(resource)["service.name"] == "notebook"
    assert span.name == "chat gpt-4o-mini"
    assert attributes(span) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "openai.api.type": "chat_completions",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.response.id": out["id"],
        "gen_ai.response.model": out["model"],
        "gen_ai.response.finish_reasons": ["stop"],
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_demo",
        "gen_ai.usage.input_tokens": out["usage"]["prompt_tokens"],
        "gen_ai.usage.output_tokens": out["usage"]["completion_tokens"],
        "gen_ai.usage.cache_read.input_tokens": 0,
        "gen_ai.usage.reasoning.output_tokens": 0,
    }


def test_setup_keeps_the_apps_own_configuration(tmp_path: Path, server: FakeOpenAIServer) -> None:
    (out, names), stderr = run(tmp_path, server, before=APP_CONFIGURED_IN_CODE, OTEL_TRACES_EXPORTER="console")
    assert out["configured"] is False
    assert names == ["chat gpt-4o-mini"]  # in the app's own provider; nothing printed by a console exporter
    assert stderr == ""


def test_setup_with_a_bad_exporter_warns_once_and_the_app_runs(tmp_path: Path, server: FakeOpenAIServer) -> None:
    (out,), stderr = run(tmp_path, server, OTEL_TRACES_EXPORTER="no-such-exporter", OTEL_METRICS_EXPORTER="none")
    assert out["configured"] is False
    assert out["text"]
    (line,) = [line for line in stderr.splitlines() if line.startswith("llmtel ")]
    assert line.startswith(
        "llmtel WARNING llmtel.setup(): OpenTelemetry could not be configured from the environment ("
    )
    assert "no-such-exporter" in line
    assert line.endswith("; instrumenting with the global providers")
