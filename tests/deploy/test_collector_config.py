"""The collector configuration of deploy/otel-collector/, alone and with the Loki overlay, checked structurally.

There is no collector binary here (`otelcol-contrib validate` would need one), so these tests encode what it
would reject plus the stack's own rules: every pipeline component defined and used, 2026 component names (no
removed or deprecated ones, no `batch` processor), receivers on 0.0.0.0, exporters aimed at compose services.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from llmtel import semconv as sc
from tests.deploy import helpers

BASE = helpers.COLLECTOR_DIR / "config.yaml"
OVERLAYS = {"no-loki.yaml": set(), "loki.yaml": {"logs/loki"}}

# Where each backend listens inside the compose network, and the path its OTLP endpoint needs.
BACKENDS = {
    "otlp_grpc/jaeger": ("jaeger", 4317, ""),
    "otlp_http/prometheus": ("prometheus", 9090, "/api/v1/otlp"),
    "otlp_http/loki": ("loki", 3100, "/otlp"),
}


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = helpers.load_yaml(helpers.COMPOSE_FILE)["services"]
    return services


def merged(overlay: str) -> dict[str, Any]:
    return helpers.merge_collector_configs(helpers.load_yaml(BASE), helpers.load_yaml(helpers.COLLECTOR_DIR / overlay))


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_configuration_is_complete_and_current(overlay: str) -> None:
    config = merged(overlay)
    assert helpers.collector_problems(config) == []
    base = {"traces", "metrics", "logs/completions", "traces/genai"}
    assert set(config["service"]["pipelines"]) == base | OVERLAYS[overlay]


def test_base_configuration_alone_is_complete() -> None:
    assert helpers.collector_problems(helpers.load_yaml(BASE)) == []


def test_loki_overlay_only_adds() -> None:
    """The collector replaces lists across --config files: the overlay must not touch config.yaml's lists."""
    base, overlay = helpers.load_yaml(BASE), helpers.load_yaml(helpers.COLLECTOR_DIR / "loki.yaml")
    for kind in ("receivers", "processors", "exporters", "extensions"):
        assert not set(overlay.get(kind) or {}) & set(base.get(kind) or {}), kind
    assert set(overlay) <= {"processors", "exporters", "service"}
    assert set(overlay["service"]) == {"pipelines"}
    assert not set(overlay["service"]["pipelines"]) & set(base["service"]["pipelines"])
    assert helpers.load_yaml(helpers.COLLECTOR_DIR / "no-loki.yaml") == {}


def test_checker_rejects_what_it_should() -> None:
    """The structural checks are not vacuous."""
    config = merged("loki.yaml")
    broken = helpers.merge_collector_configs(
        config,
        {
            "processors": {"batch": {}},
            "exporters": {"otlphttp/old": {"endpoint": "http://x:1"}, "otlp_grpc/nobatch": {"endpoint": "x:1"}},
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "localhost:4317"}}}},
            "service": {"pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["x"]}}},
        },
    )
    problems = "\n".join(helpers.collector_problems(broken))
    for expected in (
        "exporter x is not defined",
        "`batch` is removed or deprecated",
        "`otlphttp` is removed or deprecated",
        "otlp_grpc/nobatch: batch in its sending_queue",
        "memory_limiter must be the first processor",
        "grpc must listen on 0.0.0.0:4317",
        "defined but used by no pipeline",
    ):
        assert expected in problems


def test_exporters_reach_compose_services_on_their_ports() -> None:
    services = compose_services()
    endpoints = helpers.exporter_endpoints(merged("loki.yaml"))
    assert set(endpoints) == set(BACKENDS)
    for name, (service, port, path) in BACKENDS.items():
        endpoint = endpoints[name]
        url = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
        assert (url.hostname, url.port, url.path) == (service, port, path), name
        assert service in services, f"{name} points at {service}, which docker-compose.yml does not define"
    # The exporters append /v1/<signal> themselves.
    assert not any(e.rstrip("/").endswith(("/v1/metrics", "/v1/logs", "/v1/traces")) for e in endpoints.values())


def test_completion_log_file_keeps_only_the_details_events() -> None:
    config = helpers.load_yaml(BASE)
    pipeline = config["service"]["pipelines"]["logs/completions"]
    assert pipeline["exporters"] == ["file/completions"]
    (condition,) = config["processors"]["filter/completion_logs"]["log_conditions"]
    # Drops (filter semantics) every record that is not the package's details event.
    assert condition == f'log.event_name != "{sc.GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS}"'
    assert "filter/completion_logs" in pipeline["processors"]
    exporter = config["exporters"]["file/completions"]
    assert exporter["format"] == "json"
    assert exporter["rotation"]["max_megabytes"] > 0 and exporter["rotation"]["max_backups"] > 0
    # Written into the directory docker-compose.yml mounts from ./logs.
    mounts = compose_services()["otel-collector"]["volumes"]
    logs_mount = next(m for m in mounts if isinstance(m, dict) and m["source"] == "./logs")
    assert exporter["path"].startswith(logs_mount["target"] + "/")
    assert (helpers.DEPLOY / "logs").is_dir()


def test_genai_spans_file_keeps_only_spans_that_name_a_genai_operation() -> None:
    config = helpers.load_yaml(BASE)
    pipeline = config["service"]["pipelines"]["traces/genai"]
    assert pipeline == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "filter/genai_spans"],
        "exporters": ["file/genai_spans"],
    }
    # Drops (filter semantics) every span without gen_ai.operation.name: HTTP and app spans; LLM calls, agents
    # and tools stay (the records' agent comes from the invoke_agent span).
    (condition,) = config["processors"]["filter/genai_spans"]["trace_conditions"]
    assert condition == f'span.attributes["{sc.GEN_AI_OPERATION_NAME}"] == nil'
    spans, logs = config["exporters"]["file/genai_spans"], config["exporters"]["file/completions"]
    assert spans["format"] == "json" and spans["rotation"] == logs["rotation"]
    assert Path(spans["path"]).parent == Path(logs["path"]).parent  # the mounted ./logs: `llmtel logs logs/*.jsonl`
    assert Path(spans["path"]).name == "genai-spans.jsonl"


def test_loki_overlay_makes_the_event_name_queryable_and_keeps_labels_few() -> None:
    """The overlay's transform copies the event name into `event.name` (Loki: structured metadata event_name) and
    gives a body-less record a line; it moves nothing into resource attributes, so Loki's index labels stay its
    defaults (service_name …): no model, agent or trace id ever becomes a label."""
    overlay = helpers.load_yaml(helpers.LOKI_OVERLAY)
    pipeline = overlay["service"]["pipelines"]["logs/loki"]
    assert pipeline["processors"] == ["memory_limiter", "transform/loki"]
    transform = overlay["processors"]["transform/loki"]
    assert transform["error_mode"] == "ignore"  # a statement that fails on one record never drops the batch
    statements = transform["log_statements"]
    assert statements == [
        'set(log.attributes["event.name"], log.event_name) where log.event_name != ""',
        'set(log.body, log.event_name) where log.body == nil and log.event_name != ""',
    ]
    assert not [s for s in statements if "resource" in s]
    assert helpers.loki_overlay_attributes() == {"event.name"}
    assert helpers.loki_name("event.name") == "event_name"


def test_compose_runs_the_collector_with_these_files() -> None:
    collector = compose_services()["otel-collector"]
    assert "./otel-collector:/etc/otelcol:ro" in collector["volumes"]
    base_arg, overlay_arg = collector["command"]
    assert base_arg == "--config=/etc/otelcol/config.yaml"
    match = re.fullmatch(r"--config=/etc/otelcol/\$\{LLMTEL_COLLECTOR_OVERLAY:-(?P<default>[\w.-]+)\}", overlay_arg)
    assert match and match["default"] == "no-loki.yaml"
    for overlay in OVERLAYS:
        assert (helpers.COLLECTOR_DIR / overlay).is_file()


def test_prometheus_scrapes_the_collectors_own_metrics() -> None:
    config = helpers.load_yaml(helpers.PROMETHEUS_DIR / "prometheus.yml")
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "otel-collector")
    assert job["static_configs"][0]["targets"] == ["otel-collector:8888"]
    # The collector alert rules select this job name.
    assert 'up{job="otel-collector"}' in (helpers.RULES_DIR / "collector.rules.yml").read_text()
