"""tests/nodejs.py: npm ci into a cache keyed by the lock file, and a clear message when the registry is away."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests import nodejs

LOGQL = Path(__file__).resolve().parent / "deploy" / "logql"


def test_an_unreachable_registry_is_a_clear_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not shutil.which("npm"):
        pytest.skip("npm is not installed")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # Nothing listens on port 9; no retries, so npm gives up at once (and no user cache answers for it).
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    monkeypatch.setenv("npm_config_offline", "false")
    with pytest.raises(pytest.skip.Exception, match=r"`npm ci` for logql failed \(the npm registry must be reachable"):
        nodejs.install(LOGQL)
    (target,) = (tmp_path / "cache" / "llmtel-tests" / "npm").iterdir()
    assert not (target / ".installed").exists()  # the next run tries again
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        nodejs.install(LOGQL)


def test_the_install_is_cached_by_the_lock_file() -> None:
    modules = nodejs.install(LOGQL)
    assert modules.parent.name.startswith("logql-") and (modules.parent / ".installed").is_file()
    assert (modules / "@grafana" / "lezer-logql" / "package.json").is_file()
    assert nodejs.install(LOGQL) == modules
