"""Usage mapping on the SDK's own usage models: totals as reported, cache and reasoning counts as subsets."""

from __future__ import annotations

from typing import Any

from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage

from llmtel import semconv as sc
from llmtel.core.adapter import usage_attributes
from llmtel.providers.openai.chat import CHAT_USAGE
from llmtel.providers.openai.responses import RESPONSES_USAGE


def test_chat_usage_with_cache_writes() -> None:
    usage = CompletionUsage.model_validate(
        {
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 50},
            "completion_tokens_details": {"reasoning_tokens": 5},
        }
    )
    resp: dict[str, Any] = {}
    usage_attributes(usage, CHAT_USAGE, resp)
    assert resp == {
        sc.GEN_AI_USAGE_INPUT_TOKENS: 100,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 20,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 30,
        sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 50,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 5,
    }


def test_chat_usage_without_details() -> None:
    resp: dict[str, Any] = {}
    usage_attributes(CompletionUsage(prompt_tokens=3, completion_tokens=4, total_tokens=7), CHAT_USAGE, resp)
    assert resp == {sc.GEN_AI_USAGE_INPUT_TOKENS: 3, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 4}


def test_responses_usage_with_cache_writes() -> None:
    usage = ResponseUsage.model_validate(
        {
            "input_tokens": 100,
            "input_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 50},
            "output_tokens": 20,
            "output_tokens_details": {"reasoning_tokens": 5},
            "total_tokens": 120,
        }
    )
    resp: dict[str, Any] = {}
    usage_attributes(usage, RESPONSES_USAGE, resp)
    assert resp == {
        sc.GEN_AI_USAGE_INPUT_TOKENS: 100,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 20,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 30,
        sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 50,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 5,
    }


def test_odd_usage_values_are_skipped() -> None:
    resp: dict[str, Any] = {}
    usage_attributes({"prompt_tokens": "12", "completion_tokens": True, "prompt_tokens_details": 5}, CHAT_USAGE, resp)
    assert resp == {}


def test_fields_the_sdk_does_not_declare_are_read_too() -> None:
    """A server may send a count an older SDK has no field for: pydantic keeps it as an extra, and we read it."""
    from openai.types.completion_usage import PromptTokensDetails

    from llmtel.core.adapter import view

    details = PromptTokensDetails.model_validate({"cached_tokens": 3, "cache_write_tokens": 4, "brand_new_tokens": 9})
    assert view(details)["brand_new_tokens"] == 9  # an extra
    assert view(details)["cached_tokens"] == 3  # a declared field
    assert view({"a": 1}) == {"a": 1}
    assert dict(view(None)) == {} and dict(view(5)) == {} and dict(view("text")) == {}

    # the same through the usage table: a usage model whose details arrive as extras of a plain dict shape
    usage = CompletionUsage.model_construct(
        prompt_tokens=10, completion_tokens=2, total_tokens=12, prompt_tokens_details={"cached_tokens": 6}
    )
    resp: dict[str, Any] = {}
    usage_attributes(usage, CHAT_USAGE, resp)
    assert resp == {
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 6,
    }
