"""Legacy text completions (``completions.create``, operation ``text_completion``), sync and async."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from llmtel import semconv as sc
from llmtel.demo.server import DEFAULT_REPLY, MODEL_SUFFIX
from tests.openai.helpers import drain, run

MODEL = "gpt-3.5-turbo-instruct"
PROMPT = "Say something nice"  # 3 input tokens
REPLY_TOKENS = len(DEFAULT_REPLY.split())  # 10


def expected(server: Any, n: int, **overrides: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.TEXT_COMPLETION,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.OPENAI,
        sc.GEN_AI_REQUEST_MODEL: MODEL,
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.GEN_AI_RESPONSE_ID: f"cmpl-{n}",
        sc.GEN_AI_RESPONSE_MODEL: MODEL + MODEL_SUFFIX,
        sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_demo",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        sc.GEN_AI_USAGE_INPUT_TOKENS: 3,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: REPLY_TOKENS,
    }
    attrs.update(overrides)
    return attrs


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("plain", {}, {}),
    (
        "sampling",
        {
            "temperature": 0.7,
            "top_p": 0.5,
            "presence_penalty": 0.1,
            "frequency_penalty": 0.2,
            "seed": 7,
            "stop": ["\n"],
            "max_tokens": 64,
        },
        {
            sc.GEN_AI_REQUEST_TEMPERATURE: 0.7,
            sc.GEN_AI_REQUEST_TOP_P: 0.5,
            sc.GEN_AI_REQUEST_PRESENCE_PENALTY: 0.1,
            sc.GEN_AI_REQUEST_FREQUENCY_PENALTY: 0.2,
            sc.GEN_AI_REQUEST_SEED: 7,
            sc.GEN_AI_REQUEST_STOP_SEQUENCES: ("\n",),
            sc.GEN_AI_REQUEST_MAX_TOKENS: 64,
        },
    ),
    (
        "n2",
        {"n": 2},
        {
            sc.GEN_AI_REQUEST_CHOICE_COUNT: 2,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop", "stop"),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2 * REPLY_TOKENS,
        },
    ),
    (
        "truncated",
        {"max_tokens": 2},
        {
            sc.GEN_AI_REQUEST_MAX_TOKENS: 2,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("length",),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2,
        },
    ),
]


@pytest.mark.parametrize(("kwargs", "extra"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_create_attributes(otel: Any, server: Any, sdk: Any, kwargs: dict[str, Any], extra: Any) -> None:
    otel.instrument()
    result = await run(sdk.completions.create(model=MODEL, prompt=PROMPT, **kwargs))
    n = len(server.requests)
    assert result.id == f"cmpl-{n}"
    span = otel.span()
    assert span.name == "text_completion gpt-3.5-turbo-instruct"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == expected(server, n, **extra)


@pytest.mark.parametrize("usage", [False, True], ids=["no_usage", "include_usage"])
async def test_stream(otel: Any, server: Any, sdk: Any, usage: bool) -> None:
    otel.instrument()
    options = {"stream_options": {"include_usage": True}} if usage else {}
    chunks = await drain(await run(sdk.completions.create(model=MODEL, prompt=PROMPT, n=2, stream=True, **options)))
    assert "".join(c.choices[0].text for c in chunks if c.choices and c.choices[0].index == 0) == DEFAULT_REPLY
    span = otel.span()
    assert span.name == "text_completion gpt-3.5-turbo-instruct"
    attrs = dict(span.attributes)
    ttfc = attrs.pop(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    assert 0 < ttfc <= (span.end_time - span.start_time) / 1e9
    want = expected(
        server,
        len(server.requests),
        **{
            sc.GEN_AI_REQUEST_STREAM: True,
            sc.GEN_AI_REQUEST_CHOICE_COUNT: 2,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop", "stop"),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2 * REPLY_TOKENS,
        },
    )
    if not usage:
        del want[sc.GEN_AI_USAGE_INPUT_TOKENS], want[sc.GEN_AI_USAGE_OUTPUT_TOKENS]
    assert attrs == want


async def test_server_error(otel: Any, server: Any, sdk: Any) -> None:
    otel.instrument()
    with pytest.raises(openai.InternalServerError):
        await run(sdk.completions.create(model="server-error", prompt=PROMPT))
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes) == {
        sc.GEN_AI_OPERATION_NAME: sc.GenAiOperationNameValues.TEXT_COMPLETION,
        sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.OPENAI,
        sc.GEN_AI_REQUEST_MODEL: "server-error",
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: server.port,
        sc.ERROR_TYPE: "500",
    }
