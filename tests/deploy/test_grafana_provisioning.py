"""grafana/provisioning/: datasources with fixed uids wired to each other, and the dashboard provider."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.deploy import helpers


def datasources() -> dict[str, dict[str, Any]]:
    return {ds["uid"]: ds for ds in helpers.load_yaml(helpers.DATASOURCES_FILE)["datasources"]}


def compose() -> dict[str, Any]:
    config: dict[str, Any] = helpers.load_yaml(helpers.COMPOSE_FILE)
    return config


def test_datasources_have_fixed_uids_and_reach_compose_services() -> None:
    sources = datasources()
    assert {uid: ds["type"] for uid, ds in sources.items()} == {
        "prometheus": "prometheus",
        "jaeger": "jaeger",
        "loki": "loki",
    }
    expected_urls = {"prometheus": ("prometheus", 9090), "jaeger": ("jaeger", 16686), "loki": ("loki", 3100)}
    services = compose()["services"]
    for uid, (service, port) in expected_urls.items():
        url = urlsplit(sources[uid]["url"])
        assert (url.hostname, url.port) == (service, port)
        assert service in services
    assert sources["prometheus"]["isDefault"] is True
    assert [ds for ds in sources.values() if ds.get("isDefault")] == [sources["prometheus"]]


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_literal_dollars_are_escaped() -> None:
    """Grafana expands $VAR / ${VAR} from the environment in provisioning values; a literal `$` is written `$$`."""
    values = [
        s
        for path in (helpers.DATASOURCES_FILE, helpers.DASHBOARD_PROVIDERS_FILE)
        for s in _strings(helpers.load_yaml(path))
    ]
    assert any("$$" in value for value in values)
    assert not [value for value in values if "$" in value.replace("$$", "")]


def test_prometheus_links_exemplars_to_jaeger() -> None:
    json_data = datasources()["prometheus"]["jsonData"]
    assert json_data["exemplarTraceIdDestinations"] == [{"name": "trace_id", "datasourceUid": "jaeger"}]
    # Prometheus stores OTLP exemplars only with this feature on.
    assert "--enable-feature=exemplar-storage" in compose()["services"]["prometheus"]["command"]


def test_scrape_interval_export_interval_and_grafana_interval_agree() -> None:
    prometheus = helpers.load_yaml(helpers.PROMETHEUS_DIR / "prometheus.yml")
    app_env = compose()["services"]["app"]["environment"]
    assert datasources()["prometheus"]["jsonData"]["timeInterval"] == prometheus["global"]["scrape_interval"] == "15s"
    assert app_env["OTEL_METRIC_EXPORT_INTERVAL"] == "15000"


def test_jaeger_correlates_to_metrics_and_logs(tmp_path: Path) -> None:
    json_data = datasources()["jaeger"]["jsonData"]
    to_metrics = json_data["tracesToMetrics"]
    assert to_metrics["datasourceUid"] == "prometheus"
    # Span attributes → the labels Prometheus stores them under.
    assert {t["key"]: t["value"] for t in to_metrics["tags"]} == {
        "service.name": "job",
        "gen_ai.request.model": "gen_ai_request_model",
    }
    exprs: dict[str, str] = {}
    for i, query in enumerate(to_metrics["queries"]):
        expr = query["query"].replace("$$", "$")
        assert "{$__tags}" in expr
        exprs[f"traces_to_metrics_{i}"] = expr.replace("$__tags", 'job="x", gen_ai_request_model="y"')
    emitted = helpers.emitted_series_names()
    for expr in exprs.values():
        assert helpers.names_in(expr).metrics <= emitted
    result = helpers.check_exprs_with_promtool(exprs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

    to_logs = json_data["tracesToLogsV2"]
    assert to_logs["datasourceUid"] == "loki"
    query = to_logs["query"].replace("$$", "$")
    assert re.fullmatch(
        r'\{service_name="\$\{__span\.tags\["service\.name"\]\}"\} \| trace_id="\$\{__trace\.traceId\}"', query
    )


def test_loki_derives_trace_links_from_the_otlp_trace_id() -> None:
    (field,) = datasources()["loki"]["jsonData"]["derivedFields"]
    assert field["matcherType"] == "label" and field["matcherRegex"] == "trace_id"
    assert field["datasourceUid"] == "jaeger"
    assert field["url"] == "$${__value.raw}"


def test_dashboard_provider_loads_the_mounted_dashboards() -> None:
    (provider,) = helpers.load_yaml(helpers.DASHBOARD_PROVIDERS_FILE)["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    grafana = compose()["services"]["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"])
    assert mounts["../grafana/dashboards"] == provider["options"]["path"]
    assert mounts["../grafana/provisioning"] == "/etc/grafana/provisioning"
    assert all(v.endswith(":ro") for v in grafana["volumes"])
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    assert (helpers.DASHBOARDS_DIR / home.rsplit("/", 1)[1]).is_file()
