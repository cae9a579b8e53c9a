"""Content capture on Bedrock calls goes through the core's machinery like OpenAI's: the same modes, attributes
and event, and privacy fails closed (no capture by default; a redactor that cannot be loaded means no content)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmtel import semconv as sc
from llmtel.core.invocation import DETAILS_EVENT
from llmtel.demo.server import FakeOpenAIServer
from tests.conftest import Otel

SECRET = "Zanzibar7731"  # in every prompt; must never be recorded unless capture is on
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
EMIT = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
CONTENT_KEYS = frozenset(
    {sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_SYSTEM_INSTRUCTIONS, sc.GEN_AI_TOOL_DEFINITIONS}
)
NOVA = "amazon.nova-micro-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": f"Who is {SECRET}?"}]}]
SYSTEM = [{"text": f"Never say {SECRET}"}]
TOOLS = {
    "tools": [{"toolSpec": {"name": "lookup", "description": SECRET, "inputSchema": {"json": {"type": "object"}}}}]
}
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
CLAUDE_BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 20,
        "system": SECRET,
        "messages": [{"role": "user", "content": SECRET}],
    }
)


def four_calls(client: Any) -> None:
    client.converse(modelId=NOVA, messages=MESSAGES, system=SYSTEM, toolConfig=TOOLS)
    list(client.converse_stream(modelId=NOVA, messages=MESSAGES, system=SYSTEM)["stream"])
    client.invoke_model(modelId=CLAUDE, body=CLAUDE_BODY)["body"].read()
    list(client.invoke_model_with_response_stream(modelId=CLAUDE, body=CLAUDE_BODY)["body"])


def records(otel: Otel) -> list[Any]:
    found = [data.log_record for data in otel.logs()]
    assert all(r.event_name == DETAILS_EVENT for r in found)
    return found


@pytest.mark.parametrize("emit", ["true", "false"])
def test_no_content_by_default(otel: Otel, bedrock: Any, emit: str) -> None:
    otel.instrument("bedrock", **{EMIT: emit})
    four_calls(bedrock)
    spans = otel.spans()
    assert len(spans) == 4
    for span in spans:
        assert not CONTENT_KEYS & set(span.attributes or {})
    assert SECRET not in repr([dict(s.attributes or {}) for s in spans])
    events = records(otel)
    assert len(events) == (4 if emit == "true" else 0)
    assert SECRET not in repr([dict(r.attributes or {}) for r in events])


def test_event_only(otel: Otel, bedrock: Any) -> None:
    otel.instrument("bedrock", **{CAPTURE: "EVENT_ONLY"})
    four_calls(bedrock)
    for span in otel.spans():
        assert not CONTENT_KEYS & set(span.attributes or {})
    events = records(otel)
    assert len(events) == 4
    for record in events:
        attrs = dict(record.attributes or {})
        assert SECRET in repr(attrs[sc.GEN_AI_INPUT_MESSAGES]) or SECRET in repr(
            attrs.get(sc.GEN_AI_SYSTEM_INSTRUCTIONS)
        )
        assert attrs[sc.GEN_AI_OUTPUT_MESSAGES][0]["role"] == "assistant"


def test_span_only(otel: Otel, bedrock: Any) -> None:
    otel.instrument("bedrock", **{CAPTURE: "SPAN_ONLY"})
    four_calls(bedrock)
    for span in otel.spans():
        attrs = span.attributes or {}
        assert sc.GEN_AI_INPUT_MESSAGES in attrs and sc.GEN_AI_OUTPUT_MESSAGES in attrs
        assert sc.GEN_AI_SYSTEM_INSTRUCTIONS in attrs
        json.loads(str(attrs[sc.GEN_AI_OUTPUT_MESSAGES]))
    assert records(otel) == []


def test_unloadable_redactor_records_no_content(otel: Otel, bedrock: Any) -> None:
    otel.instrument("bedrock", **{CAPTURE: "SPAN_AND_EVENT", "LLMTEL_CONTENT_REDACTOR": "no_such_module:redact"})
    four_calls(bedrock)
    spans = otel.spans()
    assert len(spans) == 4
    assert SECRET not in repr([dict(s.attributes or {}) for s in spans])
    assert SECRET not in repr([dict(r.attributes or {}) for r in records(otel)])


def test_image_bytes_and_size_limit(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock", **{CAPTURE: "SPAN_ONLY", "LLMTEL_MAX_CONTENT_LENGTH": "40"})
    image = {"image": {"format": "png", "source": {"bytes": b"\x89PNG" + b"\0" * 100}}}
    messages = [{"role": "user", "content": [{"text": "x" * 100}, image]}]
    bedrock.converse(modelId=NOVA, messages=messages)
    (message,) = json.loads(str((otel.span().attributes or {})[sc.GEN_AI_INPUT_MESSAGES]))
    text, blob = message["parts"]
    assert text["content"].startswith("x" * 40) and "truncated" in text["content"]
    assert blob["type"] == "blob" and blob["modality"] == "image" and blob["mime_type"] == "image/png"
