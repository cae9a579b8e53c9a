"""Fixtures of the Anthropic tests: real ``anthropic`` clients (sync or async) against the demo server's Messages
wire format (:mod:`llmtel.demo.wire.anthropic`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest


@pytest.fixture(params=["sync", "async"])
def is_async(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "async")


@pytest.fixture
async def llm(server: Any, is_async: bool) -> AsyncIterator[Any]:
    """One real client of the flavour under test. Its own HTTP client without TLS set-up keeps it cheap to make."""
    if is_async:
        http = anthropic.DefaultAsyncHttpxClient(verify=False)
        async with anthropic.AsyncAnthropic(
            base_url=server.root_url, api_key="k", max_retries=0, http_client=http
        ) as c:
            yield c
    else:
        http_sync = anthropic.DefaultHttpxClient(verify=False)
        with anthropic.Anthropic(base_url=server.root_url, api_key="k", max_retries=0, http_client=http_sync) as c:
            yield c
