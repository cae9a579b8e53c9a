"""Helpers the Anthropic tests share: one test body for the sync and the async client."""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

from llmtel import semconv as sc
from llmtel.demo.server import DEFAULT_REPLY, MODEL_SUFFIX

MODEL = "claude-sonnet-4-5"
PROMPT = "What is the weather"  # the server counts whitespace words: 4 input tokens
MESSAGES: list[Any] = [{"role": "user", "content": PROMPT}]
INPUT_TOKENS = 4
REPLY_TOKENS = len(DEFAULT_REPLY.split())  # 10
MAX_TOKENS = 100

DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"
TTFC = "gen_ai.client.operation.time_to_first_chunk"
TPOC = "gen_ai.client.operation.time_per_output_chunk"
TTFC_ATTR = "gen_ai.response.time_to_first_chunk"


async def run(result: Any) -> Any:
    """The result of a sync call, or the awaited result of an async one."""
    return await result if inspect.isawaitable(result) else result


async def drain(stream: Any) -> list[Any]:
    """Every item of a sync or async stream."""
    if getattr(type(stream), "__iter__", None) is None:
        return [item async for item in stream]
    return list(stream)


async def helper(manager: Any, use: str) -> Any:
    """Enter a ``messages.stream()`` manager (``with`` or ``async with``), call its MessageStream's ``use``
    (``get_final_text``, ``until_done`` …) and return what that gave."""
    if not hasattr(type(manager), "__enter__"):
        async with manager as stream:
            return await getattr(stream, use)()
    with manager as stream:
        return getattr(stream, use)()


async def create(llm: Any, **kwargs: Any) -> Any:
    """``messages.create`` with the defaults above (sync or async by the client)."""
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("max_tokens", MAX_TOKENS)
    kwargs.setdefault("messages", MESSAGES)
    return await run(llm.messages.create(**kwargs))


def request_n(server: Any) -> int:
    """The number of the server's latest request (its ids are numbered by it)."""
    return len(server.requests)


def expected(server: Any, n: int, overrides: Mapping[str, Any] | None = None, model: str = MODEL) -> dict[str, Any]:
    """The span attributes of a plain successful call (request number ``n`` on the demo server), with
    ``overrides`` (a None value leaves that attribute out)."""
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.CHAT,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.ANTHROPIC,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.GEN_AI_REQUEST_MAX_TOKENS: MAX_TOKENS,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.GEN_AI_RESPONSE_ID: f"msg_{n}",
        sc.GEN_AI_RESPONSE_MODEL: model + MODEL_SUFFIX,
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("end_turn",),
        sc.GEN_AI_USAGE_INPUT_TOKENS: INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: REPLY_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
        sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 0,
    }
    attrs.update(overrides or {})
    return {k: v for k, v in attrs.items() if v is not None}


def without_ttfc(attrs: Any) -> dict[str, Any]:
    """A stream span's attributes without its (timing-dependent) time to first chunk."""
    return {k: v for k, v in dict(attrs or {}).items() if k != TTFC_ATTR}


_IDS = re.compile(r"^(msg|toolu|req)_\d+$")


def mask(value: Any) -> Any:
    """The server numbers ids by a request counter: replace them so two runs compare equal."""
    if isinstance(value, str):
        return _IDS.sub(r"\1_N", value)
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value
