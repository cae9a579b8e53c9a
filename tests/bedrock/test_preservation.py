"""The same calls with and without llmtel give the app the same results: the same dict keys and values, the same
stream events in order, the same body bytes, for every operation and model family of the local server."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from llmtel.demo.server import FakeOpenAIServer
from tests.bedrock import support
from tests.bedrock.test_invoke import FAMILIES
from tests.conftest import Otel

MESSAGES = [{"role": "user", "content": [{"text": "Say this is a test"}]}]


def run(client: Any) -> list[Any]:
    """Every operation, every family; the results with what differs per request (ids, dates) blanked."""
    out: list[Any] = []
    result = client.converse(modelId="amazon.nova-micro-v1:0", messages=MESSAGES)
    out.append(sorted(result))
    out.append(result["output"])
    stream = client.converse_stream(modelId="amazon.nova-micro-v1:0", messages=MESSAGES)
    out.append(sorted(stream))
    out.append(list(stream["stream"]))
    for model, (body, *_) in FAMILIES.items():
        response = client.invoke_model(modelId=model, body=json.dumps(body))
        out.append((sorted(response), response["contentType"], response["body"].read()))
        events = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))
        out.append([event["chunk"]["bytes"] for event in events["body"]])
    return out


def blank(value: Any) -> str:
    return re.sub(r"\d+", "#", repr(value))


@pytest.mark.parametrize("capture", ["NO_CONTENT", "SPAN_AND_EVENT"])
def test_instrumented_results_equal_plain_ones(otel: Otel, server: FakeOpenAIServer, capture: str) -> None:
    client = support.client(server.root_url)
    plain = run(client)
    otel.instrument("bedrock", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=capture)
    assert blank(run(client)) == blank(plain)
    assert len(otel.spans()) == 2 + 2 * len(FAMILIES)


def test_request_bytes_equal_plain_ones(otel: Otel, server: FakeOpenAIServer) -> None:
    client = support.client(server.root_url)
    start = len(server.requests)
    run(client)
    middle = len(server.requests)
    otel.instrument("bedrock", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT")
    run(client)
    plain = [(r.method, r.path, r.body) for r in server.requests[start:middle]]
    instrumented = [(r.method, r.path, r.body) for r in server.requests[middle:]]
    assert plain == instrumented


def test_reasoning_content(otel: Otel, bedrock: Any) -> None:
    """A reasoning block in the conversation is recorded as a reasoning part (captured content only)."""
    block = bedrock.meta.service_model.shape_for("ContentBlock")
    if "reasoningContent" not in block.members:
        pytest.skip("this botocore's Converse has no reasoningContent blocks")
    otel.instrument("bedrock", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY")
    messages = [
        *MESSAGES,
        {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "thinking", "signature": "s"}}},
                {"text": "ok"},
            ],
        },
        {"role": "user", "content": [{"text": "again"}]},
    ]
    bedrock.converse(modelId="anthropic.claude-3-7-sonnet-20250219-v1:0", messages=messages)
    recorded = json.loads(str((otel.span().attributes or {})["gen_ai.input.messages"]))
    assert recorded[1] == {
        "role": "assistant",
        "parts": [{"type": "reasoning", "content": "thinking"}, {"type": "text", "content": "ok"}],
    }


def test_metrics_have_openais_shape(otel: Otel, server: FakeOpenAIServer) -> None:
    """One dashboard for every provider: the same instruments, and attribute keys from the same set."""
    from llmtel.core.metrics import METRIC_ATTRIBUTE_KEYS

    otel.instrument("bedrock")
    run(support.client(server.root_url))
    names = set()
    for metric_name in (
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk",
    ):
        points = otel.points(metric_name)
        assert points, metric_name
        names.add(metric_name)
        for point in points:
            keys = set(point.attributes or {}) - {"error.type", "gen_ai.token.type"}
            assert keys <= set(METRIC_ATTRIBUTE_KEYS), (metric_name, keys - set(METRIC_ATTRIBUTE_KEYS))
    data = otel.metrics_data()
    produced = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert produced == names
