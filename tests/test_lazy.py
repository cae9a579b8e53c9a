"""instrument() imports no provider SDK: each SDK module is wrapped when the app loads it."""

from __future__ import annotations

import json
import subprocess
import sys

APP = """
import json, sys
import genai_otel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
genai_otel.instrument(tracer_provider=provider)
loaded_after_instrument = sorted(m for m in sys.modules if m == "openai" or m.startswith("openai."))

import openai  # the app's own import, after instrumentation
from genai_otel.demo.server import FakeOpenAIServer

with FakeOpenAIServer() as server:
    client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    messages = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
    isinstance_ok = isinstance(stream, openai.Stream)
    list(stream)
genai_otel.uninstrument()
spans = [s.name for s in exporter.get_finished_spans() if "gen_ai.operation.name" in (s.attributes or {})]
print(json.dumps({"loaded": loaded_after_instrument, "spans": spans, "isinstance": isinstance_ok}))
"""


def test_instrument_imports_no_sdk_and_still_instruments_it_later() -> None:
    done = subprocess.run([sys.executable, "-c", APP], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"loaded": [], "spans": ["chat gpt-4o-mini", "chat gpt-4o-mini"], "isinstance": True}
