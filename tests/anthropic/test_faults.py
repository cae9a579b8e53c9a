"""Faults in our own code and bad data from the server: the app never notices (DESIGN.md principle 1), and what
is exported is fit for export. Faults are injected into llmtel with ``monkeypatch`` (the SDK is never mocked);
each outcome is compared with the same call uninstrumented.

Where each fault leaves the span: in ``request`` (before the span exists) there is no span, the call goes through
unobserved; in ``content``, ``response``, ``on_chunk`` or ``on_end`` the span ends once, with the facts written
before the fault.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from llmtel import semconv as sc
from llmtel.providers.anthropic import messages as adapter
from tests.anthropic.helpers import MAX_TOKENS, MESSAGES, MODEL, create, drain, mask, run
from tests.core.test_values import attributes, exported_points, exported_spans

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
DURATION = "gen_ai.client.operation.duration"


def broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("a bug in llmtel")


async def every_call(llm: Any, is_async: bool) -> list[Any]:
    found = [mask((await create(llm)).model_dump())]
    found.append([mask(e.model_dump()) for e in await drain(await create(llm, stream=True))])
    manager = llm.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES)
    if is_async:
        async with manager as stream:
            found.append(await stream.get_final_text())
    else:
        with manager as stream:
            found.append(stream.get_final_text())
    with pytest.raises(anthropic.NotFoundError):
        await create(llm, model="does-not-exist")
    return found


FAULTS = [
    (adapter.MessagesApi, "request", 0),
    (adapter.MessagesApi, "content", 4),
    (adapter.MessagesApi, "response", 4),
    (adapter.MessageEvents, "on_chunk", 4),
    (adapter.MessageEvents, "on_end", 4),
    (adapter, "usage", 4),
    (adapter, "part", 4),
]


@pytest.mark.parametrize(
    ("owner", "name", "spans"), FAULTS, ids=[f"{getattr(o, '__name__', o)}.{n}" for o, n, _ in FAULTS]
)
async def test_a_fault_in_our_code_changes_nothing_for_the_app(
    otel: Any, llm: Any, is_async: bool, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, spans: int
) -> None:
    bare = await every_call(llm, is_async)
    monkeypatch.setattr(owner, name, broken)
    otel.instrument("anthropic", **{CAPTURE: "SPAN_AND_EVENT"})
    assert await every_call(llm, is_async) == bare
    assert len(otel.spans()) == spans
    assert sum(p.count for p in otel.points(DURATION)) == spans  # each span ended once


def test_a_fault_in_the_endpoint_lookup(otel: Any, server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmtel.providers.anthropic import _common

    monkeypatch.setattr(_common.endpoints, "resolve", broken)
    otel.instrument("anthropic")
    client = anthropic.Anthropic(base_url=server.root_url, api_key="k", max_retries=0)
    message = client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES)
    assert message.stop_reason == "end_turn"
    assert otel.spans() == []  # unobserved, not broken


async def test_hostile_usage_is_dropped_not_exported_wrong(otel: Any, llm: Any) -> None:
    """A server's counts beyond int64 or negative reach no attribute or metric (the SDK passes them on as they are,
    and makes ints of what pydantic can); no made-up input total either."""
    otel.instrument("anthropic")
    message = await create(llm, model="hostile-usage")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (-3, 2**70)
    await drain(await create(llm, model="hostile-usage", stream=True))
    sdk = message.usage
    for span in otel.spans():
        attrs = dict(span.attributes or {})
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in attrs and sc.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs
        for key, value in (
            (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sdk.cache_read_input_tokens),
            (sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, sdk.cache_creation_input_tokens),
        ):
            assert attrs.get(key) == (value if type(value) is int else None)
        assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert otel.points("gen_ai.client.token.usage") == []
    assert len(exported_spans(otel)) == 2  # the real OTLP encoder takes them


async def test_invalid_utf8_from_the_server_becomes_valid_text(otel: Any, llm: Any) -> None:
    otel.instrument("anthropic", **{CAPTURE: "SPAN_ONLY"})
    message = await create(llm, model="bad-text")
    assert message.model == "bad-text-\ud800"  # what the SDK hands the app, untouched
    await drain(await create(llm, model="bad-text", stream=True))
    spans = exported_spans(otel)  # through the real OTLP encoder
    assert len(spans) == 2
    for span in spans:
        attrs = attributes(span.attributes)
        assert attrs[sc.GEN_AI_RESPONSE_MODEL] == "bad-text-\ufffd"
        assert "bad \ufffd text" in attrs[sc.GEN_AI_OUTPUT_MESSAGES]
    points = exported_points(otel, DURATION)
    assert {attributes(p.attributes)[sc.GEN_AI_RESPONSE_MODEL] for p in points} == {"bad-text-\ufffd"}


async def test_malformed_arguments_from_the_app_fail_as_uninstrumented(otel: Any, llm: Any) -> None:
    """A message list the SDK cannot send fails with the SDK's own exception; our content code copes."""

    async def attempt() -> type[BaseException]:
        try:
            await run(
                llm.messages.create(
                    model=MODEL, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": object()}]
                )
            )
        except Exception as exc:
            return type(exc)
        raise AssertionError("the SDK sent it")

    bare = await attempt()
    otel.instrument("anthropic", **{CAPTURE: "SPAN_ONLY"})
    assert await attempt() is bare
