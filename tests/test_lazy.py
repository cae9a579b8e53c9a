"""instrument() imports no provider SDK: each SDK module is wrapped when the app loads it."""

from __future__ import annotations

import json
import subprocess
import sys

APP = """
import json, sys
import llmtel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
before = set(sys.modules)
llmtel.instrument(tracer_provider=provider)
loaded_after_instrument = sorted(m for m in sys.modules if m == "openai" or m.startswith("openai."))
ours_after_instrument = sorted(
    m for m in set(sys.modules) - before if m.startswith(("llmtel", "opentelemetry", "wrapt"))
)

import openai  # the app's own import, after instrumentation
# the import watcher leaves no trace on openai: the SDK's own loader on the module and its spec; it still waits
# for the SDKs this app has not imported (and leaves sys.meta_path once they all are)
loader_ok = openai.__loader__ is openai.__spec__.loader and type(openai.__loader__).__name__ == "SourceFileLoader"
from llmtel import _imports
awaiting = sorted(_imports._pending)
from llmtel.demo.server import FakeOpenAIServer

with FakeOpenAIServer() as server:
    client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    messages = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
    isinstance_ok = isinstance(stream, openai.Stream)
    list(stream)
llmtel.uninstrument()
spans = [s.name for s in exporter.get_finished_spans() if "gen_ai.operation.name" in (s.attributes or {})]
print(json.dumps({
    "loaded": loaded_after_instrument,
    "ours": ours_after_instrument,
    "spans": spans,
    "isinstance": isinstance_ok,
    "sdk_loader_kept": loader_ok,
    "awaiting": awaiting,
}))
"""


def test_instrument_imports_no_sdk_and_still_instruments_it_later() -> None:
    done = subprocess.run([sys.executable, "-c", APP], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # instrument() loaded only the installer (core.install and the provider's table), the configuration, the
    # import watcher and the error guard: no translation module, no telemetry core, no wrapt, no
    # opentelemetry.instrumentation (start-up cost; they load with the app's first openai import)
    assert result == {
        "loaded": [],
        "ours": [
            "llmtel._imports",
            "llmtel._internal",
            "llmtel._providers",
            "llmtel.config",
            "llmtel.core",
            "llmtel.core.install",
            "llmtel.providers",
            "llmtel.providers.anthropic",
            "llmtel.providers.bedrock",
            "llmtel.providers.google_genai",
            "llmtel.providers.openai",
        ],
        "spans": ["chat gpt-4o-mini", "chat gpt-4o-mini"],
        "isinstance": True,
        "sdk_loader_kept": True,
        "awaiting": ["anthropic", "botocore", "google.genai"],
    }


SHARED = """
import json, logging
import llmtel
from llmtel.providers.openai import OpenAIInstrumentor
import openai

original = openai.resources.chat.completions.Completions.__dict__["create"]
seen = []
def state():
    create = openai.resources.chat.completions.Completions.__dict__["create"]
    wrappers = 0
    while create is not original:
        create, wrappers = create.__wrapped__, wrappers + 1
    seen.append([OpenAIInstrumentor().is_instrumented_by_opentelemetry, wrappers])

OpenAIInstrumentor().instrument()  # as opentelemetry-instrument does
state()
llmtel.instrument()  # the app's own call as well: no second wrapper
state()
llmtel.uninstrument()
state()
llmtel.instrument()
state()
OpenAIInstrumentor().uninstrument()
state()
print(json.dumps(seen))
"""


def test_entry_point_instrumentor_and_instrument_share_one_state() -> None:
    done = subprocess.run([sys.executable, "-c", SHARED], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[True, 1], [True, 1], [False, 0], [True, 1], [False, 0]]
    assert "already instrumented" not in done.stderr


ALL_SDKS = """
import json, sys
import llmtel
llmtel.instrument()
watching = any(type(f).__module__.startswith("llmtel") for f in sys.meta_path)
import anthropic, boto3, openai
from google import genai
from llmtel.providers import anthropic as a, bedrock as b, google_genai as g, openai as o
print(json.dumps({
    "watching_before": watching,
    "watching_after": any(type(f).__module__.startswith("llmtel") for f in sys.meta_path),
    "installed": [p.installed() for p in (o, a, b, g)],
    "wrapped": type(anthropic.resources.messages.Messages.__dict__["create"]).__name__,
}))
llmtel.uninstrument()
"""


def test_the_import_watcher_leaves_once_every_sdk_is_imported() -> None:
    """The finder on sys.meta_path is there only while an SDK some provider waits for has not been imported."""
    done = subprocess.run([sys.executable, "-c", ALL_SDKS], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "watching_before": True,
        "watching_after": False,
        "installed": [True, True, True, True],
        "wrapped": "FunctionWrapper",
    }
