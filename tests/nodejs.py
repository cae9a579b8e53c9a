"""Node.js helpers for tests that run real JavaScript (Grafana's LogQL grammar, the OpenTelemetry JS encoder).

Each node package dir in tests/ holds a package.json and a pinned package-lock.json. ``install`` runs ``npm ci``
into a cache directory outside the checkout, keyed by the lock file's hash, so it runs once per lock file and
never leaves node_modules in git. Without node or npm, or without the registry, the test fails (under CI) or
skips with a message that says which.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest

NPM_TIMEOUT_S = 180
NODE_TIMEOUT_S = 60


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llmtel-tests" / "npm"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI is set: these tests must run in CI")
    pytest.skip(reason)


def install(package_dir: Path) -> Path:
    """``npm ci`` of ``package_dir``'s lock file into the cache; returns the node_modules directory."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _unavailable("`node`/`npm` are not installed (Debian: apt-get install nodejs npm; .ci/run installs them)")
    lock = (package_dir / "package-lock.json").read_bytes()
    target = cache_root() / f"{package_dir.name}-{hashlib.sha256(lock).hexdigest()[:16]}"
    modules = target / "node_modules"
    done = target / ".installed"
    if done.exists():
        return modules
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock_file:
        # Two pytest processes on one machine must not run npm ci into the same directory at once.
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if done.exists():
            return modules
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(package_dir / name, target / name)
        # --engine-strict=false: the pinned grammar declares node >= 24 but runs on 18/20 (the tests prove it).
        cmd = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--engine-strict=false", "--loglevel=error"]
        try:
            result = subprocess.run(cmd, cwd=target, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            _unavailable(f"`npm ci` for {package_dir.name} took over {NPM_TIMEOUT_S}s (is the npm registry reachable?)")
        if result.returncode != 0:
            _unavailable(
                f"`npm ci` for {package_dir.name} failed (the npm registry must be reachable once, then the cache "
                f"{target} is used): {result.stderr.strip()[-800:]}"
            )
        done.write_text("ok\n")
    return modules


def run(package_dir: Path, script: str, payload: Any = None, *args: str) -> Any:
    """Run ``package_dir/script`` with the installed modules, ``payload`` as JSON on stdin; its JSON stdout."""
    modules = install(package_dir)
    node = shutil.which("node")
    assert node
    result = subprocess.run(
        [node, str(package_dir / script), *args],
        input=json.dumps(payload),
        env={**os.environ, "NODE_PATH": str(modules)},
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
