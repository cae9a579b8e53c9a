"""The Anthropic provider loads lazily: importing it (and llmtel.instrument()) loads none of the SDK, wrapt, the
translation modules or opentelemetry.instrumentation; the SDK is wrapped when the app imports it; the entry
point's class and llmtel's own install share one state."""

from __future__ import annotations

import json
import subprocess
import sys

APP = """
import json, sys
before = set(sys.modules)
from llmtel.providers import anthropic as provider
provider.install()
heavy = ("anthropic", "wrapt", "opentelemetry.instrumentation", "llmtel.providers.anthropic.")
loaded = sorted(m for m in set(sys.modules) - before if m.startswith(heavy))
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
provider.uninstall()
provider.install(tracer_provider=tracer_provider)
import anthropic  # the app's own import, after instrumentation
from llmtel.demo.server import FakeOpenAIServer
with FakeOpenAIServer() as server:
    client = anthropic.Anthropic(base_url=server.root_url, api_key="k", max_retries=0)
    client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
provider.uninstall()
print(json.dumps({"loaded": loaded, "spans": [s.name for s in exporter.get_finished_spans()]}))
"""

SHARED = """
import json
from llmtel.providers import anthropic as provider
from llmtel.providers.anthropic import AnthropicInstrumentor
import anthropic

original = anthropic.resources.messages.Messages.__dict__["create"]
seen = []
def state():
    create = anthropic.resources.messages.Messages.__dict__["create"]
    wrappers = 0
    while create is not original:
        create, wrappers = create.__wrapped__, wrappers + 1
    seen.append([AnthropicInstrumentor().is_instrumented_by_opentelemetry, provider.installed(), wrappers])

AnthropicInstrumentor().instrument()  # as opentelemetry-instrument does
state()
provider.install()  # as llmtel.instrument() does: no second wrapper
state()
provider.uninstall()
state()
print(json.dumps(seen))
"""


def run(code: str) -> object:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_install_imports_no_sdk_and_still_instruments_it_later() -> None:
    assert run(APP) == {"loaded": [], "spans": ["chat claude-x"]}


def test_entry_point_instrumentor_and_install_share_one_state() -> None:
    assert run(SHARED) == [[True, True, 1], [True, True, 1], [False, False, 0]]


def test_the_instrumentor_is_importable_lazily() -> None:
    code = (
        "import json, sys\nimport llmtel.providers.anthropic as p\n"
        "before = 'opentelemetry.instrumentation' in sys.modules\ncls = p.AnthropicInstrumentor\n"
        "print(json.dumps([before, cls.__name__, list(cls().instrumentation_dependencies())]))"
    )
    assert run(code) == [False, "AnthropicInstrumentor", ["anthropic >= 0.40"]]
