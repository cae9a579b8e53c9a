"""Provider and server.* attributes from a client's base URL (``llmtel.core.endpoints.resolve``)."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

import openai
import pytest

from llmtel import semconv as sc
from llmtel.config import from_env
from llmtel.core.endpoints import (
    AZURE_STREAM_USAGE_SINCE,
    HOST_PROVIDERS,
    PORT_PROVIDERS,
    STREAM_USAGE_PROVIDERS,
    Endpoint,
    resolve,
)
from llmtel.demo.server import FakeOpenAIServer
from tests.conftest import Otel

P = sc.GenAiProviderNameValues
OPENAI = P.OPENAI

# One real-world base URL per row of HOST_PROVIDERS, in the table's order.
HOST_CASES: list[tuple[str, str, str]] = [
    ("https://api.openai.com/v1", "api.openai.com", P.OPENAI),
    ("https://my-res.openai.azure.com/openai/v1", "my-res.openai.azure.com", P.AZURE_AI_OPENAI),
    ("https://my-res.cognitiveservices.azure.com/openai/v1", "my-res.cognitiveservices.azure.com", P.AZURE_AI_OPENAI),
    ("https://proj.services.ai.azure.com/openai/v1", "proj.services.ai.azure.com", P.AZURE_AI_OPENAI),
    ("https://models.inference.ai.azure.com", "models.inference.ai.azure.com", P.AZURE_AI_INFERENCE),
    ("https://api.groq.com/openai/v1", "api.groq.com", P.GROQ),
    ("https://api.deepseek.com", "api.deepseek.com", P.DEEPSEEK),
    ("https://api.x.ai/v1", "api.x.ai", P.X_AI),
    ("https://api.mistral.ai/v1", "api.mistral.ai", P.MISTRAL_AI),
    ("https://api.perplexity.ai", "api.perplexity.ai", P.PERPLEXITY),
    ("https://api.moonshot.ai/v1", "api.moonshot.ai", P.MOONSHOT_AI),
    ("https://api.moonshot.cn/v1", "api.moonshot.cn", P.MOONSHOT_AI),
    (
        "https://generativelanguage.googleapis.com/v1beta/openai/",
        "generativelanguage.googleapis.com",
        P.GCP_GEMINI,
    ),
    (
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints/openapi",
        "aiplatform.googleapis.com",
        P.GCP_VERTEX_AI,
    ),
    (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/endpoints/openapi",
        "us-central1-aiplatform.googleapis.com",
        P.GCP_VERTEX_AI,
    ),
    ("https://api.cohere.ai/compatibility/v1", "api.cohere.ai", P.COHERE),
    ("https://api.cohere.com/compatibility/v1", "api.cohere.com", P.COHERE),
    (
        "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1",
        "bedrock-runtime.us-west-2.amazonaws.com",
        P.AWS_BEDROCK,
    ),
    ("https://bedrock-mantle.us-east-1.api.aws/v1", "bedrock-mantle.us-east-1.api.aws", P.AWS_BEDROCK),
]


# The hosts whose APIs document stream_options.include_usage (the automatic LLMTEL_OPENAI_STREAM_USAGE); the
# Azure cases use the v1 API path (…/openai/v1), which has it whatever the api-version.
STREAM_USAGE_HOSTS = {
    "api.openai.com",
    "my-res.openai.azure.com",
    "my-res.cognitiveservices.azure.com",
    "proj.services.ai.azure.com",
    "api.groq.com",
    "api.deepseek.com",
    "api.x.ai",
}


def test_every_table_row_has_a_case() -> None:
    """Each row of HOST_PROVIDERS is the first match of at least one case, with that case's provider."""
    covered = set()
    for _, host, provider in HOST_CASES:
        row = next(row for row in HOST_PROVIDERS if fnmatchcase(host, row[0]))
        assert row[1] == provider, host
        covered.add(row)
    assert covered == set(HOST_PROVIDERS)


@pytest.mark.parametrize(("url", "host", "provider"), HOST_CASES, ids=[c[1] for c in HOST_CASES])
def test_host_table(url: str, host: str, provider: str) -> None:
    assert resolve(url, OPENAI, {}) == Endpoint(provider, host, 443, host in STREAM_USAGE_HOSTS)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.openai.com/v1", Endpoint(OPENAI, "api.openai.com", 443, True)),
        ("http://api.openai.com/v1", Endpoint(OPENAI, "api.openai.com", 80, True)),
        ("https://api.openai.com:8443/v1", Endpoint(OPENAI, "api.openai.com", 8443, True)),
        ("https://api.openai.com:443/v1", Endpoint(OPENAI, "api.openai.com", 443, True)),
        ("HTTPS://API.GROQ.COM/openai/v1", Endpoint(P.GROQ, "api.groq.com", 443, True)),
        ("http://127.0.0.1:8000/v1", Endpoint(OPENAI, "127.0.0.1", 8000)),
        ("http://[::1]:8000/v1", Endpoint(OPENAI, "::1", 8000)),
        ("ftp://files.example.com/v1", Endpoint(OPENAI, "files.example.com", None)),  # no default port known
    ],
)
def test_ports(url: str, expected: Endpoint) -> None:
    assert resolve(url, OPENAI, {}) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:11434/v1", Endpoint("ollama", "localhost", 11434)),
        ("http://gpu-box.lan:11434", Endpoint("ollama", "gpu-box.lan", 11434)),
        ("http://localhost:8000/v1", Endpoint(OPENAI, "localhost", 8000)),  # vLLM's port is too common to claim
        ("https://llm.example.com/v1", Endpoint(OPENAI, "llm.example.com", 443)),
        # suffix rows match subdomains only, not look-alikes
        ("https://evilopenai.azure.com/v1", Endpoint(OPENAI, "evilopenai.azure.com", 443)),
        ("https://openai.azure.com/v1", Endpoint(OPENAI, "openai.azure.com", 443)),
        ("https://api.openai.com.evil.example/v1", Endpoint(OPENAI, "api.openai.com.evil.example", 443)),
    ],
)
def test_unknown_hosts_and_ports(url: str, expected: Endpoint) -> None:
    assert PORT_PROVIDERS == {11434: "ollama"}
    assert resolve(url, OPENAI, {}) == expected


def test_default_provider_is_the_callers() -> None:
    assert resolve("https://llm.example.com/v1", "my_sdk", {}).provider == "my_sdk"
    assert resolve("https://api.groq.com/openai/v1", "my_sdk", {}).provider == P.GROQ


@pytest.mark.parametrize(
    ("url", "overrides", "provider"),
    [
        ("http://llm.internal:8000/v1", {"llm.internal": "vllm"}, "vllm"),
        ("http://llm.internal:8000/v1", {"llm.internal:8000": "vllm"}, "vllm"),
        ("http://llm.internal:9000/v1", {"llm.internal:8000": "vllm"}, OPENAI),
        # host:port is more specific than host
        ("http://llm.internal:8000/v1", {"llm.internal": "a", "llm.internal:8000": "b"}, "b"),
        ("http://llm.internal:9000/v1", {"llm.internal": "a", "llm.internal:8000": "b"}, "a"),
        # overrides win over the table and the port rule; the default port counts for host:port
        ("https://api.openai.com/v1", {"api.openai.com": "gateway"}, "gateway"),
        ("https://api.groq.com/openai/v1", {"api.groq.com:443": "proxy"}, "proxy"),
        ("http://localhost:11434/v1", {"localhost:11434": "llama_cpp"}, "llama_cpp"),
        ("http://LLM.Internal:8000/v1", {"llm.internal": "vllm"}, "vllm"),  # hosts compare lower-case
    ],
)
def test_overrides(url: str, overrides: dict[str, str], provider: str) -> None:
    assert resolve(url, OPENAI, overrides).provider == provider


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "/v1/chat/completions",
        "http://",
        "http://[::1/v1",  # unbalanced IPv6 bracket: urlsplit raises
        "http://host:99999/v1",  # port out of range: .port raises
        "http://host:abc/v1",
        None,
        12345,
        object(),
    ],
)
def test_garbage_urls(url: Any) -> None:
    assert resolve(url, OPENAI, {"host": "x"}) == Endpoint(OPENAI, None, None)


def test_regional_vertex_host() -> None:
    """Vertex AI's OpenAI-compatible endpoint is regional: <region>-aiplatform.googleapis.com."""
    url = "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/endpoints/openapi"
    assert resolve(url, OPENAI, {}).provider == P.GCP_VERTEX_AI


def test_non_bedrock_aws_hosts_keep_the_default() -> None:
    """Only Bedrock hosts are Bedrock: a vLLM behind an ELB, on EC2 or API Gateway is not."""
    for url in (
        "http://my-vllm-123456.us-east-1.elb.amazonaws.com/v1",
        "http://ec2-3-80-1-2.compute-1.amazonaws.com:8000/v1",
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod/v1",
    ):
        assert resolve(url, OPENAI, {}).provider == OPENAI, url


def test_bedrock_mantle_host() -> None:
    # AWS documents two OpenAI-compatible Bedrock endpoints: bedrock-runtime.<region>.amazonaws.com/openai/v1 and
    # bedrock-mantle.<region>.api.aws/v1 (docs.aws.amazon.com/bedrock/latest/userguide/inference-responses-api.html).
    assert resolve("https://bedrock-mantle.us-east-1.api.aws/v1", OPENAI, {}).provider == P.AWS_BEDROCK


def test_ipv6_override() -> None:
    overrides = from_env({"LLMTEL_PROVIDER_MAP": "[::1]:8000=vllm"}).provider_map
    assert resolve("http://[::1]:8000/v1", OPENAI, overrides).provider == "vllm"


def test_ipv6_host_override() -> None:
    overrides = from_env({"LLMTEL_PROVIDER_MAP": "::1=vllm"}).provider_map
    assert resolve("http://[::1]:8000/v1", OPENAI, overrides) == Endpoint("vllm", "::1", 8000)


# -- end to end -------------------------------------------------------------------------------------------------


@pytest.fixture
def pipeline() -> Iterator[Otel]:
    """A pipeline without the conformance check of ``otel``: the checker allows the ``openai.*`` attributes only
    with provider ``openai``, while llmtel keeps the OpenAI refinement under a mapped provider, as
    genai-semconv.md section 10.6 says to (reported to the maintainers)."""
    own = Otel()
    try:
        yield own
    finally:
        own.uninstrument()


def test_provider_map_end_to_end(pipeline: Otel) -> None:
    with FakeOpenAIServer() as own:
        port = own.port
        pipeline.instrument(LLMTEL_PROVIDER_MAP=f"127.0.0.1:{port}=vllm")
        with openai.OpenAI(base_url=own.base_url, api_key="k", max_retries=0) as client:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            client.embeddings.create(model="e", input="hi")
    chat, embeddings = pipeline.spans()
    for span in (chat, embeddings):
        assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == "vllm"
        assert span.attributes[sc.SERVER_ADDRESS] == "127.0.0.1"
        assert span.attributes[sc.SERVER_PORT] == port
    assert chat.attributes[sc.OPENAI_API_TYPE] == sc.OpenaiApiTypeValues.CHAT_COMPLETIONS  # refinement kept
    for point in pipeline.points(sc.GEN_AI_CLIENT_OPERATION_DURATION.name):
        assert point.attributes[sc.GEN_AI_PROVIDER_NAME] == "vllm"


def test_unmapped_local_server_is_openai(otel: Any, server: Any, client: openai.OpenAI) -> None:
    otel.instrument()
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert otel.span().attributes[sc.GEN_AI_PROVIDER_NAME] == OPENAI


def test_provider_map_applies_to_a_url_seen_before(pipeline: Otel, server: Any, client: openai.OpenAI) -> None:
    """Endpoints are cached per instrumentation, not process-wide: a new provider map takes effect."""
    messages = [{"role": "user", "content": "hi"}]
    pipeline.instrument()
    client.chat.completions.create(model="m", messages=messages)
    pipeline.instrument(LLMTEL_PROVIDER_MAP=f"127.0.0.1:{server.port}=vllm")
    client.chat.completions.create(model="m", messages=messages)
    first, second = pipeline.spans()
    assert first.attributes[sc.GEN_AI_PROVIDER_NAME] == OPENAI
    assert second.attributes[sc.GEN_AI_PROVIDER_NAME] == "vllm"


# -- stream usage: which endpoints are known to accept stream_options.include_usage ---------------------------


def test_stream_usage_providers() -> None:
    assert set(STREAM_USAGE_PROVIDERS) == {P.OPENAI, P.GROQ, P.DEEPSEEK, P.X_AI}
    assert AZURE_STREAM_USAGE_SINCE == "2024-10-21"
    assert Endpoint(OPENAI, "h", 1).stream_usage is False  # nothing known unless resolve() says so


@pytest.mark.parametrize(
    ("url", "api_version", "expected"),
    [
        ("https://res.openai.azure.com/openai/", "2024-10-21", True),
        ("https://res.openai.azure.com/openai/deployments/d/", "2025-04-01-preview", True),
        ("https://res.cognitiveservices.azure.com/openai/", "2024-12-01-preview", True),
        ("https://res.openai.azure.com/openai/", "2024-10-01-preview", False),
        ("https://res.openai.azure.com/openai/", "2024-06-01", False),
        ("https://res.openai.azure.com/openai/", "2024-02-01", False),
        ("https://res.openai.azure.com/openai/", "2023-05-15", False),
        ("https://res.openai.azure.com/openai/", "preview", False),  # not a dated version, not the v1 path
        ("https://res.openai.azure.com/openai/", "v9", False),
        ("https://res.openai.azure.com/openai/", None, False),
        ("https://res.openai.azure.com/openai/", 20250101, False),
        ("https://res.openai.azure.com/openai/v1/", None, True),  # the v1 API
        ("https://res.openai.azure.com/openai/v1", "preview", True),
        ("https://res.openai.azure.com/openai/v1/", "2024-02-01", True),
    ],
)
def test_azure_stream_usage_by_api_version(url: str, api_version: Any, expected: bool) -> None:
    endpoint = resolve(url, OPENAI, {}, api_version)
    assert endpoint.provider == P.AZURE_AI_OPENAI
    assert endpoint.stream_usage is expected


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",  # vLLM, LM Studio, a gateway … whatever it is, nothing is known of it
        "http://localhost:11434/v1",  # Ollama by its port
        "https://llm.example.com/v1",
        "https://api.mistral.ai/v1",  # rejects the field
        "https://generativelanguage.googleapis.com/v1beta/openai/",
        "https://models.inference.ai.azure.com",
        "https://api.perplexity.ai",
        "https://api.openai.com.evil.example/v1",
    ],
)
def test_no_stream_usage_elsewhere(url: str) -> None:
    assert resolve(url, OPENAI, {}, "2025-01-01").stream_usage is False


def test_a_mapped_host_is_unknown_even_when_the_table_knows_it() -> None:
    """A provider-map entry names the user's own server (e.g. a gateway on api.openai.com's name)."""
    assert resolve("https://api.openai.com/v1", OPENAI, {}).stream_usage is True
    mapped = resolve("https://api.openai.com/v1", OPENAI, {"api.openai.com": "openai"})
    assert mapped == Endpoint(OPENAI, "api.openai.com", 443, False)
    # an override for another host leaves the table's answer alone
    assert resolve("https://api.groq.com/openai/v1", OPENAI, {"other": "x"}).stream_usage is True
