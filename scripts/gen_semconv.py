#!/usr/bin/env python3
"""Generate ``src/llmtel/semconv.py`` from the GenAI semantic conventions data.

Usage::

    python scripts/gen_semconv.py [--json PATH] [--check]

The input is ``genai-semconv.json`` (see ``shared/semconv/genai-semconv.md``). Its location is,
in order of precedence: ``--json PATH``, the ``GENAI_SEMCONV_JSON`` environment variable,
``<repo>/../shared/semconv/genai-semconv.json``.

Without ``--check`` the module is (re)written. With ``--check`` nothing is written; the exit
status is 1 (with a message) when the module on disk differs from what would be generated.

The output is deterministic: everything is sorted and no timestamps or paths are embedded.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import keyword
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = REPO_ROOT.parent / "shared" / "semconv" / "genai-semconv.json"
OUTPUT = REPO_ROOT / "src" / "llmtel" / "semconv.py"
ENV_VAR = "GENAI_SEMCONV_JSON"

_WRAP = 100
_LINE_LENGTH = 110  # [tool.ruff] line-length


class GenerationError(Exception):
    """The JSON cannot be turned into a valid module (name clash, bad identifier, ...)."""


def default_json_path() -> Path:
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DEFAULT_JSON


def normalise(text: str | None) -> str:
    return " ".join((text or "").split())


def constant_name(name: str) -> str:
    """``gen_ai.request.model`` -> ``GEN_AI_REQUEST_MODEL``."""
    ident = name.upper().replace(".", "_")
    _check_identifier(ident, name)
    return ident


def class_name(attribute: str) -> str:
    """``gen_ai.operation.name`` -> ``GenAiOperationNameValues``."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", attribute) if w]
    ident = "".join(w[:1].upper() + w[1:].lower() for w in words) + "Values"
    _check_identifier(ident, attribute)
    return ident


def member_name(value: str) -> str:
    """``azure.ai.openai`` -> ``AZURE_AI_OPENAI``; ``_OTHER`` -> ``OTHER``."""
    ident = re.sub(r"[^0-9A-Za-z]", "_", value.upper()).lstrip("_")
    _check_identifier(ident, value)
    return ident


def _check_identifier(ident: str, source: str) -> None:
    if not ident.isidentifier() or keyword.iskeyword(ident) or ident[:1].isdigit():
        raise GenerationError(f"cannot derive a Python identifier from {source!r} (got {ident!r})")


def str_literal(value: str) -> str:
    # json.dumps gives a valid Python double-quoted literal for any str (escapes, unicode).
    return json.dumps(value)


def string_expr(text: str, indent: str, prefix_len: int) -> list[str]:
    """A string expression; text too long for one line becomes a parenthesised concatenation.

    ``prefix_len`` is the length of what precedes the expression on its line (a trailing comma is
    assumed), so the single-line form is used exactly when ruff format would use it.
    """
    literal = str_literal(text)
    if prefix_len + len(literal) + 1 <= _LINE_LENGTH:
        return [literal]
    chunks = textwrap.wrap(text, width=_WRAP - 20, break_long_words=False, break_on_hyphens=False)
    lines = ["("]
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        lines.append(f"{indent}    {str_literal(chunk if last else chunk + ' ')}")
    lines.append(f"{indent})")
    return lines


def docstring(text: str, indent: str = "") -> list[str]:
    """A triple-quoted docstring, wrapped; safe for any content."""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    lines = textwrap.wrap(body, width=_WRAP - len(indent) - 6, break_long_words=False, break_on_hyphens=False)
    if not lines:
        return []
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    out = [f'{indent}"""{lines[0]}']
    out += [f"{indent}{line}" for line in lines[1:]]
    out.append(f'{indent}"""')
    return out


def bucket_literal(value: Any, value_type: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GenerationError(f"bucket boundary {value!r} is not a number")
    if value_type == "int" and float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def frozenset_literal(items: set[str] | frozenset[str], indent: str) -> list[str]:
    """Lines of ``frozenset({...})`` (first line without indent; caller prefixes it)."""
    if not items:
        return ["frozenset()"]
    lines = ["frozenset("]
    lines.append(f"{indent}    {{")
    lines += [f"{indent}        {str_literal(item)}," for item in sorted(items)]
    lines.append(f"{indent}    }}")
    lines.append(f"{indent})")
    return lines


def _type_note(info: dict[str, Any]) -> str:
    typ = info.get("type") or "?"
    return f"Type: {typ}."


class _Names:
    """Tracks module-level names so that two conventions never map to one identifier."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def add(self, ident: str, source: str) -> str:
        other = self._seen.get(ident)
        if other is not None and other != source:
            raise GenerationError(f"name clash: {ident} would stand for both {other!r} and {source!r}")
        self._seen[ident] = source
        return ident


def generate(data: dict[str, Any]) -> str:
    version = data["version"]
    commit = version["genai_commit"]
    schema_url = version["genai_schema_url"]
    attributes: dict[str, dict[str, Any]] = data["attributes"]
    post = data.get("post_snapshot_changes") or {}
    added: dict[str, dict[str, Any]] = post.get("added_attributes") or {}
    metrics: dict[str, dict[str, Any]] = data["metrics"]
    metric_refinements: dict[str, dict[str, Any]] = data.get("metric_refinements") or {}
    spans: dict[str, dict[str, Any]] = data["spans"]
    span_refinements: dict[str, dict[str, Any]] = data.get("span_refinements") or {}
    events: dict[str, dict[str, Any]] = data.get("events") or {}

    names = _Names()
    names.add("SCHEMA_URL", "<schema url>")
    names.add("GENAI_COMMIT", "<commit>")
    names.add("MetricSpec", "<MetricSpec>")
    names.add("METRICS", "<METRICS>")
    names.add("SPAN_TYPES", "<SPAN_TYPES>")
    names.add("EVENTS", "<EVENTS>")

    out: list[str] = []
    w = out.append
    w("# GENERATED by scripts/gen_semconv.py from genai-semconv.json -- DO NOT EDIT.")
    w(f"# Source commit: {commit}")
    w('"""GenAI semantic convention names, enum values and metric specs.')
    w("")
    w("Generated by ``scripts/gen_semconv.py`` from ``shared/semconv/genai-semconv.json``; do not edit by")
    w("hand, re-run the generator instead.")
    w("")
    registry = version.get("genai_registry") or "semantic-conventions-genai"
    date = f" ({version['genai_commit_date']})" if version.get("genai_commit_date") else ""
    w(f"Source: {registry} at commit {commit}{date}.")
    w(f"Schema URL: {schema_url}")
    w("")
    w("Attribute constants cover every current (non-deprecated) attribute at the pinned commit plus")
    w("the attributes upstream added after it (``post_snapshot_changes.added_attributes``).")
    w('"""')
    w("")
    w("from dataclasses import dataclass")
    w("from typing import Final")
    w("")
    w(f"SCHEMA_URL: Final = {str_literal(schema_url)}")
    w(f"GENAI_COMMIT: Final = {str_literal(commit)}")
    w("")

    # ---------------------------------------------------------------- attributes
    w("# " + "-" * 20 + " attributes " + "-" * 20)
    w("")
    current = {name: info for name, info in attributes.items() if info.get("deprecated") is None}
    all_attrs: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, info in current.items():
        all_attrs[name] = ("current", info)
    for name, info in added.items():
        if name not in all_attrs:
            all_attrs[name] = ("added", info)
    for name in sorted(all_attrs):
        origin, info = all_attrs[name]
        ident = names.add(constant_name(name), name)
        w(f"{ident}: Final[str] = {str_literal(name)}")
        if origin == "current":
            parts = [normalise(info.get("brief"))]
            typ = str(info.get("type") or "")
            if typ.startswith("template["):
                inner = typ[len("template[") : -1]
                parts.append(f"Template attribute: the key is this prefix plus '.<key>'; value type {inner}.")
            else:
                parts.append(_type_note(info))
        else:
            parts = [
                f"Added upstream after the pinned commit: {normalise(info.get('evidence'))}.",
                _type_note(info),
            ]
        out += docstring(" ".join(p for p in parts if p))
        w("")

    # ---------------------------------------------------------------- enums
    w("# " + "-" * 20 + " enum values " + "-" * 20)
    for name in sorted(current):
        info = current[name]
        values = info.get("enum")
        if not values:
            continue
        cls = names.add(class_name(name), name)
        members = {m["value"]: m for m in info.get("enum_members") or []}
        w("")
        w("")
        w(f"class {cls}:")
        out += docstring(
            f"Well-known values of ``{name}`` (custom values are allowed unless the conventions say otherwise).",
            indent="    ",
        )
        w("")
        seen: dict[str, str] = {}
        for value in sorted(values):
            mname = member_name(value)
            if mname in seen:
                raise GenerationError(f"{cls}: values {seen[mname]!r} and {value!r} both map to {mname}")
            seen[mname] = value
            w(f"    {mname}: Final[str] = {str_literal(value)}")
            member = members.get(value) or {}
            if member.get("deprecated"):
                dep = member["deprecated"]
                note = f"Deprecated: use {dep!s}." if isinstance(dep, str) else "Deprecated."
                out += docstring(note, indent="    ")

    # ---------------------------------------------------------------- metrics
    w("")
    w("")
    w("# " + "-" * 20 + " metrics " + "-" * 20)
    w("")
    w("")
    w("@dataclass(frozen=True)")
    w("class MetricSpec:")
    w('    """A metric of the GenAI semantic conventions."""')
    w("")
    w("    name: str")
    w('    instrument: str  # "histogram", "counter", "updowncounter", "gauge"')
    w("    unit: str")
    w("    description: str  # the brief, whitespace-normalised")
    w('    value_type: str  # "int" | "double" | ""')
    w("    buckets: tuple[float, ...]  # advised explicit bucket boundaries; () if none")
    w("    attributes: frozenset[str]  # allowed attribute names (metric + its refinements)")
    w("")
    metric_idents: dict[str, str] = {}
    for name in sorted(metrics):
        spec = metrics[name]
        ident = names.add(constant_name(name), name)
        metric_idents[name] = ident
        value_type = spec.get("value_type") or ""
        allowed = set(spec.get("attributes") or {})
        for ref in metric_refinements.values():
            if ref.get("refines") == name:
                allowed |= set(ref.get("attributes") or {})
        buckets = [bucket_literal(b, value_type) for b in spec.get("buckets") or []]
        if not buckets:
            buckets_src = "()"
        elif len(buckets) == 1:
            buckets_src = f"({buckets[0]},)"
        else:
            buckets_src = "(" + ", ".join(buckets) + ")"
        w("")
        w(f"{ident}: Final = MetricSpec(")
        w(f"    name={str_literal(name)},")
        w(f"    instrument={str_literal(spec.get('instrument') or '')},")
        w(f"    unit={str_literal(spec.get('unit') or '')},")
        desc = string_expr(normalise(spec.get("brief")), "    ", len("    description="))
        w(f"    description={desc[0]}")
        out += desc[1:]
        out[-1] += ","
        w(f"    value_type={str_literal(value_type)},")
        w(f"    buckets={buckets_src},")
        attr_lines = frozenset_literal(allowed, "    ")
        w(f"    attributes={attr_lines[0]}")
        out += attr_lines[1:-1]
        w(f"    {attr_lines[-1].strip()},")
        w(")")
    w("")
    w("METRICS: Final[dict[str, MetricSpec]] = {")
    for name in sorted(metrics):
        w(f"    {str_literal(name)}: {metric_idents[name]},")
    w("}")
    w('"""Metric name -> spec."""')
    w("")

    # ---------------------------------------------------------------- spans
    w("# " + "-" * 20 + " span types " + "-" * 20)
    w("")
    tables: dict[str, set[str]] = {sid: set(s.get("attributes") or {}) for sid, s in spans.items()}
    for rid, ref in span_refinements.items():
        if rid in tables:
            raise GenerationError(f"span refinement id {rid!r} clashes with a span type id")
        tables[rid] = set(ref.get("attributes") or {})
    w("SPAN_TYPES: Final[dict[str, frozenset[str]]] = {")
    for sid in sorted(tables):
        lines = frozenset_literal(tables[sid], "    ")
        w(f"    {str_literal(sid)}: {lines[0]}")
        out += lines[1:-1]
        w(f"    {lines[-1].strip()},")
    w("}")
    w('"""Span type id (``spans`` and ``span_refinements``) -> allowed attribute names.')
    w("")
    w("Template attributes (such as ``gen_ai.prompt.variable``) appear as their prefix.")
    w('"""')
    w("")

    # ---------------------------------------------------------------- events
    w("# " + "-" * 20 + " events " + "-" * 20)
    w("")
    for name in sorted(events):
        ident = names.add(constant_name(name), name)
        w(f"{ident}: Final[str] = {str_literal(name)}")
        out += docstring(f"Event name. {normalise(events[name].get('brief'))}")
        w("")
    w("EVENTS: Final[dict[str, frozenset[str]]] = {")
    for name in sorted(events):
        lines = frozenset_literal(set(events[name].get("attributes") or {}), "    ")
        w(f"    {str_literal(name)}: {lines[0]}")
        out += lines[1:-1]
        w(f"    {lines[-1].strip()},")
    w("}")
    w('"""Event name -> allowed attribute names."""')
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, default=None, help=f"input JSON (default: ${ENV_VAR} or the shared copy)")
    parser.add_argument("--check", action="store_true", help="only check that the generated file is current")
    args = parser.parse_args(argv)

    path: Path = args.json if args.json is not None else default_json_path()
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        print(f"gen_semconv: input not found: {path}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"gen_semconv: {path} is not valid JSON: {exc}", file=sys.stderr)
        return 2
    try:
        text = generate(data)
    except (GenerationError, KeyError, TypeError) as exc:
        print(f"gen_semconv: cannot generate from {path}: {exc!r}", file=sys.stderr)
        return 2

    rel = OUTPUT.relative_to(REPO_ROOT)
    if args.check:
        try:
            current = OUTPUT.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != text:
            state = "is missing" if current is None else "is out of date"
            print(
                f"gen_semconv: {rel} {state} with respect to {path}; run: python scripts/gen_semconv.py",
                file=sys.stderr,
            )
            return 1
        print(f"gen_semconv: {rel} is up to date")
        return 0

    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    print(f"gen_semconv: wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
