"""Conformance checker: GenAI telemetry against the GenAI semantic conventions data.

The conventions are read from ``genai-semconv.json`` (``<repo>/../shared/semconv/`` by default, see
tests/conformance/shared.py, or the file named by ``$GENAI_SEMCONV_JSON``) together with the JSON schemas of
the structured content attributes that lie beside it. Nothing here depends on ``llmtel``: the checker is an independent
second reading of the data.

Usage::

    checker = load_checker()          # None when the JSON is not available
    problems = checker.check_span(span) + checker.check_metrics(data) + checker.check_log(record)

Every check returns a list of human-readable problems; an empty list means conformant.

Rules beyond the literal tables (all derived from the conventions, see ``genai-semconv.md``):

* Attributes of ``post_snapshot_changes.added_attributes`` are allowed on inference spans and on the
  ``gen_ai.client.inference.operation.details`` event; the new name of a renamed attribute
  (``cache_creation`` -> ``cache_write``) is allowed wherever the old one is, both may appear
  together, but then with the same value; the renamed metric (``gen_ai.invoke_workflow.duration``)
  is accepted with the spec of its old name.
* The details event mirrors the inference span, so the provider's inference refinement table
  (e.g. the ``openai.*`` attributes) is allowed on it as well.
* No enum is marked closed in the JSON (``_about``: "custom values allowed unless noted", and none is
  noted); ``gen_ai.token.type`` is treated as closed (``input``/``output``). Deprecated enum members
  are flagged.
* ``gen_ai.request.stream`` and ``gen_ai.conversation.compacted`` may only ever be ``True``.
* Usage sub-counts (cache, reasoning, per-modality) never exceed the totals they are part of.
* CR conditions of the exact form "If `X` is set." are enforced (``server.port`` with
  ``server.address``), as are "Required if `X` is not set" pairs (``exception.type``/``.message``).
* Spans carrying ``mcp.method.name`` are checked as ``mcp.client``/``mcp.server`` spans.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import ExponentialHistogram, Gauge, Histogram, Sum
from opentelemetry.trace import SpanKind, StatusCode

from tests.conformance.shared import SHARED_DIR

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.metrics.export import MetricsData
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["Checker", "load_checker", "semconv_json_path"]

ENV_VAR = "GENAI_SEMCONV_JSON"
DEFAULT_JSON = SHARED_DIR / "semconv" / "genai-semconv.json"

OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
MCP_METHOD_NAME = "mcp.method.name"
ERROR_TYPE = "error.type"
INFERENCE_SPAN = "gen_ai.inference.client"
DETAILS_EVENT = "gen_ai.client.inference.operation.details"

# Enums whose value set is closed. The JSON marks none as closed; the conventions define exactly
# two token types and the metric is meaningless with any other value.
CLOSED_ENUMS = frozenset({"gen_ai.token.type"})
# Boolean attributes that are set only when true (absence means false).
TRUE_ONLY = frozenset({"gen_ai.request.stream", "gen_ai.conversation.compacted"})

_INPUT_TOTAL = "gen_ai.usage.input_tokens"
_OUTPUT_TOTAL = "gen_ai.usage.output_tokens"
_CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
_CACHE_CREATION = "gen_ai.usage.cache_creation.input_tokens"
_CACHE_WRITE = "gen_ai.usage.cache_write.input_tokens"
_REASONING = "gen_ai.usage.reasoning.output_tokens"
_MODALITIES = ("text", "image", "audio")

_PLACEHOLDER = re.compile(r"\{([^}]+)\}")
_IF_SET = re.compile(r"^(?:if|when) `([\w.]+)` is set\.?$", re.IGNORECASE)
REQUIRED_ONLY_WHEN_APPLICABLE = {
    "aws.bedrock.guardrail.id": "marked Required with no condition upstream, yet a call made without a guardrail "
    "has no id to give: set whenever a guardrail is configured (genai-semconv.md §10.4), not checked otherwise",
}
"""Attributes the data marks required that a call can lack through no fault of the instrumentation."""
DETAILS_EVENT_EXTENSIONS = {
    "gen_ai.agent.name": "llmtel puts the enclosing agent's name on the details event: the inference span leaves it "
    "to its invoke_agent parent, which a logs pipeline (Loki, collector files) never sees",
}
"""Registered attributes llmtel adds to the details event beyond its table (README: Completion logs)."""
_REQUIRED_IF_NOT_SET = re.compile(r"^required if `([\w.]+)` is not set", re.IGNORECASE)
_MAX_SCHEMA_PROBLEMS = 5


def semconv_json_path() -> Path:
    """Where the conventions JSON is expected (``$GENAI_SEMCONV_JSON`` overrides)."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DEFAULT_JSON


def load_checker() -> Checker | None:
    """The checker for the shared conventions JSON, or None when the file is absent."""
    path = semconv_json_path()
    if not path.is_file():
        return None
    return _load_checker(str(path.resolve()))


@functools.lru_cache(maxsize=4)
def _load_checker(path: str) -> Checker:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return Checker(data, base_dir=Path(path).parent)


def _refinement_provider(attrs: Mapping[str, Any]) -> Any:
    """The provider whose refinement applies. OpenAI-compatible servers (Azure OpenAI, vLLM, groq …) keep the
    OpenAI refinement's attributes, as genai-semconv.md §10.6 says: ``openai.api.type`` marks that API surface."""
    provider = attrs.get(PROVIDER_NAME)
    if "openai.api.type" in attrs:
        return "openai"
    return provider


# --------------------------------------------------------------------------- JSON schema subset


class _Schema:
    """Validator for the subset of JSON Schema the content schemas use.

    Keywords: ``$ref`` (local ``#/$defs/...``; remote refs accept anything), ``type``, ``const``,
    ``enum``, ``anyOf``/``oneOf`` (with ``type`` const discrimination: an object whose ``type``
    names a specific branch is validated against that branch only, not the generic catch-all),
    ``required``, ``properties``, ``additionalProperties``, ``items``. ``format: binary`` strings
    accept ``bytes`` in structured (log record) values.
    """

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.defs: Mapping[str, Any] = root.get("$defs") or root.get("definitions") or {}

    def validate(self, value: Any, structured: bool) -> list[str]:
        out: list[str] = []
        self._v(self.root, value, "", structured, out)
        return out

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
        ref = schema.get("$ref")
        if ref is None:
            return schema
        for prefix in ("#/$defs/", "#/definitions/"):
            if isinstance(ref, str) and ref.startswith(prefix):
                target = self.defs.get(ref[len(prefix) :])
                return target if isinstance(target, Mapping) else None
        return None  # remote reference (e.g. the JSON Schema meta-schema): not checked

    @staticmethod
    def _title(schema: Mapping[str, Any]) -> str:
        return str(schema.get("title") or schema.get("type") or "schema")

    @staticmethod
    def _type_const(schema: Mapping[str, Any]) -> Any:
        props = schema.get("properties")
        if isinstance(props, Mapping) and isinstance(props.get("type"), Mapping):
            return props["type"].get("const")
        return None

    def _v(self, schema: Mapping[str, Any], value: Any, path: str, structured: bool, out: list[str]) -> None:
        resolved = self._resolve(schema)
        if resolved is None:
            return
        schema = resolved
        where = path  # messages are "<path>: <problem>"; the caller prefixes the attribute name
        branches_key = "anyOf" if "anyOf" in schema else "oneOf" if "oneOf" in schema else None
        if branches_key:
            branches = [b for b in (self._resolve(b) for b in schema[branches_key]) if b is not None]
            if len(branches) < len(schema[branches_key]):
                return  # a remote branch accepts anything
            if isinstance(value, Mapping) and isinstance(value.get("type"), str):
                specific = [b for b in branches if self._type_const(b) == value["type"]]
                generic = [b for b in branches if self._type_const(b) is None]
                branches = specific or generic or branches
            results: list[list[str]] = []
            for branch in branches:
                errs: list[str] = []
                self._v(branch, value, path, structured, errs)
                if not errs:
                    break
                results.append(errs)
            else:
                if len(results) == 1:
                    out.extend(results[0])
                else:
                    titles = ", ".join(self._title(b) for b in branches)
                    out.append(f"{where}: matches none of {titles}")
                return
        if "const" in schema and value != schema["const"]:
            out.append(f"{where}: expected {schema['const']!r}, got {value!r}")
            return
        if "enum" in schema and value not in schema["enum"]:
            out.append(f"{where}: {value!r} is not one of {schema['enum']!r}")
            return
        types = schema.get("type")
        if types is not None:
            type_list = [types] if isinstance(types, str) else list(types)
            if not any(self._is_type(value, t, structured, schema) for t in type_list):
                out.append(f"{where}: expected {'/'.join(type_list)}, got {_type_name(value)}")
                return
        if isinstance(value, Mapping):
            for req in schema.get("required") or ():
                if req not in value:
                    out.append(f"{where}: missing required property {req!r}")
            props: Mapping[str, Any] = schema.get("properties") or {}
            for key, sub in props.items():
                if key in value and isinstance(sub, Mapping):
                    self._v(sub, value[key], f"{path}.{key}", structured, out)
            extra = schema.get("additionalProperties", True)
            if extra is not True:
                for key in value:
                    if key in props:
                        continue
                    if extra is False:
                        out.append(f"{where}: unexpected property {key!r}")
                    elif isinstance(extra, Mapping):
                        self._v(extra, value[key], f"{path}.{key}", structured, out)
        elif _is_array(value):
            items = schema.get("items")
            if isinstance(items, Mapping):
                for i, item in enumerate(value):
                    self._v(items, item, f"{path}[{i}]", structured, out)
                    if len(out) >= _MAX_SCHEMA_PROBLEMS:
                        return

    @staticmethod
    def _is_type(value: Any, typ: str, structured: bool, schema: Mapping[str, Any]) -> bool:
        if typ == "string":
            return isinstance(value, str) or (
                structured and isinstance(value, bytes) and schema.get("format") == "binary"
            )
        if typ == "number":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if typ == "integer":
            return (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, float) and value.is_integer()
            )
        if typ == "boolean":
            return isinstance(value, bool)
        if typ == "null":
            return value is None
        if typ == "object":
            return isinstance(value, Mapping)
        if typ == "array":
            return _is_array(value)
        return True


def _is_array(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return type(value).__name__


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _AttrDef:
    name: str
    type: str  # value type; for a template attribute the inner type
    template: bool
    enum: frozenset[str]
    deprecated: Any  # None, replacement name, or {reason, note}
    deprecated_values: Mapping[str, Any]
    schema: _Schema | None


@dataclass(frozen=True)
class _Table:
    id: str
    base: str  # span type id of a span table (the refined type for a refinement); else == id
    kinds: tuple[str, ...]  # upper-case SpanKind names; () for non-span tables
    span_names: tuple[str, ...]
    allowed: frozenset[str]
    templates: tuple[str, ...]
    required: tuple[str, ...]
    if_set: tuple[tuple[str, str], ...]  # (attribute, other): attribute required when other is set
    required_unless: tuple[tuple[str, str], ...]  # (attribute, other): one of the two must be set

    def allows(self, key: str) -> bool:
        return key in self.allowed or any(key.startswith(t + ".") for t in self.templates)


def _make_table(
    table_id: str,
    levels: Mapping[str, Mapping[str, Any]],
    templates: frozenset[str],
    *,
    base: str | None = None,
    kinds: Iterable[str | None] = (),
    span_names: Iterable[str] = (),
    extra: Iterable[str] = (),
    renamed: Mapping[str, str] | None = None,
) -> _Table:
    allowed = set(levels) | set(extra)
    for old, new in (renamed or {}).items():
        if old in allowed:
            allowed.add(new)
    required: list[str] = []
    if_set: list[tuple[str, str]] = []
    required_unless: list[tuple[str, str]] = []
    for name, info in sorted(levels.items()):
        level = info.get("requirement_level")
        condition = " ".join(str(info.get("condition") or "").split())
        if level == "required" and name in REQUIRED_ONLY_WHEN_APPLICABLE:
            continue
        if level == "required":
            required.append(name)
        elif level == "conditionally_required" and condition:
            if m := _IF_SET.match(condition):
                if_set.append((name, m.group(1)))
            elif m := _REQUIRED_IF_NOT_SET.match(condition):
                a, b = sorted((name, m.group(1)))
                if (a, b) not in required_unless:
                    required_unless.append((a, b))
    return _Table(
        id=table_id,
        base=base or table_id,
        kinds=tuple(k.upper() for k in kinds if k),
        span_names=tuple(span_names),
        allowed=frozenset(a for a in allowed if a not in templates),
        templates=tuple(sorted(a for a in allowed if a in templates)),
        required=tuple(required),
        if_set=tuple(if_set),
        required_unless=tuple(required_unless),
    )


@dataclass(frozen=True)
class _MetricDef:
    name: str
    instrument: str
    unit: str
    value_type: str
    buckets: tuple[float, ...]
    table: _Table


class Checker:
    """Checks spans, metrics and log records against the conventions. Build via ``load_checker``."""

    def __init__(self, data: Mapping[str, Any], base_dir: Path | None = None) -> None:
        self._base_dir = base_dir
        post: Mapping[str, Any] = data.get("post_snapshot_changes") or {}
        self._added: Mapping[str, Any] = post.get("added_attributes") or {}
        self._renamed_attrs: Mapping[str, str] = post.get("renamed_attributes") or {}
        renamed_metrics: Mapping[str, str] = post.get("renamed_metrics") or {}

        schemas: dict[str, _Schema | None] = {}
        self._attrs: dict[str, _AttrDef] = {}
        for name, info in data["attributes"].items():
            typ = str(info.get("type") or "")
            template = typ.startswith("template[")
            schema_path = info.get("json_schema")
            if schema_path and schema_path not in schemas:
                schemas[schema_path] = self._load_schema(schema_path)
            members = info.get("enum_members") or []
            self._attrs[name] = _AttrDef(
                name=name,
                type=typ[len("template[") : -1] if template else typ,
                template=template,
                enum=frozenset(info.get("enum") or ()),
                deprecated=info.get("deprecated"),
                deprecated_values={m["value"]: m["deprecated"] for m in members if m.get("deprecated")},
                schema=schemas.get(schema_path) if schema_path else None,
            )
        for name, info in self._added.items():
            if name not in self._attrs:
                self._attrs[name] = _AttrDef(
                    name=name,
                    type=str(info.get("type") or ""),
                    template=False,
                    enum=frozenset(),
                    deprecated=None,
                    deprecated_values={},
                    schema=None,
                )
        self._templates = frozenset(n for n, d in self._attrs.items() if d.template)
        self._lookup_cache: dict[str, _AttrDef | None] = {}

        # spans
        self._spans: dict[str, _Table] = {}
        self._op_types: dict[str, list[str]] = {}
        for sid, span in data["spans"].items():
            self._spans[sid] = _make_table(
                sid,
                span.get("attributes") or {},
                self._templates,
                kinds=(span.get("kind"), span.get("kind_alternative")),
                span_names=span.get("span_name") or (),
                extra=self._added if sid == INFERENCE_SPAN else (),
                renamed=self._renamed_attrs,
            )
            for op in span.get("operation_names") or ():
                self._op_types.setdefault(op, []).append(sid)
        self._refinements: dict[tuple[str, str], _Table] = {}
        for rid, ref in (data.get("span_refinements") or {}).items():
            base = ref.get("refines")
            provider = ref.get("provider_name")
            if base not in self._spans or not provider:
                continue
            base_span = data["spans"][base]
            self._refinements[(base, provider)] = _make_table(
                rid,
                ref.get("attributes") or {},
                self._templates,
                base=base,
                kinds=(base_span.get("kind"), base_span.get("kind_alternative")),
                span_names=base_span.get("span_name") or (),
                extra=self._added if base == INFERENCE_SPAN else (),
                renamed=self._renamed_attrs,
            )

        # metrics
        self._metrics: dict[str, _MetricDef] = {}
        refinements_by_metric: dict[str, dict[str, Any]] = {}
        for ref in (data.get("metric_refinements") or {}).values():
            refinements_by_metric.setdefault(ref.get("refines"), {}).update(ref.get("attributes") or {})
        for name, spec in data["metrics"].items():
            levels = dict(spec.get("attributes") or {})
            extra = set(refinements_by_metric.get(name, {})) - set(levels)
            self._metrics[name] = _MetricDef(
                name=name,
                instrument=str(spec.get("instrument") or ""),
                unit=str(spec.get("unit") or ""),
                value_type=str(spec.get("value_type") or ""),
                buckets=tuple(spec.get("buckets") or ()),
                table=_make_table(name, levels, self._templates, extra=extra),
            )
        for old, new in renamed_metrics.items():
            if old in self._metrics and new not in self._metrics:
                self._metrics[new] = self._metrics[old]

        # events
        self._events: dict[str, _Table] = {}
        for name, event in (data.get("events") or {}).items():
            self._events[name] = _make_table(
                name,
                event.get("attributes") or {},
                self._templates,
                extra=[*self._added, *DETAILS_EVENT_EXTENSIONS] if name == DETAILS_EVENT else (),
                renamed=self._renamed_attrs,
            )
        self._deprecated_events: Mapping[str, Any] = data.get("deprecated_events") or {}

    def _load_schema(self, rel: str) -> _Schema | None:
        if self._base_dir is None:
            return None
        try:
            with (self._base_dir / rel).open(encoding="utf-8") as fh:
                return _Schema(json.load(fh))
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------ attributes

    def _attr(self, key: str) -> _AttrDef | None:
        try:
            return self._lookup_cache[key]
        except KeyError:
            pass
        found = self._attrs.get(key)
        if found is None:
            for t in self._templates:
                if key.startswith(t + "."):
                    found = self._attrs[t]
                    break
        self._lookup_cache[key] = found
        return found

    def _check_attributes(self, label: str, attrs: Mapping[str, Any], table: _Table | None, where: str) -> list[str]:
        """Registry, table and value checks common to spans, data points and events."""
        problems: list[str] = []
        for key, value in attrs.items():
            adef = self._attr(key)
            if adef is None:
                problems.append(f"{label}: unknown attribute {key!r}")
                continue
            if adef.deprecated is not None:
                dep = adef.deprecated
                hint = f"replaced by {dep!r}" if isinstance(dep, str) else "obsoleted, no replacement"
                problems.append(f"{label}: deprecated attribute {key!r} ({hint})")
                continue
            if table is not None and not table.allows(key):
                problems.append(f"{label}: attribute {key!r} is not allowed on {table.id}")
            problems += self._check_value(label, key, value, adef, where)
        if table is not None:
            for req in table.required:
                if req not in attrs:
                    problems.append(f"{label}: missing required attribute {req!r}")
            for name, other in table.if_set:
                if other in attrs and name not in attrs:
                    problems.append(f"{label}: {name!r} is required when {other!r} is set")
            for name, other in table.required_unless:
                if name not in attrs and other not in attrs:
                    problems.append(f"{label}: one of {name!r} or {other!r} is required")
        return problems

    def _check_value(self, label: str, key: str, value: Any, adef: _AttrDef, where: str) -> list[str]:
        typ = adef.type
        bad = f"{label}: attribute {key!r} has type {_type_name(value)}, expected {typ}"
        if typ == "string":
            if not isinstance(value, str):
                return [bad]
        elif typ == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                return [bad]
        elif typ == "double":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return [bad]
        elif typ == "boolean":
            if not isinstance(value, bool):
                return [bad]
        elif typ.endswith("[]"):
            item = typ[:-2]
            if not _is_array(value) or not all(_scalar_ok(v, item) for v in value):
                return [bad]
        elif typ == "any":
            return self._check_content(label, key, value, adef, where)
        problems: list[str] = []
        if isinstance(value, str):
            if key in CLOSED_ENUMS and adef.enum and value not in adef.enum:
                allowed = ", ".join(repr(v) for v in sorted(adef.enum))
                problems.append(f"{label}: attribute {key!r} value {value!r} is not one of {allowed}")
            if value in adef.deprecated_values:
                problems.append(
                    f"{label}: attribute {key!r} value {value!r} is deprecated "
                    f"(replaced by {adef.deprecated_values[value]!r})"
                )
        if key in TRUE_ONLY and value is not True:
            problems.append(f"{label}: attribute {key!r} must only be set to True (got {value!r})")
        return problems

    def _check_content(self, label: str, key: str, value: Any, adef: _AttrDef, where: str) -> list[str]:
        if where == "span":
            if not isinstance(value, str):
                return [f"{label}: attribute {key!r} must be a JSON string on spans, got {_type_name(value)}"]
            try:
                parsed = json.loads(value)
            except ValueError as exc:
                return [f"{label}: attribute {key!r} is not valid JSON ({exc})"]
            structured = False
        elif where == "event":
            if isinstance(value, (str, bytes)):
                return [
                    f"{label}: attribute {key!r} must be a structured value (list/dict) on events, "
                    f"got {_type_name(value)}"
                ]
            parsed = value
            structured = True
        else:
            return []
        if adef.schema is None:
            return []
        return [f"{label}: attribute {key!r}{msg}" for msg in adef.schema.validate(parsed, structured)][
            :_MAX_SCHEMA_PROBLEMS
        ]

    @staticmethod
    def _usage_problems(label: str, attrs: Mapping[str, Any]) -> list[str]:
        def num(key: str) -> int | None:
            v = attrs.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) else None

        problems: list[str] = []
        creation, write = num(_CACHE_CREATION), num(_CACHE_WRITE)
        if creation is not None and write is not None and creation != write:
            problems.append(f"{label}: {_CACHE_CREATION!r} ({creation}) and {_CACHE_WRITE!r} ({write}) differ")
        for value_key in (
            _INPUT_TOTAL,
            _OUTPUT_TOTAL,
            _CACHE_READ,
            _CACHE_CREATION,
            _CACHE_WRITE,
            _REASONING,
        ):
            v = num(value_key)
            if v is not None and v < 0:
                problems.append(f"{label}: attribute {value_key!r} is negative ({v})")
        total_in, total_out = num(_INPUT_TOTAL), num(_OUTPUT_TOTAL)
        subsets: list[tuple[str, int | None, list[str]]] = [
            (_INPUT_TOTAL, total_in, [_CACHE_READ, _CACHE_WRITE if write is not None else _CACHE_CREATION]),
            (_OUTPUT_TOTAL, total_out, [_REASONING]),
            (_INPUT_TOTAL, total_in, [f"gen_ai.usage.{m}.input_tokens" for m in _MODALITIES]),
            (_OUTPUT_TOTAL, total_out, [f"gen_ai.usage.{m}.output_tokens" for m in _MODALITIES]),
            (
                _CACHE_READ,
                num(_CACHE_READ),
                [f"gen_ai.usage.{m}.cache_read.input_tokens" for m in _MODALITIES],
            ),
        ]
        for total_key, total, parts in subsets:
            present = [(p, num(p)) for p in parts if num(p) is not None]
            if total is None or not present:
                continue
            part_sum = sum(v for _, v in present if v is not None)
            if part_sum > total:
                names = " + ".join(repr(p) for p, _ in present)
                problems.append(f"{label}: {names} ({part_sum}) exceeds {total_key!r} ({total})")
        return problems

    # ------------------------------------------------------------------ spans

    def _span_table(self, attrs: Mapping[str, Any], kind: str) -> _Table | None:
        if MCP_METHOD_NAME in attrs:
            return self._spans.get("mcp.server" if kind == "SERVER" else "mcp.client")
        candidates = self._op_types.get(str(attrs.get(OPERATION_NAME)))
        if not candidates:
            return None
        tables = [self._spans[c] for c in candidates]
        table = next((t for t in tables if kind in t.kinds), tables[0])
        provider = _refinement_provider(attrs)
        if isinstance(provider, str):
            return self._refinements.get((table.id, provider), table)
        return table

    def check_span(self, span: ReadableSpan) -> list[str]:
        attrs: Mapping[str, Any] = span.attributes or {}
        if OPERATION_NAME not in attrs and MCP_METHOD_NAME not in attrs:
            return []
        kind = span.kind.name if isinstance(span.kind, SpanKind) else str(span.kind)
        table = self._span_table(attrs, kind)
        label = f"span {span.name!r} ({table.id if table else 'custom operation'})"
        problems = self._check_attributes(label, attrs, table, "span")
        if table is not None:
            if table.kinds and kind not in table.kinds:
                expected = " or ".join(table.kinds)
                problems.append(f"{label}: span kind {kind} is not allowed (expected {expected})")
            expected_names = self._expected_span_names(table, attrs)
            if expected_names and span.name not in expected_names:
                shown = " or ".join(repr(n) for n in sorted(expected_names))
                problems.append(f"{label}: span name does not follow the convention (expected {shown})")
        is_error = span.status is not None and span.status.status_code == StatusCode.ERROR
        if is_error and ERROR_TYPE not in attrs:
            problems.append(f"{label}: status is ERROR but {ERROR_TYPE!r} is not set")
        elif ERROR_TYPE in attrs and not is_error:
            status = span.status.status_code.name if span.status is not None else "UNSET"
            problems.append(f"{label}: {ERROR_TYPE!r} is set but status is {status}, not ERROR")
        problems += self._usage_problems(label, attrs)
        return problems

    @staticmethod
    def _expected_span_names(table: _Table, attrs: Mapping[str, Any]) -> set[str]:
        if table.base in ("mcp.client", "mcp.server"):
            method = attrs.get(MCP_METHOD_NAME)
            if not isinstance(method, str):
                return set()
            targets = [attrs.get(k) for k in ("gen_ai.tool.name", "gen_ai.prompt.name", "mcp.resource.uri")]
            return {method} | {f"{method} {t}" for t in targets if isinstance(t, str) and t}

        def value(name: str) -> str | None:
            v = attrs.get(name)
            return None if v is None or v == "" else str(v)

        def render(template: str) -> str:
            text = _PLACEHOLDER.sub(lambda m: value(m.group(1)) or "", template)
            return " ".join(text.split())

        full = [t for t in table.span_names if all(value(p) for p in _PLACEHOLDER.findall(t))]
        if full:
            return {render(full[0])}
        return {render(t) for t in table.span_names}

    # ------------------------------------------------------------------ metrics

    def check_metrics(self, data: MetricsData | None) -> list[str]:
        if data is None:
            return []
        problems: list[str] = []
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    problems += self._check_metric(metric)
        return list(dict.fromkeys(problems))  # de-duplicated, order kept

    def _check_metric(self, metric: Any) -> list[str]:
        name: str = metric.name
        if not name.startswith(("gen_ai.", "mcp.")):
            return []
        label = f"metric {name!r}"
        spec = self._metrics.get(name)
        if spec is None:
            return [f"{label}: unknown GenAI metric"]
        problems: list[str] = []
        if (metric.unit or "") != spec.unit:
            problems.append(f"{label}: unit {metric.unit!r}, expected {spec.unit!r}")
        data = metric.data
        expected_kind = {
            "histogram": (Histogram,),
            "counter": (Sum,),
            "updowncounter": (Sum,),
            "gauge": (Gauge,),
        }.get(spec.instrument)
        if expected_kind is not None and not isinstance(data, expected_kind):
            problems.append(
                f"{label}: recorded as {type(data).__name__}, expected a {spec.instrument}"
                + (" with explicit buckets" if isinstance(data, ExponentialHistogram) else "")
            )
        elif (
            isinstance(data, Sum)
            and spec.instrument in ("counter", "updowncounter")
            and data.is_monotonic != (spec.instrument == "counter")
        ):
            problems.append(f"{label}: monotonicity does not match a {spec.instrument}")
        for dp in getattr(data, "data_points", ()):
            attrs: Mapping[str, Any] = dp.attributes or {}
            problems += self._check_attributes(label, attrs, spec.table, "metric")
            if isinstance(data, Histogram):
                if spec.buckets and tuple(dp.explicit_bounds) != spec.buckets:
                    problems.append(
                        f"{label}: bucket boundaries {list(dp.explicit_bounds)} differ from the advised "
                        f"{list(spec.buckets)}"
                    )
                values = [dp.sum] + ([dp.min, dp.max] if dp.count else [])
                minimum = dp.min if dp.count else None
            else:
                values = [getattr(dp, "value", None)]
                minimum = values[0]
            if spec.value_type == "int" and any(
                not isinstance(v, int) or isinstance(v, bool) for v in values if v is not None
            ):
                problems.append(f"{label}: value type is int but non-integer values were recorded")
            if isinstance(minimum, (int, float)) and minimum < 0:
                problems.append(f"{label}: negative value recorded ({minimum})")
        return problems

    # ------------------------------------------------------------------ logs

    def check_log(self, record: ReadableLogRecord | Any) -> list[str]:
        rec = getattr(record, "log_record", record)
        attrs: Mapping[str, Any] = getattr(rec, "attributes", None) or {}
        name = getattr(rec, "event_name", None)
        if not name:
            legacy = attrs.get("event.name")
            if isinstance(legacy, str) and (legacy in self._events or legacy.startswith("gen_ai.")):
                return [f"event {legacy!r}: event name given as the 'event.name' attribute, not as event_name"]
            return []
        label = f"event {name!r}"
        if name in self._deprecated_events:
            replacement = " ".join(str(self._deprecated_events[name].get("replacement") or "").split())
            return [f"{label}: deprecated event" + (f" ({replacement})" if replacement else "")]
        table = self._events.get(name)
        if table is None:
            return [f"{label}: unknown GenAI event"] if name.startswith("gen_ai.") else []
        if name == DETAILS_EVENT:
            provider = _refinement_provider(attrs)
            refinement = self._refinements.get((INFERENCE_SPAN, provider)) if isinstance(provider, str) else None
            if refinement is not None:
                table = _Table(
                    id=table.id,
                    base=table.base,
                    kinds=table.kinds,
                    span_names=table.span_names,
                    allowed=table.allowed | refinement.allowed,
                    templates=table.templates,
                    required=table.required,
                    if_set=table.if_set,
                    required_unless=table.required_unless,
                )
        problems = self._check_attributes(label, attrs, table, "event")
        problems += self._usage_problems(label, attrs)
        return problems


def _scalar_ok(value: Any, typ: str) -> bool:
    if typ == "string":
        return isinstance(value, str)
    if typ == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "double":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ == "boolean":
        return isinstance(value, bool)
    return True
