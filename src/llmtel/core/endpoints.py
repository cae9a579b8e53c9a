"""Provider identity and ``server.*`` attributes from the base URL a client talks to.

OpenAI-compatible APIs all look alike from the SDK; the host is what tells them apart. The table below maps
hosts to the well-known ``gen_ai.provider.name`` values of the conventions. ``LLMTEL_PROVIDER_MAP`` adds or
overrides entries (``host[:port]=provider``). Anything unknown keeps the SDK's own provider (``openai`` for
the OpenAI SDK), as the conventions allow; ``server.address``/``server.port`` still tell the real backend.
"""

from __future__ import annotations

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

_DEFAULT_PORTS = {"https": 443, "http": 80}


class Endpoint(NamedTuple):
    provider: str
    address: str | None
    port: int | None


def resolve(base_url: object, default_provider: str, overrides: Mapping[str, str]) -> Endpoint:
    """Provider and server address/port for a client's base URL (any object whose ``str()`` is the URL)."""
    try:
        parts = urlsplit(str(base_url))
        host = (parts.hostname or "").lower()
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return Endpoint(default_provider, None, None)
    if not host:
        return Endpoint(default_provider, None, None)
    return Endpoint(_provider_for(host, port, default_provider, overrides), host, port)


def _provider_for(host: str, port: int | None, default: str, overrides: Mapping[str, str]) -> str:
    if overrides:
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # IPv6 literals keep their brackets
        found = overrides.get(hostport) or overrides.get(host)
        if found:
            return found
    for pattern, provider in HOST_PROVIDERS:
        if fnmatchcase(host, pattern):
            return provider
    if port is not None and port in PORT_PROVIDERS:
        return PORT_PROVIDERS[port]
    return default
