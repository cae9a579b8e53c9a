"""Helpers the Google Gen AI tests share: one test body for ``models`` and ``aio.models``."""

from __future__ import annotations

import inspect
from typing import Any

from google import genai

from llmtel import semconv as sc
from llmtel.demo.server import DEFAULT_REPLY
from llmtel.demo.wire.gemini import MODEL_VERSION_SUFFIX

MODEL = "gemini-2.5-flash"
PROMPT = "What is the weather like"  # 5 input tokens
REPLY_TOKENS = len(DEFAULT_REPLY.split())  # 10
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
SDK = tuple(int(p) for p in genai.__version__.split(".")[:2])
"""The installed google-genai's (major, minor): the suite also runs on older SDKs (tests/google_genai/README note
in test_sdk_range.py), where a few SDK features it exercises do not exist yet."""


async def run(result: Any) -> Any:
    """The result of a sync call, or the awaited result of an async one."""
    return await result if inspect.isawaitable(result) else result


async def drain(stream: Any) -> list[Any]:
    """Every item of a sync or async stream."""
    if hasattr(type(stream), "__aiter__"):
        return [item async for item in stream]
    return list(stream)


async def stream_of(models: Any, **kwargs: Any) -> list[Any]:
    """Every chunk of ``generate_content_stream`` on ``models`` (sync or async)."""
    return await drain(await run(models.generate_content_stream(**kwargs)))


def expected(server: Any, n: int, model: Any = MODEL, **overrides: Any) -> dict[str, Any]:
    """The span attributes of a plain successful ``generate_content`` call (request ``n`` on the server)."""
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.GENERATE_CONTENT,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.GCP_GEMINI,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.GEN_AI_RESPONSE_ID: f"resp-{n}",
        sc.GEN_AI_RESPONSE_MODEL: model.removeprefix("models/") + MODEL_VERSION_SUFFIX,
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        sc.GEN_AI_USAGE_INPUT_TOKENS: 5,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: REPLY_TOKENS,
    }
    attrs.update(overrides)
    return {k: v for k, v in attrs.items() if v is not None}


def without_ttfc(span: Any) -> dict[str, Any]:
    """A stream span's attributes without its (timing-dependent) time to first chunk, checked for sanity."""
    attrs = dict(span.attributes)
    ttfc = attrs.pop(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    assert isinstance(ttfc, float) and 0 < ttfc <= (span.end_time - span.start_time) / 1e9
    return attrs
