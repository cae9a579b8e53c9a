"""grafana/dashboards/*.json: structure for file provisioning (every dashboard), and PromQL (the Prometheus
dashboards and variables) that parses and only uses names the package really produces (derived from its
instruments, through Prometheus 3's OTLP name translation).

The live test (test_dashboards_live.py) runs the same queries against a real Prometheus. The Loki dashboard's
LogQL is checked in test_logql.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from llmtel import semconv as sc
from tests.deploy import helpers

DASHBOARDS = helpers.dashboard_files()
# The dashboards whose panels query Prometheus (the LLM calls dashboard queries Loki; its variables are PromQL).
PROMETHEUS_DASHBOARDS = [p for p in DASHBOARDS if helpers.panel_queries(p)]
SCHEMA_VERSION = 42
"""Grafana 13.2's dashboard schema version (@grafana/schema 13.2.x); the compose stack runs Grafana 13.2."""
VARIABLES = ["service", "provider", "model", "operation"]
# The breakdown also has agent and tool panels, on metrics that carry gen_ai.agent.name instead of the LLM labels.
AGENT_VARIABLES = ["service", "agent"]
DASHBOARD_VARIABLES = {"genai-overview.json": VARIABLES, "genai-breakdown.json": [*VARIABLES, "agent"]}
AGENT_METRICS = re.compile(r"\bgen_ai_(invoke_agent|execute_tool)_")
GRAFANA_BUILTIN_DATASOURCE = "-- Grafana --"


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def provisioned_datasource_types() -> dict[str, str]:
    return {ds["uid"]: ds["type"] for ds in helpers.load_yaml(helpers.DATASOURCES_FILE)["datasources"]}


def walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def test_there_are_an_overview_a_breakdown_and_the_calls() -> None:
    titles = {p.name: helpers.load_dashboard(p)["title"] for p in DASHBOARDS}
    assert titles == {
        "genai-overview.json": "LLM overview",
        "genai-breakdown.json": "LLM breakdown",
        "genai-llm-calls.json": "LLM calls",
    }
    assert [p.name for p in PROMETHEUS_DASHBOARDS] == ["genai-breakdown.json", "genai-overview.json"]


def test_dashboards_link_to_each_other() -> None:
    """Each has a dashboards link by the `llmtel` tag, which every one of them carries: so each lists the others
    (a new dashboard with the tag is linked from the existing ones without editing them)."""
    for path in DASHBOARDS:
        dashboard = helpers.load_dashboard(path)
        links = [link for link in dashboard["links"] if link["type"] == "dashboards"]
        assert [(link["tags"], link["includeVars"], link["keepTime"]) for link in links] == [(["llmtel"], True, True)]


def test_uids_are_stable_and_unique() -> None:
    uids = [helpers.load_dashboard(p)["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    assert all(re.fullmatch(r"[a-z0-9-]{8,40}", uid) for uid in uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=ids(DASHBOARDS))
def test_dashboard_is_fit_for_file_provisioning(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    dashboard = helpers.load_dashboard(path)
    assert dashboard["id"] is None
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    assert dashboard["editable"] is True and dashboard["version"] == 1
    # Not the "export for sharing" form: its ${DS_…} placeholders are not resolved by provisioning.
    assert "__inputs" not in dashboard and "__requires" not in dashboard and "${DS_" not in text
    assert "llmtel" in dashboard["tags"]
    assert dashboard["time"] == {"from": "now-1h", "to": "now"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=ids(DASHBOARDS))
def test_panels_are_well_formed(path: Path) -> None:
    panels = list(helpers.all_panels(helpers.load_dashboard(path)))
    panel_ids = [p["id"] for p in panels]
    assert len(set(panel_ids)) == len(panel_ids)
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {(pos["y"] + dy, pos["x"] + dx) for dy in range(pos["h"]) for dx in range(pos["w"])}
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["description"], panel
        assert panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        if panel["type"] not in {"heatmap", "logs"}:  # a heatmap's unit is its axis; log lines have none
            assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']} has no unit"


@pytest.mark.parametrize("path", DASHBOARDS, ids=ids(DASHBOARDS))
def test_datasources_are_provisioned_uids(path: Path) -> None:
    types = provisioned_datasource_types()
    refs = [
        node["datasource"] for node in walk(helpers.load_dashboard(path)) if isinstance(node.get("datasource"), dict)
    ]
    assert refs
    for ref in refs:
        assert ref in [{"type": t, "uid": uid} for uid, t in types.items()] + [
            {"type": "grafana", "uid": GRAFANA_BUILTIN_DATASOURCE}
        ], ref


@pytest.mark.parametrize("path", PROMETHEUS_DASHBOARDS, ids=ids(PROMETHEUS_DASHBOARDS))
def test_template_variables(path: Path) -> None:
    variables = helpers.load_dashboard(path)["templating"]["list"]
    assert [v["name"] for v in variables] == DASHBOARD_VARIABLES[path.name]
    for var in variables:
        assert var["type"] == "query" and var["multi"] and var["includeAll"]
        # "All" must also match series without the label (a regex, not a list of the values seen).
        assert var["allValue"] == ".*"
    labels = []
    for q in helpers.variable_queries(path):
        match = helpers.LABEL_VALUES.match(q.expr)
        assert match, q
        labels.append(match["label"])
    expected = ["job", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_operation_name", "gen_ai_agent_name"]
    assert labels == expected[: len(labels)] and len(labels) == len(DASHBOARD_VARIABLES[path.name])


@pytest.mark.parametrize("path", PROMETHEUS_DASHBOARDS, ids=ids(PROMETHEUS_DASHBOARDS))
def test_every_query_filters_by_every_variable(path: Path) -> None:
    """LLM call panels by service/provider/model/operation; agent and tool panels (whose metrics have none of the
    LLM labels) by service and agent, and never by an LLM label they could not match."""
    for q in helpers.panel_queries(path):
        if AGENT_METRICS.search(q.expr):
            assert not re.search(r"gen_ai_client_", q.expr), q.where
            expected, absent = AGENT_VARIABLES, [v for v in VARIABLES if v not in AGENT_VARIABLES]
        else:
            expected, absent = VARIABLES, ["agent"]
        for var in expected:
            assert f"${var}" in q.expr, f"{q.where} ignores ${var}"
        for var in absent:
            assert f"${var}" not in q.expr, f"{q.where} filters by ${var}, a label its metric does not have"


@pytest.mark.parametrize("path", PROMETHEUS_DASHBOARDS, ids=ids(PROMETHEUS_DASHBOARDS))
def test_rates_follow_the_dashboard_interval(path: Path) -> None:
    """Range selectors use $__rate_interval (or $__range for totals), never a hard-coded window."""
    for q in helpers.panel_queries(path):
        windows = re.findall(r"\[([^\]]+)\]", q.expr)
        assert windows, q.where
        assert set(windows) <= {"$__rate_interval", "$__range"}, q.where


def _all_exprs() -> dict[str, str]:
    exprs: dict[str, str] = {}
    for path in DASHBOARDS:
        for q in helpers.panel_queries(path):
            exprs[q.where] = helpers.substitute(q.expr)
        for q in helpers.variable_queries(path):
            match = helpers.LABEL_VALUES.match(q.expr)
            assert match, q
            exprs[q.where] = helpers.substitute(match["selector"])
    return exprs


def test_every_expression_parses_with_promtool(tmp_path: Path) -> None:
    exprs = _all_exprs()
    assert not [e for e in exprs.values() if "$" in e]
    keyed = {f"expr_{i}": expr for i, expr in enumerate(exprs.values())}
    result = helpers.check_exprs_with_promtool(keyed, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(keyed)} rules found" in result.stdout


def test_promtool_check_catches_a_broken_expression(tmp_path: Path) -> None:
    result = helpers.check_exprs_with_promtool({"broken": "sum(rate(gen_ai_client_token_usage_sum[1m])"}, tmp_path)
    assert result.returncode != 0


def test_every_name_is_one_the_package_produces() -> None:
    """Metric names come from the package's instruments through the translation (a renamed instrument fails here),
    or are series the shipped rule files record (prices, cost), which the stack's Prometheus loads. Nothing else."""
    emitted = helpers.emitted_series_names()
    recorded = helpers.recorded_names()
    assert not emitted & recorded
    allowed = emitted | recorded
    labels = helpers.emitted_label_names() | helpers.TARGET_LABELS
    used_metrics: set[str] = set()
    for where, expr in _all_exprs().items():
        names = helpers.names_in(expr)
        assert not names.regex_name_selectors, where
        assert names.metrics, where
        assert names.metrics <= allowed, (where, names.metrics - allowed)
        assert names.labels <= labels, (where, names.labels - labels)
        used_metrics |= names.metrics
    # And every instrument the package records has a panel (recorded series belong to no instrument).
    families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in emitted}
    assert {re.sub(r"_(bucket|sum|count)$", "", name) for name in used_metrics & emitted} == families


def test_price_series_are_well_formed() -> None:
    """deploy/prometheus/rules/genai-prices.rules.yml: each price is one series in USD per token with exactly the
    labels the cost joins match on, and no (provider, model, token type) twice (that would break every join)."""
    prices = helpers.price_rules()
    assert len(prices) >= 10
    providers = {value for name, value in vars(sc.GenAiProviderNameValues).items() if name.isupper()}
    token_types = {sc.GenAiTokenTypeValues.INPUT, sc.GenAiTokenTypeValues.OUTPUT}
    seen: set[tuple[str, ...]] = set()
    for rule in prices:
        assert set(rule) == {"record", "expr", "labels"}, rule
        labels = rule["labels"]
        assert sorted(labels) == sorted(helpers.PRICE_LABELS), rule
        assert all(isinstance(value, str) and value for value in labels.values()), rule
        match = re.fullmatch(r"vector\(([0-9.]+(?:e-?[0-9]+)?)\)", rule["expr"].strip())
        assert match, rule
        # USD per token: positive, and far below a price per 1M tokens pasted without its e-6.
        assert 0 < float(match[1]) < 1e-3, rule
        assert labels["gen_ai_provider_name"] in providers, rule
        assert labels["gen_ai_token_type"] in token_types, rule
        key = tuple(labels[name] for name in helpers.PRICE_LABELS)
        assert key not in seen, f"two prices for {key}"
        seen.add(key)
    # Every query that uses the prices, in the rules and the dashboards, joins on exactly those labels.
    join = f"on ({', '.join(helpers.PRICE_LABELS)})"
    exprs = [rule["expr"] for _, rule in helpers.rules() if rule.get("record") != helpers.PRICE_SERIES]
    exprs += [q.expr for path in DASHBOARDS for q in helpers.panel_queries(path)]
    joins = [expr for expr in exprs if helpers.PRICE_SERIES in expr]
    assert len(joins) >= 4
    for expr in joins:
        assert expr.count(helpers.PRICE_SERIES) == expr.count(join), expr


def test_translation_of_the_package_instruments() -> None:
    """The translation the tests apply, spelled out for the package's eight instruments."""
    names = {i.name: helpers.prometheus_base_name(i.name, i.unit) for i in helpers.package_instruments()}
    assert names == {
        "gen_ai.client.operation.duration": "gen_ai_client_operation_duration_seconds",
        "gen_ai.client.token.usage": "gen_ai_client_token_usage",
        "gen_ai.client.operation.time_to_first_chunk": "gen_ai_client_operation_time_to_first_chunk_seconds",
        "gen_ai.client.operation.time_per_output_chunk": "gen_ai_client_operation_time_per_output_chunk_seconds",
        "gen_ai.invoke_agent.duration": "gen_ai_invoke_agent_duration_seconds",
        # {inference_call} and {tool_call} are annotations: no unit suffix
        "gen_ai.invoke_agent.inference_calls": "gen_ai_invoke_agent_inference_calls",
        "gen_ai.invoke_agent.tool_calls": "gen_ai_invoke_agent_tool_calls",
        "gen_ai.execute_tool.duration": "gen_ai_execute_tool_duration_seconds",
    }
    assert {i.kind for i in helpers.package_instruments()} == {"histogram"}
    assert {"error_type", "gen_ai_agent_name", "gen_ai_tool_name", "gen_ai_tool_type"} <= helpers.emitted_label_names()
    assert "openai_response_system_fingerprint" not in helpers.emitted_label_names()


def test_data_links_point_at_jaeger_with_labels_the_series_have() -> None:
    for path in DASHBOARDS:
        for panel in helpers.all_panels(helpers.load_dashboard(path)):
            for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
                assert link["url"].startswith("http://localhost:16686/search?service=${__field.labels.job}")
                used = set(re.findall(r"\$\{__field\.labels\.(\w+)\}", link["url"]))
                for target in panel["targets"]:
                    by = re.search(r"sum by \(([^)]*)\)", target["expr"])
                    assert by and used <= {s.strip() for s in by[1].split(",")}, (panel["title"], target["expr"])
