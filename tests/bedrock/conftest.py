"""Fixtures of the Bedrock tests: the checked ``otel`` pipeline (see support.py) and a real boto3 client on the
session's local server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmtel.demo.server import FakeOpenAIServer
from tests.bedrock import support
from tests.conftest import Otel


@pytest.fixture
def otel() -> Iterator[Otel]:
    yield from support.checked_pipeline()


@pytest.fixture
def bedrock(server: FakeOpenAIServer) -> Any:
    return support.client(server.root_url)
