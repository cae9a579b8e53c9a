"""Behaviour preservation: the same calls with and without the instrumentation give the same results (types,
values, helpers), the same exceptions, and the same raw responses (``with_raw_response`` /
``with_streaming_response``, whose spans still end as the response is parsed or closed)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic.lib.streaming import AsyncMessageStream, MessageStream

from llmtel import semconv as sc
from tests.anthropic.helpers import (
    MAX_TOKENS,
    MESSAGES,
    MODEL,
    create,
    drain,
    expected,
    mask,
    request_n,
    run,
    without_ttfc,
)


async def outcomes(llm: Any, is_async: bool) -> list[Any]:
    """What the app gets from each kind of call, as comparable values."""
    found: list[Any] = []
    message = await create(llm, tools=[{"name": "t", "input_schema": {"type": "object"}}])
    found.append((type(message), mask(message.model_dump())))
    stream = await create(llm, stream=True)
    found.append(type(stream))
    found.append([mask(e.model_dump()) for e in await drain(stream)])
    manager = llm.messages.stream(
        model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES, thinking={"type": "enabled", "budget_tokens": 9}
    )
    if is_async:
        async with manager as helper:
            found.append(type(helper))
            found.append([mask(e.model_dump()) for e in [e async for e in helper]])
            found.append(mask((await helper.get_final_message()).model_dump()))
    else:
        with manager as helper:
            found.append(type(helper))
            found.append([mask(e.model_dump()) for e in helper])
            found.append(mask(helper.get_final_message().model_dump()))
    for model in ("does-not-exist", "rate-limited", "overloaded"):
        try:
            await create(llm, model=model)
        except anthropic.APIStatusError as exc:
            found.append((type(exc), exc.status_code, exc.type, mask(exc.body)))
    try:
        await drain(await create(llm, model="stream-error", stream=True))
    except anthropic.APIStatusError as exc:
        found.append((type(exc), exc.status_code, exc.type))
    return found


async def test_results_and_errors_are_the_sdks(otel: Any, llm: Any, is_async: bool) -> None:
    bare = await outcomes(llm, is_async)
    otel.instrument("anthropic")
    instrumented = await outcomes(llm, is_async)
    assert instrumented == bare
    assert len(otel.spans()) == 7


async def test_a_stream_is_the_sdks_very_object(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument("anthropic")
    stream = await create(llm, stream=True)
    assert type(stream) is (anthropic.AsyncStream if is_async else anthropic.Stream)
    assert stream.response.status_code == 200 and stream.response.headers["request-id"].startswith("req_")
    await drain(stream)


async def test_stream_helper_object_is_the_sdks(otel: Any, llm: Any, is_async: bool) -> None:
    otel.instrument("anthropic")
    manager = llm.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES)
    assert isinstance(
        manager,
        anthropic.lib.streaming.AsyncMessageStreamManager if is_async else anthropic.lib.streaming.MessageStreamManager,
    )
    if is_async:
        async with manager as stream:
            assert type(stream) is AsyncMessageStream
            assert stream.request_id is not None and stream.response.status_code == 200
            await stream.until_done()
            assert stream.current_message_snapshot.stop_reason == "end_turn"
    else:
        with manager as stream:
            assert type(stream) is MessageStream
            assert stream.request_id is not None and stream.response.status_code == 200
            stream.until_done()
            assert stream.current_message_snapshot.stop_reason == "end_turn"


# -- raw responses -----------------------------------------------------------------------------------------------


async def test_with_raw_response(otel: Any, server: Any, llm: Any) -> None:
    otel.instrument("anthropic")
    raw = await run(llm.messages.with_raw_response.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES))
    assert type(raw).__name__ in ("APIResponse", "AsyncAPIResponse")
    assert raw.headers["request-id"] == f"req_{request_n(server)}"
    span = otel.span()  # ended with the call: the body was read
    assert dict(span.attributes or {}) == expected(server, request_n(server))
    message = await run(raw.parse())
    assert message is await run(raw.parse())  # the SDK's cache
    assert message.id == f"msg_{request_n(server)}"
    assert len(otel.spans()) == 1


async def test_with_raw_response_of_a_stream(otel: Any, server: Any, llm: Any) -> None:
    otel.instrument("anthropic")
    raw = await run(
        llm.messages.with_raw_response.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES, stream=True)
    )
    assert otel.spans() == []  # the body is yet to be read
    stream = await run(raw.parse())
    assert isinstance(stream, (anthropic.Stream, anthropic.AsyncStream))
    await drain(stream)
    attrs = without_ttfc(otel.span().attributes)
    assert attrs == expected(server, request_n(server), {sc.GEN_AI_REQUEST_STREAM: True})


async def test_with_streaming_response(otel: Any, server: Any, llm: Any, is_async: bool) -> None:
    otel.instrument("anthropic")
    manager = llm.messages.with_streaming_response.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES)
    if is_async:
        async with manager as response:
            assert otel.spans() == []
            message = await response.parse()
    else:
        with manager as response:
            assert otel.spans() == []
            message = response.parse()
    assert message.stop_reason == "end_turn"
    assert dict(otel.span().attributes or {}) == expected(server, request_n(server))


async def test_with_streaming_response_closed_unparsed(otel: Any, server: Any, llm: Any, is_async: bool) -> None:
    otel.instrument("anthropic")
    manager = llm.messages.with_streaming_response.create(
        model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES, stream=True
    )
    if is_async:
        async with manager as response:
            lines = [line async for line in response.iter_lines()]
    else:
        with manager as response:
            lines = list(response.iter_lines())
    assert "event: message_stop" in lines
    span = otel.span()  # ended at close, with what the call itself told
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert sc.GEN_AI_RESPONSE_ID not in span.attributes


@pytest.mark.parametrize("stream", [False, True])
async def test_streaming_response_of_a_stream_parsed(
    otel: Any, server: Any, llm: Any, is_async: bool, stream: bool
) -> None:
    otel.instrument("anthropic")
    manager = llm.messages.with_streaming_response.create(
        model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES, stream=stream
    )
    if is_async:
        async with manager as response:
            parsed = await response.parse()
            if stream:
                await drain(parsed)
    else:
        with manager as response:
            parsed = response.parse()
            if stream:
                await drain(parsed)
    attrs = without_ttfc(otel.span().attributes)
    assert attrs == expected(server, request_n(server), {sc.GEN_AI_REQUEST_STREAM: True if stream else None})
