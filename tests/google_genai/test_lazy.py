"""Lazy install: the provider package imports nothing of the SDK, wrapt or opentelemetry.instrumentation; the SDK
is wrapped when the app imports it (after instrumentation), and the entry-point class loads only when asked for."""

from __future__ import annotations

import json
import subprocess
import sys

APP = """
import json, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

before = set(sys.modules)
from llmtel.providers import google_genai as provider
imported = sorted(m for m in set(sys.modules) - before if m.startswith(("google", "wrapt", "opentelemetry.instr")))

exporter = InMemorySpanExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
provider.install(tracer_provider=tracer_provider)
sdk_loaded = "google.genai" in sys.modules
instrumentation_loaded = "opentelemetry.instrumentation" in sys.modules

from google import genai  # the app's own import, after instrumentation
from google.genai import types
from llmtel.demo.server import FakeOpenAIServer

with FakeOpenAIServer() as server:
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.root_url))
    client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
provider.uninstall()
entry_point = provider.GoogleGenAIInstrumentor.__name__
print(json.dumps({
    "imported": imported,
    "sdk_loaded_by_install": sdk_loaded,
    "instrumentation_loaded_by_install": instrumentation_loaded,
    "spans": [s.name for s in exporter.get_finished_spans() if "gen_ai.operation.name" in (s.attributes or {})],
    "entry_point": entry_point,
}))
"""


def test_install_imports_nothing_and_instruments_the_later_import() -> None:
    done = subprocess.run([sys.executable, "-c", APP], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "imported": [],
        "sdk_loaded_by_install": False,
        "instrumentation_loaded_by_install": False,
        "spans": ["generate_content gemini-2.5-flash", "generate_content gemini-2.5-flash"],
        "entry_point": "GoogleGenAIInstrumentor",
    }


def test_unknown_attribute() -> None:
    import pytest

    from llmtel.providers import google_genai

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        google_genai.Nope  # noqa: B018
