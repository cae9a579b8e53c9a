"""Every command in README.md and deploy/README.md is run as written, or names the test that covers it.

The commands are read out of the two READMEs (fenced ``sh``/``bash``/``shell``/``console`` blocks, and inline
code that is a command line anywhere in the prose, numbered steps included; see tests/readme_commands.py).
Each one must be in exactly one of two tables here:

RUN
    run by a test of this module through ``sh -c`` exactly as written. The only substitutions, all in the
    environment or the working directory, never in the command text unless said:

    * ``$LLMTEL`` (the README's "absolute path of your clone") is a fresh ``git clone`` of this repository's
      HEAD (uncommitted changes are not in it; CI runs on a clean clone);
    * ``app.py`` is a small openai app written into the test's working directory; it reaches the local
      ``llmtel.demo.server.FakeOpenAIServer`` through ``OPENAI_BASE_URL``/``OPENAI_API_KEY``;
    * ``localhost:4318`` is an OTLP/HTTP receiver the test starts on 127.0.0.1:4318; only when that port is
      taken (a local collector, a parallel run) is the command's ``localhost:4318`` replaced by the
      receiver's own port;
    * ``python``, ``opentelemetry-instrument``, ``llmtel`` and ``pip`` are the ones of the venv first on PATH:
      this test venv, or, for the install lines, a fresh venv made for each line;
    * ``python scripts/gen_semconv.py`` runs in a fresh clone with ``../shared/semconv`` beside it (a symlink
      to this checkout's);
    * the install lines run with ``PIP_DISABLE_PIP_VERSION_CHECK=1`` (no "new pip available" notice).

    Every run must exit 0, print no ``Traceback`` and no ``Failed to export``, and finish within a bound:
    10 s for the app commands, which is what catches an export that fails (the distro's default protocol is
    gRPC: sent to port 4318 it fails, then holds the app ~14 s at exit). The apps' GenAI span and duration
    metric must arrive at the receiver, from the service the command names. The install lines run in three
    fresh venvs at once, are expanded alike by sh, bash and zsh (macOS's shell; when installed), and the
    first one is followed through to the app command in its venv (test_newcomer_installs_and_runs_the_app).
    ``./dev demo`` is skipped, not run, only when .venv's install stamp is stale (it would then pip install
    into .venv); under ``./dev test`` it never is.

COVERED
    commands that cannot run here (Docker and kubectl: no engine or cluster on this machine or in CI;
    ``./dev test``: this suite itself; ``./dev bench``: ten minutes; lines naming a PyPI release that does
    not exist yet; promtool subcommands named without their file arguments), each mapped to the file (and
    test) that validates what it uses. That file and test must exist.

A command in a README that is in neither table fails ``test_every_readme_command_is_accounted_for``, so a new
command is never silently untested; a table entry no README has any more fails too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from llmtel.demo import providers as demo_providers
from llmtel.demo.server import DEFAULT_REPLY, FakeOpenAIServer
from tests.conformance.semconv_check import semconv_json_path
from tests.otlp_receiver import OtlpHttpReceiver, _HttpHandler, _HttpServer
from tests.readme_commands import Command, commands, env_assignments, is_command_line

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "deploy/README.md")
VENV_BIN = Path(sys.executable).parent  # this test venv: its python, opentelemetry-instrument, llmtel

# -- the tables ------------------------------------------------------------------------------------------------

DEMO_COMMANDS = (
    "./dev demo",  # README "Two commands"; also in the prose
    "llmtel demo",  # deploy/README step 1: what the example container prints first
)

# The install lines of README "Use it in your app", each with the pip invocations it must expand to
# ({LLMTEL} = the clone): test_install_line runs each in a fresh venv; test_install_line_expands_alike checks
# that sh, bash and zsh (when installed) expand it to exactly these arguments.
INSTALL_COMMANDS: dict[str, list[list[str]]] = {
    'pip install "${LLMTEL}[otlp]"': [["install", "{LLMTEL}[otlp]"]],
    'pip install "llmtel[otlp] @ git+file://localhost$LLMTEL"': [
        ["install", "llmtel[otlp] @ git+file://localhost{LLMTEL}"]
    ],
    'pip wheel --no-deps -w dist "$LLMTEL" && pip install "$(ls dist/llmtel-*.whl)[otlp]"': [
        ["wheel", "--no-deps", "-w", "dist", "{LLMTEL}"],
        ["install", "dist/llmtel-{VERSION}-py3-none-any.whl[otlp]"],
    ],
}
NEWCOMER_INSTALL = 'pip install "${LLMTEL}[otlp]"'  # the venv the newcomer test then runs the app in

# An app run under opentelemetry-instrument, exporting to localhost:4318: test_app_command runs each.
APP_COMMANDS = (
    # README "Use it in your app" (test_newcomer_installs_and_runs_the_app also runs it in a fresh venv)
    "OTEL_SERVICE_NAME=my-agent OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 "
    "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf opentelemetry-instrument python app.py",
    # README "See it in Grafana" step 3 (the line that once lacked the protocol and hung the app ~14 s)
    "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf "
    "opentelemetry-instrument python app.py",
    # deploy/README step 3
    "OTEL_SERVICE_NAME=my-agent OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 "
    "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_METRIC_EXPORT_INTERVAL=15000 "
    "opentelemetry-instrument python app.py",
)
NEWCOMER_APP = APP_COMMANDS[0]

# deploy/README step 1, the lines before `docker compose`: run in this order, in one shell, in a fresh clone.
CHECKOUT_COMMANDS = ("cd deploy", "chmod a+rwx logs")

GENERATOR_COMMANDS = ("python scripts/gen_semconv.py", "python scripts/gen_prices.py")  # README: Development, Cost

# README "Completion logs": an app writes records to ./llmtel-logs, then the reader's lines, in order, in one dir.
LOGS_COMMANDS = (
    "OTEL_TRACES_EXPORTER=llmtel_logs OTEL_LOGS_EXPORTER=llmtel_logs OTEL_METRICS_EXPORTER=none "
    "opentelemetry-instrument python app.py",
    "llmtel logs",
    "llmtel logs --errors --since 1h --json",
    "llmtel logs summary --by model",
    "llmtel logs export -o calls.jsonl",
)

# Which test of this module runs each group, as written.
RUN_BY: dict[str, tuple[str, ...]] = {
    "test_demo_command": DEMO_COMMANDS,
    "test_install_line": tuple(INSTALL_COMMANDS),
    "test_app_command": APP_COMMANDS,
    "test_checkout_commands": CHECKOUT_COMMANDS,
    "test_generator_command": GENERATOR_COMMANDS,
    "test_logs_commands": LOGS_COMMANDS,
}
RUN: tuple[str, ...] = tuple(command for group in RUN_BY.values() for command in group)


@dataclass(frozen=True)
class Covered:
    reference: str
    """``path`` or ``path::test_function`` (relative to the repository root) that validates what it uses."""
    why: str
    """Why it is not run here."""
    contains: str = ""
    """For a reference that is not a test: a line it must hold."""


NO_DOCKER = "no Docker engine on this machine or in CI"
COMPOSE_TESTS = "tests/deploy/test_compose.py"
COVERED: dict[str, Covered] = {
    "./dev test": Covered(".ci/run", "the suite itself (this test runs inside it); CI runs exactly it", "./dev test"),
    "llmtel logs serve": Covered(
        "tests/logs/test_e2e.py::test_container_to_host",
        "a receiver that runs until stopped: that test runs it in a process of its own, an app process sends it "
        "real OTLP, and the reader sees the records",
    ),
    "llmtel logs serve --forward http://collector:4318": Covered(
        "tests/logs/test_forward.py::test_serve_forward_end_to_end",
        "a receiver that runs until stopped, forwarding to a collector: that test runs it with a stand-in collector",
    ),
    "python scripts/gen_prices.py --prices yours.json": Covered(
        "tests/deploy/test_prices_generated.py::test_generated_from_an_override_file_prices_as_the_records_do",
        "yours.json stands for the user's price file: that test writes one, generates, and runs promtool on it",
    ),
    "llmtel logs logs/completions.jsonl logs/genai-spans.jsonl": Covered(
        "tests/logs/test_cli.py::test_collector_files",
        "the files a running collector writes: that test writes a logs and a traces file as the file exporter does "
        "and reads them with the same command",
    ),
    "llmtel logs --follow": Covered(
        "tests/logs/test_e2e.py::test_container_to_host", "tails until stopped: that test follows the served store"
    ),
    "llmtel logs show ID": Covered(
        "tests/logs/test_cli.py::test_show_renders_a_tool_round_trip", "ID stands for a span id the reader names"
    ),
    "llmtel logs conversation ID": Covered(
        "tests/logs/test_e2e.py::test_container_to_host", "ID stands for a conversation id the app sets"
    ),
    "./dev bench": Covered(
        "tests/test_bench_smoke.py::test_results_file_has_every_row",
        "about 10 minutes; the smoke test runs the same benchmark tiny, tests/test_bench_instructions.py callgrind",
    ),
    "python -m bench.logs": Covered(
        "tests/logs/test_store_bench.py::test_the_corpus_is_deterministic_valid_and_its_words_are_where_the_answers_say",
        "a million records take ~25 minutes to build and the timing more; that test checks the corpus and its "
        "known answers, the store's own tests (tests/logs/test_store_*.py) the queries it times",
    ),
    "pip install llmtel": Covered(
        "tests/test_minimal_install.py::test_only_the_api_the_instrumentation_base_and_wrapt_are_required",
        "not on PyPI yet; ./dev test runs that module in .venv-minimal, the same install from the checkout",
    ),
    'pip install "llmtel[otlp]"': Covered(
        "tests/test_readme_commands.py::test_install_line",
        'not on PyPI yet ("once it is published"); the same extra is installed from a clone by the RUN lines',
    ),
    "cd deploy && chmod a+rwx logs && docker compose --profile example up -d --build": Covered(
        f"{COMPOSE_TESTS}::test_services_and_profiles",
        f"{NO_DOCKER}; its first two steps are test_checkout_commands' deploy/README lines",
    ),
    "docker compose --profile example up -d --build": Covered(
        f"{COMPOSE_TESTS}::test_services_and_profiles", NO_DOCKER
    ),
    "docker compose logs app": Covered(
        f"{COMPOSE_TESTS}::test_example_image_installs_the_checkout_and_runs_the_demo", NO_DOCKER
    ),
    "docker compose up": Covered(f"{COMPOSE_TESTS}::test_valid_against_the_compose_spec_schema", NO_DOCKER),
    "LLMTEL_COLLECTOR_OVERLAY=loki.yaml docker compose --profile logs up -d": Covered(
        "tests/deploy/test_collector_config.py::test_loki_overlay_only_adds", NO_DOCKER
    ),
    "docker compose kill -s SIGHUP prometheus": Covered(
        "tests/deploy/test_dashboards.py::test_price_series_are_well_formed",
        f"{NO_DOCKER}; the test checks the price file this reload picks up (and test_prometheus.py its rules)",
    ),
    "docker build -f deploy/example/Dockerfile -t llmtel-example:0.1.0 .": Covered(
        f"{COMPOSE_TESTS}::test_example_image_installs_the_checkout_and_runs_the_demo", NO_DOCKER
    ),
    "kubectl apply -k deploy/kubernetes": Covered(
        "tests/deploy/test_kubernetes.py::test_documents_are_well_formed", "no kubectl or cluster here or in CI"
    ),
    "opentelemetry-bootstrap -a install": Covered(
        "tests/coexistence/test_peers.py::test_one_span_per_call_and_one_warning",
        "it pip-installs instrumentations into the environment it runs in (never this test venv); what it brings "
        "for openai (test_bootstrap_brings_openai_v2_for_openai) runs next to llmtel there, in .venv-peers",
    ),
    "promtool check config": Covered(
        "tests/deploy/test_prometheus.py::test_config_passes_promtool_without_the_prometheus3_block",
        "named without its file argument; the test runs it on the shipped configuration",
    ),
    "promtool check rules": Covered(
        "tests/deploy/test_prometheus.py::test_rules_pass_promtool",
        "named without its file arguments; the test runs it on the shipped rule files",
    ),
    "promtool test rules": Covered(
        "tests/deploy/test_prometheus.py::test_rule_unit_tests_pass",
        "named without its file arguments; the test runs it on every file in deploy/prometheus/tests/",
    ),
}


def readme_commands() -> list[Command]:
    return [c for doc in DOCS for c in commands(ROOT / doc, doc)]


def _ids(texts: Any) -> list[str]:
    """Test ids: where each command is (first) found, e.g. ``README.md:39``."""
    where: dict[str, str] = {}
    for command in readme_commands():
        where.setdefault(command.text, command.source)
    return [where.get(text, "in-no-readme") for text in texts]


# -- the accounting ----------------------------------------------------------------------------------------------


def test_the_tables_do_not_overlap() -> None:
    for name in RUN_BY:
        assert callable(globals().get(name)), f"RUN_BY names {name}, which this module does not define"
    assert len(RUN) == len(set(RUN))
    assert set(RUN).isdisjoint(COVERED), set(RUN) & set(COVERED)


def test_every_readme_command_is_accounted_for() -> None:
    unaccounted = [c for c in readme_commands() if c.text not in RUN and c.text not in COVERED]
    assert not unaccounted, "\n".join(
        f"{c.source}: `{c.text}` is neither run nor covered by a test. Add it to tests/test_readme_commands.py: "
        "to a RUN group (and run it as written there) or, if it cannot run here, to COVERED with the test "
        "that validates what it uses."
        for c in unaccounted
    )


def test_every_table_entry_is_still_in_a_readme() -> None:
    found = {c.text for c in readme_commands()}
    stale = [text for text in (*RUN, *COVERED) if text not in found]
    assert not stale, f"no README has these commands any more; remove them from the tables: {stale}"


@pytest.mark.parametrize("command", list(COVERED), ids=_ids(COVERED))
def test_covered_command_names_an_existing_test(command: str) -> None:
    covered = COVERED[command]
    path, _, test = covered.reference.partition("::")
    file = ROOT / path
    assert file.is_file(), f"{command!r} is covered by {covered.reference}, which does not exist"
    text = file.read_text(encoding="utf-8")
    if test:
        assert re.search(rf"^def {re.escape(test)}\(", text, re.M), f"{covered.reference}: no such test"
    if covered.contains:
        assert covered.contains in text.splitlines(), f"{path} does not run `{covered.contains}`"
    assert covered.why


def test_bootstrap_brings_openai_v2_for_openai() -> None:
    """What ``opentelemetry-bootstrap -a install`` installs for an app with openai (README: "maps
    ``openai >= 1.26.0`` to it, unpinned"), from the bootstrap list of the installed opentelemetry-instrumentation."""
    from opentelemetry.instrumentation.bootstrap_gen import libraries

    assert [entry for entry in libraries if entry["library"].split()[0] == "openai"] == [
        {"library": "openai >= 1.26.0", "instrumentation": "opentelemetry-instrumentation-openai-v2"}
    ]


def test_extraction(tmp_path: Path) -> None:
    """What counts as a command, on a document with every case."""
    doc = tmp_path / "DOC.md"
    doc.write_text(
        "\n".join(
            [
                "Run `./dev demo` first; set `OTEL_SERVICE_NAME=x` (a setting, not a command).",
                "1. `cd deploy && docker compose up` then",
                "   `OTEL_X=1 opentelemetry-instrument",
                "   python app.py`.",
                "Code like `llmtel.setup()` and `pipx run` is no command.",
                "```sh",
                "pip install \\",
                '  "a b # not a comment"   # a comment',
                "# only a comment",
                "",
                "```",
                "```console",
                "$ llmtel demo --json",
                "output, not a command",
                "```",
                "```python",
                "pip install not-shell",
                "```",
                "   ```bash",
                "   A=1 B='x y' kubectl apply -k k8s",
                "   ```",
            ]
        ),
        encoding="utf-8",
    )
    assert [(c.source, c.text, c.inline) for c in commands(doc, "DOC.md")] == [
        ("DOC.md:1", "./dev demo", True),
        ("DOC.md:2", "cd deploy && docker compose up", True),
        ("DOC.md:3", "OTEL_X=1 opentelemetry-instrument python app.py", True),
        ("DOC.md:7", 'pip install "a b # not a comment"', False),
        ("DOC.md:13", "llmtel demo --json", False),
        ("DOC.md:20", "A=1 B='x y' kubectl apply -k k8s", False),
    ]
    assert is_command_line("A=1 B=2 anything at all")
    assert not is_command_line("A=1 B=2")
    assert env_assignments("A=1 B=http://h:1 cmd C=3") == {"A": "1", "B": "http://h:1"}


# -- running them --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    command: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def assert_clean(self, within: float) -> None:
        output = self.stdout + self.stderr
        assert self.returncode == 0, f"`{self.command}` exited {self.returncode}:\n{output}"
        assert "Traceback" not in output, output
        assert "Failed to export" not in output, output
        assert self.seconds < within, f"`{self.command}` took {self.seconds:.1f} s (bound {within} s):\n{output}"


def run_sh(command: str, cwd: Path, env: Mapping[str, str], timeout: float = 120, shell: str = "sh") -> Ran:
    start = time.monotonic()
    proc = subprocess.run(
        [shell, "-c", command], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )
    return Ran(command, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def clean_env(bin_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment without telemetry, OpenAI or llmtel settings, with ``bin_dir`` first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "OPENAI_", "LLMTEL_")) and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(bin_dir.parent)
    env.update(extra)
    return env


def git_clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True, capture_output=True, timeout=120)
    return dest


# -- ./dev demo, llmtel demo ---------------------------------------------------------------------------------------

DEMO_STEPS = [
    *(
        f"OpenAI: {step}"
        for step in (
            "chat completion",
            "streamed chat completion",
            "agent with a tool",
            "embeddings",
            "Responses API",
            "error, on purpose (model 'rate-limited')",
        )
    ),
    *(
        f"{demo_providers.BY_NAME[name].title}: {label}"
        for name in ("anthropic", "bedrock", "gemini")
        for label, _call, _error in demo_providers.STEPS[name]
    ),
]
"""Every provider's calls: .venv has every SDK (tests/test_demo_providers.py covers a missing one)."""
DEMO_SPANS = {
    "chat gpt-4o-mini",
    "invoke_agent weather-assistant",
    "execute_tool get_weather",
    "embeddings text-embedding-3-small",
    "chat rate-limited",
    f"chat {demo_providers.ANTHROPIC_MODEL}",
    f"chat {demo_providers.BEDROCK_MODEL}",
    f"chat {demo_providers.BEDROCK_CLAUDE_MODEL}",
    f"generate_content {demo_providers.GEMINI_MODEL}",
    f"embeddings {demo_providers.GEMINI_EMBEDDING_MODEL}",
    "generate_content rate-limited",
}


def _dev_demo_would_install() -> bool:
    """``./dev demo``'s setup_demo installs into .venv unless one of its stamps is newer than pyproject.toml."""
    pyproject = (ROOT / "pyproject.toml").stat().st_mtime
    stamps = [ROOT / ".venv" / f".llmtel-installed-{extras}" for extras in ("test", "all")]
    return not any(s.is_file() and s.stat().st_mtime >= pyproject for s in stamps)


@pytest.mark.parametrize("command", DEMO_COMMANDS, ids=_ids(DEMO_COMMANDS))
def test_demo_command(command: str) -> None:
    if command.startswith("./dev") and _dev_demo_would_install():
        pytest.skip(".venv's install stamp is older than pyproject.toml: ./dev demo would pip install into .venv")
    ran = run_sh(command, ROOT, clean_env(VENV_BIN))
    ran.assert_clean(within=30)
    lines = ran.stdout.splitlines()
    sdks = r"llmtel demo: openai \S+, anthropic \S+, boto3 \S+, google-genai \S+,"
    assert re.fullmatch(sdks, lines[0]) and re.fullmatch(r"instrumented by llmtel \S+", lines[1]), lines[:2]
    assert re.findall(rf"^\[\d+/{len(DEMO_STEPS)}\] (.+)$", ran.stdout, re.M) == DEMO_STEPS
    (count,) = re.findall(r"^Telemetry: (\d+) GenAI spans$", ran.stdout, re.M)
    spans = re.findall(r"^\[\d+\] .+?: span '([^']+)'", ran.stdout, re.M)
    assert len(spans) == int(count) and set(spans) == DEMO_SPANS
    metrics = lines[lines.index("Metrics") + 1 :]
    assert metrics[0].split()[0] == "gen_ai.client.operation.duration"
    assert lines[lines.index("Exported to") + 1].strip().startswith("in-memory only")


# -- the app commands ----------------------------------------------------------------------------------------------

APP = f"""\
import openai

client = openai.OpenAI()  # OPENAI_BASE_URL and OPENAI_API_KEY come from the environment
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "Say hi"}}])
print(reply.choices[0].message.content)
assert reply.choices[0].message.content == {DEFAULT_REPLY!r}
"""
APP_BOUND_S = 10.0  # a run takes ~2 s; a failing export holds the app ~14 s at exit
README_OTLP_PORT = 4318


class _ServerOnPort(_HttpServer):
    def __init__(self, receiver: OtlpHttpReceiver, port: int) -> None:
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", port), _HttpHandler)
        self.receiver = receiver


class OtlpHttpReceiverOnPort(OtlpHttpReceiver):
    """tests/otlp_receiver.py's OTLP/HTTP receiver, on a given port instead of a random one."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self._wanted_port = port

    def start(self) -> OtlpHttpReceiverOnPort:
        self._server = _ServerOnPort(self, self._wanted_port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self


@contextlib.contextmanager
def receiver_for(command: str) -> Iterator[tuple[OtlpHttpReceiver, str]]:
    """A receiver at the command's ``localhost:4318``, and the command as it is run against it."""
    assert f"http://localhost:{README_OTLP_PORT}" in command, "the README's apps export to http://localhost:4318"
    receiver: OtlpHttpReceiver
    try:
        receiver = OtlpHttpReceiverOnPort(README_OTLP_PORT).start()
        as_run = command
    except OSError:  # taken (a local collector, a parallel run): the one substitution in the command text
        receiver = OtlpHttpReceiver().start()
        as_run = command.replace(f"localhost:{README_OTLP_PORT}", f"127.0.0.1:{receiver.port}")
    try:
        yield receiver, as_run
    finally:
        receiver.stop()


def _string_attributes(message: Any) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in message.attributes}


def run_app_command(command: str, tmp_path: Path, server: FakeOpenAIServer, bin_dir: Path) -> list[tuple[str, str]]:
    """Run an app command as written; return the (scope, name) of every span that arrived, after checking
    the run was clean and quick and the GenAI span and duration metric arrived from the right service."""
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    env = clean_env(bin_dir, OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="test")
    with receiver_for(command) as (receiver, as_run):
        ran = run_sh(as_run, tmp_path, env, timeout=60)
        ran.assert_clean(within=APP_BOUND_S)
        assert ran.stdout == DEFAULT_REPLY + "\n"
        assert receiver.wait_for(
            lambda r: (
                any(sc.name == "llmtel" for _, sc, _ in r.spans())
                and any(m.name == "gen_ai.client.operation.duration" for _, _, m in r.metrics())
            ),
            timeout=5,
        ), f"no GenAI span and duration metric at the receiver:\n{ran.stderr}"
        assert not receiver.errors
        spans = receiver.spans()
    service = env_assignments(command).get("OTEL_SERVICE_NAME", "unknown_service:python")  # the SDK's default
    for resource, _, _ in spans:
        assert _string_attributes(resource)["service.name"] == service
    ours = [span for _, sc, span in spans if sc.name == "llmtel"]
    assert [(s.name, s.kind) for s in ours] == [("chat gpt-4o-mini", 3)]  # SPAN_KIND_CLIENT
    assert _string_attributes(ours[0])["gen_ai.request.model"] == "gpt-4o-mini"
    return [(sc.name, span.name) for _, sc, span in spans]


@pytest.mark.parametrize("command", APP_COMMANDS, ids=_ids(APP_COMMANDS))
def test_app_command(command: str, tmp_path: Path, server: FakeOpenAIServer) -> None:
    spans = run_app_command(command, tmp_path, server, VENV_BIN)
    # besides ours, only the httpx instrumentation this test venv has (a POST child span per call)
    assert {scope for scope, _ in spans} <= {"llmtel", "opentelemetry.instrumentation.httpx"}


# -- the completion-log lines --------------------------------------------------------------------------------------


def test_logs_commands(tmp_path: Path, server: FakeOpenAIServer) -> None:
    """The app writes its call's record with no collector, and each reader line runs as written on that store."""
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    env = clean_env(VENV_BIN, OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="test")
    app, listing, errors, summary, export = (run_sh(command, tmp_path, env, timeout=60) for command in LOGS_COMMANDS)
    app.assert_clean(within=APP_BOUND_S)
    assert app.stdout == DEFAULT_REPLY + "\n"
    assert (tmp_path / "llmtel-logs").is_dir()
    for ran in (listing, errors, summary, export):
        ran.assert_clean(within=30)
    assert "openai/gpt-4o-mini" in listing.stdout.replace(" ", "") or "gpt-4o-mini" in listing.stdout
    assert errors.stdout == ""  # the call did not fail
    assert "gpt-4o-mini" in summary.stdout
    [record] = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text(encoding="utf-8").splitlines()]
    assert (record["provider"], record["operation"], record["request_model"]) == ("openai", "chat", "gpt-4o-mini")
    assert record["error_type"] is None and record["input_messages"] is None  # no content capture asked for


# -- deploy/README step 1 before docker, and the generator ---------------------------------------------------------


def test_checkout_commands(tmp_path: Path) -> None:
    """``cd deploy`` then ``chmod a+rwx logs``, in one shell, in a fresh clone: the directory is in the checkout."""
    clone = git_clone(tmp_path / "llmtel")
    ran = run_sh("\n".join(("set -e", *CHECKOUT_COMMANDS)), clone, clean_env())
    ran.assert_clean(within=10)
    assert (clone / "deploy" / "logs").stat().st_mode & 0o777 == 0o777


def test_generator_command(tmp_path: Path) -> None:
    """Regenerating ``src/llmtel/semconv.py`` in a fresh clone reproduces the committed file exactly."""
    data = semconv_json_path()
    if not data.is_file():
        pytest.skip(f"GenAI semconv data not found at {data}")
    clone = git_clone(tmp_path / "llmtel")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "semconv").symlink_to(data.parent, target_is_directory=True)
    for command in GENERATOR_COMMANDS:
        ran = run_sh(command, clone, clean_env(VENV_BIN))
        ran.assert_clean(within=60)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True)
        assert status.stdout == "", status.stdout


# -- the install lines ---------------------------------------------------------------------------------------------


SHELL_NAMES = ("sh", "bash", "zsh")


def _expected_invocations(command: str, llmtel: Path) -> list[list[str]]:
    version = metadata.version("llmtel")
    return [
        [arg.replace("{LLMTEL}", str(llmtel)).replace("{VERSION}", version) for arg in call]
        for call in INSTALL_COMMANDS[command]
    ]


SHELLS = [
    pytest.param(s, marks=pytest.mark.skipif(not shutil.which(s), reason=f"{s} not installed")) for s in SHELL_NAMES
]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("command", list(INSTALL_COMMANDS), ids=_ids(INSTALL_COMMANDS))
def test_install_line_expands_alike(command: str, shell: str, tmp_path: Path) -> None:
    """The arguments pip gets from each install line, in sh, bash and zsh (macOS's shell), with ``pip`` a
    function that prints them (``$(ls dist/…)`` lists a real file)."""
    llmtel = tmp_path / "clone of llmtel"  # a space: the quoting must hold
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / f"llmtel-{metadata.version('llmtel')}-py3-none-any.whl").touch()
    script = "pip() { printf '%s\\0' \"$@\"; printf '\\n'; }\n" + command
    ran = run_sh(script, tmp_path, clean_env(LLMTEL=str(llmtel)), timeout=10, shell=shell)
    assert ran.returncode == 0, ran.stderr
    calls = [line.split("\0")[:-1] for line in ran.stdout.splitlines()]
    assert calls == _expected_invocations(command, llmtel)


@dataclass(frozen=True)
class Installed:
    command: str
    venv: Path
    venv_seconds: float  # python -m venv
    install: Ran
    check: Ran
    extra: Ran | None  # the app's own SDK, in the newcomer venv


def _install(command: str, workdir: Path) -> Installed:
    workdir.mkdir()
    clone = git_clone(workdir / "llmtel")
    venv = workdir / "venv"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    venv_seconds = time.monotonic() - start
    cwd = workdir / "cwd"
    cwd.mkdir()
    env = clean_env(venv / "bin", LLMTEL=str(clone), PIP_DISABLE_PIP_VERSION_CHECK="1")
    install = run_sh(command, cwd, env, timeout=600)
    check = run_sh(
        'python -c "import llmtel, opentelemetry.sdk, opentelemetry.distro; from importlib.metadata import version; '
        "print(llmtel.__file__); print(version('llmtel'))\"",
        cwd,
        env,
    )
    extra = None
    if command == NEWCOMER_INSTALL and install.returncode == 0:
        # README: "Your app brings its LLM SDK itself" (the version this test venv has: pip's cache holds it)
        extra = run_sh(f"pip install openai=={metadata.version('openai')}", cwd, env, timeout=600)
    return Installed(command, venv, venv_seconds, install, check, extra)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Installed]:
    """Each install line run as written in its own fresh venv, the three at once."""
    base = tmp_path_factory.mktemp("installs")
    with ThreadPoolExecutor(max_workers=len(INSTALL_COMMANDS)) as pool:
        futures = {c: pool.submit(_install, c, base / f"install-{i}") for i, c in enumerate(INSTALL_COMMANDS)}
        return {c: f.result() for c, f in futures.items()}


@pytest.mark.parametrize("command", list(INSTALL_COMMANDS), ids=_ids(INSTALL_COMMANDS))
def test_install_line(command: str, installed: dict[str, Installed]) -> None:
    result = installed[command]
    result.install.assert_clean(within=300)
    result.check.assert_clean(within=30)
    module, version = result.check.stdout.split()
    assert Path(module).is_relative_to(result.venv / "lib"), module  # installed into the venv, not the checkout
    assert version == metadata.version("llmtel")
    for script in ("opentelemetry-instrument", "llmtel"):
        assert (result.venv / "bin" / script).is_file(), script


def test_newcomer_installs_and_runs_the_app(
    installed: dict[str, Installed], tmp_path: Path, server: FakeOpenAIServer
) -> None:
    """The README path end to end in a fresh venv: the first install line, the app's own openai, the app
    command; nothing of this test venv is involved."""
    result = installed[NEWCOMER_INSTALL]
    result.install.assert_clean(within=300)
    assert result.extra is not None
    result.extra.assert_clean(within=300)
    spans = run_app_command(NEWCOMER_APP, tmp_path, server, result.venv / "bin")
    assert spans == [("llmtel", "chat gpt-4o-mini")]  # no other instrumentation is installed there
