"""deploy/prometheus/rules/genai-prices.rules.yml is generated from the price table the records use
(scripts/gen_prices.py): the committed file is the generator's output, and every price series is the table's
number, so a dashboard and a record price the same uncached call alike."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import yaml

from llmtel.logs import prices
from tests.deploy import helpers

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "scripts" / "gen_prices.py"
RULES = helpers.RULES_DIR / "genai-prices.rules.yml"


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return helpers.run([sys.executable, str(GENERATOR), *args], cwd=REPO_ROOT)


def price_series(path: Path) -> dict[tuple[str, str, str], float]:
    series: dict[tuple[str, str, str], float] = {}
    for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            if rule.get("record") != helpers.PRICE_SERIES:
                continue
            labels = rule["labels"]
            key = tuple(labels[name] for name in helpers.PRICE_LABELS)
            assert key not in series, key
            assert rule["expr"].startswith("vector(") and rule["expr"].endswith(")"), rule
            series[key] = float(rule["expr"][len("vector(") : -1])  # type: ignore[index]
    return series


def test_committed_rules_are_the_generators_output() -> None:
    result = run_generator("--check")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_every_price_series_is_the_tables_number() -> None:
    """One series per (provider, model, input|output) the table prices, with exactly its number per token; the
    cache prices have no series (Prometheus has no cache token type)."""
    expected = {}
    for (provider, model), price in prices.bundled_table():
        for kind in ("input", "output"):
            value = price.per_million(kind)
            if value is not None:
                expected[(provider, model, kind)] = float(value * Decimal("1e-6"))
    assert price_series(RULES) == expected
    assert len(expected) == 199
    # The dashboards' estimate of an uncached call is the record's cost, to the last bit or two: Prometheus
    # multiplies float prices per token, the record rounds the exact decimal cost once.
    per_token = price_series(RULES)
    table = prices.bundled_table()
    for provider, model, tokens in (
        ("openai", "gpt-4o-mini", (1_000_000, 1_000_000)),
        ("anthropic", "claude-sonnet-4-5", (2_000_000, 1_000_000)),
        ("aws.bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0", (4_000_000, 0)),
        ("gcp.gemini", "gemini-2.5-flash", (1_000_000, 2_000_000)),
    ):
        estimate = tokens[0] * per_token[(provider, model, "input")]
        estimate += tokens[1] * per_token[(provider, model, "output")]
        cost = table.cost_usd(provider, model, *tokens)
        assert cost is not None and math.isclose(estimate, cost, rel_tol=1e-15, abs_tol=0), (model, estimate, cost)


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "genai-prices.rules.yml"
    stale.write_text(RULES.read_text(encoding="utf-8").replace("vector(0.15e-6)", "vector(0.16e-6)"), "utf-8")
    result = run_generator("--check", "--out", str(stale))
    assert result.returncode == 1
    assert result.stderr == f"gen_prices: {stale} is out of date; run python scripts/gen_prices.py\n"
    missing = run_generator("--check", "--out", str(tmp_path / "absent.yml"))
    assert missing.returncode == 1


def test_generated_from_an_override_file_prices_as_the_records_do(tmp_path: Path) -> None:
    contract = {
        "providers": {
            "openai": {"source": "our contract", "models": [{"ids": ["gpt-4o-mini"], "input": 0.1, "output": 0.4}]},
            "azure.ai.openai": {"models": [{"ids": ["my-deployment:v2"], "input": 0.165}]},
        }
    }
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(contract), encoding="utf-8")
    out = tmp_path / "rules.yml"
    result = run_generator("--prices", str(path), "--out", str(out))
    assert (result.returncode, result.stderr) == (0, "")
    series = price_series(out)
    assert series[("openai", "gpt-4o-mini", "input")] == 0.1e-6
    assert series[("openai", "gpt-4o-mini", "output")] == 0.4e-6
    assert series[("azure.ai.openai", "my-deployment:v2", "input")] == 0.165e-6
    assert ("azure.ai.openai", "my-deployment:v2", "output") not in series
    assert series[("anthropic", "claude-haiku-4-5", "output")] == 5e-6  # the rest is the bundled table
    assert len(series) == 199 + 1
    text = out.read_text(encoding="utf-8")
    assert "#     openai: our contract\n" in text
    assert 'gen_ai_request_model: "my-deployment:v2"' in text  # quoted: a plain scalar with ':' is not portable
    # The file passes promtool like the shipped one.
    promtool = helpers.require_binary("promtool")
    check = helpers.run([promtool, "check", "rules", str(out)])
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_bad_override_file_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"providers": {"openai": {"models": [{"ids": ["m"], "input": -1}]}}}), "utf-8")
    out = tmp_path / "rules.yml"
    result = run_generator("--prices", str(path), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr == (
        f"gen_prices: {path}: providers.openai.models[0].input: -1 is not between 0 and 100000 USD per 1M tokens\n"
    )
    assert not out.exists()
