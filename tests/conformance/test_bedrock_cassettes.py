"""Recorded Bedrock traffic (../shared/cassettes/bedrock) replayed through the real boto3 client and its real
HTTP stack (urllib3): a local server answers each request with the recorded status, headers and body (event
streams message by message, as the service sends them), and the test asserts the telemetry exactly.

Every cassette runs (:func:`test_cassette`): the call is made with the recorded request (Converse kwargs from
the recorded JSON, the invoke body as the recorded bytes), the app consumes the result as it would, and the span
must carry exactly the attributes the recording implies (the expected values are read from the recording by
this test's own small oracle, not by llmtel's code). A few cassettes also get their full attribute dicts and
content spelled out by hand.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError

from tests.bedrock import support
from tests.bedrock.support import Canned, CannedServer, event_messages
from tests.conformance.cassettes import Cassette, Interaction
from tests.conformance.shared import SHARED_DIR
from tests.conftest import Otel

DIRECTORY = SHARED_DIR / "cassettes" / "bedrock"
if not DIRECTORY.is_dir():
    pytest.skip(f"../shared/cassettes/bedrock not found ({DIRECTORY}): cassette tests skipped", allow_module_level=True)

NAMES = sorted(p.stem for p in Path(DIRECTORY).glob("*.yaml"))
CONTENT = support.CONTENT
OPERATIONS = {
    "converse": "converse",
    "converse-stream": "converse_stream",
    "invoke": "invoke_model",
    "invoke-with-response-stream": "invoke_model_with_response_stream",
}


def reply_of(interaction: Interaction) -> Canned:
    stream = interaction.content_type.startswith("application/vnd.amazon.eventstream")
    pieces = event_messages(interaction.body) if stream else [interaction.body]
    return Canned(
        interaction.status, list(interaction.headers), pieces, chunked=stream, path=urlsplit(interaction.uri).path
    )


def call_of(interaction: Interaction) -> tuple[str, str, dict[str, Any]]:
    """(client method, model id, kwargs) of the recorded request."""
    _, _, model, operation = urlsplit(interaction.uri).path.split("/")
    model = unquote(model)
    method = OPERATIONS[operation]
    if method.startswith("converse"):
        return method, model, {"modelId": model, **(interaction.request_json() or {})}
    return method, model, {"modelId": model, "body": (interaction.request_body or "").encode()}


def decoded_events(body: bytes) -> list[dict[str, Any]]:
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    events = []
    for message in buffer:
        payload = json.loads(message.payload) if message.payload else {}
        events.append({"type": message.headers.get(":event-type") or message.headers.get(":exception-type"), **payload})
    return events


# -- the oracle: what a recording implies ------------------------------------------------------------------------


def _family_reasons(model: str, body: dict[str, Any]) -> list[str]:
    if "stop_reason" in body and isinstance(body["stop_reason"], str):  # Claude, Llama
        return [body["stop_reason"]]
    if "stopReason" in body:  # Nova
        return [body["stopReason"]]
    if "results" in body:  # Titan
        return [r["completionReason"] for r in body["results"]]
    if "outputs" in body:  # Mistral
        return [o["stop_reason"] for o in body["outputs"]]
    if "generations" in body:  # Cohere Command
        return [g["finish_reason"] for g in body["generations"]]
    if "finish_reason" in body:  # Cohere Command R
        return [body["finish_reason"]]
    return []


def expected(interaction: Interaction, port: int) -> dict[str, Any]:
    method, model, kwargs = call_of(interaction)
    attrs: dict[str, Any] = {
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": model,
        "server.address": "127.0.0.1",
        "server.port": port,
    }
    if method.startswith("converse"):
        attrs["gen_ai.operation.name"] = "chat"
        config = kwargs.get("inferenceConfig") or {}
        for key, name in (("maxTokens", "max_tokens"), ("temperature", "temperature"), ("topP", "top_p")):
            if key in config:
                attrs[f"gen_ai.request.{name}"] = config[key]
        if "stopSequences" in config:
            attrs["gen_ai.request.stop_sequences"] = tuple(config["stopSequences"])
    else:
        body = json.loads(kwargs["body"]) if kwargs["body"] else {}
        shaped = "text_completion" if body else "generate_content"  # no body: nothing tells what the call was
        attrs["gen_ai.operation.name"] = "chat" if "messages" in body or "message" in body else shaped
        config = body.get("inferenceConfig") or body.get("textGenerationConfig") or body
        for keys, name in (
            (("max_tokens", "max_new_tokens", "maxTokenCount", "max_gen_len"), "max_tokens"),
            (("temperature",), "temperature"),
            (("top_p", "topP", "p"), "top_p"),
        ):
            for key in keys:
                if key in config:
                    attrs[f"gen_ai.request.{name}"] = config[key]
        stops = config.get("stop_sequences") or config.get("stopSequences") or config.get("stop")
        if stops:
            attrs["gen_ai.request.stop_sequences"] = tuple(stops)
    if method.endswith("stream"):
        attrs["gen_ai.request.stream"] = True
    if interaction.status >= 300:
        attrs["error.type"] = str(interaction.status)
        return attrs
    reasons: list[str] = []
    usage: dict[str, Any] = {}
    if method == "converse":
        body = interaction.response_json()
        reasons = [body["stopReason"]]
        usage = body["usage"]
    elif method == "converse_stream":
        for event in decoded_events(interaction.body):
            if event["type"] == "messageStop":
                reasons = [event["stopReason"]]
            if event["type"] == "metadata":
                usage = event["usage"]
    elif method == "invoke_model":
        body = interaction.response_json()
        reasons = _family_reasons(model, body)
        headers = {k.lower(): v for k, v in interaction.headers}
        usage = {
            "inputTokens": int(headers["x-amzn-bedrock-input-token-count"]),
            "outputTokens": int(headers["x-amzn-bedrock-output-token-count"]),
        }
        for header, name in (("read", "cache_read"), ("write", "cache_write")):
            found = headers.get(f"x-amzn-bedrock-cache-{header}-input-token-count")
            if found is not None:
                attrs[f"gen_ai.usage.{name}.input_tokens"] = int(found)
                usage[f"cache{header.title()}InputTokens"] = int(found)
        if "anthropic" in model:
            attrs["gen_ai.response.id"] = body["id"]
            attrs["gen_ai.response.model"] = body["model"]
        if "cohere.command-light" in model:
            attrs["gen_ai.response.id"] = body["id"]
        if "cohere.command-r" in model:
            attrs["gen_ai.response.id"] = body["response_id"]
    else:
        for event in decoded_events(interaction.body):
            chunk = json.loads(base64.b64decode(event["bytes"]))
            metrics = chunk.get("amazon-bedrock-invocationMetrics")
            if metrics:
                usage = {"inputTokens": metrics["inputTokenCount"], "outputTokens": metrics["outputTokenCount"]}
            reason = (
                chunk.get("stopReason")
                or chunk.get("completionReason")
                or (chunk.get("delta") or {}).get("stop_reason")
            )
            reason = reason or (chunk.get("messageStop") or {}).get("stopReason")
            if reason:
                reasons.append(reason)
            if chunk.get("type") == "message_start":
                attrs["gen_ai.response.id"] = chunk["message"]["id"]
                attrs["gen_ai.response.model"] = chunk["message"]["model"]
            nova_usage = (chunk.get("metadata") or {}).get("usage") or {}
            for key, name in (("cacheReadInputTokenCount", "cache_read"), ("cacheWriteInputTokenCount", "cache_write")):
                if key in nova_usage:
                    attrs[f"gen_ai.usage.{name}.input_tokens"] = nova_usage[key]
    if reasons:
        attrs["gen_ai.response.finish_reasons"] = tuple(reasons)
    if "inputTokens" in usage:
        cache = usage.get("cacheReadInputTokens", 0) + usage.get("cacheWriteInputTokens", 0)
        attrs["gen_ai.usage.input_tokens"] = usage["inputTokens"] + cache
        attrs["gen_ai.usage.output_tokens"] = usage["outputTokens"]
    return attrs


def consume(method: str, result: Any) -> None:
    if method == "converse_stream":
        list(result["stream"])
    elif method == "invoke_model_with_response_stream":
        list(result["body"])
    elif method == "invoke_model":
        result["body"].read()


@pytest.mark.parametrize("name", NAMES)
def test_cassette(otel: Otel, name: str) -> None:
    cassette = Cassette(name, DIRECTORY)
    with CannedServer([reply_of(i) for i in cassette.interactions]) as server:
        client = support.client(server.url)
        otel.instrument("bedrock")
        for interaction in cassette.interactions:
            method, _, kwargs = call_of(interaction)
            if interaction.status >= 300:
                with pytest.raises(ClientError):
                    getattr(client, method)(**kwargs)
            else:
                consume(method, getattr(client, method)(**kwargs))
        port = server.httpd.server_address[1]
        spans = otel.spans()
        assert len(spans) == len(cassette.interactions)
        for span, interaction in zip(spans, cassette.interactions, strict=True):
            attrs = dict(span.attributes or {})
            if attrs.pop("gen_ai.response.time_to_first_chunk", None) is not None:
                assert attrs.get("gen_ai.request.stream") is True
            assert attrs == expected(interaction, port), name
            assert span.name == f"{attrs['gen_ai.operation.name']} {attrs['gen_ai.request.model']}"
        assert len(server.requests) == len(cassette.interactions)


def test_cassette_request_bytes_unchanged(otel: Otel) -> None:
    """What botocore sends with llmtel installed is what it sends without (the recorded body, for invoke)."""
    cassette = Cassette("test_invoke_model_with_content[anthropic.claude]", DIRECTORY)
    with CannedServer([reply_of(cassette[0])] * 2) as server:
        client = support.client(server.url)
        method, _, kwargs = call_of(cassette[0])
        consume(method, client.invoke_model(**kwargs))
        otel.instrument("bedrock", **CONTENT)
        consume(method, client.invoke_model(**kwargs))
        assert server.requests[0][2] == server.requests[1][2] == kwargs["body"]


def test_converse_tool_call_with_content(otel: Otel) -> None:
    cassette = Cassette("test_converse_tool_call_with_content", DIRECTORY)
    with CannedServer([reply_of(i) for i in cassette.interactions]) as server:
        client = support.client(server.url)
        otel.instrument("bedrock", **CONTENT)
        for interaction in cassette.interactions:
            method, _, kwargs = call_of(interaction)
            getattr(client, method)(**kwargs)
    first = dict(otel.spans()[0].attributes or {})
    recorded = cassette.response_json(0)["output"]["message"]["content"]
    calls = [block["toolUse"] for block in recorded if "toolUse" in block]
    output = json.loads(str(first["gen_ai.output.messages"]))
    assert [p for p in output[0]["parts"] if p["type"] == "tool_call"] == [
        {"type": "tool_call", "name": c["name"], "id": c["toolUseId"], "arguments": c["input"]} for c in calls
    ]
    tools = json.loads(str(first["gen_ai.tool.definitions"]))
    assert [t["name"] for t in tools] == [
        t["toolSpec"]["name"] for t in cassette.request_json(0)["toolConfig"]["tools"]
    ]
    second_input = json.loads(str(dict(otel.spans()[1].attributes or {})["gen_ai.input.messages"]))
    assert any(p["type"] == "tool_call_response" for m in second_input for p in m["parts"])


def test_converse_stream_close_before_consumption(otel: Otel) -> None:
    cassette = Cassette("test_converse_stream_close_before_consumption", DIRECTORY)
    with CannedServer([reply_of(cassette[0])]) as server:
        client = support.client(server.url)
        otel.instrument("bedrock")
        _, _, kwargs = call_of(cassette[0])
        result = client.converse_stream(**kwargs)
        result["stream"].close()
        attrs = dict(otel.span().attributes or {})
    assert "gen_ai.response.finish_reasons" not in attrs and "error.type" not in attrs


@pytest.mark.parametrize("name", NAMES)
def test_cassette_content(otel: Otel, name: str) -> None:
    """Every recording again with content capture on: the content of each span parses, carries the recorded
    texts, and (at the fixture's teardown) matches the conventions' message schemas, on spans and events."""
    cassette = Cassette(name, DIRECTORY)
    with CannedServer([reply_of(i) for i in cassette.interactions]) as server:
        client = support.client(server.url)
        otel.instrument("bedrock", **CONTENT)
        for interaction in cassette.interactions:
            method, _, kwargs = call_of(interaction)
            if interaction.status >= 300:
                with pytest.raises(ClientError):
                    getattr(client, method)(**kwargs)
            else:
                consume(method, getattr(client, method)(**kwargs))
    for span, interaction in zip(otel.spans(), cassette.interactions, strict=True):
        attrs = dict(span.attributes or {})
        if not interaction.request_body:  # recorded without a body: there is no content to record
            assert "gen_ai.input.messages" not in attrs
            continue
        inputs = json.loads(str(attrs["gen_ai.input.messages"]))
        assert inputs and all(m["parts"] for m in inputs)
        recorded = interaction.request_body or ""
        for text in (p.get("content") for m in inputs for p in m["parts"] if p["type"] == "text"):
            assert json.dumps(text)[1:-1][:40] in recorded.replace("\n", "\\n") or text in recorded
        if interaction.status < 300:
            outputs = json.loads(str(attrs["gen_ai.output.messages"]))
            assert len(outputs) >= 1 and outputs[0]["role"] == "assistant"
    assert len(otel.logs()) == len(cassette.interactions)
