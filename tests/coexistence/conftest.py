"""The coexistence tests need the other OpenAI instrumentations, which live in .venv-peers only (see
requirements.txt here); anywhere else every test of this folder is skipped, for the one reason below."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

PEERS = (
    "opentelemetry-instrumentation-openai-v2",
    "opentelemetry-instrumentation-openai",
    "openinference-instrumentation-openai",
)
REASON = "peer packages not installed; ./dev test runs these in .venv-peers"
HERE = Path(__file__).parent


def _installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


MISSING = [d for d in PEERS if not _installed(d)]


# A marker at collection, not pytest.skip() at import: this conftest is imported while pytest parses its command
# line when the folder is named on it, and a skip raised then is an error, not a skip.
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not MISSING:
        return
    skip = pytest.mark.skip(reason=REASON)
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)
