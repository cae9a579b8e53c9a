"""The supported SDK range: MIN_VERSION and the entry point's dependency line agree; an older SDK is left alone
with one warning.

How the range was tested: this whole folder (and tests/conformance/test_google_genai_cassettes.py) was run, with
llmtel installed editable, in venvs of their own under /tmp with google-genai 1.32.0 (all passed but 7 skipped:
features 1.32 lacks, each skip says which), 2.34.0 (all passed) and 3.6.1 (the project's .venv). 1.0.0 was tried
too: its transport (requests), error behaviour and response fields (no response id) differ, so it is not claimed.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from google.genai import models as sdk_models
from google.genai import version as sdk_version

from llmtel.providers.google_genai import _TARGETS, MIN_VERSION, GoogleGenAIInstrumentor


def test_dependency_line_is_min_version() -> None:
    assert MIN_VERSION == (1, 32)
    assert list(GoogleGenAIInstrumentor().instrumentation_dependencies()) == ["google-genai >= 1.32"]


def test_an_older_sdk_is_not_instrumented(
    otel: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    before = {t.path: sdk_models.__dict__[t.path.split(".")[0]].__dict__[t.path.split(".")[1]] for t in _TARGETS}
    monkeypatch.setattr(sdk_version, "__version__", "1.31.0")
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        otel.instrument("google_genai")
    after = {t.path: sdk_models.__dict__[t.path.split(".")[0]].__dict__[t.path.split(".")[1]] for t in _TARGETS}
    assert all(after[k] is before[k] for k in before)
    assert [r.getMessage() for r in caplog.records if r.name == "llmtel"] == [
        "llmtel: google.genai 1.31.0 is older than 1.32, which llmtel needs; not instrumenting it"
    ]
