"""deploy/prometheus/: the configuration, the rule files and their unit tests, checked by Debian's promtool (2.42).

promtool 2.42 knows no `otlp:` block (Prometheus 3 only), so the configuration is checked on a copy without it,
and that block is asserted here instead. The rule tests run the shipped rules on series named as Prometheus 3
stores the package's metrics.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import helpers

EXPECTED_OTLP_BLOCK = {
    "promote_resource_attributes": [
        "service.name",
        "service.namespace",
        "service.version",
        "deployment.environment.name",
    ],
    "keep_identifying_resource_attributes": True,
    # The names the dashboards and rules are written against; pinned rather than left to a default.
    "translation_strategy": "UnderscoreEscapingWithSuffixes",
}


def test_config_passes_promtool_without_the_prometheus3_block(tmp_path: Path) -> None:
    promtool = helpers.require_binary("promtool")
    config = helpers.load_yaml(helpers.PROMETHEUS_DIR / "prometheus.yml")
    assert config.pop("otlp") == EXPECTED_OTLP_BLOCK
    assert config["storage"]["tsdb"]["out_of_order_time_window"] == "30m"
    assert config["rule_files"] == ["rules/*.yml"]
    # Same layout as in the container (/etc/prometheus/{prometheus.yml,rules/}), so rule_files resolves alike.
    (tmp_path / "rules").symlink_to(helpers.RULES_DIR, target_is_directory=True)
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    result = helpers.run([promtool, "check", "config", str(copy)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(helpers.rule_files())} rule files found" in result.stdout + result.stderr


def test_config_with_the_otlp_block_is_what_promtool_2_rejects(tmp_path: Path) -> None:
    """The copy above differs from the shipped file by exactly the block Prometheus 2 does not know."""
    promtool = helpers.require_binary("promtool")
    (tmp_path / "rules").symlink_to(helpers.RULES_DIR, target_is_directory=True)
    copy = tmp_path / "prometheus.yml"
    copy.write_text((helpers.PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"), encoding="utf-8")
    result = helpers.run([promtool, "check", "config", str(copy)])
    assert result.returncode != 0
    assert "field otlp not found" in result.stdout + result.stderr


def test_rules_pass_promtool() -> None:
    promtool = helpers.require_binary("promtool")
    files = helpers.rule_files()
    assert [f.name for f in files] == ["collector.rules.yml", "genai-prices.rules.yml", "genai.rules.yml"]
    result = helpers.run([promtool, "check", "rules", *map(str, files)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", sorted(p.name for p in helpers.RULE_TESTS_DIR.glob("*.yml")))
def test_rule_unit_tests_pass(test_file: str) -> None:
    promtool = helpers.require_binary("promtool")
    result = helpers.run([promtool, "test", "rules", test_file], cwd=helpers.RULE_TESTS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _rule_tests() -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = []
    for path in sorted(helpers.RULE_TESTS_DIR.glob("*.yml")):
        tests.extend(helpers.load_yaml(path)["tests"])
    return tests


def test_every_alert_and_severity_fires_in_a_unit_test() -> None:
    shipped = {(rule["alert"], rule["labels"]["severity"]) for _, rule in helpers.rules() if "alert" in rule}
    fired = {
        (case["alertname"], alert["exp_labels"]["severity"])
        for test in _rule_tests()
        for case in test.get("alert_rule_test", [])
        for alert in case["exp_alerts"]
    }
    assert shipped == fired
    assert len({name for name, _ in shipped}) == 9


def test_every_alert_has_a_quiet_case_too() -> None:
    """Each alert is also tested at a time it must not fire (no data yet, or its `for` not yet passed)."""
    quiet = {
        case["alertname"]
        for test in _rule_tests()
        for case in test.get("alert_rule_test", [])
        if not case["exp_alerts"]
    }
    assert quiet == {rule["alert"] for _, rule in helpers.rules() if "alert" in rule}


def test_every_recording_rule_is_unit_tested() -> None:
    records = {rule["record"] for _, rule in helpers.rules() if "record" in rule}
    tested_exprs = " ".join(case["expr"] for test in _rule_tests() for case in test.get("promql_expr_test", []))
    alert_exprs = " ".join(rule["expr"] for _, rule in helpers.rules() if "alert" in rule)
    untested = {r for r in records if r not in tested_exprs and r not in alert_exprs}
    assert not untested


def test_rules_use_only_names_the_package_and_the_collector_produce() -> None:
    emitted = helpers.emitted_series_names()
    labels = helpers.emitted_label_names() | helpers.TARGET_LABELS | helpers.promoted_resource_labels()
    records = {rule["record"] for _, rule in helpers.rules() if "record" in rule}
    for path, rule in helpers.rules():
        names = helpers.names_in(rule["expr"])
        if path.name == "collector.rules.yml":
            assert names.metrics <= {"up"}, names.metrics
            assert all(n.startswith("otelcol_") for n in names.regex_name_selectors)
            continue
        assert not names.regex_name_selectors
        assert names.metrics <= emitted | records, (rule.get("record") or rule.get("alert"), names.metrics - emitted)
        assert names.labels <= labels, (rule.get("record") or rule.get("alert"), names.labels)
    # error_type="429" is how the package records rate limiting (HTTP status as error.type).
    rate_limited = next(rule for _, rule in helpers.rules() if rule.get("alert") == "GenAIRateLimited")
    assert 'error_type="429"' in rate_limited["expr"]


def _alert_threshold(name: str, severity: str) -> float:
    rule = next(r for _, r in helpers.rules() if r.get("alert") == name and r["labels"]["severity"] == severity)
    match = re.search(r">\s*([0-9.]+)\s*$", rule["expr"].strip())
    assert match, rule["expr"]
    return float(match[1])


def test_dashboard_red_thresholds_are_the_alert_thresholds() -> None:
    expected = {
        "percentunit": _alert_threshold("GenAIHighErrorRatio", "warning"),
        "first chunk": _alert_threshold("GenAISlowFirstChunk", "warning"),
        "duration": _alert_threshold("GenAISlowResponses", "warning"),
    }
    seen = set()
    for path in helpers.dashboard_files():
        for panel in helpers.all_panels(helpers.load_dashboard(path)):
            defaults = panel.get("fieldConfig", {}).get("defaults", {})
            red = [s["value"] for s in defaults.get("thresholds", {}).get("steps", []) if s["color"] == "red"]
            if not red:
                continue
            if defaults["unit"] == "percentunit":
                kind = "percentunit"
            else:
                kind = "first chunk" if "first chunk" in panel["title"].lower() else "duration"
            assert red == [expected[kind]], (path.name, panel["title"])
            seen.add(kind)
    assert seen == set(expected)
