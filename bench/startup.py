"""Start-up cost: ``import llmtel`` + ``llmtel.instrument()`` in a fresh interpreter.

The child process first does what the app does anyway (imports the OpenTelemetry SDK and creates its
providers; imports ``openai`` or not), then times exactly our part and reports which top-level packages our
part imported. A second run under ``-X importtime`` names the slowest imports inside our part.
"""

from __future__ import annotations

import compileall
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import llmtel

_MARK = "--- llmtel bench: instrumenting ---"

_CHILD = f"""
import json, sys, time
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
if sys.argv[1] == "with-openai":
    import openai
tp, mp, lp = TracerProvider(), MeterProvider(), LoggerProvider()
before = set(sys.modules)
sys.stderr.write({_MARK!r} + "\\n")
sys.stderr.flush()
t0 = time.perf_counter()
import llmtel
llmtel.instrument(tracer_provider=tp, meter_provider=mp, logger_provider=lp)
elapsed = time.perf_counter() - t0
added = set(sys.modules) - before
had = {{name.partition(".")[0] for name in before}}
new = sorted(
    {{name.partition(".")[0] for name in added}} - had - set(sys.stdlib_module_names) - {{"llmtel"}}
)
sdk_modules = sum(1 for name in added if name == "openai" or name.startswith("openai."))
print(json.dumps({{"ms": elapsed * 1e3, "openai": "openai" in sys.modules, "new": new, "sdk_modules": sdk_modules}}))
"""

# The app decides nothing about our configuration here: a clean environment for OTEL_* and LLMTEL_*.
_CLEAN_PREFIXES = ("OTEL_", "LLMTEL_")


@dataclass
class StartupCase:
    app_imports_openai: bool
    runs_ms: list[float] = field(default_factory=list)
    openai_imported: bool = False
    new_packages: list[str] = field(default_factory=list)  # third-party top-level packages our part imported
    new_sdk_modules: int = 0  # openai modules our part imported
    slowest_imports: list[tuple[str, float]] = field(default_factory=list)  # (module, cumulative ms)

    @property
    def label(self) -> str:
        return "app already imported openai" if self.app_imports_openai else "app never imported openai"

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms) if self.runs_ms else float("nan")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_CLEAN_PREFIXES)}


def _run(mode: str, importtime: bool) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", _CHILD, mode]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"start-up probe failed ({mode}): {done.stderr[-2000:]}")
    return done


def _slowest(stderr: str, top: int) -> list[tuple[str, float]]:
    """Top-level imports (not nested in another import) after the mark, by cumulative time."""
    _, _, after = stderr.partition(_MARK)
    found: list[tuple[str, float]] = []
    for line in after.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part for part in line[len("import time:") :].split("|"))
        if name.startswith("  ") or not cumulative.strip().isdigit():
            continue  # nested in another import of the same section (indented), or the header line
        found.append((name.strip(), int(cumulative) / 1e3))
    return sorted(found, key=lambda item: -item[1])[:top]


def _measure_case(case: StartupCase, runs: int, importtime: bool) -> None:
    mode = "with-openai" if case.app_imports_openai else "without-openai"
    for _ in range(runs):
        result = json.loads(_run(mode, importtime=False).stdout.strip().splitlines()[-1])
        case.runs_ms.append(float(result["ms"]))
        case.openai_imported = bool(result["openai"])
        case.new_packages = [p for p in result["new"] if not p.startswith("_")]
        case.new_sdk_modules = int(result["sdk_modules"])
    if importtime:
        case.slowest_imports = _slowest(_run(mode, importtime=True).stderr, top=4)


def compile_package() -> None:
    """Write our package's bytecode, as pip does when it installs a wheel. A source checkout installed in editable
    mode has none, and where ``PYTHONDONTWRITEBYTECODE`` is set (this machine) it never gets any: every child
    would then compile our source on import, a cost no installed copy of the package has. Everything else the
    children import (the SDKs, OpenTelemetry, wrapt) was compiled when pip installed it."""
    compileall.compile_dir(str(Path(llmtel.__file__).parent), quiet=1)


def measure(runs: int, importtime: bool = True, parallel: bool = False) -> list[StartupCase]:
    """Both cases, one child at a time (``parallel`` only for smoke runs: concurrent children spoil timings)."""
    compile_package()
    cases = [StartupCase(app_imports_openai=True), StartupCase(app_imports_openai=False)]
    if parallel:
        with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
            for future in [pool.submit(_measure_case, case, runs, importtime) for case in cases]:
                future.result()
    else:
        for case in cases:
            _measure_case(case, runs, importtime)
    return cases
