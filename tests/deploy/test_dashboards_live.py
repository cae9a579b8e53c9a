"""Every dashboard query, template variable, datasource correlation query and rule gets data from a real
Prometheus that holds metrics of real instrumented calls.

The chain: the real ``openai`` SDK, instrumented by llmtel, calls the package's OpenAI-wire server
(``deploy/example/traffic.py``'s rounds: chat, streams, embeddings, Responses, a slow model, HTTP 429 and 500,
and two agent turns marked with ``llmtel.agent``/``llmtel.tool``, one with a failing tool)
→ an OpenTelemetry SDK MeterProvider → Prometheus, started here from Debian's package on 127.0.0.1 with a temp
dir, scraping every second and loading ``deploy/prometheus/rules/*.yml``.

Why not the collector: there is no collector binary on this machine (no package in any reachable registry), and
Debian's Prometheus is 2.42, which has no OTLP receiver. So the OpenTelemetry Python Prometheus exporter
(``PrometheusMetricReader`` + ``prometheus_client``'s HTTP server) stands in for "collector → Prometheus 3 OTLP".
How its result compares with what Prometheus 3 stores from OTLP (``translation_strategy:
UnderscoreEscapingWithSuffixes``, pinned in deploy/prometheus/prometheus.yml):

- metric names: identical rules (dots → ``_``, unit suffix ``s`` → ``_seconds``, none for ``{token}``,
  ``_bucket/_sum/_count``). ``test_prometheus_holds_exactly_the_translated_names`` checks the stored names equal
  the names ``helpers.prometheus_series_names`` derives from the package's instruments, which the static tests
  hold every dashboard and rule to.
- attribute labels: identical (``error.type`` → ``error_type`` ...). The exporter writes ``""`` for attributes a
  point lacks; Prometheus drops empty labels at ingestion, so a success has no ``error_type`` on both paths.
- ``job``: Prometheus 3 derives it from ``service.name`` (no ``service.namespace`` is set); here the scrape
  job is named after the same ``service.name``. ``instance`` differs (``service.instance.id`` there,
  host:port here); no dashboard or rule uses it.
- promoted resource attributes: Prometheus 3 adds ``service_name`` … to every series (``otlp.promote_resource_
  attributes``); here the scrape config adds the same labels to the target.
- scope labels: Prometheus 3 adds none by default, so the exporter runs with ``scope_info_enabled=False``.
- not covered: exemplars (the Python Prometheus exporter does not expose them) and Prometheus 3's float ``le``
  values (``le="1.0"``); no query matches ``le`` literally.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import openai
import pytest
import yaml
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, start_http_server

import llmtel
from llmtel.demo.server import FakeOpenAIServer
from tests.deploy import helpers

SERVICE = "llmtel-live"
OTHER_PROVIDERS = {"anthropic": "anthropic", "bedrock": "aws.bedrock", "gemini": "gcp.gemini"}
"""The demo's provider names of the other SDKs, and the gen_ai.provider.name their traffic has."""
DEADLINE_S = 40.0
"""Budget for all queries to return data once the traffic runs (they normally do within a few scrapes)."""


def _load_traffic_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llmtel_example_traffic", helpers.DEPLOY / "example" / "traffic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveStack:
    url: str
    traffic: ModuleType

    def api(self, path: str, **params: str | list[str]) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("/api/v1/query", query=expr)
        assert data["resultType"] in ("vector", "scalar"), data
        return data["result"] if data["resultType"] == "vector" else [{"metric": {}, "value": data["result"]}]

    def wait_for(self, expr: str, *, deadline: float) -> list[dict[str, Any]]:
        """Query until the result has a finite value (or the deadline passes); returns the last result."""
        while True:
            result = self.query(expr)
            if any(math.isfinite(float(sample["value"][1])) for sample in result) or time.monotonic() > deadline:
                return result
            time.sleep(0.5)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"prometheus did not become ready:\n{log.read_text()[-3000:]}")


def _prometheus_config(exporter_port: int) -> dict[str, Any]:
    # Prometheus 3 promotes service.name to a `service_name` label on every series (prometheus.yml's otlp block).
    assert "service_name" in helpers.promoted_resource_labels()
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(helpers.RULES_DIR / "*.yml")],
        "scrape_configs": [
            {
                "job_name": SERVICE,  # Prometheus 3 OTLP: job = service.name
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"], "labels": {"service_name": SERVICE}}],
            }
        ],
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    prometheus = helpers.require_binary("prometheus")
    tmp = tmp_path_factory.mktemp("prometheus")
    traffic = _load_traffic_module()
    log = tmp / "prometheus.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"

    registry = CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry, scope_info_enabled=False)
    meter_provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": SERVICE}))
    tracer_provider = TracerProvider()
    stop = threading.Event()
    errors: list[BaseException] = []
    thread: threading.Thread | None = None
    process: subprocess.Popen[bytes] | None = None
    exporter_server = None
    try:
        llmtel.instrument(meter_provider=meter_provider, tracer_provider=tracer_provider)
        exporter_server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
        config_file = tmp / "prometheus.yml"
        config = _prometheus_config(exporter_server.server_address[1])
        config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        with log.open("wb") as log_file, FakeOpenAIServer() as server:
            process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={tmp / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            _wait_ready(url, process, log)

            others = traffic.other_clients(server.root_url)
            assert set(others) == set(OTHER_PROVIDERS), "every provider's traffic is part of this test"
            with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:

                def generate() -> None:
                    try:
                        while not stop.is_set():
                            traffic.run_round(client)
                            traffic.run_others(others)
                            stop.wait(0.3)
                    except BaseException as exc:  # reported by the fixture, never swallowed
                        errors.append(exc)

                # one round before the first scrape: every series exists from the start
                traffic.run_round(client)
                traffic.run_others(others)
                thread = threading.Thread(target=generate, name="genai-traffic", daemon=True)
                thread.start()
                yield LiveStack(url, traffic)
                stop.set()
                thread.join(timeout=20)
        assert not errors, errors
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=20)
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if exporter_server is not None:
            exporter_server.shutdown()
            exporter_server.server_close()
        llmtel.uninstrument()
        meter_provider.shutdown()
        tracer_provider.shutdown()


def _deadline() -> float:
    return time.monotonic() + DEADLINE_S


def test_prometheus_holds_exactly_the_translated_names(live: LiveStack) -> None:
    """The exporter's names are the ones helpers derives from the package's instruments (the Prometheus 3 rules)."""
    expected = helpers.emitted_series_names()
    live.wait_for(f'{{__name__=~"gen_ai_.+", job="{SERVICE}"}}', deadline=_deadline())
    deadline = _deadline()
    while True:
        stored = {name for name in live.api("/api/v1/label/__name__/values") if name.startswith("gen_ai_")}
        if stored >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert stored == expected
    labels = set(live.api("/api/v1/labels", **{"match[]": '{__name__=~"gen_ai_.+"}'}))
    assert labels - {"__name__"} <= helpers.emitted_label_names() | helpers.TARGET_LABELS | {"service_name"}
    assert {"error_type", "gen_ai_token_type", "gen_ai_request_model", "gen_ai_response_model"} <= labels


def test_every_dashboard_panel_query_returns_data(live: LiveStack) -> None:
    queries = [q for path in helpers.dashboard_files() for q in helpers.panel_queries(path)]
    assert len(queries) > 30
    deadline = _deadline()
    empty = []
    for q in queries:
        assert q.datasource_uid == "prometheus", q
        result = live.wait_for(helpers.substitute(q.expr), deadline=deadline)
        if not any(math.isfinite(float(s["value"][1])) for s in result):
            empty.append((q.where, helpers.substitute(q.expr), result))
    assert not empty, "queries without a finite value:\n" + "\n".join(map(str, empty))


def test_every_dashboard_query_returns_data_for_a_selected_model(live: LiveStack) -> None:
    """With the template variables set to real values (Grafana sends `=~"value"`), the panels still have data."""
    chosen = {"service": SERVICE, "provider": "openai", "model": live.traffic.CHAT_MODELS[0], "operation": "chat"}
    deadline = _deadline()
    empty = []
    for path in helpers.dashboard_files():
        for q in helpers.panel_queries(path):
            selects_failures = 'error_type!=""' in q.expr or 'error_type="429"' in q.expr
            if selects_failures and not re.search(r"\bor\b", q.expr):
                continue  # the chosen model never fails: only error panels with a 0 fallback show it
            expr = helpers.substitute(q.expr, variables=chosen)
            result = live.wait_for(expr, deadline=deadline)
            if not result:
                empty.append((q.where, expr))
    assert not empty, empty


def test_template_variables_list_what_the_traffic_produced(live: LiveStack) -> None:
    expected = {
        "service": {SERVICE},
        "provider": {"openai", *OTHER_PROVIDERS.values()},
        "model": {*live.traffic.CHAT_MODELS, live.traffic.EMBEDDING_MODEL, "rate-limited", "server-error", "stall"},
        "operation": {"chat", "embeddings"},
        "agent": set(live.traffic.AGENTS),
    }
    deadline = _deadline()
    for path in helpers.dashboard_files():
        for q in helpers.variable_queries(path):
            match = helpers.LABEL_VALUES.match(q.expr)
            assert match, q
            selector = helpers.substitute(match["selector"])
            while True:
                values = set(live.api(f"/api/v1/label/{match['label']}/values", **{"match[]": selector}))
                name = q.where.rsplit("$", 1)[1]
                if values >= expected[name] or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert values >= expected[name], (q.where, values)


def test_datasource_correlation_queries_return_data(live: LiveStack) -> None:
    """Jaeger → Prometheus (tracesToMetrics): $__tags becomes the span's service and model."""
    jaeger = next(ds for ds in helpers.load_yaml(helpers.DATASOURCES_FILE)["datasources"] if ds["uid"] == "jaeger")
    tags = f'job="{SERVICE}", gen_ai_request_model="{live.traffic.CHAT_MODELS[0]}"'
    deadline = _deadline()
    for query in jaeger["jsonData"]["tracesToMetrics"]["queries"]:
        expr = query["query"].replace("$$", "$").replace("$__tags", tags)
        assert live.wait_for(expr, deadline=deadline), query


def test_recording_rules_and_rate_limit_alert_work_on_real_series(live: LiveStack) -> None:
    deadline = _deadline()
    for path, rule in helpers.rules():
        if "record" in rule and path.name == "genai.rules.yml":
            assert live.wait_for(rule["record"], deadline=deadline), rule["record"]
    # The real error.type of a 429 is what the rule matches: the alert is pending (its `for` is 10 minutes).
    # every provider's 429 has the same error.type: one rule serves them all (each provider's series turns up as
    # its rate does, within a few scrapes of the first)
    providers = {"openai", *OTHER_PROVIDERS.values()}
    while True:
        pending = live.wait_for('ALERTS{alertname="GenAIRateLimited", alertstate="pending"}', deadline=deadline)
        alerted = {s["metric"]["gen_ai_provider_name"] for s in pending}
        if alerted >= providers or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {s["metric"]["job"] for s in pending} == {SERVICE}
    assert alerted == providers
    ratio = live.wait_for(
        'ALERTS{alertname="GenAIHighErrorRatio", alertstate="pending", severity="critical"}', deadline=deadline
    )
    assert {s["metric"]["gen_ai_request_model"] for s in ratio} == {"rate-limited", "server-error"}
