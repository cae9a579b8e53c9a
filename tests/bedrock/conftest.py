"""Fixtures of the Bedrock tests: a real boto3 bedrock-runtime client on the session's local server."""

from __future__ import annotations

from typing import Any

import pytest

from llmtel.demo.server import FakeOpenAIServer
from tests.bedrock import support


@pytest.fixture
def bedrock(server: FakeOpenAIServer) -> Any:
    return support.client(server.root_url)
