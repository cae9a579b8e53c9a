"""``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` switches each provider off alone, by its entry-point name.

An app making one call through every SDK runs under ``opentelemetry-instrument`` (nothing in it knows llmtel); its
spans go to the ``llmtel_logs`` exporter, so the store says which providers were instrumented. Two runs switch off
two providers each, so every provider is once off while the others stay on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmtel.demo.server import FakeOpenAIServer
from llmtel.logs.store import Store
from tests.instrumented import needs_instrument, run_instrumented

pytestmark = needs_instrument

APP = """\
import sys
import openai
from llmtel.demo import providers as demo

root = sys.argv[1]
openai.OpenAI(base_url=root + "/v1", api_key="k", max_retries=0).chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
demo.client("anthropic", root).messages.create(
    model=demo.ANTHROPIC_MODEL, max_tokens=50, messages=[{"role": "user", "content": "hi"}])
demo.client("bedrock", root).converse(
    modelId=demo.BEDROCK_MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}])
gemini = demo.client("gemini", root)  # held: a google-genai Client closes its HTTP client when collected
gemini.models.generate_content(model=demo.GEMINI_MODEL, contents="hi")
"""

ALL = {"openai": "openai", "anthropic": "anthropic", "bedrock": "aws.bedrock", "google_genai": "gcp.gemini"}
"""Entry point ``llmtel_<key>`` → the ``gen_ai.provider.name`` of its calls."""


@pytest.mark.parametrize("disabled", [("anthropic", "google_genai"), ("openai", "bedrock")], ids="+".join)
def test_each_provider_switched_off_alone(tmp_path: Path, server: FakeOpenAIServer, disabled: tuple[str, ...]) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "OTEL_SERVICE_NAME": "disabled-app",
        "OTEL_TRACES_EXPORTER": "llmtel_logs",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "LLMTEL_LOG_DIR": str(tmp_path / "logs"),
        # a space after the comma, as people write it: the SDK strips each name
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ", ".join(f"llmtel_{name}" for name in disabled),
        # anthropic 2.x makes a span of its own for each call when llmtel does not; the records exporter would
        # record that GenAI span too (tests/anthropic cover it), so it is switched off to see llmtel's alone
        "ANTHROPIC_OPEN_TELEMETRY": "false",
    }
    proc = run_instrumented(app, server.root_url, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Store(tmp_path / "logs", create=False) as store:
        found = sorted((r["provider"], r["service"]) for r in store.query())
    assert found == sorted((provider, "disabled-app") for key, provider in ALL.items() if key not in disabled)
