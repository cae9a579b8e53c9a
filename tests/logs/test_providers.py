"""Every provider's calls make records: one real SDK call each (the session's demo server speaks every wire
format), the record checked field by field against the span it came from."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest

from llmtel.demo.server import FakeOpenAIServer
from llmtel.logs.record import FIELDS, iso
from tests.conftest import Otel
from tests.logs.test_record import records_of


def _anthropic(server: FakeOpenAIServer) -> None:
    import anthropic

    with anthropic.Anthropic(base_url=server.root_url, api_key="k", max_retries=0) as client:
        client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=64,
            system="Be brief.",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
        )


def _bedrock(server: FakeOpenAIServer) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=server.root_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    client.converse(
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        system=[{"text": "Be brief."}],
        messages=[{"role": "user", "content": [{"text": "Weather in Paris?"}]}],
    )


def _gemini(server: FakeOpenAIServer) -> None:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.root_url))
    client.models.generate_content(
        model="gemini-2.5-flash",
        contents="Weather in Paris?",
        config=types.GenerateContentConfig(system_instruction="Be brief."),
    )


CALLS: dict[str, tuple[str, Callable[[FakeOpenAIServer], None]]] = {
    "anthropic": ("anthropic", _anthropic),
    "bedrock": ("boto3", _bedrock),
    "google_genai": ("google.genai", _gemini),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.parametrize("provider", list(CALLS))
def test_a_call_of_every_provider_is_a_record(provider: str, otel: Otel, server: FakeOpenAIServer) -> None:
    module, call = CALLS[provider]
    if not _installed(module):
        pytest.skip(f"{module} not installed")
    otel.instrument(provider, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY")
    call(server)
    span = otel.span()
    attrs: dict[str, Any] = dict(span.attributes or {})
    (record,) = records_of(otel)
    assert set(record) == set(FIELDS)
    assert span.start_time is not None and span.end_time is not None
    inputs, outputs = attrs.get("gen_ai.usage.input_tokens"), attrs.get("gen_ai.usage.output_tokens")
    assert isinstance(inputs, int) and isinstance(outputs, int)
    assert record == {
        **record,
        "time": iso(span.start_time),
        "span_id": f"{span.context.span_id:016x}",
        "provider": attrs["gen_ai.provider.name"],
        "operation": attrs["gen_ai.operation.name"],
        "request_model": attrs["gen_ai.request.model"],
        "response_model": attrs.get("gen_ai.response.model"),
        "stream": False,
        "duration_ms": round((span.end_time - span.start_time) / 1e6, 3),
        "input_tokens": inputs,
        "output_tokens": outputs,
        "total_tokens": inputs + outputs,
        "finish_reasons": list(attrs["gen_ai.response.finish_reasons"]),
        "error_type": None,
        "system_instructions": [{"type": "text", "content": "Be brief."}],
    }
    assert record["input_messages"] == [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
    (output,) = record["output_messages"]
    assert output["role"] == "assistant" and output["parts"][0]["type"] == "text" and output["parts"][0]["content"]
