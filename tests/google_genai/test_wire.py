"""The demo server's Gemini wire format (llmtel.demo.wire.gemini), driven by the real google-genai SDK with no
instrumentation installed, and on the raw HTTP level where the SDK cannot reach (bad bodies, other paths)."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from google import genai
from google.genai import errors, types

from llmtel.demo.server import DEFAULT_REPLY
from llmtel.demo.wire.gemini import CREATE_TIME, THOUGHT_TOKENS
from tests.google_genai.conftest import http_options


def post(server: Any, path: str, body: bytes) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers={"content-type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_gemini_api_reply(server: Any, gemini: Any) -> None:
    result = gemini.models.generate_content(model="models/gemini-2.5-flash", contents="one two three")
    n = len(server.requests)
    # the SDK's default API version (v1 in google-genai 3, v1beta before)
    assert server.requests[-1].path in (
        "/v1/models/gemini-2.5-flash:generateContent",
        "/v1beta/models/gemini-2.5-flash:generateContent",
    )
    assert result.text == DEFAULT_REPLY
    assert result.response_id == f"resp-{n}" and result.model_version == "gemini-2.5-flash-001"
    assert result.create_time is None  # the Developer API sends none; Vertex AI does
    usage = result.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.total_token_count) == (3, 10, 13)


def test_vertex_ai_reply_and_thinking(server: Any, vertex: Any) -> None:
    config = {"thinking_config": {"include_thoughts": True}, "cached_content": "cachedContents/1"}
    result = vertex.models.generate_content(model="gemini-2.5-flash", contents="one two three four", config=config)
    assert server.requests[-1].path == (
        "/v1beta1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert result.create_time.isoformat().startswith(CREATE_TIME[:19])
    thought, answer = result.candidates[0].content.parts
    assert thought.thought is True and answer.text == DEFAULT_REPLY
    usage = result.usage_metadata
    assert (usage.thoughts_token_count, usage.cached_content_token_count) == (THOUGHT_TOKENS, 2)
    assert usage.total_token_count == 4 + 10 + THOUGHT_TOKENS


def test_express_mode_path(server: Any) -> None:
    """Vertex AI with an API key only (express mode): no project or location in the path."""
    client = genai.Client(vertexai=True, api_key="k", http_options=http_options(server.root_url))
    assert client.models.generate_content(model="gemini-2.5-flash", contents="hi").text == DEFAULT_REPLY
    assert server.requests[-1].path == "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"


def test_stream_frames(server: Any, gemini: Any) -> None:
    chunks = list(gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
    assert "".join(c.text for c in chunks) == DEFAULT_REPLY
    assert server.requests[-1].path.endswith(":streamGenerateContent?alt=sse")
    assert [c.candidates[0].finish_reason for c in chunks][-1] == types.FinishReason.STOP


def test_the_reply_knobs(server: Any, gemini: Any) -> None:
    options = types.HttpOptions(extra_body={"x_reply": "a b c d", "x_chunks": 2})
    chunks = list(gemini.models.generate_content_stream(model="m", contents="hi", config={"http_options": options}))
    assert [c.text for c in chunks] == ["a b", " c d"]


def test_bad_requests(server: Any) -> None:
    assert post(server, "/v1beta/models/m:generateContent", b"{not json")[0] == 400
    status, body = post(server, "/v1beta/models/m:countTokens", b"{}")
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    # not a Gemini path: the OpenAI routes answer (404 there)
    assert post(server, "/v1beta/other", b"{}")[0] == 404


def test_magic_errors(gemini: Any) -> None:
    with pytest.raises(errors.ClientError) as raised:
        gemini.models.generate_content(model="does-not-exist", contents="hi")
    assert (raised.value.code, raised.value.status) == (404, "NOT_FOUND")
    with pytest.raises(errors.ClientError) as raised:
        gemini.models.embed_content(model="rate-limited", contents=["hi"])
    assert (raised.value.code, raised.value.status) == (429, "RESOURCE_EXHAUSTED")
