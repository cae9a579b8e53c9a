"""Fixtures of the Google Gen AI tests: real ``google-genai`` clients (Gemini Developer API and Vertex AI) on the
local wire-faithful server, through the SDK's own HTTP stack."""

from __future__ import annotations

from typing import Any

import pytest
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials


def http_options(base_url: str) -> types.HttpOptions:
    """The SDK's HTTP options for ``base_url``, without retries (older SDKs have no retry options, nor retries)."""
    if hasattr(types, "HttpRetryOptions"):
        return types.HttpOptions(base_url=base_url, retry_options=types.HttpRetryOptions(attempts=1))
    return types.HttpOptions(base_url=base_url)


def gemini_client(server: Any) -> genai.Client:
    """A Gemini Developer API client (API key) on the demo server."""
    return genai.Client(api_key="test-key", http_options=http_options(server.root_url))


def vertex_client(server: Any) -> genai.Client:
    """A Vertex AI client (project, location, an OAuth token that needs no refresh) on the demo server."""
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=Credentials(token="test-token"),  # type: ignore[no-untyped-call]
        http_options=http_options(server.root_url),
    )


@pytest.fixture
def gemini(server: Any) -> genai.Client:
    return gemini_client(server)


@pytest.fixture
def vertex(server: Any) -> genai.Client:
    return vertex_client(server)


@pytest.fixture(params=["sync", "async"])
def models(request: pytest.FixtureRequest, gemini: genai.Client) -> Any:
    """``client.models`` or ``client.aio.models`` of a Gemini API client (the two classes wrapped)."""
    return gemini.models if request.param == "sync" else gemini.aio.models
