"""Helpers the OpenAI tests share: one test body for the sync and the async client."""

from __future__ import annotations

import inspect
import re
from typing import Any

import openai


async def run(result: Any) -> Any:
    """The result of a sync call, or the awaited result of an async one."""
    return await result if inspect.isawaitable(result) else result


async def drain(stream: Any) -> list[Any]:
    """Every item of a sync or async stream."""
    if isinstance(stream, openai.AsyncStream):
        return [item async for item in stream]
    return list(stream)


_IDS = re.compile(r"^(chatcmpl|cmpl|resp|msg|fc|call|req)[-_]\d+(_\d+)?$")


def mask(value: Any) -> Any:
    """The server numbers ids by a request counter: replace them so two runs compare equal."""
    if isinstance(value, str):
        return _IDS.sub(r"\1-N", value)
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value
