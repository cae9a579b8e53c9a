"""The supported botocore range: 1.34.116 (the first with the Converse APIs) and newer. The rest of this folder
runs on the newest botocore with the suite; it was also run on botocore 1.34.116 in a venv of its own (see the
provider's report). Older ones are left alone, with one warning."""

from __future__ import annotations

import json
import subprocess
import sys

from llmtel.providers.bedrock import MIN_VERSION

OLD = """
import json, logging
import botocore
botocore.__version__ = "1.34.115"  # what an older install reports: the gate reads it when botocore is loaded
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import llmtel.providers.bedrock as bedrock

warnings = []
class Keep(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("llmtel").addHandler(Keep())
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
original = botocore.client.BaseClient.__dict__["_make_api_call"] if hasattr(botocore, "client") else None
bedrock.install(tracer_provider=provider)
import boto3, botocore.client
from llmtel.demo.server import FakeOpenAIServer
with FakeOpenAIServer() as server:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=server.root_url,
                          aws_access_key_id="a", aws_secret_access_key="b")
    client.converse(modelId="amazon.nova-micro-v1:0", messages=[{"role": "user", "content": [{"text": "hi"}]}])
print(json.dumps({
    "wrapped": not isinstance(botocore.client.BaseClient.__dict__["_make_api_call"], type(lambda: 0)),
    "spans": len(exporter.get_finished_spans()),
    "warnings": warnings,
}))
"""


def test_older_botocore_is_left_alone_with_one_warning() -> None:
    done = subprocess.run([sys.executable, "-c", OLD], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "wrapped": False,
        "spans": 0,
        "warnings": ["llmtel: botocore 1.34.115 is older than 1.34.116, which llmtel needs; not instrumenting it"],
    }


def test_the_floor_is_the_first_botocore_with_converse() -> None:
    import botocore

    assert MIN_VERSION == (1, 34, 116)
    assert tuple(int(p) for p in botocore.__version__.split(".")[:3]) >= MIN_VERSION
