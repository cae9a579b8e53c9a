"""Faults in llmtel's own code never reach the app, and untrusted server values never reach an attribute
unvalidated: the app gets what it gets without llmtel, and the span still ends, with what was known."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from llmtel.demo.server import FakeOpenAIServer
from llmtel.providers.bedrock import _common, converse, families, invoke
from tests.bedrock import support
from tests.bedrock.support import CannedServer, json_reply, stream_reply
from tests.conftest import Otel

MODEL = "amazon.nova-micro-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Say this is a test"}]}]
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
CLAUDE_BODY = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 9, "messages": MESSAGES})


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("llmtel bug")


def normal(value: Any) -> str:
    """A result with the parts that differ per request (ids, dates, counters) blanked."""
    return re.sub(r"\d+", "#", json.dumps(value, default=str, sort_keys=True))


def calls(client: Any) -> list[Any]:
    out = [client.converse(modelId=MODEL, messages=MESSAGES)]
    out.append(list(client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]))
    out.append(json.loads(client.invoke_model(modelId=CLAUDE, body=CLAUDE_BODY)["body"].read()))
    out.append(list(client.invoke_model_with_response_stream(modelId=CLAUDE, body=CLAUDE_BODY)["body"]))
    for item in out:
        if isinstance(item, dict):
            item.pop("ResponseMetadata", None)
    return out


FAULTS = [
    (_common.BedrockRuntime, "route"),
    (converse.ConverseApi, "request"),
    (converse.ConverseApi, "content"),
    (converse.ConverseApi, "response"),
    (converse.ConverseStreamApi, "deliver"),
    (converse.ConverseEvents, "on_chunk"),
    (converse.ConverseEvents, "on_end"),
    (invoke.InvokeApi, "request"),
    (invoke.InvokeApi, "response"),
    (invoke.InvokeApi, "deliver"),
    (invoke.InvokeChunks, "on_chunk"),
    (invoke._BodyReader, "feed"),
    (families.Anthropic, "content"),
    (families.AnthropicChunks, "on_chunk"),
]


@pytest.mark.parametrize(("owner", "name"), FAULTS, ids=[f"{o.__name__}.{n}" for o, n in FAULTS])
def test_a_fault_in_llmtel_changes_nothing_for_the_app(
    otel: Otel, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, owner: type, name: str
) -> None:
    client = support.client(server.root_url)
    plain = calls(client)
    monkeypatch.setattr(owner, name, boom)
    otel.instrument("bedrock", **support.CONTENT)
    assert normal(calls(client)) == normal(plain)
    spans = otel.spans()
    # a fault before the span starts (routing, request attributes) leaves those calls without one, as the core
    # does for every provider; any later fault still ends the span
    expected = {"route": 0, "request": 2}.get(name, 4)
    assert len(spans) == expected
    assert all(s.end_time is not None for s in spans)


def test_endpoint_fault_passes_the_call_through(
    otel: Otel, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_common, "endpoint_of", boom)
    client = support.client(server.root_url)
    plain = calls(client)
    otel.instrument("bedrock")
    assert normal(calls(client)) == normal(plain)
    assert otel.spans() == []


# -- untrusted server values ------------------------------------------------------------------------------------

BAD_USAGE = {"inputTokens": -5, "outputTokens": 2**70, "cacheReadInputTokens": 2**63, "totalTokens": 1}


@pytest.mark.parametrize(
    "payload",
    [
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
            "stopReason": "end_turn",
            "usage": BAD_USAGE,
        },
        {"output": {"message": {"role": "assistant", "content": [{"text": "\ud800 lone"}]}}, "stopReason": "\ud800"},
        {"output": None, "usage": None},
        {},
    ],
)
def test_untrusted_converse_values(otel: Otel, payload: dict[str, Any]) -> None:
    with CannedServer([json_reply(payload)]) as srv:
        otel.instrument("bedrock", **support.CONTENT)
        support.client(srv.url).converse(modelId=MODEL, messages=MESSAGES)
        attrs = dict(otel.span().attributes or {})
    assert not any(k.startswith("gen_ai.usage.") for k in attrs), attrs  # no count was valid
    reasons = attrs.get("gen_ai.response.finish_reasons")
    assert reasons in (None, ("end_turn",), ("\ufffd",))
    json.loads(str(attrs["gen_ai.output.messages"])) if "gen_ai.output.messages" in attrs else None


def test_untrusted_stream_events(otel: Otel) -> None:
    from llmtel.demo.wire.bedrock import event_message

    def event(kind: str, payload: Any) -> bytes:
        headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
        return event_message(headers, json.dumps(payload).encode())

    messages = [
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 2**70, "delta": {"text": "a"}}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": 5}}}),
        event("messageStop", {"stopReason": "end_turn"}),
        event(
            "metadata", {"usage": {"inputTokens": 3, "outputTokens": -1, "totalTokens": 2}, "metrics": {"latencyMs": 1}}
        ),
    ]
    with CannedServer([stream_reply(messages)]) as srv:
        otel.instrument("bedrock", **support.CONTENT)
        events = list(support.client(srv.url).converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])
        attrs = dict(otel.span().attributes or {})
    assert len(events) == 5
    assert attrs["gen_ai.usage.input_tokens"] == 3 and "gen_ai.usage.output_tokens" not in attrs
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)


def test_huge_invoke_body_is_read_but_not_parsed(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invoke, "MAX_BODY", 2 * len(CLAUDE_BODY))  # the request fits, the reply does not
    payload = {"id": "msg_1", "stop_reason": "end_turn", "content": [{"type": "text", "text": "x" * 500}]}
    with CannedServer([json_reply(payload)]) as srv:
        otel.instrument("bedrock")
        raw = support.client(srv.url).invoke_model(modelId=CLAUDE, body=CLAUDE_BODY)["body"].read()
        attrs = dict(otel.span().attributes or {})
    assert json.loads(raw) == payload
    assert "gen_ai.response.id" not in attrs and "gen_ai.request.max_tokens" in attrs


def test_error_type_rules() -> None:
    """The documented error.type values (llmtel.providers.bedrock._common): status first, then the code."""
    from botocore.exceptions import ClientError, EventStreamError

    from llmtel.providers.bedrock._common import error_type

    def response(code: Any, status: Any = None) -> dict[str, Any]:
        found: dict[str, Any] = {"Error": {"Code": code, "Message": "m"}}
        if status is not None:
            found["ResponseMetadata"] = {"HTTPStatusCode": status}
        return found

    assert error_type(ClientError(response("ThrottlingException", 429), "Converse")) == "429"
    assert error_type(ClientError(response("UnrecognizedClientException", 403), "Converse")) == "403"
    assert error_type(ClientError(response("ValidationException"), "Converse")) == "400"  # no status: the code's
    assert error_type(EventStreamError(response("throttlingException", 400), "ConverseStream")) == "429"
    assert error_type(EventStreamError(response("modelStreamErrorException"), "ConverseStream")) == "424"
    assert error_type(EventStreamError(response("someNewException"), "ConverseStream")) == "someNewException"
    assert error_type(EventStreamError(response("x" * 500), "ConverseStream")) == "x" * 64
    assert error_type(ClientError(response(None, True), "Converse")) is None  # the core's rule: the class
    assert error_type(ValueError("not botocore's")) is None
