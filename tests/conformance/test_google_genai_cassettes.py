"""Recorded Vertex AI traffic (../shared/cassettes/google-genai, recorded by the official instrumentation's tests
with google-genai 1.32) replayed through today's real ``google-genai`` client and its real HTTP stack (httpx2):
the replay transport of tests/conformance/cassettes.py answers each request with the recorded response (server-sent
events frame by frame), and the span must carry exactly what the recording implies.

The expected values are read from the recorded JSON by this test's own small oracle (not by llmtel's code):
Gemini's disjoint counts summed as the conventions define their totals (thoughts are output), the last usage
of a stream (its counts are cumulative), the finish reason in lower case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials

from llmtel import semconv as sc
from tests.conformance.cassettes import AsyncReplayTransport, Cassette, Interaction, ReplayTransport
from tests.conformance.shared import SHARED_DIR

DIRECTORY = SHARED_DIR / "cassettes" / "google-genai"
if not DIRECTORY.is_dir():
    pytest.skip(
        f"../shared/cassettes/google-genai not found ({DIRECTORY}): cassette tests skipped", allow_module_level=True
    )

_CLIENT_OPTION = types.HttpOptions.model_fields.get("httpx_client")
if _CLIENT_OPTION is None or "httpx2" not in str(_CLIENT_OPTION.annotation):
    pytest.skip("this google-genai does not use httpx2, which the replay transport is", allow_module_level=True)

NAMES = sorted(p.stem for p in Path(DIRECTORY).glob("*.yaml"))
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
HOST = "test-location-aiplatform.googleapis.com"


def client(cassette: Cassette, is_async: bool) -> genai.Client:
    """A Vertex AI client as the recordings were made (project test-project, location test-location), its HTTP
    client on the replay transport, an OAuth token that needs no refresh."""
    if is_async:
        options = types.HttpOptions(httpx_async_client=httpx2.AsyncClient(transport=AsyncReplayTransport(cassette)))
    else:
        options = types.HttpOptions(httpx_client=httpx2.Client(transport=ReplayTransport(cassette)))
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="test-location",
        credentials=Credentials(token="test-token"),  # type: ignore[no-untyped-call]
        http_options=options,
    )


# -- the oracle ----------------------------------------------------------------------------------------------------


def responses_of(interaction: Interaction) -> list[dict[str, Any]]:
    if interaction.is_sse:
        return [e for e in interaction.sse_events() if isinstance(e, dict)]
    return [interaction.response_json()]


def implied(interaction: Interaction, model: str, stream: bool) -> dict[str, Any]:
    responses = responses_of(interaction)
    last = responses[-1]
    usage = next((r["usageMetadata"] for r in reversed(responses) if "promptTokenCount" in r["usageMetadata"]), {})
    thoughts = usage.get("thoughtsTokenCount", 0)
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: "generate_content",
        sc.GEN_AI_PROVIDER_NAME: "gcp.vertex_ai",
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.SERVER_ADDRESS: HOST,
        sc.SERVER_PORT: 443,
        sc.GEN_AI_RESPONSE_ID: last["responseId"],
        sc.GEN_AI_RESPONSE_MODEL: last["modelVersion"],
        sc.GEN_AI_RESPONSE_FINISH_REASONS: tuple(c["finishReason"].lower() for c in last["candidates"]),
        sc.GEN_AI_USAGE_INPUT_TOKENS: usage["promptTokenCount"] + usage.get("toolUsePromptTokenCount", 0),
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage["candidatesTokenCount"] + thoughts,
    }
    if thoughts:
        attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = thoughts
    if "cachedContentTokenCount" in usage:
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage["cachedContentTokenCount"]
    if stream:
        attrs[sc.GEN_AI_REQUEST_STREAM] = True
    return attrs


def reply_text(interaction: Interaction) -> str:
    return "".join(
        part.get("text", "")
        for response in responses_of(interaction)
        for candidate in response.get("candidates", ())
        for part in candidate.get("content", {}).get("parts", ())
    )


# -- the test ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
async def test_cassette(otel: Any, name: str) -> None:
    cassette = Cassette(name, DIRECTORY)
    interaction = cassette[0]
    is_async = "-async-" in name
    stream = name.startswith("test_streaming")
    capture = name.split("[")[1].startswith("logcontent")
    model = interaction.path.rsplit("/", 1)[1].split(":")[0]
    recorded = interaction.request_json()
    otel.instrument("google_genai", **({CAPTURE: "SPAN_ONLY"} if capture else {}))

    genai_client = client(cassette, is_async)
    models: Any = genai_client.aio.models if is_async else genai_client.models
    kwargs = {"model": model, "contents": recorded["contents"]}
    if stream:
        result: Any = models.generate_content_stream(**kwargs)
        chunks = [c async for c in await result] if is_async else list(result)
        assert len(chunks) == len(responses_of(interaction)) > 1  # frame by frame, as recorded
        text = "".join(c.text or "" for c in chunks)
    else:
        result = models.generate_content(**kwargs)
        text = (await result if is_async else result).text
    assert text == reply_text(interaction)
    cassette.assert_same_requests()

    span = otel.span()
    assert span.name == f"generate_content {model}"
    attrs = dict(span.attributes)
    if stream:
        assert attrs.pop(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0
    content = {k: json.loads(attrs.pop(k)) for k in (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES) if k in attrs}
    assert attrs == implied(interaction, model, stream)
    if capture:
        prompt = recorded["contents"][0]["parts"][0]["text"]
        assert content == {
            sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [{"type": "text", "content": prompt}]}],
            sc.GEN_AI_OUTPUT_MESSAGES: [
                {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}
            ],
        }
    else:
        assert content == {}
