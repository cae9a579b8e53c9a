"""Fixtures of the OpenAI tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(params=["sync", "async"])
def sdk(request: pytest.FixtureRequest) -> Any:
    """The sync or the async client (only the one needed is created)."""
    return request.getfixturevalue("client" if request.param == "sync" else "aclient")
