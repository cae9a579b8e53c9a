"""Helpers the OpenAI tests share: one test body for the sync and the async client."""

from __future__ import annotations

import inspect
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
