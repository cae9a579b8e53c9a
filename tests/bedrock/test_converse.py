"""converse / converse_stream through the real boto3 client and its HTTP stack, against the local server's
bedrock-runtime wire format: exact span attributes, content, tool use, errors and stream lifecycle."""

from __future__ import annotations

import gc
import json
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError, EventStreamError
from opentelemetry.trace import SpanKind, StatusCode

from llmtel.demo.server import DEFAULT_REPLY, FakeOpenAIServer
from tests.bedrock.support import CONTENT
from tests.conftest import Otel

MODEL = "amazon.nova-micro-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Say this is a test"}]}]
TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "The weather in a city",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
            }
        }
    ]
}
REPLY_WORDS = len(DEFAULT_REPLY.split())


def base(server: FakeOpenAIServer, model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": model,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        **extra,
    }


def attributes(otel: Otel) -> dict[str, Any]:
    span = otel.span()
    attrs = dict(span.attributes or {})
    ttfc = attrs.pop("gen_ai.response.time_to_first_chunk", None)
    if attrs.get("gen_ai.request.stream"):
        assert isinstance(ttfc, float) and ttfc > 0
    return attrs


def test_converse_span(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock")
    result = bedrock.converse(
        modelId=MODEL,
        messages=MESSAGES,
        inferenceConfig={"maxTokens": 100, "temperature": 0.5, "topP": 0.9, "stopSequences": ["|"]},
        additionalModelRequestFields={"inferenceConfig": {"topK": 20}},
    )
    assert result["output"]["message"]["content"] == [{"text": DEFAULT_REPLY}]
    span = otel.span()
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attributes(otel) == base(
        server,
        **{
            "gen_ai.request.max_tokens": 100,
            "gen_ai.request.temperature": 0.5,
            "gen_ai.request.top_p": 0.9,
            "gen_ai.request.top_k": 20,
            "gen_ai.request.stop_sequences": ("|",),
            "gen_ai.response.finish_reasons": ("end_turn",),
            "gen_ai.usage.input_tokens": 5,
            "gen_ai.usage.output_tokens": REPLY_WORDS,
        },
    )


def test_converse_max_tokens_and_guardrail(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    if "guardrailConfig" not in bedrock.meta.service_model.operation_model("Converse").input_shape.members:
        pytest.skip("this botocore's Converse has no guardrailConfig (added after 1.34.116)")
    otel.instrument("bedrock")
    bedrock.converse(
        modelId=MODEL,
        messages=MESSAGES,
        inferenceConfig={"maxTokens": 3},
        guardrailConfig={"guardrailIdentifier": "sgi5gkybzqak", "guardrailVersion": "1"},
    )
    assert attributes(otel) == base(
        server,
        **{
            "gen_ai.request.max_tokens": 3,
            "aws.bedrock.guardrail.id": "sgi5gkybzqak",
            "gen_ai.response.finish_reasons": ("max_tokens",),
            "gen_ai.usage.input_tokens": 5,
            "gen_ai.usage.output_tokens": 3,
        },
    )


def test_converse_content(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock", **CONTENT)
    bedrock.converse(modelId=MODEL, messages=MESSAGES, system=[{"text": "Be brief."}], toolConfig=TOOLS)
    attrs = attributes(otel)
    content = {
        key: json.loads(attrs.pop(key))
        for key in list(attrs)
        if key.endswith(("messages", "instructions", "definitions"))
    }
    assert attrs == base(
        server,
        **{
            "gen_ai.response.finish_reasons": ("tool_use",),
            "gen_ai.usage.input_tokens": 7,
            "gen_ai.usage.output_tokens": REPLY_WORDS + 1,
        },
    )
    assert content == {
        "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "Say this is a test"}]}],
        "gen_ai.system_instructions": [{"type": "text", "content": "Be brief."}],
        "gen_ai.tool.definitions": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        "gen_ai.output.messages": [tool_use_reply(server)],
    }
    (event,) = otel.logs()
    assert event.log_record.event_name == "gen_ai.client.inference.operation.details"
    assert event.log_record.attributes["gen_ai.output.messages"][0]["finish_reason"] == "tool_use"


def tool_use_reply(server: FakeOpenAIServer) -> dict[str, Any]:
    """The output message of the local server's answer to a request with TOOLS: the reply, then one call."""
    call = {
        "type": "tool_call",
        "name": "get_weather",
        "id": f"tooluse_{server_n(server)}",
        "arguments": {"city": "demo"},
    }
    return {
        "role": "assistant",
        "parts": [{"type": "text", "content": DEFAULT_REPLY}, call],
        "finish_reason": "tool_use",
    }


def server_n(server: FakeOpenAIServer) -> int:
    """The request number of the server's last request (ids are made from it)."""
    return len(server.requests)


def test_tool_result_round_trip_content(otel: Otel, bedrock: Any) -> None:
    otel.instrument("bedrock", **CONTENT)
    messages = [
        *MESSAGES,
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}}],
        },
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"temp": 20}}]}}]},
    ]
    bedrock.converse(modelId=MODEL, messages=messages, toolConfig=TOOLS)
    span = otel.span()
    assert json.loads(str(span.attributes["gen_ai.input.messages"]))[1:] == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "name": "get_weather", "id": "t1", "arguments": {"city": "Paris"}}],
        },
        {"role": "user", "parts": [{"type": "tool_call_response", "response": {"temp": 20}, "id": "t1"}]},
    ]
    assert span.attributes["gen_ai.response.finish_reasons"] == ("end_turn",)


def test_no_content_by_default(otel: Otel, bedrock: Any) -> None:
    otel.instrument("bedrock")
    bedrock.converse(modelId=MODEL, messages=MESSAGES, system=[{"text": "secret"}], toolConfig=TOOLS)
    assert not any(
        k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system", "gen_ai.tool"))
        for k in otel.span().attributes or {}
    )
    assert "secret" not in repr([r.log_record.attributes for r in otel.logs()])


# -- streams ----------------------------------------------------------------------------------------------------


def test_converse_stream(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock", **CONTENT)
    result = bedrock.converse_stream(modelId=MODEL, messages=MESSAGES, toolConfig=TOOLS)
    assert otel.spans() == []  # the span lives as long as the stream
    events = list(result["stream"])
    assert events[0] == {"messageStart": {"role": "assistant"}}
    attrs = attributes(otel)
    output = json.loads(attrs.pop("gen_ai.output.messages"))
    attrs.pop("gen_ai.input.messages")
    attrs.pop("gen_ai.tool.definitions")
    assert attrs == base(
        server,
        **{
            "gen_ai.request.stream": True,
            "gen_ai.response.finish_reasons": ("tool_use",),
            "gen_ai.usage.input_tokens": 5,
            "gen_ai.usage.output_tokens": REPLY_WORDS + 1,
        },
    )
    assert output == [tool_use_reply(server)]


def test_stream_is_the_sdk_event_stream(otel: Otel, bedrock: Any) -> None:
    from botocore.eventstream import EventStream

    otel.instrument("bedrock")
    result = bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)
    stream = result["stream"]
    assert isinstance(stream, EventStream)
    assert not hasattr(stream, "__next__")  # EventStream has only __iter__ and close: so has the proxy
    with pytest.raises(TypeError):
        next(stream)
    assert set(result) == {"ResponseMetadata", "stream"}
    list(stream)


def test_stream_events_identical_to_uninstrumented(otel: Otel, bedrock: Any) -> None:
    plain = list(bedrock.converse_stream(modelId=MODEL, messages=MESSAGES, toolConfig=TOOLS)["stream"])
    otel.instrument("bedrock", **CONTENT)
    instrumented = list(bedrock.converse_stream(modelId=MODEL, messages=MESSAGES, toolConfig=TOOLS)["stream"])

    def ids(events: list[Any]) -> str:
        return json.dumps(events).replace('"tooluse_', '"X').translate(str.maketrans("0123456789", "##########"))

    assert ids(plain) == ids(instrumented)


def test_stream_closed_early_ends_span(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock")
    stream = bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]
    for _ in stream:
        break
    assert otel.spans() == []
    stream.close()
    assert attributes(otel) == base(server, **{"gen_ai.request.stream": True})


def test_stream_abandoned_ends_span(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock")
    result = bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)
    iterator = iter(result["stream"])
    next(iterator)
    del result, iterator
    gc.collect()
    assert attributes(otel) == base(server, **{"gen_ai.request.stream": True})


@pytest.mark.parametrize(
    ("model", "code", "error_type"),
    [("stream-error", "modelStreamErrorException", "424"), ("stream-throttled", "throttlingException", "429")],
)
def test_stream_exception_event(
    otel: Otel, bedrock: Any, server: FakeOpenAIServer, model: str, code: str, error_type: str
) -> None:
    otel.instrument("bedrock")
    stream = bedrock.converse_stream(modelId=model, messages=MESSAGES)["stream"]
    seen = []
    with pytest.raises(EventStreamError) as caught:
        for event in stream:
            seen.append(event)
    assert caught.value.response["Error"]["Code"] == code
    assert len(seen) == 3
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(otel) == base(server, model, **{"gen_ai.request.stream": True, "error.type": error_type})


def test_broken_stream(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock")
    stream = bedrock.converse_stream(modelId="broken-stream", messages=MESSAGES)["stream"]
    with pytest.raises(Exception) as caught:
        list(stream)
    attrs = attributes(otel)
    cls = type(caught.value)
    assert attrs.pop("error.type") == f"{cls.__module__.partition('.')[0]}.{cls.__qualname__}"
    assert attrs == base(server, "broken-stream", **{"gen_ai.request.stream": True})


# -- errors -----------------------------------------------------------------------------------------------------


ERRORS = [
    ("rate-limited", "ThrottlingException", "429"),
    ("does-not-exist", "ValidationException", "400"),
    ("server-error", "InternalServerException", "500"),
]


# stream-error fails a stream mid-way (test_stream_exception_event); before any stream it is a 424
@pytest.mark.parametrize(
    ("model", "code", "error_type", "streaming"),
    [(*e, False) for e in ERRORS]
    + [(*e, True) for e in ERRORS]
    + [("stream-error", "ModelErrorException", "424", False)],
)
def test_client_errors(
    otel: Otel, bedrock: Any, server: FakeOpenAIServer, model: str, code: str, error_type: str, streaming: bool
) -> None:
    otel.instrument("bedrock")
    call = bedrock.converse_stream if streaming else bedrock.converse
    with pytest.raises(ClientError) as caught:
        call(modelId=model, messages=MESSAGES)
    assert type(caught.value).__name__ == code  # the SDK's own exception class, untouched
    assert caught.value.response["Error"]["Code"] == code
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == str(caught.value)
    expected = base(server, model, **{"error.type": error_type})
    if streaming:
        expected["gen_ai.request.stream"] = True
    assert dict(span.attributes or {}) == expected


def test_same_exception_object_as_uninstrumented(otel: Otel, bedrock: Any) -> None:
    with pytest.raises(ClientError) as plain:
        bedrock.converse(modelId="rate-limited", messages=MESSAGES)
    otel.instrument("bedrock")
    with pytest.raises(ClientError) as instrumented:
        bedrock.converse(modelId="rate-limited", messages=MESSAGES)
    assert type(plain.value) is type(instrumented.value)
    assert str(plain.value).replace("4", "#") == str(instrumented.value).replace("4", "#")


# -- metrics ----------------------------------------------------------------------------------------------------


def test_metrics(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock")
    bedrock.converse(modelId=MODEL, messages=MESSAGES)
    with pytest.raises(ClientError):
        bedrock.converse(modelId="rate-limited", messages=MESSAGES)
    keys = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "aws.bedrock",
        "server.address": "127.0.0.1",
        "server.port": server.port,
    }
    durations = {tuple(sorted(p.attributes.items())): p.count for p in otel.points("gen_ai.client.operation.duration")}
    assert durations == {
        tuple(sorted({**keys, "gen_ai.request.model": MODEL}.items())): 1,
        tuple(sorted({**keys, "gen_ai.request.model": "rate-limited", "error.type": "429"}.items())): 1,
    }
    tokens = {
        p.attributes["gen_ai.token.type"]: (p.sum, dict(p.attributes)) for p in otel.points("gen_ai.client.token.usage")
    }
    assert tokens == {
        "input": (5, {**keys, "gen_ai.request.model": MODEL, "gen_ai.token.type": "input"}),
        "output": (REPLY_WORDS, {**keys, "gen_ai.request.model": MODEL, "gen_ai.token.type": "output"}),
    }


def test_stream_metrics(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock")
    list(bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])
    (ttfc,) = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1
    (per_chunk,) = otel.points("gen_ai.client.operation.time_per_output_chunk")
    assert per_chunk.count == 8 - 1  # messageStart, 4 deltas, blockStop, messageStop, metadata


# -- everything else passes through ---------------------------------------------------------------------------


def test_other_services_and_operations_pass_through(otel: Otel, server: FakeOpenAIServer) -> None:
    import boto3

    otel.instrument("bedrock")
    s3 = boto3.client(
        "s3", region_name="us-east-1", endpoint_url=server.root_url, aws_access_key_id="a", aws_secret_access_key="b"
    )
    with pytest.raises(ClientError):
        s3.list_buckets()
    runtime = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=server.root_url,
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    if "ApplyGuardrail" in runtime.meta.service_model.operation_names:  # not in botocore 1.34.116
        with pytest.raises(ClientError):
            runtime.apply_guardrail(guardrailIdentifier="g", guardrailVersion="1", source="INPUT", content=[])
    assert otel.spans() == []


def test_uninstall_restores_the_method(otel: Otel, bedrock: Any) -> None:
    original = botocore.client.BaseClient.__dict__["_make_api_call"]
    otel.instrument("bedrock")
    assert botocore.client.BaseClient.__dict__["_make_api_call"] is not original
    otel.uninstrument()
    assert botocore.client.BaseClient.__dict__["_make_api_call"] is original
    bedrock.converse(modelId=MODEL, messages=MESSAGES)
    assert otel.spans() == []


@pytest.mark.parametrize(
    ("region", "url", "expected"),
    [
        ("us-east-1", None, ("aws.bedrock", "bedrock-runtime.us-east-1.amazonaws.com", 443)),
        ("eu-central-1", None, ("aws.bedrock", "bedrock-runtime.eu-central-1.amazonaws.com", 443)),
        (
            "us-east-1",
            "https://vpce-1a2b.bedrock-runtime.us-east-1.vpce.amazonaws.com",
            ("aws.bedrock", "vpce-1a2b.bedrock-runtime.us-east-1.vpce.amazonaws.com", 443),
        ),
    ],
)
def test_endpoint_from_the_client(region: str, url: str | None, expected: tuple[str, str, int]) -> None:
    import boto3

    from llmtel import config
    from llmtel.core.invocation import Telemetry
    from llmtel.providers.bedrock._common import endpoint_of

    kwargs = {"endpoint_url": url} if url else {}
    client = boto3.client(
        "bedrock-runtime", region_name=region, aws_access_key_id="a", aws_secret_access_key="b", **kwargs
    )
    found = endpoint_of(client, Telemetry(config.from_env({})))
    assert (found.provider, found.address, found.port) == expected


def test_structured_output_type(otel: Otel, bedrock: Any) -> None:
    members = bedrock.meta.service_model.operation_model("Converse").input_shape.members
    if "outputConfig" not in members:
        pytest.skip("this botocore's Converse has no outputConfig")
    otel.instrument("bedrock")
    schema = {"jsonSchema": {"schema": json.dumps({"type": "object"}), "name": "answer"}}
    bedrock.converse(
        modelId=MODEL, messages=MESSAGES, outputConfig={"textFormat": {"type": "json_schema", "structure": schema}}
    )
    assert (otel.span().attributes or {})["gen_ai.output.type"] == "json"
