"""Provider identity and ``server.*`` attributes from the base URL a client talks to.

OpenAI-compatible APIs all look alike from the SDK; the host is what tells them apart. The table below maps
hosts to the well-known ``gen_ai.provider.name`` values of the conventions. ``LLMTEL_PROVIDER_MAP`` adds or
overrides entries (``host[:port]=provider``). Anything unknown keeps the SDK's own provider (``openai`` for
the OpenAI SDK), as the conventions allow; ``server.address``/``server.port`` still tell the real backend.

The endpoint also tells whether the API is known to accept ``stream_options.include_usage`` (see
:data:`STREAM_USAGE_PROVIDERS`), which decides ``LLMTEL_OPENAI_STREAM_USAGE``'s automatic default. It is worked
out here, once per base URL (the adapters cache endpoints), so the per-call cost is one attribute read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import NamedTuple
from urllib.parse import urlsplit

from llmtel.semconv import GenAiProviderNameValues as P

# Host pattern (``*`` matches any run of characters) -> provider value. Checked in order; the first match wins.
HOST_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("api.openai.com", P.OPENAI),
    ("*.openai.azure.com", P.AZURE_AI_OPENAI),
    ("*.cognitiveservices.azure.com", P.AZURE_AI_OPENAI),
    ("*.services.ai.azure.com", P.AZURE_AI_OPENAI),
    ("models.inference.ai.azure.com", P.AZURE_AI_INFERENCE),
    ("api.groq.com", P.GROQ),
    ("api.deepseek.com", P.DEEPSEEK),
    ("api.x.ai", P.X_AI),
    ("api.mistral.ai", P.MISTRAL_AI),
    ("api.perplexity.ai", P.PERPLEXITY),
    ("api.moonshot.ai", P.MOONSHOT_AI),
    ("api.moonshot.cn", P.MOONSHOT_AI),
    ("generativelanguage.googleapis.com", P.GCP_GEMINI),
    ("aiplatform.googleapis.com", P.GCP_VERTEX_AI),
    ("*aiplatform.googleapis.com", P.GCP_VERTEX_AI),  # regional: us-central1-aiplatform.googleapis.com
    ("api.cohere.ai", P.COHERE),
    ("api.cohere.com", P.COHERE),
    ("bedrock*.amazonaws.com", P.AWS_BEDROCK),  # bedrock-runtime.<region>.amazonaws.com
    ("bedrock-mantle.*.api.aws", P.AWS_BEDROCK),  # Bedrock's OpenAI-compatible endpoint
)

# Self-hosted servers recognisable by their default port alone. Only ports that are distinctive enough to be
# reliable: Ollama's 11434. (vLLM's 8000 or LM Studio's 1234 are too common to claim.)
PORT_PROVIDERS: Mapping[int, str] = {11434: "ollama"}

# The hosted APIs (matched by HOST_PROVIDERS, never by the provider map) whose documentation has
# ``stream_options: {"include_usage": true}`` on streamed chat completions / completions, so asking for the usage
# chunk cannot fail the app's call. Checked one by one; only these:
#   openai     platform.openai.com API reference (the option's origin)
#   groq       console.groq.com/docs/api-reference, chat completions: stream_options.include_usage
#   deepseek   api-docs.deepseek.com, create chat completion: stream_options.include_usage
#   x_ai       docs.x.ai API reference, chat completions: stream_options.include_usage
# Azure OpenAI accepts it only from some API versions on: see _azure_accepts_stream_usage.
# Left out on purpose: Mistral rejects the field (422 "Extra inputs are not permitted", reported by several
# clients); Gemini's and Vertex AI's OpenAI endpoints, Perplexity, Moonshot, Cohere's compatibility API, Bedrock
# and Azure AI Inference do not document it (Gemini reportedly sends usage on its last chunk unasked). Everything
# else (localhost, vLLM, LM Studio, gateways, LLMTEL_PROVIDER_MAP entries) is unknown: off unless set to true.
STREAM_USAGE_PROVIDERS = frozenset({P.OPENAI, P.GROQ, P.DEEPSEEK, P.X_AI})

# Azure OpenAI answers 400 "Unrecognized request argument supplied: stream_options" on older API versions (e.g.
# 2023-05-15, 2024-02-01, 2024-06-01, 2024-05-01-preview). The first GA version with the option is 2024-10-21;
# the 2024-08/09/10 previews may have it but are not counted (conservative). The v1 API (base URL …/openai/v1,
# no dated version) follows OpenAI's.
AZURE_STREAM_USAGE_SINCE = "2024-10-21"
_DATED = re.compile(r"\d{4}-\d{2}-\d{2}")

_DEFAULT_PORTS = {"https": 443, "http": 80}


class Endpoint(NamedTuple):
    provider: str
    address: str | None
    port: int | None
    stream_usage: bool = False
    """The API is known to accept ``stream_options.include_usage`` (the automatic ``LLMTEL_OPENAI_STREAM_USAGE``)."""


def resolve(
    base_url: object, default_provider: str, overrides: Mapping[str, str], api_version: object = None
) -> Endpoint:
    """Provider and server address/port for a client's base URL (any object whose ``str()`` is the URL).

    ``api_version`` is the client's ``api-version`` query parameter, if it has one (Azure OpenAI clients do).
    """
    try:
        parts = urlsplit(str(base_url))
        host = (parts.hostname or "").lower()
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return Endpoint(default_provider, None, None)
    if not host:
        return Endpoint(default_provider, None, None)
    overridden = _override(host, port, overrides) if overrides else None
    if overridden:
        return Endpoint(overridden, host, port)  # a mapped host is the user's server: nothing is known of it
    provider = _table_provider(host)
    if provider is None:
        return Endpoint(PORT_PROVIDERS.get(port, default_provider) if port else default_provider, host, port)
    if provider == P.AZURE_AI_OPENAI:
        stream_usage = _azure_accepts_stream_usage(parts.path, api_version)
    else:
        stream_usage = provider in STREAM_USAGE_PROVIDERS
    return Endpoint(provider, host, port, stream_usage)


def _override(host: str, port: int | None, overrides: Mapping[str, str]) -> str | None:
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # IPv6 literals keep their brackets
    return overrides.get(hostport) or overrides.get(host)


def _table_provider(host: str) -> str | None:
    for pattern, provider in HOST_PROVIDERS:
        if fnmatchcase(host, pattern):
            return provider
    return None


def _azure_accepts_stream_usage(path: str, api_version: object) -> bool:
    """The v1 API (``…/openai/v1``, any version), or a dated ``api-version`` from 2024-10-21 on (its date part
    compares as text: ``2025-04-01-preview`` counts). Anything else, or no version at all, is not known to."""
    if path.rstrip("/").endswith("/openai/v1"):
        return True
    return isinstance(api_version, str) and bool(_DATED.match(api_version)) and api_version >= AZURE_STREAM_USAGE_SINCE


class EndpointCache:
    """Endpoints by the identity of the object a client keeps its URL in (its ``httpx.URL``, its endpoint string),
    plus a small ``variant`` (e.g. Gemini's Vertex AI flag). Clients keep that object for their life, so its
    identity is a key that costs nothing, where ``str()`` of a URL costs ~5 µs; the entry keeps the object, so an
    id reused after it died never matches. Bounded: clients made per request must not grow it forever."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, tuple[object, Endpoint]] = {}

    def get(self, url: object, variant: int = 0) -> Endpoint | None:
        entry = self._entries.get(id(url) * 2 + variant)
        return entry[1] if entry is not None and entry[0] is url else None

    def put(self, url: object, found: Endpoint, variant: int = 0) -> Endpoint:
        if len(self._entries) < 256:
            self._entries[id(url) * 2 + variant] = (url, found)
        return found
