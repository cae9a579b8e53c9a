"""The coexistence tests need the other instrumentations, which live in their own venvs only: the OpenAI peers
(requirements.txt here) in .venv-peers for test_peers.py, each other provider's (requirements-NAME.txt) in
.venv-peers-NAME for test_NAME.py (see ./dev). Anywhere else a test file whose peers are not all installed is
skipped, for the one reason below."""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest

HERE = Path(__file__).parent
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _requirements(test_file: Path) -> Path:
    name = "" if test_file.stem == "test_peers" else test_file.stem.removeprefix("test_")
    return HERE / (f"requirements-{name}.txt" if name else "requirements.txt")


@cache
def missing(requirements: Path) -> tuple[str, ...]:
    """The distributions ``requirements`` names that are not installed here."""
    found = []
    lines = requirements.read_text(encoding="utf-8").splitlines() if requirements.exists() else ["?"]
    for line in lines:
        match = _NAME.match(line.strip())
        if match is None or line.lstrip().startswith("#"):
            continue
        try:
            metadata.version(match.group())
        except metadata.PackageNotFoundError:
            found.append(match.group())
    return tuple(found)


# A marker at collection, not pytest.skip() at import: this conftest is imported while pytest parses its command
# line when the folder is named on it, and a skip raised then is an error, not a skip.
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in item.path.parents:
            continue
        requirements = _requirements(item.path)
        if missing(requirements):
            venv = ".venv-peers" if requirements.name == "requirements.txt" else f".venv-peers-{item.path.stem[5:]}"
            reason = f"peer packages not installed ({requirements.name}); ./dev test runs these in {venv}"
            item.add_marker(pytest.mark.skip(reason=reason))
