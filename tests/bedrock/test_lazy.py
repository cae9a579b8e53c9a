"""Installing the Bedrock provider imports nothing of botocore (nor wrapt, nor opentelemetry.instrumentation):
botocore is wrapped when the app imports it; the entry point and install() share one state."""

from __future__ import annotations

import json
import subprocess
import sys

APP = """
import json, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
before = set(sys.modules)
import llmtel.providers.bedrock as bedrock
bedrock.install(tracer_provider=provider)
watched = ("botocore", "boto3", "wrapt", "opentelemetry.instrumentation", "llmtel.providers.bedrock.")
loaded = sorted(m for m in set(sys.modules) - before if m.startswith(watched))

import boto3  # the app's own import, after instrumentation
from llmtel.demo.server import FakeOpenAIServer

with FakeOpenAIServer() as server:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=server.root_url,
                          aws_access_key_id="a", aws_secret_access_key="b")
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    client.converse(modelId="amazon.nova-micro-v1:0", messages=messages)
    list(client.converse_stream(modelId="amazon.nova-micro-v1:0", messages=messages)["stream"])
bedrock.uninstall()
spans = [s.name for s in exporter.get_finished_spans() if "gen_ai.operation.name" in (s.attributes or {})]
print(json.dumps({"loaded": loaded, "spans": spans}))
"""


def test_install_imports_no_sdk_and_instruments_it_later() -> None:
    done = subprocess.run([sys.executable, "-c", APP], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"loaded": [], "spans": ["chat amazon.nova-micro-v1:0", "chat amazon.nova-micro-v1:0"]}


SHARED = """
import json
import llmtel.providers.bedrock as bedrock
from llmtel.providers.bedrock import BedrockInstrumentor
import botocore.client

original = botocore.client.BaseClient.__dict__["_make_api_call"]
seen = []
def state():
    method = botocore.client.BaseClient.__dict__["_make_api_call"]
    wrappers = 0
    while method is not original:
        method, wrappers = method.__wrapped__, wrappers + 1
    seen.append([BedrockInstrumentor().is_instrumented_by_opentelemetry, bedrock.installed(), wrappers])

BedrockInstrumentor().instrument()  # as opentelemetry-instrument does
state()
bedrock.install()  # the app's own call as well: no second wrapper
state()
bedrock.uninstall()
state()
bedrock.install()
state()
BedrockInstrumentor().uninstrument()
state()
print(json.dumps([seen, BedrockInstrumentor().instrumentation_dependencies()]))
"""


def test_entry_point_instrumentor_and_install_share_one_state() -> None:
    done = subprocess.run([sys.executable, "-c", SHARED], capture_output=True, text=True, timeout=60, check=True)
    seen, dependencies = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == [[True, True, 1], [True, True, 1], [False, False, 0], [True, True, 1], [False, False, 0]]
    assert dependencies == ["botocore >= 1.34.116"]


def test_package_import_loads_no_entry_point_machinery() -> None:
    code = (
        "import sys, json; import llmtel.providers.bedrock as b; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('opentelemetry.instrumentation', 'wrapt', "
        "'botocore', 'llmtel.providers.bedrock.'))) + [hasattr(b, 'BedrockInstrumentor')]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True]  # the class loads (lazily) on first use
