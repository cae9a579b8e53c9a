"""LogQL of the "LLM calls" dashboard, the Jaeger → Loki link and deploy/README.md, parsed by Grafana's own LogQL
grammar (@grafana/lezer-logql, in node: tests/deploy/logql/), and checked against what the collector → Loki path
really stores: the index labels Loki makes of resource attributes, and the structured metadata it makes of the
package's real details event (the names a real call's LogRecord carries, through Loki's name normalisation).

Loki cannot run here; a query that parses and names only labels that exist is what can be proven offline.
"""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest

import llmtel
from llmtel import semconv as sc
from tests.conftest import Otel
from tests.deploy import helpers
from tests.logs.test_record import MESSAGES

DASHBOARD = helpers.DASHBOARDS_DIR / "genai-llm-calls.json"
DETAILS = sc.GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS
FILTER_VARIABLES = ("service", "provider", "model", "agent")
# The panels about failed calls: they (and only they) select error_type!="" (the package sets error.type only
# on a failed call).
ERROR_PANELS = {"Failed calls in range", "Error ratio in range", "Failed calls/s by error type", "Failed calls"}


def dashboard() -> dict[str, Any]:
    return helpers.load_dashboard(DASHBOARD)


def all_values() -> dict[str, str]:
    """What Grafana puts in each variable when nothing is chosen ("All", an empty search)."""
    values = {}
    for var in dashboard()["templating"]["list"]:
        values[var["name"]] = var.get("allValue", var.get("query", ""))
    return values


def panel_exprs() -> dict[str, str]:
    return {q.where: q.expr for q in helpers.panel_queries(DASHBOARD, datasource="loki")}


def jaeger_to_loki_query() -> str:
    """The tracesToLogsV2 query, with Grafana's span variables as Grafana fills them."""
    jaeger = next(ds for ds in helpers.load_yaml(helpers.DATASOURCES_FILE)["datasources"] if ds["uid"] == "jaeger")
    query: str = jaeger["jsonData"]["tracesToLogsV2"]["query"].replace("$$", "$")
    query = query.replace('${__span.tags["service.name"]}', "example-app")
    return query.replace("${__trace.traceId}", "0af7651916cd43dd8448eb211c80319c")


def readme_exprs() -> list[str]:
    """LogQL examples of deploy/README.md (inline code that starts with a stream selector)."""
    text = (helpers.DEPLOY / "README.md").read_text(encoding="utf-8")
    return re.findall(r"`(\{service_name=[^`]+)`", text)


# Values as Grafana interpolates chosen ones into Loki queries: several values become an alternation, each
# value regex-escaped with its backslash doubled inside "…"; ${search:regex} escaped once (a `…` raw string).
CHOSEN = {
    "service": "(example-app|batch-worker)",
    "provider": "openai",
    "model": "(gpt-4\\\\.1|claude-sonnet-4-5)",
    "agent": "planner",
    "search": "Paris\\?",
}


def every_expr() -> dict[str, str]:
    values = all_values()
    exprs = {where: helpers.substitute_logql(expr, values) for where, expr in panel_exprs().items()}
    exprs.update({f"{where} (chosen)": helpers.substitute_logql(e, CHOSEN) for where, e in panel_exprs().items()})
    exprs["datasources.yaml / jaeger tracesToLogsV2"] = jaeger_to_loki_query()
    exprs.update({f"deploy/README.md #{i}": e for i, e in enumerate(readme_exprs())})
    return exprs


@pytest.fixture(scope="module")
def parsed() -> dict[str, helpers.LogQL]:
    exprs = every_expr()
    return dict(zip(exprs, helpers.parse_logql(list(exprs.values())), strict=True))


def test_every_logql_expression_parses(parsed: dict[str, helpers.LogQL]) -> None:
    exprs = every_expr()
    assert len(exprs) == 2 * len(panel_exprs()) + 1 + len(readme_exprs())
    assert len(panel_exprs()) >= 10 and readme_exprs()
    assert not [e for e in exprs.values() if "$" in e]
    assert {where: result.errors for where, result in parsed.items() if result.errors} == {}


def test_the_parser_rejects_broken_queries() -> None:
    """The grammar recovers from any input: these prove the error nodes are found (and a good one has none)."""
    broken = [
        'sum(count_over_time({service_name="a"} [1m])',  # unbalanced
        'count_over_time({service_name="a"})',  # no range
        '{service_name="a"} | unwrap',  # unwrap of nothing
        '{service_name="a"} | line_format "{{.x}}',  # unterminated string
        '{service_name="a" | event_name="x"',  # unclosed selector
    ]
    results = helpers.parse_logql([*broken, '{service_name="a"} | error_type!=""'])
    assert [bool(r.errors) for r in results] == [True] * len(broken) + [False]


def test_stream_selectors_use_index_labels_and_never_match_everything(parsed: dict[str, helpers.LogQL]) -> None:
    """Loki indexes service_name (our only label: never a model, agent or trace id); it refuses a selector
    whose every matcher matches the empty string, so "All" of $service must be `.+`, not `.*`."""
    for where, result in parsed.items():
        assert result.named("selector") == {"service_name"}, where
    for where, expr in every_expr().items():
        for value in re.findall(r'\{service_name=~?"([^"]*)"\}', expr):
            assert not re.fullmatch(value, ""), (where, value)
    assert all_values()["service"] == ".+"


def _event_attribute_names(otel: Otel, client: openai.OpenAI) -> set[str]:
    """The attribute names of the package's real details events: a call and a failed call, in an agent."""
    otel.instrument("openai", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY")
    with llmtel.agent("planner", conversation_id="conv-1"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="rate-limited", messages=MESSAGES)
    records = [data.log_record for data in otel.logs()]
    assert [r.event_name for r in records] == [DETAILS, DETAILS]
    assert all(r.trace_id and r.span_id for r in records)  # → Loki's trace_id / span_id
    return {name for r in records for name in (r.attributes or {})}


def test_names_are_what_the_collector_to_loki_path_produces(
    parsed: dict[str, helpers.LogQL], otel: Otel, client: openai.OpenAI
) -> None:
    event_names = _event_attribute_names(otel, client)
    assert sc.GEN_AI_AGENT_NAME in event_names  # llmtel's extension of the event: the agent filter needs it
    # Structured metadata: the event's attributes, the collector's event.name, Loki's own record fields.
    metadata = {helpers.loki_name(a) for a in event_names | helpers.loki_overlay_attributes()}
    metadata |= helpers.LOKI_RECORD_FIELDS
    assert {"gen_ai_request_model", "gen_ai_usage_input_tokens", "error_type", "event_name"} <= metadata
    allowed = metadata | helpers.LOGQL_BUILTIN_LABELS
    used: set[str] = set()
    for where, result in parsed.items():
        names = result.named("filter", "by", "unwrap", "keep", "drop", "label_format") | result.template_fields()
        assert names <= allowed, (where, names - allowed)
        used |= names
    assert helpers.loki_name(sc.GEN_AI_AGENT_NAME) in used  # the agent variable filters on it


def test_every_query_selects_the_details_events_and_filters_by_every_variable() -> None:
    exprs = panel_exprs()
    for where, expr in exprs.items():
        assert expr.count('{service_name=~"$service"}') == expr.count(f'| event_name="{DETAILS}"') >= 1, where
        for var, label in zip(
            FILTER_VARIABLES[1:], ("gen_ai_provider_name", "gen_ai_request_model", "gen_ai_agent_name"), strict=True
        ):
            assert expr.count(f'| {label}=~"${var}"') == expr.count("{service_name"), (where, var)


def test_panels_logs_errors_and_metrics(parsed: dict[str, helpers.LogQL]) -> None:
    panels = {p["title"]: p for p in helpers.all_panels(dashboard()) if p["type"] != "row"}
    logs = {title for title, p in panels.items() if p["type"] == "logs"}
    assert logs == {"LLM calls", "Failed calls"}
    for title, panel in panels.items():
        for target in panel["targets"]:
            expr = target["expr"]
            windows = set(re.findall(r"\[([^\]]+)\]", expr))
            if title in logs:
                # A log query: the call's line, then the search box on it; no range.
                assert not windows and target["queryType"] == "range", title
                assert re.search(r"\| line_format `[^`]+` \|~ `\(\?i\)\$\{search:regex\}`$", expr), title
            else:
                assert "$search" not in expr and "${search" not in expr, title
                assert windows == ({"$__range"} if target["queryType"] == "instant" else {"$__auto"}), title
            assert ('| error_type!=""' in expr) == (title in ERROR_PANELS), title
    tokens = [panels[t]["targets"] for t in ("Input tokens in range", "Output tokens in range", "Tokens/s by model")]
    unwrapped = {
        name
        for targets in tokens
        for t in targets
        for name in re.findall(r"\| unwrap (\w+) \| __error__=\"\"", t["expr"])
    }
    assert unwrapped == {"gen_ai_usage_input_tokens", "gen_ai_usage_output_tokens"}
    assert [t["legendFormat"] for t in panels["Calls/s by model"]["targets"]] == ["{{gen_ai_request_model}}"]


def test_variables() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert list(variables) == [*FILTER_VARIABLES, "search"]
    service = variables["service"]
    assert service["datasource"] == {"type": "loki", "uid": "loki"}
    assert service["query"]["type"] == 1 and service["query"]["label"] == "service_name"  # Loki label values
    # The others are structured metadata in Loki; their values come from the same calls' Prometheus labels.
    expected = {
        "provider": "gen_ai_provider_name",
        "model": "gen_ai_request_model",
        "agent": "gen_ai_agent_name",
    }
    for name, label in expected.items():
        var = variables[name]
        assert var["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        match = helpers.LABEL_VALUES.match(var["query"]["query"])
        assert match and match["label"] == label, name
        # job is namespace/name in Prometheus, service_name only the name in Loki.
        assert 'job=~"(.+/)?$service"' in match["selector"], name
    for name in FILTER_VARIABLES:
        var = variables[name]
        assert var["type"] == "query" and var["multi"] and var["includeAll"], name
        assert var["allValue"] == (".+" if name == "service" else ".*"), name
    assert variables["search"]["type"] == "textbox" and variables["search"]["query"] == ""


def test_each_call_links_to_its_trace_in_jaeger(parsed: dict[str, helpers.LogQL]) -> None:
    """The Loki datasource turns each entry's trace_id (structured metadata from the record's trace id) into a
    link to Jaeger; no logs query may drop it."""
    loki = next(ds for ds in helpers.load_yaml(helpers.DATASOURCES_FILE)["datasources"] if ds["uid"] == "loki")
    (field,) = loki["jsonData"]["derivedFields"]
    assert (field["matcherType"], field["matcherRegex"], field["datasourceUid"]) == ("label", "trace_id", "jaeger")
    assert "trace_id" in helpers.LOKI_RECORD_FIELDS
    for where, result in parsed.items():
        assert not result.named("keep", "drop"), where
