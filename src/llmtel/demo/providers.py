"""The demo's calls through the Anthropic, Bedrock and Gemini SDKs, against the built-in server's wire formats.

Each provider gets the same small tour as OpenAI's (a call, a stream watched live, a tool or embeddings call where
the API has one, and an error on purpose), made with the real SDK over its real HTTP stack; the built-in server
(:mod:`llmtel.demo.wire`) answers each in that provider's own format, so no key and no network are needed.
Every SDK is imported only when its steps run (an install without it gets one line saying how to add it).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ANTHROPIC_MODEL = "claude-sonnet-4-5"
BEDROCK_MODEL = "amazon.nova-micro-v1:0"
BEDROCK_CLAUDE_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
GEMINI_MODEL = "gemini-2.5-flash"
GEMINI_EMBEDDING_MODEL = "gemini-embedding-001"
ERROR_MODEL = "rate-limited"
"""Every wire module of the built-in server answers this model with its API's rate-limit error (HTTP 429)."""
MAX_TOKENS = 200
DEMO_KEY = "demo"


@dataclass(frozen=True)
class Provider:
    """One SDK the demo can call: its ``--provider`` name, its title, the module that tells it is installed."""

    name: str
    title: str
    module: str
    distribution: str
    package: str
    """llmtel's provider package for this SDK."""

    def installed(self) -> bool:
        """The SDK is installed (and llmtel has a provider for it)."""
        if importlib.util.find_spec(self.package) is None:
            return False
        try:
            importlib.import_module(self.module)
        except ImportError:
            return False
        return True

    def version(self) -> str:
        from importlib.metadata import version

        try:
            return f"{self.distribution} {version(self.distribution)}"
        except Exception:
            return self.distribution


PROVIDERS = (
    Provider("openai", "OpenAI", "openai", "openai", "llmtel.providers.openai"),
    Provider("anthropic", "Anthropic", "anthropic", "anthropic", "llmtel.providers.anthropic"),
    Provider("bedrock", "AWS Bedrock", "boto3", "boto3", "llmtel.providers.bedrock"),
    Provider("gemini", "Google Gemini", "google.genai", "google-genai", "llmtel.providers.google_genai"),
)
BY_NAME = {p.name: p for p in PROVIDERS}


def client(name: str, root_url: str) -> Any:
    """A client of provider ``name`` talking to the built-in server at ``root_url``, retries off."""
    if name == "anthropic":
        import anthropic

        return anthropic.Anthropic(base_url=root_url, api_key=DEMO_KEY, max_retries=0)
    if name == "bedrock":
        import boto3
        from botocore.config import Config

        return boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=root_url,
            aws_access_key_id=DEMO_KEY,
            aws_secret_access_key=DEMO_KEY,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
    if name == "gemini":
        from google import genai
        from google.genai import types

        options = types.HttpOptions(base_url=root_url, retry_options=types.HttpRetryOptions(attempts=1))
        return genai.Client(api_key=DEMO_KEY, http_options=options)
    raise ValueError(f"no demo client for {name!r}")


def close(name: str, found: Any) -> None:
    """Close a client made by :func:`client` (botocore's has no close before 1.33; its pool goes with it)."""
    closer = getattr(found, "close", None)
    if callable(closer):
        closer()


# -- the calls: (label, call(client, write, prompts) -> what to print, expect_error) --------------------------

Write = Callable[[str], None]


@dataclass(frozen=True)
class Prompts:
    system: str
    chat: str
    stream: str
    tool: str
    embeddings: tuple[str, ...]
    error: str


def _anthropic_chat(c: Any, write: Write, p: Prompts) -> str:
    message = c.messages.create(
        model=ANTHROPIC_MODEL,
        max_tokens=MAX_TOKENS,
        system=p.system,
        messages=[{"role": "user", "content": p.chat}],
    )
    return "".join(block.text for block in message.content if block.type == "text").strip()


def _anthropic_stream(c: Any, write: Write, p: Prompts) -> str:
    with c.messages.stream(
        model=ANTHROPIC_MODEL, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": p.stream}]
    ) as stream:
        for text in stream.text_stream:
            write(text)
    return ""


_ANTHROPIC_TOOL = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _anthropic_tool(c: Any, write: Write, p: Prompts) -> str:
    message = c.messages.create(
        model=ANTHROPIC_MODEL,
        max_tokens=MAX_TOKENS,
        tools=[_ANTHROPIC_TOOL],
        messages=[{"role": "user", "content": p.tool}],
    )
    uses = [f"{block.name}({block.input})" for block in message.content if block.type == "tool_use"]
    return f"the model asked for {', '.join(uses)}" if uses else f"no tool call (stop reason {message.stop_reason})"


def _anthropic_error(c: Any, write: Write, p: Prompts) -> str:
    c.messages.create(model=ERROR_MODEL, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": p.error}])
    return "the call unexpectedly succeeded"


def _bedrock_messages(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def _bedrock_converse(c: Any, write: Write, p: Prompts) -> str:
    response = c.converse(
        modelId=BEDROCK_MODEL,
        system=[{"text": p.system}],
        messages=_bedrock_messages(p.chat),
        inferenceConfig={"maxTokens": MAX_TOKENS},
    )
    blocks = response.get("output", {}).get("message", {}).get("content", [])
    return "".join(block.get("text", "") for block in blocks).strip()


def _bedrock_stream(c: Any, write: Write, p: Prompts) -> str:
    response = c.converse_stream(modelId=BEDROCK_MODEL, messages=_bedrock_messages(p.stream))
    for event in response["stream"]:
        delta = event.get("contentBlockDelta", {}).get("delta", {})
        if delta.get("text"):
            write(delta["text"])
    return ""


def _bedrock_invoke(c: Any, write: Write, p: Prompts) -> str:
    import json

    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": p.chat}],
    }
    response = c.invoke_model(modelId=BEDROCK_CLAUDE_MODEL, body=json.dumps(body))
    reply = json.loads(response["body"].read())
    return "".join(part.get("text", "") for part in reply.get("content", [])).strip()


def _bedrock_error(c: Any, write: Write, p: Prompts) -> str:
    c.converse(modelId=ERROR_MODEL, messages=_bedrock_messages(p.error))
    return "the call unexpectedly succeeded"


def _gemini_chat(c: Any, write: Write, p: Prompts) -> str:
    from google.genai import types

    response = c.models.generate_content(
        model=GEMINI_MODEL,
        contents=p.chat,
        config=types.GenerateContentConfig(system_instruction=p.system, max_output_tokens=MAX_TOKENS),
    )
    return str(response.text or "").strip()


def _gemini_stream(c: Any, write: Write, p: Prompts) -> str:
    for chunk in c.models.generate_content_stream(model=GEMINI_MODEL, contents=p.stream):
        if chunk.text:
            write(chunk.text)
    return ""


def _gemini_embeddings(c: Any, write: Write, p: Prompts) -> str:
    result = c.models.embed_content(model=GEMINI_EMBEDDING_MODEL, contents=list(p.embeddings))
    vectors = result.embeddings or []
    dimensions = len(vectors[0].values or []) if vectors else 0
    return f"{len(vectors)} vectors of {dimensions} dimensions"


def _gemini_error(c: Any, write: Write, p: Prompts) -> str:
    c.models.generate_content(model=ERROR_MODEL, contents=p.error)
    return "the call unexpectedly succeeded"


Call = Callable[[Any, Write, Prompts], str]

STEPS: dict[str, tuple[tuple[str, Call, bool], ...]] = {
    "anthropic": (
        ("messages.create", _anthropic_chat, False),
        ("messages.stream(), text as it arrives", _anthropic_stream, False),
        ("tool use", _anthropic_tool, False),
        (f"error, on purpose (model {ERROR_MODEL!r})", _anthropic_error, True),
    ),
    "bedrock": (
        ("converse", _bedrock_converse, False),
        ("converse_stream, text as it arrives", _bedrock_stream, False),
        ("invoke_model, Anthropic Claude body", _bedrock_invoke, False),
        (f"error, on purpose (model {ERROR_MODEL!r})", _bedrock_error, True),
    ),
    "gemini": (
        ("generate_content", _gemini_chat, False),
        ("generate_content_stream, text as it arrives", _gemini_stream, False),
        ("embed_content", _gemini_embeddings, False),
        (f"error, on purpose (model {ERROR_MODEL!r})", _gemini_error, True),
    ),
}
"""Each provider's calls, in order: (label, call, whether it must fail)."""
