"""``content.prepare_with_json``: the span's JSON text and the event's value in one pass where that suffices, the
careful way (limit, convert) where not; always the same result as ``prepare`` + ``to_json``."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from llmtel import config as config_module
from llmtel.core import content as c

BASE = config_module.from_env({})
MESSAGES = [c.message("user", [c.text("hello " * 10), c.blob("image", "aGk=", "image/png")])]


def both_ways(config: config_module.Config, value: Any) -> tuple[Any, str]:
    prepared = c.prepare(config, "gen_ai.input.messages", value)
    return prepared, c.to_json(prepared)


@pytest.mark.parametrize(
    "value",
    [
        MESSAGES,
        [c.message("user", [c.text("x" * 500)])],  # one string over the limit below
        [c.message("user", [c.blob("image", b"\x00\x01binary")])],  # bytes: converted (base64)
        [c.message("tool", [c.tool_call_response("call_1", {"temperature": 21.5, "ok": True, "n": None})])],
        "plain text",
    ],
)
@pytest.mark.parametrize("limit", [0, 100, 32768])
def test_same_result_as_prepare_then_to_json(value: Any, limit: int) -> None:
    config = dataclasses.replace(BASE, max_content_length=limit)
    found = c.prepare_with_json(config, "gen_ai.input.messages", value)
    assert found == both_ways(config, value)


def test_short_plain_content_is_not_copied() -> None:
    found = c.prepare_with_json(BASE, "gen_ai.input.messages", MESSAGES)
    assert found is not None and found[0] is MESSAGES  # the limit walk was skipped (nothing to cut or convert)
    assert found[1] == c.to_json(MESSAGES)


def test_redactor_applies_first_and_can_drop() -> None:
    config = dataclasses.replace(BASE, redactor=lambda name, value: None)
    assert c.prepare_with_json(config, "gen_ai.input.messages", MESSAGES) is None

    def failing(name: str, value: Any) -> Any:
        raise RuntimeError("redactor bug")

    assert c.prepare_with_json(dataclasses.replace(BASE, redactor=failing), "x", MESSAGES) is None
    masked = dataclasses.replace(BASE, redactor=lambda name, value: "[redacted]")
    assert c.prepare_with_json(masked, "x", MESSAGES) == ("[redacted]", '"[redacted]"')


# -- values the exporter would reject: made fit on the same single pass ---------------------------------------------

LONE = "\ud800"
HOSTILE = [
    [c.message("user", [c.text(f"lone {LONE} surrogate")])],
    [c.message(f"role{LONE}", [c.text("a key with one"), {"type": "text", f"k{LONE}": "v"}])],
    [c.message("tool", [c.tool_call_response("call_1", {1: "int key", None: "null key", (2, 3): "tuple key"})])],
    [c.message("assistant", [c.tool_call("call_1", "f", '{"n": 18446744073709551616, "t": NaN}')])],
    [c.message("tool", [c.tool_call_response("call_1", {"inf": float("inf"), "neg": -(2**63) - 1})])],
]


@pytest.mark.parametrize("value", HOSTILE, ids=["surrogate", "surrogate-key", "keys", "tool-args", "numbers"])
@pytest.mark.parametrize("limit", [0, 100, 32768])
def test_hostile_content_same_result_as_prepare_then_to_json(value: Any, limit: int) -> None:
    config = dataclasses.replace(BASE, max_content_length=limit)
    found = c.prepare_with_json(config, "gen_ai.input.messages", value)  # for the event too, by default
    assert found == both_ways(config, value)
    assert found is not None and found[0] is not value
    found[1].encode("utf-8")  # the span's text encodes
    assert "NaN," not in found[1] and "Infinity}" not in found[1]  # and is JSON (no bare NaN / Infinity)


def test_non_ascii_content_is_not_copied() -> None:
    value = [c.message("user", [c.text("Grüße, 世界 \U0001f600 …")])]
    found = c.prepare_with_json(BASE, "gen_ai.input.messages", value)
    assert found is not None and found[0] is value
    assert found[1] == c.to_json(value)


def test_span_only_keeps_what_only_the_event_would_reject() -> None:
    """A span carries the JSON text only: number keys and integers beyond int64 are fine as JSON."""
    value = [c.message("tool", [c.tool_call_response("call_1", {1: 2**64})])]
    found = c.prepare_with_json(BASE, "gen_ai.input.messages", value, for_event=False)
    assert found == (
        value,
        '[{"role":"tool","parts":[{"type":"tool_call_response","response":{"1":18446744073709551616},"id":"call_1"}]}]',
    )
