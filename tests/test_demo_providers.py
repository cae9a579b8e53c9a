"""``llmtel demo`` across providers: by default every provider whose SDK is installed makes its calls against the
built-in server (each in its own wire format); ``--provider NAME`` runs one; a provider whose SDK is missing is
left out with a note, or, when asked for by name, is the one-line error. (tests/test_cli.py covers the OpenAI
part of the demo in detail.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmtel.cli import main
from tests.test_cli import _run_without

PROVIDER_NAMES = {"openai": "openai", "anthropic": "anthropic", "bedrock": "aws.bedrock", "gemini": "gcp.gemini"}
TITLES = {"openai": "OpenAI", "anthropic": "Anthropic", "bedrock": "AWS Bedrock", "gemini": "Google Gemini"}


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["demo", "--json", *args]) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)
    return summary


def _llm_calls(summary: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [
        c
        for c in summary["calls"]
        if c["label"].startswith(prefix) and c["operation"] not in ("invoke_agent", "execute_tool")
    ]


def test_every_provider_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    summary = _json(capsys)
    for name, provider in PROVIDER_NAMES.items():
        calls = _llm_calls(summary, f"{TITLES[name]}: ")
        assert calls, name
        assert {c["provider"] for c in calls} == {provider}
        # each provider's tour has one stream with a time to first chunk, and one deliberate 429
        streams = [c for c in calls if c["stream"]]
        assert len(streams) == 1 and streams[0]["time_to_first_chunk_ms"] is not None, name
        failed = [c for c in calls if c["error_type"] is not None]
        assert [(c["error_type"], c["expected_error"], c["request_model"]) for c in failed] == [
            ("429", True, "rate-limited")
        ], name
        assert all(c["input_tokens"] for c in calls if c["error_type"] is None), name
    assert summary["metrics"]["gen_ai.client.operation.time_to_first_chunk"]["count"] == 4
    assert summary["metrics"]["gen_ai.client.operation.duration"]["errors"] == 4


@pytest.mark.parametrize("name", ["anthropic", "bedrock", "gemini"])
def test_one_provider(capsys: pytest.CaptureFixture[str], name: str) -> None:
    summary = _json(capsys, "--provider", name)
    calls = summary["calls"]
    assert len(calls) == 4
    assert {c["provider"] for c in calls} == {PROVIDER_NAMES[name]}
    assert not any(c["label"].startswith(f"{TITLES[name]}:") for c in calls), "one provider: no title prefix"
    assert [c["expected_error"] for c in calls] == [False, False, False, True]


def test_a_provider_without_its_sdk_is_left_out_with_a_note() -> None:
    done = _run_without("anthropic", "demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "not installed, so not shown: anthropic (pip install 'llmtel[all]' adds them)" in " ".join(out.split())
    assert "Anthropic:" not in out
    assert "AWS Bedrock: converse" in out and "OpenAI: chat completion" in out


def test_a_provider_asked_for_without_its_sdk_is_one_line() -> None:
    done = _run_without("boto3", "demo", "--provider", "bedrock")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "llmtel demo: boto3 is not installed; the demo needs it for its boto3 SDK calls. Install it with: "
        "pip install 'llmtel[all]'\n"
    )
