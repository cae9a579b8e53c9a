"""The price table (llmtel.logs.prices): the bundled data, the cost of one call, and LLMTEL_PRICES override files.

Costs are asserted as exact floats: the table holds integer millionths of a USD per 1M tokens and a cost is one
correctly rounded division, so each expected value is the float nearest the exact decimal cost, written as that
decimal.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmtel import semconv as sc
from llmtel.logs import prices
from llmtel.logs.prices import Price, PriceTable

BUNDLED = Path(prices.__file__).with_name("prices.json")
PROVIDERS = {value for name, value in vars(sc.GenAiProviderNameValues).items() if name.isupper()}


@pytest.fixture
def table() -> PriceTable:
    return prices.bundled_table()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(prices.ENV, raising=False)


def write(tmp_path: Path, doc: Any, name: str = "prices.json") -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return str(path)


def one_model(**fields: Any) -> dict[str, Any]:
    """A price document with one OpenAI model of the given fields."""
    return {"providers": {"openai": {"models": [{"ids": ["gpt-4o-mini"], **fields}]}}}


# -- the bundled table -----------------------------------------------------------------------------------------


def test_bundled_table_has_every_provider_with_its_source_and_date(table: PriceTable) -> None:
    assert table.checked == "2026-12-02"
    assert sorted(table.providers) == ["anthropic", "aws.bedrock", "gcp.gemini", "gcp.vertex_ai", "openai"]
    assert {name: (p.source, p.checked) for name, p in table.providers.items()} == {
        "openai": ("https://developers.openai.com/api/docs/pricing", "2026-12-02"),
        "anthropic": ("https://platform.claude.com/docs/en/about-claude/pricing", "2026-12-02"),
        "aws.bedrock": ("https://aws.amazon.com/bedrock/pricing/", "2026-12-02"),
        "gcp.gemini": ("https://ai.google.dev/gemini-api/docs/pricing", "2026-12-02"),
        "gcp.vertex_ai": ("https://cloud.google.com/vertex-ai/generative-ai/pricing", "2026-12-02"),
    }
    for provider in table.providers.values():
        assert provider.note  # what the numbers are and what is left out, in the data itself


def test_bundled_ids_are_provider_values_and_bedrock_ids_as_model_id_carries_them(table: PriceTable) -> None:
    keys = [key for key, _ in table]
    assert {provider for provider, _ in keys} <= PROVIDERS
    bedrock = [model for provider, model in keys if provider == "aws.bedrock"]
    # modelId: vendor.model[-version][:n], or a cross-Region inference profile: us./global. before it.
    assert all(re.fullmatch(r"((us|global)\.)?[a-z]+\.[a-z0-9.-]+(:[0-9]+)?", model) for model in bedrock), bedrock
    # The real ids the Bedrock cassettes carry are priced, under the provider Bedrock records.
    for model in (
        "amazon.nova-micro-v1:0",
        "amazon.titan-text-lite-v1",
        "anthropic.claude-v2",
        "anthropic.claude-3-sonnet-20240229-v1:0",
        "cohere.command-r-v1:0",
        "mistral.mistral-7b-instruct-v0:2",
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
    ):
        assert table.get("aws.bedrock", model) is not None, model


def test_bundled_prices_as_published(table: PriceTable) -> None:
    """A sample of the table, each kind in millionths of a USD per 1M tokens (1.25 USD is 1_250_000)."""
    assert table.get("openai", "gpt-4o-mini") == Price(input=150_000, output=600_000, cache_read=75_000)
    assert table.get("openai", "gpt-4o-mini-2024-07-18") == table.get("openai", "gpt-4o-mini")
    assert table.get("openai", "text-embedding-3-small") == Price(input=20_000)
    assert table.get("openai", "gpt-5.5") == Price(input=5_000_000, output=30_000_000, cache_read=500_000)
    assert table.get("anthropic", "claude-sonnet-4-5") == Price(
        input=3_000_000, output=15_000_000, cache_read=300_000, cache_write=3_750_000
    )
    assert table.get("anthropic", "claude-sonnet-4-5-20250929") == table.get("anthropic", "claude-sonnet-4-5")
    assert table.get("anthropic", "claude-haiku-5-5") == Price(
        input=100_000, output=500_000, cache_read=10_000, cache_write=125_000
    )
    assert table.get("aws.bedrock", "amazon.nova-micro-v1:0") == Price(input=35_000, output=140_000)
    assert table.get("aws.bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0") == Price(
        input=3_000_000, output=15_000_000
    )
    assert table.get("gcp.gemini", "gemini-2.5-flash") == Price(input=300_000, output=2_500_000, cache_read=30_000)
    # The same model on Vertex AI is a key of its own, without the Gemini API's cache price.
    assert table.get("gcp.vertex_ai", "gemini-2.5-flash") == Price(input=300_000, output=2_500_000)


def test_every_bundled_price_costs_exactly_its_published_number_per_million(table: PriceTable) -> None:
    """1M tokens of one kind cost exactly the published price: no float drift anywhere in the table."""
    for (provider, model), price in table:
        published = {kind: price.per_million(kind) for kind in prices.KINDS}
        million = 10**6
        assert table.cost_usd(provider, model, million, 0) == float(published["input"]), model
        if published["output"] is not None:
            assert table.cost_usd(provider, model, 0, million) == float(published["output"]), model
        for kind, counts in (("cache_read", (million, 0)), ("cache_write", (0, million))):
            expected = published[kind] if published[kind] is not None else published["input"]
            assert table.cost_usd(provider, model, million, 0, *counts) == float(expected), (model, kind)


def test_the_bundled_file_is_what_the_package_reads(table: PriceTable) -> None:
    replace, parsed = prices.parse(json.loads(BUNDLED.read_text(encoding="utf-8"), parse_float=Decimal))
    assert replace is False
    assert list(parsed) == list(table)


# -- cost of one call ------------------------------------------------------------------------------------------


def test_signature_is_the_one_the_store_calls() -> None:
    assert list(inspect.signature(PriceTable.cost_usd).parameters) == [
        "self",
        "provider",
        "request_model",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
    ]


@pytest.mark.parametrize(
    ("provider", "model", "tokens", "cost"),
    [
        # 1000 * 0.15 + 500 * 0.60 = 450 USD per 1M → 0.00045
        ("openai", "gpt-4o-mini", (1000, 500), 0.00045),
        # cached input: 1000 input of which 800 read → 200 * 0.15 + 800 * 0.075 + 10 * 0.60
        ("openai", "gpt-4o-mini", (1000, 10, 800, None), 0.000096),
        # reasoning models: output_tokens already includes the reasoning tokens, billed once at the output price
        ("openai", "gpt-5", (2000, 3000, 0, 0), 0.0325),
        # Anthropic: 10_000 input = 2000 uncached * 3 + 6000 read * 0.30 + 2000 written * 3.75; 1000 out * 15
        ("anthropic", "claude-sonnet-4-5", (10_000, 1000, 6000, 2000), 0.0303),
        ("anthropic", "claude-sonnet-4-5-20250929", (10_000, 1000, 6000, 2000), 0.0303),
        # Bedrock: the inference-profile id is a key of its own, 0.80 / 4
        ("aws.bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0", (1200, 300), 0.00216),
        # Bedrock Claude has no cache price in the table: cache tokens at the input price, same as uncached
        ("aws.bedrock", "anthropic.claude-v2", (1000, 100, 400, 100), 0.0104),
        ("aws.bedrock", "anthropic.claude-v2", (1000, 100), 0.0104),
        # Gemini: 4000 input of which 3000 cached * 0.03, 1000 * 0.30; 500 out * 2.50 (thoughts are in output)
        ("gcp.gemini", "gemini-2.5-flash", (4000, 500, 3000, None), 0.00164),
        # embeddings: no output price, no output count needed
        ("openai", "text-embedding-3-small", (5000, None), 0.0001),
        ("openai", "text-embedding-3-small", (5000, 0), 0.0001),
        # nothing used, nothing billed (a known model and known counts: 0, not None)
        ("openai", "gpt-4o", (0, 0), 0.0),
    ],
)
def test_cost(table: PriceTable, provider: str, model: str, tokens: tuple[Any, ...], cost: float) -> None:
    assert table.cost_usd(provider, model, *tokens) == cost


def test_cache_counts_beyond_input_never_make_uncached_input_negative(table: PriceTable) -> None:
    # A record whose cache counts exceed its input (inconsistent, but untrusted data): uncached input is 0, the
    # cache parts are billed as reported. 150 read * 0.075 + 0 uncached; no output.
    assert table.cost_usd("openai", "gpt-4o-mini", 100, 0, 150, 0) == 0.00001125


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "my-finetune"),  # nobody priced it
        ("azure.ai.openai", "gpt-4o-mini"),  # a priced name under another provider: its prices differ
        ("gcp.vertex_ai", "gemini-2.5-flash-lite"),  # priced on the Gemini API, not on Vertex AI
        ("anthropic", "claude-sonnet-4"),  # close to a priced id is not a priced id: no fuzzy matching
        ("openai", "GPT-4O-MINI"),
        (None, "gpt-4o-mini"),
        ("openai", None),
        (None, None),
    ],
)
def test_unknown_model_has_no_cost(table: PriceTable, provider: str | None, model: str | None) -> None:
    assert table.cost_usd(provider, model, 1000, 100) is None


@pytest.mark.parametrize(
    ("model", "tokens"),
    [
        ("gpt-4o-mini", (None, 100)),  # input unknown
        ("gpt-4o-mini", (1000, None)),  # output unknown: half a cost would look like a price
        ("gpt-4o-mini", (None, None)),
        ("gpt-4o-mini", (-1, 100)),  # not counts
        ("gpt-4o-mini", (1000, -1)),
        ("gpt-4o-mini", (1000, 100, -5, None)),
        ("gpt-4o-mini", (1000, 100, None, -5)),
        ("gpt-4o-mini", (True, 100)),
        ("gpt-4o-mini", (1000, 100.0)),
        ("gpt-4o-mini", ("1000", 100)),
        ("gpt-4o-mini", (1000, 100, 1.5, None)),
        ("text-embedding-3-small", (1000, 5)),  # output tokens of a model with no output price: unknown cost
    ],
)
def test_unknown_counts_give_no_cost(table: PriceTable, model: str, tokens: tuple[Any, ...]) -> None:
    assert table.cost_usd("openai", model, *tokens) is None


def test_large_counts_stay_exact(table: PriceTable) -> None:
    # 2^62 input tokens (the largest a record holds is below 2^63): integer arithmetic, one rounding at the end.
    count = 2**62
    assert table.cost_usd("openai", "gpt-4o-mini", count, 0) == float(Decimal(count) * Decimal("0.15") / 10**6)


# -- LLMTEL_PRICES ---------------------------------------------------------------------------------------------


CONTRACT = {
    "checked": "2026-11-30",
    "providers": {
        "openai": {
            "source": "our contract",
            "models": [
                {"ids": ["gpt-4o-mini"], "input": 0.1, "output": 0.4},  # replaces the bundled entry
                {"ids": ["my-finetune", "ft:gpt-4o-mini:acme::abc123"], "input": 0.3, "output": 1.2},
            ],
        },
        "azure.ai.openai": {"models": [{"ids": ["gpt-4o-mini"], "input": 0.165, "output": 0.66}]},
    },
}


def test_override_file_extends_the_bundled_table(tmp_path: Path, table: PriceTable) -> None:
    extended = prices.load(write(tmp_path, CONTRACT))
    # The file's models replace the bundled ones of the same (provider, id): the bundled cache price is gone too.
    assert extended.get("openai", "gpt-4o-mini") == Price(input=100_000, output=400_000)
    assert extended.cost_usd("openai", "gpt-4o-mini", 1000, 1000, 500, None) == 0.0005
    assert extended.cost_usd("openai", "ft:gpt-4o-mini:acme::abc123", 1000, 1000) == 0.0015
    assert extended.cost_usd("azure.ai.openai", "gpt-4o-mini", 1000, 1000) == 0.000825
    # Everything else is the bundled table's.
    assert len(extended) == len(table) + 3
    assert extended.get("openai", "gpt-4o") == table.get("openai", "gpt-4o")
    assert extended.get("anthropic", "claude-haiku-4-5") == table.get("anthropic", "claude-haiku-4-5")
    assert extended.providers["openai"].source == "our contract"
    assert extended.providers["anthropic"] == table.providers["anthropic"]
    assert extended.checked == "2026-11-30"


def test_override_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(prices.ENV, write(tmp_path, CONTRACT))
    assert prices.load().get("openai", "my-finetune") == Price(input=300_000, output=1_200_000)
    # An explicit path wins over the environment.
    other = write(tmp_path, one_model(input=1, output=2), "other.json")
    assert prices.load(other).get("openai", "my-finetune") is None


def test_empty_environment_value_is_the_bundled_table(monkeypatch: pytest.MonkeyPatch, table: PriceTable) -> None:
    monkeypatch.setenv(prices.ENV, "")
    assert prices.load() is table


def test_replace_true_is_the_whole_table(tmp_path: Path) -> None:
    replaced = prices.load(write(tmp_path, {"replace": True, **CONTRACT}))
    assert list(replaced) == [
        (("azure.ai.openai", "gpt-4o-mini"), Price(input=165_000, output=660_000)),
        (("openai", "ft:gpt-4o-mini:acme::abc123"), Price(input=300_000, output=1_200_000)),
        (("openai", "gpt-4o-mini"), Price(input=100_000, output=400_000)),
        (("openai", "my-finetune"), Price(input=300_000, output=1_200_000)),
    ]
    assert replaced.cost_usd("anthropic", "claude-haiku-4-5", 1000, 1000) is None


def test_a_zero_price_is_a_price(tmp_path: Path) -> None:
    free = prices.load(write(tmp_path, one_model(input=0, output=0)))
    assert free.cost_usd("openai", "gpt-4o-mini", 1000, 1000) == 0.0


BAD_FILES: list[tuple[str, Any, str]] = [
    ("not JSON", "{not json", "not JSON"),
    ("JSON, not an object", "[1, 2]", "the file: not an object"),
    ("no providers", {}, "providers: not an object"),
    ("unknown top key", {"providers": {}, "prices": {}}, "the file: unknown key(s) prices"),
    ("replace not a bool", {"replace": "yes", "providers": {}}, "replace: not true or false"),
    ("models not a list", {"providers": {"openai": {"models": {}}}}, "providers.openai.models: not a list"),
    ("negative price", one_model(input=-0.15, output=0.6), "providers.openai.models[0].input: -0.15 is not between"),
    ("huge price", one_model(input=0.15, output=1e6), "models[0].output: 1000000.0 is not between 0 and 100000"),
    ("absurd exponent", '{"providers": {"openai": {"models": [{"ids": ["m"], "input": 1e999999}]}}}', "1E+999999"),
    ("string price", one_model(input="0.15", output=0.6), "input: '0.15' is not a number"),
    ("bool price", one_model(input=True, output=0.6), "input: True is not a number"),
    ("null input", one_model(input=None, output=0.6), "input: missing"),
    ("no input", one_model(output=0.6), "providers.openai.models[0].input: missing"),
    ("NaN", '{"providers": {"openai": {"models": [{"ids": ["m"], "input": NaN}]}}}', "NaN is not a price"),
    ("Infinity", '{"providers": {"openai": {"models": [{"ids": ["m"], "input": Infinity}]}}}', "Infinity is not"),
    ("too precise", one_model(input=0.0000001, output=1), "input: 1E-7 has more than 6 decimal places"),
    ("unknown model key", one_model(input=1, cached=0.5), "models[0]: unknown key(s) cached"),
    ("no ids", {"providers": {"openai": {"models": [{"input": 1}]}}}, "ids: not a non-empty list"),
    ("empty ids", {"providers": {"openai": {"models": [{"ids": [], "input": 1}]}}}, "ids: not a non-empty list"),
    ("id not a string", {"providers": {"openai": {"models": [{"ids": [4], "input": 1}]}}}, "ids: 4 is not a name"),
    ("id with a newline", {"providers": {"openai": {"models": [{"ids": ["a\nb"], "input": 1}]}}}, "is not a name"),
    ("id too long", {"providers": {"openai": {"models": [{"ids": ["m" * 257], "input": 1}]}}}, "is not a name"),
    (
        "an id twice",
        {"providers": {"openai": {"models": [{"ids": ["m"], "input": 1}, {"ids": ["m"], "input": 2}]}}},
        "models[1].ids: 'm' is priced twice under openai",
    ),
    ("source not a string", {"providers": {"openai": {"source": 1, "models": []}}}, "openai.source: not a string"),
    ("too deep", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
]


@pytest.mark.parametrize(
    ("doc", "reason"), [(doc, reason) for _, doc, reason in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_bad_override_file_warns_once_and_the_bundled_table_is_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, table: PriceTable, doc: Any, reason: str
) -> None:
    path = write(tmp_path, doc)
    with caplog.at_level(logging.WARNING, logger="llmtel"):
        assert prices.load(path) is table
    assert [(r.name, r.levelno) for r in caplog.records] == [("llmtel", logging.WARNING)]
    message = caplog.records[0].getMessage()
    assert message.startswith(f"llmtel: ignoring the price file LLMTEL_PRICES={path} (")
    assert message.endswith("); using the bundled price table")
    assert reason in message


def test_unreadable_override_files_warn_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (prices.MAX_FILE_BYTES + 1))
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"providers": {"caf\xe9": {"models": []}}}'.encode("latin-1"))
    cases = {
        str(tmp_path / "missing.json"): "No such file or directory",
        str(tmp_path): "Is a directory",
        str(big): f"larger than {prices.MAX_FILE_BYTES} bytes",
        str(latin1): "can't decode byte 0xe9",
    }
    for path, reason in cases.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="llmtel"):
            assert prices.load(path) is prices.bundled_table()
        assert len(caplog.records) == 1, path
        assert reason in caplog.records[0].getMessage(), path


def test_a_broken_install_without_the_bundled_file_prices_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """prices.json missing from an install (package data left out of a wheel): one warning, no cost, no crash."""
    monkeypatch.setattr(prices, "BUNDLED_FILE", str(tmp_path / "prices.json"))
    prices.bundled_table.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="llmtel"):
            empty = prices.load()
            assert prices.load() is empty  # parsed (and reported) once per process
        assert len(empty) == 0
        assert empty.cost_usd("openai", "gpt-4o-mini", 1000, 100) is None
        assert [r.getMessage() for r in caplog.records] == [
            "llmtel: the bundled price table could not be read ([Errno 2] No such file or directory: "
            f"'{tmp_path / 'prices.json'}'); no call has a cost"
        ]
    finally:
        prices.bundled_table.cache_clear()
