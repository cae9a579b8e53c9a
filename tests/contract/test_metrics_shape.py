"""One dashboard serves every provider: each provider's calls (the demo's: a call, a stream, a tool or embeddings
call, a deliberate 429) give the same instruments, with the same attribute keys, as OpenAI's, and a rate limit
is ``error.type="429"`` everywhere (the alert rules key on it). Real SDKs over HTTP against the built-in server."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from llmtel import semconv as sc
from llmtel.demo import providers as demo
from tests.conftest import Otel

INSTRUMENTOR = {"anthropic": "anthropic", "bedrock": "bedrock", "gemini": "google_genai"}
PROVIDER_NAME = {"anthropic": "anthropic", "bedrock": "aws.bedrock", "gemini": "gcp.gemini"}
STREAM_METRICS = {
    sc.GEN_AI_CLIENT_OPERATION_DURATION.name,
    sc.GEN_AI_CLIENT_TOKEN_USAGE.name,
    sc.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name,
    sc.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK.name,
}
PROMPTS = demo.Prompts("Be brief.", "Say hello.", "Tell a story.", "Weather in Paris?", ("one", "two"), "Fail.")


def shape(otel: Any) -> dict[str, set[frozenset[str]]]:
    """Instrument name → the attribute key sets of its points."""
    found: dict[str, set[frozenset[str]]] = {}
    data = otel.metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                keys = found.setdefault(metric.name, set())
                for point in metric.data.data_points:
                    keys.add(frozenset(point.attributes or {}))
    return found


def error_types(otel: Any) -> set[Any]:
    return {p.attributes.get(sc.ERROR_TYPE) for p in otel.points(sc.GEN_AI_CLIENT_OPERATION_DURATION.name)}


@pytest.fixture(scope="module")
def openai_shape(server: Any) -> dict[str, set[frozenset[str]]]:
    """OpenAI's metrics for a chat, a stream with usage and a 429, on a pipeline of their own."""
    pipeline = Otel()
    pipeline.instrument("openai")
    try:
        messages = [{"role": "user", "content": PROMPTS.chat}]
        with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            for _ in client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
            ):
                pass
            with pytest.raises(openai.RateLimitError):
                client.chat.completions.create(model="rate-limited", messages=messages)
        assert error_types(pipeline) == {None, "429"}
        return shape(pipeline)
    finally:
        pipeline.uninstrument()


@pytest.mark.parametrize("name", sorted(INSTRUMENTOR))
def test_same_instruments_and_attribute_keys_as_openai(
    otel: Any, server: Any, name: str, openai_shape: dict[str, set[frozenset[str]]]
) -> None:
    pipeline = otel
    try:
        pipeline.instrument(INSTRUMENTOR[name])
        client = demo.client(name, server.root_url)
        try:
            for _label, call, expect_error in demo.STEPS[name]:
                if expect_error:
                    with pytest.raises(Exception):  # noqa: B017 - each SDK's own rate-limit error
                        call(client, lambda text: None, PROMPTS)
                else:
                    call(client, lambda text: None, PROMPTS)
        finally:
            demo.close(name, client)
        found = shape(pipeline)
        assert set(found) >= STREAM_METRICS, sorted(found)
        assert set(found) <= set(openai_shape), sorted(set(found) - set(openai_shape))
        allowed = {key for keys in openai_shape.values() for key_set in keys for key in key_set}
        for metric, key_sets in found.items():
            for keys in key_sets:
                assert keys <= allowed, (metric, sorted(keys - allowed))
                assert {sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL} <= keys, metric
        durations = pipeline.points(sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
        providers = {p.attributes[sc.GEN_AI_PROVIDER_NAME] for p in durations}
        assert providers == {PROVIDER_NAME[name]}
        assert error_types(pipeline) == {None, "429"}, "a rate limit is error.type 429 for every provider"
    finally:
        pipeline.uninstrument()
