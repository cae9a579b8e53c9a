"""Shared knowledge of the deploy/ and grafana/ tests: where the files are, which Prometheus names the package's
metrics get, how to read PromQL out of the dashboards, and how to require the Prometheus binaries."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from llmtel import semconv as sc
from llmtel.core.metrics import EXCLUDED_METRIC_ATTRIBUTES, Instruments

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
COLLECTOR_DIR = DEPLOY / "otel-collector"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_TESTS_DIR = PROMETHEUS_DIR / "tests"
KUBERNETES_DIR = DEPLOY / "kubernetes"
GRAFANA = ROOT / "grafana"
DASHBOARDS_DIR = GRAFANA / "dashboards"
DATASOURCES_FILE = GRAFANA / "provisioning" / "datasources" / "datasources.yaml"
DASHBOARD_PROVIDERS_FILE = GRAFANA / "provisioning" / "dashboards" / "llmtel.yaml"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


# ----------------------------------------------------------------------------------------------------------
# Binaries: tests that need Debian's prometheus/promtool fail under CI (which installs them) and skip elsewhere.
# ----------------------------------------------------------------------------------------------------------


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    reason = f"`{name}` is not installed (Debian: apt-get install prometheus; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI is set: the deploy tests must run in CI")
    pytest.skip(reason)


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


# ----------------------------------------------------------------------------------------------------------
# OTel → Prometheus names, derived from the package's own instruments
# ----------------------------------------------------------------------------------------------------------

# The UCUM units the package's instruments use, with the suffix Prometheus's OTLP translation
# (translation_strategy UnderscoreEscapingWithSuffixes, the default) appends. A unit made only of {annotations}
# adds none. A new unit must be added here on purpose (the lookup fails otherwise).
UNIT_SUFFIXES = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": ""}


@dataclass(frozen=True)
class Instrument:
    """One instrument as llmtel.core.metrics.Instruments creates it."""

    kind: str  # "histogram", "counter", ...
    name: str
    unit: str


class _RecordingMeter:
    """Stands in for an OpenTelemetry Meter and writes down which instruments the package creates."""

    def __init__(self) -> None:
        self.instruments: list[Instrument] = []

    def __getattr__(self, attr: str) -> Any:
        if not attr.startswith("create_"):
            raise AttributeError(attr)
        kind = attr.removeprefix("create_")

        def create(name: str, unit: str = "", description: str = "", **_: Any) -> object:
            self.instruments.append(Instrument(kind, name, unit))
            return object()

        return create


def package_instruments() -> list[Instrument]:
    """The instruments the package really creates (renaming one in semconv or metrics.py changes this list)."""
    meter = _RecordingMeter()
    Instruments(meter)  # type: ignore[arg-type]
    return meter.instruments


def prometheus_base_name(name: str, unit: str) -> str:
    """The metric family name Prometheus 3 stores for an OTLP metric (UnderscoreEscapingWithSuffixes)."""
    base = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_:]", "_", name)).strip("_")
    unit = re.sub(r"\{[^}]*\}", "", unit)
    suffix = UNIT_SUFFIXES[unit] if unit else ""
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    return base


def prometheus_series_names(instrument: Instrument) -> set[str]:
    base = prometheus_base_name(instrument.name, instrument.unit)
    if instrument.kind == "histogram":
        return {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
    if instrument.kind == "counter":
        return {base if base.endswith("_total") else f"{base}_total"}
    raise AssertionError(f"teach the deploy tests the Prometheus names of a {instrument.kind}")


def emitted_series_names() -> set[str]:
    return {series for inst in package_instruments() for series in prometheus_series_names(inst)}


def label_name(attribute: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", attribute)


def emitted_label_names() -> set[str]:
    """Labels the package's metric points carry in Prometheus (attributes the conventions allow on its metrics)."""
    names: set[str] = set()
    for inst in package_instruments():
        spec = sc.METRICS[inst.name]
        names |= {label_name(a) for a in spec.attributes - EXCLUDED_METRIC_ATTRIBUTES}
    return names


def promoted_resource_labels() -> set[str]:
    """Labels Prometheus 3 adds from resource attributes (prometheus.yml's otlp.promote_resource_attributes)."""
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    return {label_name(a) for a in config["otlp"]["promote_resource_attributes"]}


# job = service.namespace/service.name, instance = service.instance.id, le on _bucket series.
TARGET_LABELS = {"job", "instance", "le"}


# ----------------------------------------------------------------------------------------------------------
# Dashboards and their PromQL
# ----------------------------------------------------------------------------------------------------------


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load_dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


@dataclass(frozen=True)
class Query:
    where: str  # "<dashboard file> / <panel title> / <refId>" (for messages)
    expr: str
    datasource_uid: str


def panel_queries(path: Path, datasource: str = "prometheus") -> list[Query]:
    """The panels' queries on one datasource (by uid): PromQL by default, LogQL with ``datasource="loki"``."""
    dashboard = load_dashboard(path)
    out: list[Query] = []
    for panel in all_panels(dashboard):
        panel_ds = (panel.get("datasource") or {}).get("uid", "")
        for target in panel.get("targets", []):
            ds = (target.get("datasource") or {}).get("uid", panel_ds)
            if "expr" in target and ds == datasource:
                out.append(Query(f"{path.name} / {panel.get('title')} / {target.get('refId')}", target["expr"], ds))
    return out


def variable_queries(path: Path) -> list[Query]:
    """The Prometheus template variables' label_values(<selector>, <label>) queries."""
    out: list[Query] = []
    for var in load_dashboard(path).get("templating", {}).get("list", []):
        if var.get("type") != "query" or var["datasource"]["uid"] != "prometheus":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        out.append(Query(f"{path.name} / variable ${var['name']}", query, var["datasource"]["uid"]))
    return out


LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*)\)$", re.S)

# Grafana's global variables and what the tests put in their place (a real Prometheus must accept the result).
GRAFANA_INTERVALS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}


def substitute(expr: str, *, variables: dict[str, str] | None = None) -> str:
    """The PromQL Grafana would send: global interval variables replaced, template variables set to a regex."""
    for name, value in GRAFANA_INTERVALS.items():
        expr = expr.replace(name, value)
    values = variables or {}
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), ".*"), expr)


@dataclass
class Names:
    metrics: set[str]
    labels: set[str]
    regex_name_selectors: list[str]


def names_in(expr: str) -> Names:
    """Metric and label names an expression uses (selectors, matchers, by/without, on/ignoring, group_x)."""
    ast = promql_parser.parse(expr)
    names = Names(set(), set(), [])

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.metrics.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.regex_name_selectors.append(matcher.value)
                else:
                    names.labels.add(matcher.name)
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            names.labels.update(node.modifier.labels)
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            if node.modifier.matching is not None:
                names.labels.update(node.modifier.matching.labels)
            names.labels.update(node.modifier.group_labels or [])

    promql_parser.walk(ast, pre_visit=visit)
    return names


# ----------------------------------------------------------------------------------------------------------
# Rules
# ----------------------------------------------------------------------------------------------------------


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def rules() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in rule_files():
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                yield path, rule


def recorded_names() -> set[str]:
    """The series names the shipped rule files record (`record:`), which dashboards may query like metrics."""
    return {rule["record"] for _, rule in rules() if "record" in rule}


PRICE_SERIES = "gen_ai:price_usd_per_token"
PRICE_LABELS = ("gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type")


def price_rules() -> list[dict[str, Any]]:
    """The static price series (genai-prices.rules.yml): USD per token, one per provider, model and token type."""
    return [rule for _, rule in rules() if rule.get("record") == PRICE_SERIES]


def check_exprs_with_promtool(exprs: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Parse PromQL with Prometheus's own parser: as recording rules of a temp file, via `promtool check rules`."""
    promtool = require_binary("promtool")
    rules_file = tmp_path / "exprs.rules.yml"
    group = {"name": "parse-check", "rules": [{"record": f"check:{key}", "expr": e} for key, e in exprs.items()]}
    rules_file.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return run([promtool, "check", "rules", str(rules_file)])


# ----------------------------------------------------------------------------------------------------------
# Collector configuration
# ----------------------------------------------------------------------------------------------------------


def merge_collector_configs(*configs: dict[str, Any]) -> dict[str, Any]:
    """What the collector does with several --config files: maps merge recursively, everything else is replaced."""

    def merge(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
        out = dict(into)
        for key, value in other.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = value
        return out

    result: dict[str, Any] = {}
    for config in configs:
        result = merge(result, config or {})
    return result


# Component types that were removed or renamed (the old names are deprecated aliases): never use them.
REMOVED_OR_DEPRECATED = {
    "exporters": {"logging", "jaeger", "jaeger_thrift", "loki", "otlphttp", "prometheusremotewrite", "otlp"},
    "processors": {"batch", "resourcedetection", "spanmetrics"},
    "receivers": {"filelog", "hostmetrics", "prometheusremotewrite"},
    "connectors": {"spanmetrics"},
    "extensions": set(),
}
NETWORK_EXPORTERS = {"otlp_grpc", "otlp_http"}


def collector_problems(config: dict[str, Any]) -> list[str]:
    """Structural problems of a collector configuration (what `otelcol validate` would reject, and our rules)."""
    problems: list[str] = []
    service = config.get("service", {})
    pipelines = service.get("pipelines", {})
    if not pipelines:
        problems.append("no pipelines")
    used: dict[str, set[str]] = {kind: set() for kind in ("receivers", "processors", "exporters")}
    for name, pipeline in pipelines.items():
        for kind in used:
            for component in pipeline.get(kind, []):
                used[kind].add(component)
                if component not in (config.get(kind) or {}):
                    problems.append(f"pipeline {name}: {kind[:-1]} {component} is not defined")
        processors = pipeline.get("processors", [])
        if not processors or processors[0] != "memory_limiter":
            problems.append(f"pipeline {name}: memory_limiter must be the first processor")
        if not pipeline.get("receivers") or not pipeline.get("exporters"):
            problems.append(f"pipeline {name}: needs receivers and exporters")
    for ext in service.get("extensions", []):
        if ext not in (config.get("extensions") or {}):
            problems.append(f"extension {ext} is not defined")
    for kind in ("receivers", "processors", "exporters", "connectors", "extensions"):
        for component in config.get(kind) or {}:
            component_type = component.split("/", 1)[0]
            if component_type in REMOVED_OR_DEPRECATED[kind]:
                problems.append(f"{kind[:-1]} {component}: `{component_type}` is removed or deprecated")
            if kind in used and component not in used[kind]:
                problems.append(f"{kind[:-1]} {component} is defined but used by no pipeline")
    for name, exporter in (config.get("exporters") or {}).items():
        if name.split("/", 1)[0] in NETWORK_EXPORTERS and "batch" not in ((exporter or {}).get("sending_queue") or {}):
            problems.append(f"exporter {name}: batch in its sending_queue (the batch processor is retired)")
    protocols = ((config.get("receivers") or {}).get("otlp") or {}).get("protocols") or {}
    if protocols.get("grpc", {}).get("endpoint") != "0.0.0.0:4317":
        problems.append("otlp receiver: grpc must listen on 0.0.0.0:4317")
    if protocols.get("http", {}).get("endpoint") != "0.0.0.0:4318":
        problems.append("otlp receiver: http must listen on 0.0.0.0:4318")
    readers = service.get("telemetry", {}).get("metrics", {}).get("readers", [])
    pulls = [r["pull"]["exporter"]["prometheus"] for r in readers if "pull" in r]
    if pulls != [{"host": "0.0.0.0", "port": 8888}]:
        problems.append("the collector's own metrics must be served on 0.0.0.0:8888 (Prometheus scrapes them)")
    text = yaml.safe_dump(config)
    if re.search(r"\$\{(?!env:)", text):
        problems.append("environment references must use ${env:VAR}")
    return problems


def exporter_endpoints(config: dict[str, Any]) -> dict[str, str]:
    return {
        name: exporter["endpoint"]
        for name, exporter in (config.get("exporters") or {}).items()
        if isinstance(exporter, dict) and "endpoint" in exporter
    }


# ----------------------------------------------------------------------------------------------------------
# Loki: what the collector → Loki path stores, and LogQL parsed by Grafana's own grammar
# ----------------------------------------------------------------------------------------------------------

LOKI_OVERLAY = COLLECTOR_DIR / "loki.yaml"
LOGQL_DIR = Path(__file__).resolve().parent / "logql"

# Loki's OTLP ingestion (pkg/loghttp/push/otlp_config.go, 3.x): these resource attributes become index labels by
# default; every other resource attribute, every log attribute and scope attribute becomes structured metadata.
LOKI_INDEX_RESOURCE_ATTRIBUTES = (
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
)
# Structured metadata Loki derives from the LogRecord's own fields and its scope (pkg/loghttp/push/otlp.go).
LOKI_RECORD_FIELDS = frozenset(
    {"trace_id", "span_id", "flags", "observed_timestamp", "severity_number", "severity_text", "scope_name"}
    | {"scope_version", "dropped_attributes_count"}
)
# Labels LogQL itself sets (a failed parser or unwrap).
LOGQL_BUILTIN_LABELS = frozenset({"__error__", "__error_details__"})


def loki_name(attribute: str) -> str:
    """The label name Loki stores an OTLP attribute under (otlptranslator.NormalizeLabel: every character outside
    [A-Za-z0-9_] becomes `_`; a leading digit gets a `key_` prefix)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", attribute)
    return f"key_{name}" if name[:1].isdigit() else name


def loki_index_labels() -> set[str]:
    return {loki_name(a) for a in LOKI_INDEX_RESOURCE_ATTRIBUTES}


def loki_overlay_attributes() -> set[str]:
    """The log attributes the collector's Loki overlay sets (its transform's `set(log.attributes["…"], …)`)."""
    statements = [
        statement
        for processor in (load_yaml(LOKI_OVERLAY).get("processors") or {}).values()
        for statement in (processor or {}).get("log_statements", [])
    ]
    return {m[1] for s in statements for m in re.finditer(r'set\(log\.attributes\["([^"]+)"\]', s)}


# Grafana's interval variables in Loki queries, and what the tests put in their place.
LOKI_INTERVALS = {"$__auto": "1m", "$__interval": "15s", "$__range": "5m"}


def substitute_logql(expr: str, variables: dict[str, str]) -> str:
    """The LogQL Grafana would send: interval variables replaced, ``$name`` / ``${name}`` / ``${name:format}`` set
    from ``variables`` (a variable the caller did not give is an error: no query may use an unknown one)."""
    for name, value in LOKI_INTERVALS.items():
        expr = expr.replace(name, value)
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", lambda m: variables[m[1] or m[2]], expr)


@dataclass(frozen=True)
class LogQL:
    """A LogQL expression as Grafana's grammar (@grafana/lezer-logql) reads it."""

    errors: list[int]  # offsets of error nodes; the grammar recovers from anything, so parsed = no errors
    names: list[tuple[str, str]]  # (role, label name): role selector, filter, by, unwrap, keep, drop …
    line_formats: list[str]

    def named(self, *roles: str) -> set[str]:
        return {name for role, name in self.names if role in roles}

    def template_fields(self) -> set[str]:
        """The labels the line_format templates read ({{.name}}, {{with .name}} …)."""
        return {
            m[1]
            for t in self.line_formats
            for block in re.findall(r"\{\{(.*?)\}\}", t)
            for m in re.finditer(r"(?<![\w)])\.([A-Za-z_]\w*)", block)
        }


def parse_logql(exprs: list[str]) -> list[LogQL]:
    """Parse with Grafana's LogQL grammar in node (tests/deploy/logql/parse.cjs), all in one process."""
    from tests import nodejs

    results = nodejs.run(LOGQL_DIR, "parse.cjs", exprs)
    return [LogQL(r["errors"], [tuple(n) for n in r["names"]], r["lineFormats"]) for r in results]
