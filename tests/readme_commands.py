"""Shell commands in Markdown, as a reader copies them (for tests/test_readme_commands.py).

Two places hold commands:

* fenced blocks tagged ``sh``, ``bash``, ``shell`` or ``console``: every line is a command (in ``console``
  blocks only the lines after a ``$ `` prompt); backslash-continued lines are joined and a trailing
  ``# comment`` is dropped;
* inline code spans (anywhere outside fenced blocks, numbered step lists included) whose text is a command
  line: it starts with one of :data:`COMMAND_WORDS`, or with ``NAME=value`` assignments followed by a command
  (a lone ``OTEL_...=value`` is a setting, not a command).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COMMAND_WORDS", "SHELL_FENCES", "Command", "commands", "env_assignments", "is_command_line"]

SHELL_FENCES = frozenset({"sh", "bash", "shell", "console"})
COMMAND_WORDS = (
    "pip ",
    "./dev ",
    "cd ",
    "docker ",
    "kubectl ",
    "opentelemetry-instrument ",
    "opentelemetry-bootstrap ",
    "llmtel ",
    "python ",
    "promtool ",
    "git ",
    "curl ",
    "chmod ",
)
_ASSIGNMENT = r"[A-Z_][A-Z0-9_]*=(?:\"[^\"]*\"|'[^']*'|[^\s\"'])*"
_LEADING_ASSIGNMENTS = re.compile(rf"^(?:{_ASSIGNMENT}\s+)+")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)")
_CODE_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")


@dataclass(frozen=True)
class Command:
    text: str
    """The command as a reader runs it: continuations joined, trailing comment dropped."""
    source: str
    """``README.md:36`` (the line it starts on)."""
    inline: bool
    """From an inline code span rather than a fenced block."""


def is_command_line(text: str) -> bool:
    """Whether inline code ``text`` is a shell command line."""
    rest = _LEADING_ASSIGNMENTS.sub("", text, count=1)
    if rest != text:  # NAME=value ... then a command (any command)
        return bool(rest) and re.match(_ASSIGNMENT, rest) is None
    return text.startswith(COMMAND_WORDS)


def env_assignments(command: str) -> dict[str, str]:
    """The ``NAME=value`` assignments a command starts with (unquoted values only)."""
    match = _LEADING_ASSIGNMENTS.match(command)
    if match is None:
        return {}
    return dict(pair.split("=", 1) for pair in match.group(0).split())


def _strip_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` outside quotes that starts a word)."""
    quote: str | None = None
    for i, char in enumerate(line):
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _block_commands(lines: list[tuple[int, str]], console: bool) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in lines:
        line = raw.strip()
        if pending is None:
            if console:
                if not line.startswith("$ "):
                    continue  # output
                line = line[2:].strip()
            start = number
        else:
            start, line = pending[0], pending[1] + " " + line
            pending = None
        if line.endswith("\\"):
            pending = (start, line[:-1].rstrip())
            continue
        line = _strip_comment(line)
        if line:
            found.append((start, line))
    if pending is not None:
        found.append((pending[0], _strip_comment(pending[1])))
    return found


def commands(path: Path, name: str) -> list[Command]:
    """Every command in the Markdown file ``path`` (called ``name`` in the sources), in document order."""
    found: list[Command] = []
    prose: list[tuple[int, str]] = []
    block: list[tuple[int, str]] | None = None
    fence = info = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if block is None:
            match = _FENCE.match(line)
            if match:
                block, fence, info = [], match.group("fence"), match.group("info").lower()
            else:
                prose.append((number, line))
            continue
        if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            if info in SHELL_FENCES:
                for start, text in _block_commands(block, console=info == "console"):
                    found.append(Command(text, f"{name}:{start}", inline=False))
            block = None
            prose.append((number, ""))  # a fence ends any paragraph
            continue
        block.append((number, line))
    # Inline code spans may wrap across lines inside a paragraph: search each paragraph as one string.
    paragraph: list[tuple[int, str]] = []
    for number, line in [*prose, (0, "")]:
        if line.strip():
            paragraph.append((number, line))
            continue
        if paragraph:
            text = "\n".join(part for _, part in paragraph)
            for match in _CODE_SPAN.finditer(text):
                span = " ".join(match.group(1).split())
                if is_command_line(span):
                    start = paragraph[text.count("\n", 0, match.start())][0]
                    found.append(Command(span, f"{name}:{start}", inline=True))
        paragraph = []
    return sorted(found, key=lambda c: int(c.source.rsplit(":", 1)[1]))
