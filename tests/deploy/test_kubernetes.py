"""deploy/kubernetes/: small manifests, checked structurally (no kubectl or cluster here): selectors match their
pods, Services reach named container ports, the ConfigMap holds a collector configuration that passes the same
checks as the compose one, and the example app exports to the collector Service."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.deploy import helpers

KINDS = {("v1", "ConfigMap"), ("apps/v1", "Deployment"), ("v1", "Service")}


def documents() -> list[dict[str, Any]]:
    kustomization = helpers.load_yaml(helpers.KUBERNETES_DIR / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    on_disk = sorted(p.name for p in helpers.KUBERNETES_DIR.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk
    return [doc for name in listed for doc in helpers.load_yaml_all(helpers.KUBERNETES_DIR / name)]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents() if doc["kind"] == kind}


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return result


def test_documents_are_well_formed() -> None:
    docs = documents()
    assert {(d["apiVersion"], d["kind"]) for d in docs} == KINDS
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(set(names)) == len(names)
    for doc in docs:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "llmtel"


def test_deployments_select_their_pods_and_pin_images() -> None:
    for name, deployment in by_kind("Deployment").items():
        spec = deployment["spec"]
        selector = spec["selector"]["matchLabels"]
        assert selector.items() <= spec["template"]["metadata"]["labels"].items(), name
        for container in containers(deployment):
            assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+", container["image"]), container["image"]
            assert container["resources"]["limits"]["memory"], name
            assert container["securityContext"]["runAsNonRoot"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_services_reach_named_container_ports() -> None:
    deployments = by_kind("Deployment")
    for name, service in by_kind("Service").items():
        selector = service["spec"]["selector"]
        (target,) = [
            d for d in deployments.values() if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        port_names = {p["name"]: p["containerPort"] for c in containers(target) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, (name, port)
            assert port_names[port["targetPort"]] == port["port"], (name, port)


def test_collector_configmap_holds_a_valid_configuration() -> None:
    collector = by_kind("Deployment")["otel-collector"]
    (container,) = containers(collector)
    (volume,) = collector["spec"]["template"]["spec"]["volumes"]
    (mount,) = container["volumeMounts"]
    assert mount["name"] == volume["name"] and mount["readOnly"] is True
    config_map = by_kind("ConfigMap")[volume["configMap"]["name"]]
    (arg,) = container["args"]
    path = arg.removeprefix("--config=")
    assert path.startswith(mount["mountPath"] + "/")
    config = yaml.safe_load(config_map["data"][path.rsplit("/", 1)[1]])
    assert helpers.collector_problems(config) == []
    # Same exporters, endpoints and image as the compose stack.
    compose_config = helpers.load_yaml(helpers.COLLECTOR_DIR / "config.yaml")
    for name in ("otlp_grpc/jaeger", "otlp_http/prometheus"):
        assert config["exporters"][name] == compose_config["exporters"][name]
    compose_image = helpers.load_yaml(helpers.COMPOSE_FILE)["services"]["otel-collector"]["image"]
    assert container["image"] == compose_image
    # The probes use the health_check extension's port.
    health = {p["name"]: p["containerPort"] for p in container["ports"]}["health"]
    assert config["extensions"]["health_check"]["endpoint"] == f"0.0.0.0:{health}"
    assert container["readinessProbe"]["httpGet"]["port"] == "health"


def test_example_app_exports_to_the_collector_service() -> None:
    (container,) = containers(by_kind("Deployment")["genai-example-app"])
    env = {e["name"]: e for e in container["env"]}
    values = {name: e.get("value") for name, e in env.items()}
    service = by_kind("Service")["otel-collector"]
    http_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "otlp-http")
    assert values["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://{service['metadata']['name']}:{http_port}"
    assert values["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert {values[f"OTEL_{s}_EXPORTER"] for s in ("TRACES", "METRICS", "LOGS")} == {"otlp"}
    assert values["OTEL_SERVICE_NAME"] and values["OTEL_METRIC_EXPORT_INTERVAL"] == "15000"
    # $(VAR) references only variables defined earlier in the list (Kubernetes expands no others).
    order = [e["name"] for e in container["env"]]
    for name, value in values.items():
        for ref in re.findall(r"\$\((\w+)\)", value or ""):
            assert ref in order[: order.index(name)], (name, ref)
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
