"""``generate_content`` spans: name, kind and the complete attribute set, for ``models`` and ``aio.models``, the
Gemini Developer API and Vertex AI, plain and streamed, against the demo server.

Token counts follow the demo server's rules (llmtel.demo.wire.gemini): input = words of the contents' (and the
system instruction's) text, output = words of the reply (the default reply has 10), a thinking config adds
``THOUGHT_TOKENS``, ``cached_content`` caches half the input.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types
from opentelemetry.trace import SpanKind, StatusCode

from llmtel import semconv as sc
from llmtel.demo.wire.gemini import FUNCTION_ARGS, SAFETY_BLOCKED, SAFETY_STOPPED, THOUGHT_TOKENS
from tests.google_genai.helpers import MODEL, PROMPT, REPLY_TOKENS, SDK, drain, expected, run, stream_of, without_ttfc

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="The weather in a city",
    parameters=types.Schema(type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}),
)

CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("none", None, {}),
    (
        "sampling_model",
        types.GenerateContentConfig(
            temperature=0.2,
            top_p=0.9,
            top_k=40,
            max_output_tokens=50,
            stop_sequences=["END"],
            seed=42,
            presence_penalty=0.5,
            frequency_penalty=-0.25,
        ),
        {
            sc.GEN_AI_REQUEST_TEMPERATURE: 0.2,
            sc.GEN_AI_REQUEST_TOP_P: 0.9,
            sc.GEN_AI_REQUEST_TOP_K: 40,
            sc.GEN_AI_REQUEST_MAX_TOKENS: 50,
            sc.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
            sc.GEN_AI_REQUEST_SEED: 42,
            sc.GEN_AI_REQUEST_PRESENCE_PENALTY: 0.5,
            sc.GEN_AI_REQUEST_FREQUENCY_PENALTY: -0.25,
        },
    ),
    (
        "sampling_dict",
        {"temperature": 1, "top_k": 3.0, "max_output_tokens": 100, "stop_sequences": ["A", "B"]},
        {
            sc.GEN_AI_REQUEST_TEMPERATURE: 1.0,
            sc.GEN_AI_REQUEST_TOP_K: 3,
            sc.GEN_AI_REQUEST_MAX_TOKENS: 100,
            sc.GEN_AI_REQUEST_STOP_SEQUENCES: ("A", "B"),
        },
    ),
    (
        "camel_case_dict",  # the SDK's models take their camelCase aliases too
        {"topP": 0.5, "maxOutputTokens": 20, "candidateCount": 1},
        {sc.GEN_AI_REQUEST_TOP_P: 0.5, sc.GEN_AI_REQUEST_MAX_TOKENS: 20},
    ),
    ("top_k_fraction", {"top_k": 2.5}, {}),  # not an int: left out rather than rounded
    (
        "truncated",
        {"max_output_tokens": 3},
        {
            sc.GEN_AI_REQUEST_MAX_TOKENS: 3,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("max_tokens",),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3,
        },
    ),
    (
        "two_candidates",
        {"candidate_count": 2},
        {
            sc.GEN_AI_REQUEST_CHOICE_COUNT: 2,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop", "stop"),
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2 * REPLY_TOKENS,
        },
    ),
    (
        "json",
        {"response_mime_type": "application/json"},
        {sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.JSON},
    ),
    (
        "schema",
        {"response_json_schema": {"type": "object"}},
        {sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.JSON},
    ),
    ("text", {"response_mime_type": "text/plain"}, {sc.GEN_AI_OUTPUT_TYPE: sc.GenAiOutputTypeValues.TEXT}),
    (
        "thinking",  # thinking_level (Gemini 3) is newer than some SDKs we support: as a dict, sent as given
        {"thinking_config": {"thinking_level": "LOW"}},
        {
            sc.GEN_AI_REQUEST_REASONING_LEVEL: "LOW",
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: REPLY_TOKENS + THOUGHT_TOKENS,
            sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: THOUGHT_TOKENS,
        },
    ),
    ("cached", {"cached_content": "cachedContents/abc"}, {sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 2}),
    (
        "system_instruction",  # its words are input tokens; the text itself is content (off)
        {"system_instruction": "Answer in one short line"},
        {sc.GEN_AI_USAGE_INPUT_TOKENS: 10},
    ),
    (
        "function_call",
        types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])]),
        {sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3},
    ),
]


CASES = [c for c in CASES if c[0] != "thinking" or "thinking_level" in types.ThinkingConfig.model_fields]


@pytest.mark.parametrize(("config", "extra"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_generate_content_attributes(otel: Any, server: Any, models: Any, config: Any, extra: Any) -> None:
    otel.instrument("google_genai")
    result = await run(models.generate_content(model=MODEL, contents=PROMPT, config=config))
    n = len(server.requests)
    span = otel.span()
    assert span.name == "generate_content gemini-2.5-flash"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == expected(server, n, **extra)
    assert result.response_id == f"resp-{n}"  # the numbering the expectation relies on


@pytest.mark.parametrize(("config", "extra"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_stream_attributes(otel: Any, server: Any, models: Any, config: Any, extra: Any) -> None:
    otel.instrument("google_genai")
    chunks = await stream_of(models, model=MODEL, contents=PROMPT, config=config)
    assert chunks and chunks[-1].usage_metadata is not None
    span = otel.span()
    assert span.name == "generate_content gemini-2.5-flash"
    assert span.status.status_code is StatusCode.UNSET
    assert without_ttfc(span) == expected(server, len(server.requests), **{sc.GEN_AI_REQUEST_STREAM: True, **extra})


async def test_stream_usage_is_the_last_count_not_a_sum(otel: Any, server: Any, models: Any) -> None:
    """Every chunk reports the cumulative counts (as the service does): the span has the last ones."""
    otel.instrument("google_genai")
    chunks = await stream_of(models, model=MODEL, contents=PROMPT)
    counts = [c.usage_metadata.candidates_token_count for c in chunks]
    assert len(chunks) == 5 and counts == [2, 4, 6, 8, 10]
    attrs = otel.span().attributes
    assert (attrs[sc.GEN_AI_USAGE_INPUT_TOKENS], attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (5, REPLY_TOKENS)


async def test_vertex_ai(otel: Any, server: Any, vertex: Any) -> None:
    """A Vertex AI client is ``gcp.vertex_ai`` by its configuration, on any host (here the local server)."""
    otel.instrument("google_genai")
    vertex.models.generate_content(model=MODEL, contents=PROMPT)
    assert server.requests[-1].path.startswith("/v1beta1/projects/test-project/locations/us-central1/publishers/")
    await drain(await vertex.aio.models.generate_content_stream(model=MODEL, contents=PROMPT))
    plain, streamed = otel.spans()
    vertex_ai = {sc.GEN_AI_PROVIDER_NAME: sc.GenAiProviderNameValues.GCP_VERTEX_AI}
    assert dict(plain.attributes) == expected(server, len(server.requests) - 1, **vertex_ai)
    assert without_ttfc(streamed) == expected(
        server, len(server.requests), **vertex_ai, **{sc.GEN_AI_REQUEST_STREAM: True}
    )


def test_provider_by_host_and_the_provider_map(otel: Any, server: Any) -> None:
    """The real hosts' endpoint (no request made: the server address is what the span tells)."""
    from google import genai

    from llmtel.providers.google_genai._common import endpoint_of

    otel.instrument("google_genai", LLMTEL_PROVIDER_MAP=f"127.0.0.1:{server.port}=my_gateway")
    telemetry = otel.instrumentor.installer.plan.telemetry  # type: ignore[union-attr]
    cloud = genai.Client(api_key="k")
    assert endpoint_of(cloud.models, telemetry) == (
        sc.GenAiProviderNameValues.GCP_GEMINI,
        "generativelanguage.googleapis.com",
        443,
        False,
    )
    regional = genai.Client(vertexai=True, project="p", location="europe-west4", api_key=None, credentials=None)
    assert endpoint_of(regional.aio.models, telemetry)[:3] == (
        sc.GenAiProviderNameValues.GCP_VERTEX_AI,
        "europe-west4-aiplatform.googleapis.com",
        443,
    )
    from tests.google_genai.conftest import gemini_client

    assert endpoint_of(gemini_client(server).models, telemetry)[:3] == ("my_gateway", "127.0.0.1", server.port)


async def test_function_call_result_untouched(otel: Any, models: Any) -> None:
    otel.instrument("google_genai")
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    result = await run(models.generate_content(model=MODEL, contents=PROMPT, config=config))
    call = result.function_calls[0]
    assert (call.name, call.args) == ("get_weather", FUNCTION_ARGS)
    assert otel.span().attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


async def test_safety_blocked_prompt(otel: Any, server: Any, models: Any) -> None:
    """No candidate: the block reason is the finish reason, and the call is no error (the SDK returns it)."""
    otel.instrument("google_genai")
    result = await run(models.generate_content(model=SAFETY_BLOCKED, contents=PROMPT))
    assert result.candidates is None and result.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    await stream_of(models, model=SAFETY_BLOCKED, contents=PROMPT)
    plain, streamed = otel.spans()
    blocked = {sc.GEN_AI_RESPONSE_FINISH_REASONS: ("safety",), sc.GEN_AI_USAGE_OUTPUT_TOKENS: None}
    n = len(server.requests)
    assert plain.status.status_code is StatusCode.UNSET
    assert dict(plain.attributes) == expected(server, n - 1, SAFETY_BLOCKED, **blocked)
    assert without_ttfc(streamed) == expected(server, n, SAFETY_BLOCKED, **blocked, **{sc.GEN_AI_REQUEST_STREAM: True})


async def test_safety_stopped_reply(otel: Any, server: Any, models: Any) -> None:
    otel.instrument("google_genai")
    await run(models.generate_content(model=SAFETY_STOPPED, contents=PROMPT))
    assert dict(otel.span().attributes) == expected(
        server,
        len(server.requests),
        SAFETY_STOPPED,
        **{sc.GEN_AI_RESPONSE_FINISH_REASONS: ("safety",), sc.GEN_AI_USAGE_OUTPUT_TOKENS: None},
    )


# -- chats --------------------------------------------------------------------------------------------------------


async def test_chat_send_message_is_one_span_each(otel: Any, server: Any, gemini: Any) -> None:
    otel.instrument("google_genai")
    chat = gemini.chats.create(model=MODEL)
    assert chat.send_message(PROMPT).text
    await drain(chat.send_message_stream("And tomorrow"))
    achat = gemini.aio.chats.create(model=MODEL, config={"temperature": 0.1})
    await achat.send_message(PROMPT)
    await drain(await achat.send_message_stream("And tomorrow"))
    spans = otel.spans()
    assert [s.name for s in spans] == ["generate_content gemini-2.5-flash"] * 4
    n = len(server.requests)
    # the second turn sends the history: 5 + 10 + 2 words
    history = {sc.GEN_AI_USAGE_INPUT_TOKENS: 17}
    assert dict(spans[0].attributes) == expected(server, n - 3)
    assert without_ttfc(spans[1]) == expected(server, n - 2, **{sc.GEN_AI_REQUEST_STREAM: True, **history})
    temperature = {sc.GEN_AI_REQUEST_TEMPERATURE: 0.1}
    assert dict(spans[2].attributes) == expected(server, n - 1, **temperature)
    assert without_ttfc(spans[3]) == expected(server, n, **{sc.GEN_AI_REQUEST_STREAM: True, **history, **temperature})


async def test_automatic_function_calling_is_one_span_per_model_call(otel: Any, server: Any, gemini: Any) -> None:
    """The SDK runs the app's Python function itself. ``models.generate_content`` loops inside one call (one
    span); a chat calls ``models.generate_content`` once per model call (one span each)."""
    otel.instrument("google_genai")

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    before = len(server.requests)
    result = gemini.models.generate_content(model=MODEL, contents=PROMPT, config={"tools": [get_weather]})
    assert result.text and len(server.requests) == before + 2  # the function call, then the answer
    assert len(otel.spans()) == 1
    chat = gemini.chats.create(model=MODEL, config={"tools": [get_weather]})
    chat.send_message(PROMPT)
    assert len(server.requests) == before + 4
    # google-genai 2 and 3 run a chat's function calling themselves; 1.x left it to models.generate_content
    assert len(otel.spans()) == (3 if SDK >= (2, 0) else 2)


@pytest.mark.skipif(
    SDK < (2, 0), reason="google-genai 1.x cannot call functions with string annotations (this module's)"
)
async def test_llm_calls_in_the_apps_functions_get_their_spans(otel: Any, server: Any, gemini: Any) -> None:
    """With automatic function calling the SDK runs the app's function inside ``generate_content``: an LLM call
    it makes is the app's, not a nested SDK call. It gets its span, a child of the call that ran the function."""
    otel.instrument("google_genai")
    inner: list[str] = []

    def get_weather(city: str) -> str:
        """The weather in a city."""
        inner.append(gemini.models.generate_content(model="inner-model", contents="hi").text or "")
        return "sunny"

    async def aget_weather(city: str) -> str:
        """The weather in a city."""
        inner.append((await gemini.aio.models.generate_content(model="inner-model", contents="hi")).text)
        return "sunny"

    gemini.models.generate_content(model=MODEL, contents=PROMPT, config={"tools": [get_weather]})
    await gemini.aio.models.generate_content(model=MODEL, contents=PROMPT, config={"tools": [aget_weather]})
    assert len(inner) == 2
    first_inner, outer, second_inner, aouter = otel.spans()  # in the order they ended
    assert [s.name for s in (outer, first_inner)] == [
        "generate_content gemini-2.5-flash",
        "generate_content inner-model",
    ]
    assert first_inner.parent is not None and first_inner.parent.span_id == outer.context.span_id
    assert second_inner.parent is not None and second_inner.parent.span_id == aouter.context.span_id
    assert outer.parent is None and aouter.parent is None
    assert len(server.requests) >= 6


def test_functions_hook_keeps_the_apps_suppression(otel: Any, gemini: Any) -> None:
    from opentelemetry import context

    from llmtel.providers.google_genai._common import _uncovered

    otel.instrument("google_genai")
    assert _uncovered() is None  # no inference span current: nothing to do
    token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        assert _uncovered() is None
    finally:
        context.detach(token)
