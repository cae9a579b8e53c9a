"""An app run under ``opentelemetry-instrument`` in a subprocess, as a user runs it: the zero-code path, with
this test venv's wrapper and interpreter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"
needs_instrument = pytest.mark.skipif(not INSTRUMENT.exists(), reason=f"{INSTRUMENT} not installed")
"""For a module's ``pytestmark``: its tests need the wrapper (the package's ``otlp`` extra)."""


def run_instrumented(
    app: Path, *args: str, env: Mapping[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``opentelemetry-instrument python APP ARGS`` with exactly ``env``; output captured as text."""
    return subprocess.run(
        [str(INSTRUMENT), sys.executable, str(app), *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
