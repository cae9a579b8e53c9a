"""invoke_model / invoke_model_with_response_stream, per model family, through the real boto3 client and its
HTTP stack against the local server (and a server answering given bytes, for malformed replies)."""

from __future__ import annotations

import gc
import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError
from botocore.response import StreamingBody
from opentelemetry.trace import StatusCode

from llmtel.demo.server import DEFAULT_REPLY, FakeOpenAIServer
from tests.bedrock import support
from tests.bedrock.support import CONTENT, CannedServer, json_reply
from tests.conftest import Otel

WORDS = len(DEFAULT_REPLY.split())
CHAT, COMPLETION, EMBEDDINGS = "chat", "text_completion", "embeddings"

# model id → (request body, operation, request attributes, response attributes besides usage)
FAMILIES: dict[str, tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]] = {
    "anthropic.claude-3-haiku-20240307-v1:0": (
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "temperature": 0.5,
            "top_p": 0.9,
            "top_k": 5,
            "stop_sequences": ["|"],
            "messages": [{"role": "user", "content": "Say this is a test"}],
        },
        CHAT,
        {
            "gen_ai.request.max_tokens": 100,
            "gen_ai.request.temperature": 0.5,
            "gen_ai.request.top_p": 0.9,
            "gen_ai.request.top_k": 5,
            "gen_ai.request.stop_sequences": ("|",),
        },
        {"gen_ai.response.model": "claude-3-haiku-20240307-v1:0", "gen_ai.response.finish_reasons": ("end_turn",)},
    ),
    "us.amazon.nova-micro-v1:0": (
        {
            "schemaVersion": "messages-v1",
            "messages": [{"role": "user", "content": [{"text": "Say this is a test"}]}],
            "inferenceConfig": {"max_new_tokens": 100, "temperature": 0.5, "topP": 0.9, "topK": 5},
        },
        CHAT,
        {
            "gen_ai.request.max_tokens": 100,
            "gen_ai.request.temperature": 0.5,
            "gen_ai.request.top_p": 0.9,
            "gen_ai.request.top_k": 5,
        },
        {"gen_ai.response.finish_reasons": ("end_turn",)},
    ),
    "amazon.titan-text-lite-v1": (
        {"inputText": "Say this is a test", "textGenerationConfig": {"maxTokenCount": 100, "temperature": 0.5}},
        COMPLETION,
        {"gen_ai.request.max_tokens": 100, "gen_ai.request.temperature": 0.5},
        {"gen_ai.response.finish_reasons": ("FINISH",)},
    ),
    "meta.llama3-1-70b-instruct-v1:0": (
        {"prompt": "Say this is a test", "max_gen_len": 100, "top_p": 0.9},
        COMPLETION,
        {"gen_ai.request.max_tokens": 100, "gen_ai.request.top_p": 0.9},
        {"gen_ai.response.finish_reasons": ("stop",)},
    ),
    "mistral.mistral-7b-instruct-v0:2": (
        {"prompt": "Say this is a test", "max_tokens": 100, "stop": ["|"]},
        COMPLETION,
        {"gen_ai.request.max_tokens": 100, "gen_ai.request.stop_sequences": ("|",)},
        {"gen_ai.response.finish_reasons": ("stop",)},
    ),
    "cohere.command-r-v1:0": (
        {"message": "Say this is a test", "max_tokens": 100, "p": 0.9, "k": 5},
        CHAT,
        {"gen_ai.request.max_tokens": 100, "gen_ai.request.top_p": 0.9, "gen_ai.request.top_k": 5},
        {"gen_ai.response.finish_reasons": ("COMPLETE",)},
    ),
    "cohere.command-light-text-v14": (
        {"prompt": "Say this is a test", "max_tokens": 100, "temperature": 0.5},
        COMPLETION,
        {"gen_ai.request.max_tokens": 100, "gen_ai.request.temperature": 0.5},
        {"gen_ai.response.finish_reasons": ("COMPLETE",)},
    ),
}


def base(server: Any, model: str, operation: str, **extra: Any) -> dict[str, Any]:
    port = server.port if isinstance(server, FakeOpenAIServer) else server.httpd.server_address[1]
    return {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": model,
        "server.address": "127.0.0.1",
        "server.port": port,
        **extra,
    }


def attributes(otel: Otel) -> dict[str, Any]:
    attrs = dict(otel.span().attributes or {})
    attrs.pop("gen_ai.response.time_to_first_chunk", None)
    return attrs


def ids_of(server: FakeOpenAIServer, model: str) -> dict[str, Any]:
    """The response ids the local server derives from its request counter, per family."""
    n = len(server.requests)
    if model.startswith("anthropic."):
        return {"gen_ai.response.id": f"msg_bdrk_{n}"}
    if model.startswith("cohere.command-r"):
        return {"gen_ai.response.id": f"resp-{n}"}
    if model.startswith("cohere."):
        return {"gen_ai.response.id": f"00000000-0000-4000-8000-{n:012d}"}
    return {}


@pytest.mark.parametrize("model", list(FAMILIES))
def test_invoke_model(otel: Otel, bedrock: Any, server: FakeOpenAIServer, model: str) -> None:
    body, operation, request, response = FAMILIES[model]
    otel.instrument("bedrock")
    result = bedrock.invoke_model(modelId=model, body=json.dumps(body))
    assert type(result["body"]) is StreamingBody
    assert otel.spans() == []  # ends when the app has read the body
    json.loads(result["body"].read())
    usage = {"gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": WORDS}
    if model.startswith("cohere.command-r"):
        usage["gen_ai.usage.input_tokens"] = 5
    expected = base(server, model, operation, **request, **response, **usage, **ids_of(server, model))
    assert attributes(otel) == expected
    assert otel.span().name == f"{operation} {model}"


@pytest.mark.parametrize("model", list(FAMILIES))
def test_invoke_model_with_response_stream(otel: Otel, bedrock: Any, server: FakeOpenAIServer, model: str) -> None:
    body, operation, request, response = FAMILIES[model]
    otel.instrument("bedrock")
    result = bedrock.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))
    chunks = [json.loads(event["chunk"]["bytes"]) for event in result["body"]]
    assert "amazon-bedrock-invocationMetrics" in chunks[-1]
    ids = ids_of(server, model) if model.startswith("anthropic.") else {}  # only Claude's stream names its id
    usage = {"gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": WORDS}
    if model.startswith("us.amazon.nova"):
        usage.update({"gen_ai.usage.cache_read.input_tokens": 0, "gen_ai.usage.cache_write.input_tokens": 0})
    expected = base(server, model, operation, **request, **response, **usage, **ids, **{"gen_ai.request.stream": True})
    assert attributes(otel) == expected


def test_embeddings(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock", **CONTENT)
    model = "amazon.titan-embed-text-v2:0"
    result = bedrock.invoke_model(modelId=model, body=json.dumps({"inputText": "Say this is a test", "dimensions": 4}))
    assert len(json.loads(result["body"].read())["embedding"]) == 4
    assert attributes(otel) == base(
        server, model, EMBEDDINGS, **{"gen_ai.embeddings.dimension.count": 4, "gen_ai.usage.input_tokens": 5}
    )
    assert otel.logs() == []  # embeddings have no details event


def test_anthropic_tool_use_content(otel: Otel, bedrock: Any) -> None:
    otel.instrument("bedrock", **CONTENT)
    tool = {
        "name": "get_weather",
        "description": "Weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "system": "Be brief.",
        "tools": [tool],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}],
    }
    result = bedrock.invoke_model(modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(body))
    answer = json.loads(result["body"].read())
    call_id = answer["content"][1]["id"]
    attrs = otel.span().attributes or {}
    assert attrs["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert json.loads(str(attrs["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
    ]
    assert json.loads(str(attrs["gen_ai.system_instructions"])) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(str(attrs["gen_ai.tool.definitions"])) == [
        {"type": "function", "name": "get_weather", "description": "Weather", "parameters": tool["input_schema"]}
    ]
    assert json.loads(str(attrs["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": DEFAULT_REPLY},
                {"type": "tool_call", "name": "get_weather", "id": call_id, "arguments": {"city": "demo"}},
            ],
            "finish_reason": "tool_use",
        }
    ]


def test_anthropic_stream_tool_use_content(otel: Otel, bedrock: Any) -> None:
    otel.instrument("bedrock", **CONTENT)
    tool = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "tools": [tool],
        "messages": [{"role": "user", "content": "Weather?"}],
    }
    result = bedrock.invoke_model_with_response_stream(
        modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(body)
    )
    list(result["body"])
    output = json.loads(str((otel.span().attributes or {})["gen_ai.output.messages"]))
    assert output[0]["parts"][1]["arguments"] == {"city": "demo"}
    assert output[0]["finish_reason"] == "tool_use"


# -- the response body: the app reads what it read before -------------------------------------------------------

CANNED = {"id": "msg_1", "model": "claude-x", "content": [{"type": "text", "text": "hi é"}], "stop_reason": "end_turn"}
ANTHROPIC = "anthropic.claude-3-haiku-20240307-v1:0"
REQUEST = json.dumps(
    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
)
HEADERS = {"X-Amzn-Bedrock-Input-Token-Count": "3", "X-Amzn-Bedrock-Output-Token-Count": "2"}


def canned(payload: Any = CANNED, headers: dict[str, str] | None = None) -> CannedServer:
    return CannedServer([json_reply(payload, headers=HEADERS if headers is None else headers) for _ in range(2)])


def expected_canned(srv: CannedServer) -> dict[str, Any]:
    return base(
        srv,
        ANTHROPIC,
        CHAT,
        **{
            "gen_ai.request.max_tokens": 5,
            "gen_ai.usage.input_tokens": 3,
            "gen_ai.usage.output_tokens": 2,
            "gen_ai.response.id": "msg_1",
            "gen_ai.response.model": "claude-x",
            "gen_ai.response.finish_reasons": ("end_turn",),
        },
    )


READS = {
    "read": lambda body: body.read(),
    "read-amt": lambda body: b"".join(iter(lambda: body.read(7), b"")),
    "iter_chunks": lambda body: b"".join(body.iter_chunks(5)),
    "iter_lines": lambda body: b"\n".join(body.iter_lines()),
    "for": lambda body: b"".join(body),
    "readlines": lambda body: b"".join(body.readlines()),
    "with": lambda body: (lambda b: (b.__enter__(), b.read(), b.__exit__(None, None, None))[1])(body),
}


@pytest.mark.parametrize("how", list(READS))
def test_body_reads_identical(otel: Otel, how: str) -> None:
    with canned() as srv:
        client = support.client(srv.url)
        plain = READS[how](client.invoke_model(modelId=ANTHROPIC, body=REQUEST)["body"])
        otel.instrument("bedrock")
        result = client.invoke_model(modelId=ANTHROPIC, body=REQUEST)
        assert READS[how](result["body"]) == plain
        assert attributes(otel) == expected_canned(srv)


def test_body_closed_unread(otel: Otel) -> None:
    with canned() as srv:
        otel.instrument("bedrock")
        result = support.client(srv.url).invoke_model(modelId=ANTHROPIC, body=REQUEST)
        result["body"].close()
        attrs = attributes(otel)
        assert attrs == {k: v for k, v in expected_canned(srv).items() if not k.startswith("gen_ai.response.")}


def test_body_dropped_unread_ends_span(otel: Otel) -> None:
    with canned() as srv:
        otel.instrument("bedrock")
        result = support.client(srv.url).invoke_model(modelId=ANTHROPIC, body=REQUEST)
        del result
        gc.collect()
        attrs = attributes(otel)
        assert attrs == {k: v for k, v in expected_canned(srv).items() if not k.startswith("gen_ai.response.")}


def test_file_like_request_body_is_left_for_the_sdk(otel: Otel) -> None:
    with canned() as srv:
        otel.instrument("bedrock")
        result = support.client(srv.url).invoke_model(modelId=ANTHROPIC, body=io.BytesIO(REQUEST.encode()))
        result["body"].read()
        assert srv.requests[0][2] == REQUEST.encode()  # botocore sent the whole body
        expected = expected_canned(srv)
        del expected["gen_ai.request.max_tokens"]  # not read: it was the SDK's to read
        assert attributes(otel) == expected


@pytest.mark.parametrize(
    ("payload", "headers"),
    [
        (b"not json \xff", {"X-Amzn-Bedrock-Input-Token-Count": "-3", "X-Amzn-Bedrock-Output-Token-Count": "2x"}),
        ({"id": 5, "model": ["x"], "stop_reason": {"a": 1}, "content": "nope", "usage": {"input_tokens": -1}}, {}),
        (
            {"id": "\ud800", "usage": {"input_tokens": 10**30, "output_tokens": True}},
            {"X-Amzn-Bedrock-Input-Token-Count": "9" * 30},
        ),
        ([1, 2, 3], {"X-Amzn-Bedrock-Input-Token-Count": "\u00b2\u00b3"}),
    ],
)
def test_malformed_response_bodies(otel: Otel, payload: Any, headers: dict[str, str]) -> None:
    with canned(payload, headers) as srv:
        otel.instrument("bedrock", **CONTENT)
        result = support.client(srv.url).invoke_model(modelId=ANTHROPIC, body=REQUEST)
        raw = result["body"].read()
        assert raw == (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        attrs = attributes(otel)
        content = {k: attrs.pop(k) for k in list(attrs) if k.startswith(("gen_ai.input", "gen_ai.output"))}
        expected = base(srv, ANTHROPIC, CHAT, **{"gen_ai.request.max_tokens": 5})
        if isinstance(payload, dict) and payload.get("id") == "\ud800":
            expected["gen_ai.response.id"] = "\ufffd"
        assert attrs == expected
        assert "gen_ai.input.messages" in content


# -- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "error_type"), [("rate-limited", "429"), ("does-not-exist", "400"), ("server-error", "500")]
)
@pytest.mark.parametrize("streaming", [False, True])
def test_invoke_errors(
    otel: Otel, bedrock: Any, server: FakeOpenAIServer, model: str, error_type: str, streaming: bool
) -> None:
    otel.instrument("bedrock")
    call = bedrock.invoke_model_with_response_stream if streaming else bedrock.invoke_model
    with pytest.raises(ClientError):
        call(modelId=model, body=json.dumps({"prompt": "hi"}))
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == error_type


@pytest.mark.parametrize(("model", "error_type"), [("stream-error", "424"), ("stream-throttled", "429")])
def test_invoke_stream_exception_events(otel: Otel, bedrock: Any, model: str, error_type: str) -> None:
    otel.instrument("bedrock")
    result = bedrock.invoke_model_with_response_stream(modelId=model, body=json.dumps({"prompt": "hi"}))
    with pytest.raises(EventStreamError):
        list(result["body"])
    attrs = attributes(otel)
    assert attrs["error.type"] == error_type
    assert attrs["gen_ai.operation.name"] == COMPLETION  # an unknown family: the body's shape tells


def test_unknown_family_and_arn(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock")
    arn = "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-70b-instruct-v1:0"
    bedrock.invoke_model(modelId=arn, body=json.dumps({"prompt": "Say this is a test", "max_gen_len": 9}))[
        "body"
    ].read()
    assert attributes(otel)["gen_ai.request.max_tokens"] == 9


def test_invoke_guardrail(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock")
    body = json.dumps({"prompt": "Say this is a test", "max_gen_len": 9})
    model = "meta.llama3-1-70b-instruct-v1:0"
    bedrock.invoke_model(modelId=model, body=body, guardrailIdentifier="sgi5gkybzqak", guardrailVersion="1")[
        "body"
    ].read()
    assert attributes(otel) == base(
        server,
        model,
        COMPLETION,
        **{
            "aws.bedrock.guardrail.id": "sgi5gkybzqak",
            "gen_ai.request.max_tokens": 9,
            "gen_ai.response.finish_reasons": ("length",),
            "gen_ai.usage.input_tokens": 5,
            "gen_ai.usage.output_tokens": 9,
        },
    )


def test_invoke_metrics(otel: Otel, bedrock: Any, server: FakeOpenAIServer) -> None:
    otel.instrument("bedrock")
    model = "meta.llama3-1-70b-instruct-v1:0"
    bedrock.invoke_model(modelId=model, body=json.dumps({"prompt": "Say this is a test"}))["body"].read()
    keys = base(server, model, COMPLETION)
    tokens = {
        p.attributes["gen_ai.token.type"]: (p.sum, dict(p.attributes)) for p in otel.points("gen_ai.client.token.usage")
    }
    assert tokens == {
        "input": (5, {**keys, "gen_ai.token.type": "input"}),
        "output": (WORDS, {**keys, "gen_ai.token.type": "output"}),
    }
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes or {}) == keys and duration.count == 1


def test_stall(otel: Otel, bedrock: Any) -> None:
    otel.instrument("bedrock")
    bedrock.invoke_model(modelId="stall", body=json.dumps({"prompt": "hi"}))["body"].read()
    span = otel.span()
    assert span.end_time is not None and span.start_time is not None
    assert (span.end_time - span.start_time) / 1e9 >= 0.2
