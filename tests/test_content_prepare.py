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
