"""``LLMTEL_OPENAI_STREAM_USAGE`` unset = automatic: streams ask for usage on the hosted APIs known to accept
``stream_options.include_usage``, and nowhere else; ``true`` asks everywhere, ``false`` nowhere.

Known hosts without network: the client's base URL names the real host (``api.openai.com``, an Azure resource …),
which is what the instrumentation sees, and its ``http_client`` has a transport that delivers each request over
real HTTP to the local server instead (the path mapped to the local ``/v1`` route). The Host header, the body and
everything the SDK does are untouched. Same pattern as tests/conformance/cassettes.py, with a live server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import openai
import pytest

from llmtel import semconv as sc
from tests.conftest import Otel
from tests.openai.helpers import drain, mask, run

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello to the world"}]
PROMPT = "Say something nice"
STREAM_USAGE = "LLMTEL_OPENAI_STREAM_USAGE"
ASKED = {"include_usage": True}
_ROUTES = ("/chat/completions", "/completions")


def _to_local(request: httpx2.Request, port: int, sent: list[str]) -> None:
    sent.append(str(request.url))
    path = request.url.path
    route = next(r for r in _ROUTES if path.endswith(r))
    request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=port, path="/v1" + route)


class ToLocal(httpx2.BaseTransport):
    def __init__(self, port: int, sent: list[str]) -> None:
        self.port, self.sent = port, sent
        self.inner = httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        _to_local(request, self.port, self.sent)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncToLocal(httpx2.AsyncBaseTransport):
    def __init__(self, port: int, sent: list[str]) -> None:
        self.port, self.sent = port, sent
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        _to_local(request, self.port, self.sent)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def pipeline() -> Iterator[Otel]:
    """A pipeline without the conformance check of ``otel``: that checker allows the ``openai.*`` attributes only
    with provider ``openai`` (see tests/test_endpoints.py), and some hosts here are other providers."""
    own = Otel()
    try:
        yield own
    finally:
        own.uninstrument()


@pytest.fixture(params=["sync", "async"])
def is_async(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "async")


@pytest.fixture
def sent() -> list[str]:
    """The URLs the SDK requested, before the transport took them to the local server."""
    return []


@pytest.fixture
async def make_client(server: Any, is_async: bool, sent: list[str]) -> AsyncIterator[Any]:
    """``make_client(base_url)`` or ``make_client(**azure_options)``: a real client of the flavour under test,
    routed to the local server. Closed on the test's own event loop."""
    made: list[Any] = []

    def make(base_url: str | None = None, **azure: Any) -> Any:
        common: dict[str, Any] = {"api_key": "k", "max_retries": 0}
        if is_async:
            common["http_client"] = openai.DefaultAsyncHttpxClient(transport=AsyncToLocal(server.port, sent))
            client: Any = openai.AsyncAzureOpenAI(**azure, **common) if azure else openai.AsyncOpenAI(**common)
        else:
            common["http_client"] = openai.DefaultHttpxClient(transport=ToLocal(server.port, sent))
            client = openai.AzureOpenAI(**azure, **common) if azure else openai.OpenAI(**common)
        if base_url is not None:
            client = client.with_options(base_url=base_url)
        made.append(client)
        return client

    yield make
    for client in made:
        await run(client.close())


async def chat_stream(client: Any, **kwargs: Any) -> list[Any]:
    return await drain(await run(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, **kwargs)))


async def completions_stream(client: Any, **kwargs: Any) -> list[Any]:
    stream = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, stream=True, **kwargs)
    return await drain(await run(stream))


STREAMS = [chat_stream, completions_stream]


def stream_options(server: Any) -> Any:
    return server.requests[-1].body.get("stream_options")


def tokens(span: Any) -> tuple[Any, Any]:
    attrs = span.attributes
    return attrs.get(sc.GEN_AI_USAGE_INPUT_TOKENS), attrs.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS)


# -- unknown servers: not asked unless true ---------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.__name__)
async def test_local_server_is_not_asked_by_default(otel: Any, server: Any, llm_local: Any, stream: Any) -> None:
    otel.instrument()
    chunks = await stream(llm_local)
    assert stream_options(server) is None
    assert all(c.choices for c in chunks)
    assert tokens(otel.span()) == (None, None)


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.__name__)
async def test_true_asks_a_local_server_too(otel: Any, server: Any, llm_local: Any, stream: Any) -> None:
    plain = await stream(llm_local)
    usage = (await stream(llm_local, stream_options=ASKED))[-1].usage  # what the server counts, asked by the app
    otel.instrument(**{STREAM_USAGE: "true"})
    seen = await stream(llm_local)
    assert stream_options(server) == ASKED
    assert [mask(c.model_dump()) for c in seen] == [mask(c.model_dump()) for c in plain]
    assert tokens(otel.span()) == (usage.prompt_tokens, usage.completion_tokens)


@pytest.fixture
async def llm_local(server: Any, is_async: bool) -> Any:
    if is_async:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0) as c:
            yield c
    else:
        with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as c:
            yield c


# -- known hosts: asked by default, invisibly --------------------------------------------------------------------

OPENAI = "https://api.openai.com/v1"


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.__name__)
async def test_api_openai_com_is_asked_by_default(otel: Any, server: Any, make_client: Any, stream: Any) -> None:
    client = make_client(OPENAI)
    plain = await stream(client)  # uninstrumented
    assert stream_options(server) is None
    usage = (await stream(client, stream_options=ASKED))[-1].usage

    otel.instrument()
    seen = await stream(client)
    request = server.requests[-1]
    assert request.headers["host"] == "api.openai.com"  # the request the SDK made for the real host
    assert request.body["stream_options"] == ASKED
    # the app sees exactly the chunks of an uninstrumented call: the usage-only chunk is hidden, and the
    # "usage": null the option adds to every chunk is marked unset again
    assert len(seen) == len(plain)
    assert [mask(c.model_dump()) for c in seen] == [mask(c.model_dump()) for c in plain]
    assert [mask(c.model_dump(exclude_unset=True)) for c in seen] == [
        mask(c.model_dump(exclude_unset=True)) for c in plain
    ]
    span = otel.span()
    assert span.attributes[sc.SERVER_ADDRESS] == "api.openai.com"
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert tokens(span) == (usage.prompt_tokens, usage.completion_tokens)
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


async def test_false_turns_it_off_for_known_hosts(otel: Any, server: Any, make_client: Any) -> None:
    otel.instrument(**{STREAM_USAGE: "FALSE"})
    await chat_stream(make_client(OPENAI))
    assert stream_options(server) is None
    assert tokens(otel.span()) == (None, None)


@pytest.mark.parametrize("choice", [True, False])
async def test_the_apps_own_choice_is_kept(otel: Any, server: Any, make_client: Any, choice: bool) -> None:
    otel.instrument()
    chunks = await chat_stream(make_client(OPENAI), stream_options={"include_usage": choice})
    assert stream_options(server) == {"include_usage": choice}
    assert (chunks[-1].choices == []) is choice  # the app's own usage chunk reaches the app
    assert (tokens(otel.span())[0] is not None) is choice


async def test_a_provider_map_entry_is_an_unknown_server(pipeline: Otel, server: Any, make_client: Any) -> None:
    """A mapped host is the user's own server (a gateway in front of OpenAI, say): nothing is known of it."""
    pipeline.instrument(LLMTEL_PROVIDER_MAP="api.openai.com=gateway")
    await chat_stream(make_client(OPENAI))
    assert stream_options(server) is None
    assert pipeline.span().attributes[sc.GEN_AI_PROVIDER_NAME] == "gateway"


@pytest.mark.parametrize(
    ("base_url", "provider", "asked"),
    [
        ("https://api.groq.com/openai/v1", "groq", True),
        ("https://api.deepseek.com", "deepseek", True),
        ("https://api.x.ai/v1", "x_ai", True),
        ("https://res.openai.azure.com/openai/v1/", "azure.ai.openai", True),  # Azure's v1 API
        ("https://api.mistral.ai/v1", "mistral_ai", False),  # rejects the field
        ("https://generativelanguage.googleapis.com/v1beta/openai/", "gcp.gemini", False),  # not documented
        ("https://api.perplexity.ai", "perplexity", False),
        ("http://localhost:11434/v1", "ollama", False),
    ],
)
async def test_hosted_apis(
    pipeline: Otel, server: Any, make_client: Any, sent: list[str], base_url: str, provider: str, asked: bool
) -> None:
    pipeline.instrument()
    seen = await chat_stream(make_client(base_url))
    assert sent[-1].startswith(base_url.rstrip("/") + "/chat/completions")
    assert stream_options(server) == (ASKED if asked else None)
    assert all(c.choices for c in seen)
    span = pipeline.span()
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == provider
    assert (tokens(span)[0] is not None) is asked


@pytest.mark.parametrize(
    ("api_version", "asked"),
    [
        ("2024-10-21", True),  # the first GA version with stream_options
        ("2025-04-01-preview", True),
        ("2024-10-01-preview", False),
        ("2024-06-01", False),  # answers 400 "Unrecognized request argument supplied: stream_options"
        ("2024-02-15-preview", False),
    ],
)
async def test_azure_openai_by_api_version(
    pipeline: Otel, server: Any, make_client: Any, sent: list[str], api_version: str, asked: bool
) -> None:
    client = make_client(azure_endpoint="https://res.openai.azure.com", api_version=api_version)
    pipeline.instrument()
    await chat_stream(client)
    assert sent == [
        f"https://res.openai.azure.com/openai/deployments/{MODEL}/chat/completions?api-version={api_version}"
    ]
    assert stream_options(server) == (ASKED if asked else None)
    span = pipeline.span()
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert (tokens(span)[0] is not None) is asked
