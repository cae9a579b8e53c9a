"""deploy/docker-compose.yml: valid against the Compose Specification schema, and the stack's own rules.

There is no Docker engine here, so the file is validated, not run: by `check-jsonschema` with the compose-spec
JSON schema it vendors (`--builtin-schema vendor.compose-spec`), and by the assertions below.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.deploy import helpers

SERVICES = {"otel-collector", "jaeger", "prometheus", "grafana", "loki", "app"}
PROFILES = {"loki": ["logs"], "app": ["example"]}
PUBLISHED = {
    "otel-collector": {4317, 4318},
    "jaeger": {16686},
    "prometheus": {9090},
    "grafana": {3000},
    "loki": set(),
    "app": set(),
}
IMAGES = {
    "otel-collector": r"otel/opentelemetry-collector-contrib:0\.1\d\d\.\d+",
    "jaeger": r"jaegertracing/jaeger:2\.\d+\.\d+",
    "prometheus": r"prom/prometheus:v3\.\d+\.\d+",
    "grafana": r"grafana/grafana:1[3-9]\.\d+\.\d+",
    "loki": r"grafana/loki:3\.\d+\.\d+",
    "app": r"llmtel-example:\d+\.\d+\.\d+",
}
# Images with a shell and wget (busybox/Alpine based); the others have none (scratch) or none we rely on.
HEALTHCHECKED = {"prometheus", "grafana"}


def compose() -> dict[str, Any]:
    config: dict[str, Any] = helpers.load_yaml(helpers.COMPOSE_FILE)
    return config


def services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return services


def test_valid_against_the_compose_spec_schema() -> None:
    result = helpers.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(helpers.COMPOSE_FILE)]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_misspelt_key(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yml"
    bad.write_text(helpers.COMPOSE_FILE.read_text(encoding="utf-8").replace("profiles: [logs]", "profile: [logs]"))
    result = helpers.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(bad)]
    )
    assert result.returncode != 0 and "profile" in result.stdout


def test_services_and_profiles() -> None:
    assert set(services()) == SERVICES
    assert compose()["name"] == "llmtel"
    for name, service in services().items():
        assert service.get("profiles") == PROFILES.get(name), name


def test_images_are_pinned() -> None:
    for name, service in services().items():
        assert re.fullmatch(IMAGES[name], service["image"]), service["image"]
        assert not service["image"].endswith(":latest")
    # Grafana stopped publishing grafana/grafana-oss; Jaeger v1 (all-in-one) is end of life.
    assert "grafana-oss" not in helpers.COMPOSE_FILE.read_text() and "all-in-one" not in services()["jaeger"]["image"]


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    out = []
    for port in service.get("ports", []):
        host_ip, host_port, container_port = str(port).split(":")
        out.append((host_ip, int(host_port), int(container_port)))
    return out


def test_only_uis_and_otlp_are_published_on_localhost() -> None:
    for name, service in services().items():
        ports = _published(service)
        assert {container for _, _, container in ports} == PUBLISHED[name], name
        assert all(ip == "127.0.0.1" and host == container for ip, host, container in ports), ports
    # Jaeger's own OTLP ports stay internal (the collector owns 4317/4318 on the host).
    assert "expose" not in services()["jaeger"]


def test_mounts_exist_and_configs_are_read_only() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                source, target, read_only = volume["source"], volume["target"], volume.get("read_only", False)
            else:
                parts = volume.split(":")
                source, target, read_only = parts[0], parts[1], parts[-1] == "ro"
            if not source.startswith("."):
                assert source in compose()["volumes"], volume  # a named volume (data, not config)
                continue
            assert (helpers.DEPLOY / source).exists(), f"{name}: {source} does not exist"
            if source == "./logs":
                # Written by the collector; never created implicitly (it would be root-owned and unwritable).
                assert not read_only and volume["bind"]["create_host_path"] is False
                assert target == "/var/log/llmtel"
            else:
                assert read_only, f"{name}: {source} should be mounted read-only"


def test_healthchecks_and_startup_order() -> None:
    svc = services()
    for name in HEALTHCHECKED:
        test = svc[name]["healthcheck"]["test"]
        assert test[:2] == ["CMD", "wget"] and test[-1].startswith("http://localhost:")
    assert "healthcheck" not in svc["otel-collector"]  # scratch image: no command to run
    for name, service in svc.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in svc and not svc[dependency].get("profiles"), (name, dependency)
            if condition["condition"] == "service_healthy":
                assert dependency in HEALTHCHECKED, (name, dependency)


def test_prometheus_runs_with_the_otlp_receiver() -> None:
    command = services()["prometheus"]["command"]
    assert "--web.enable-otlp-receiver" in command
    assert "--config.file=/etc/prometheus/prometheus.yml" in command
    assert "--storage.tsdb.path=/prometheus" in command
    volumes = services()["prometheus"]["volumes"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in volumes


def test_collector_has_a_memory_limit_for_its_memory_limiter() -> None:
    assert re.fullmatch(r"\d+[mg]", services()["otel-collector"]["mem_limit"])


def test_example_app_exports_to_the_collector() -> None:
    app = services()["app"]
    env = app["environment"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"  # opentelemetry-distro defaults to grpc
    assert {env[f"OTEL_{s}_EXPORTER"] for s in ("TRACES", "METRICS", "LOGS")} == {"otlp"}
    assert env["OTEL_SERVICE_NAME"]
    # No service.namespace: then Prometheus's job is the bare service name, which the dashboards' Jaeger links use.
    assert "service.namespace" not in env["OTEL_RESOURCE_ATTRIBUTES"]
    assert app["build"] == {"context": "..", "dockerfile": "deploy/example/Dockerfile"}


def test_example_image_installs_the_checkout_and_runs_the_demo() -> None:
    dockerfile = (helpers.DEPLOY / "example" / "Dockerfile").read_text(encoding="utf-8")
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim", base)
    assert "COPY src ./src" in dockerfile and 'pip install ".[all]"' in dockerfile
    # the image runs opentelemetry-instrument and exports OTLP: `all` must bring the distro and exporters,
    # which the core package no longer depends on
    requires = metadata.requires("llmtel") or []
    assert 'llmtel[anthropic,bedrock,google-genai,openai,otlp]; extra == "all"' in requires
    assert {r.split(">")[0] for r in requires if r.endswith('extra == "otlp"')} == {
        "opentelemetry-sdk",
        "opentelemetry-distro",
        "opentelemetry-exporter-otlp",
    }
    assert "llmtel demo" in dockerfile and "opentelemetry-instrument python /app/traffic.py" in dockerfile
    assert re.search(r"^USER \d+:\d+$", dockerfile, re.M)  # numeric: Kubernetes runAsNonRoot can verify it
    ignore = (helpers.DEPLOY / "example" / "Dockerfile.dockerignore").read_text(encoding="utf-8").split("\n")
    assert ignore[ignore.index("*") :][:5] == [
        "*",
        "!pyproject.toml",
        "!README.md",
        "!src/",
        "!deploy/example/traffic.py",
    ]
    for copied in ("pyproject.toml", "README.md", "src", "deploy/example/traffic.py"):
        assert (helpers.ROOT / copied).exists()


def test_example_traffic_script_runs(tmp_path: Path) -> None:
    """The example app's traffic script as the container runs it (here for one round, without OpenTelemetry)."""
    env = {**os.environ, "TRAFFIC_ROUNDS": "1", "TRAFFIC_INTERVAL_S": "0"}
    script = helpers.DEPLOY / "example" / "traffic.py"
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "traffic: round 1 done" in result.stderr


def test_readme_commands_match_the_compose_file() -> None:
    readme = (helpers.DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "docker compose --profile example up -d --build" in readme
    assert "LLMTEL_COLLECTOR_OVERLAY=loki.yaml docker compose --profile logs up -d" in readme
    for port in (3000, 16686, 9090):
        assert f"http://localhost:{port}" in readme
