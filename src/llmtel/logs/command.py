"""``llmtel logs`` as a sub-command of the ``llmtel`` command: :func:`register` (what ``llmtel.cli`` calls).

Kept apart from :mod:`llmtel.logs.cli` so that building the ``llmtel`` parser imports nothing heavy: the reader
needs the OpenTelemetry SDK (and ``serve`` opentelemetry-proto), which a minimal install may not have; they are
imported when ``llmtel logs`` runs, and their absence is a one-line message, not a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _handler(args: argparse.Namespace) -> int:
    try:
        from llmtel.logs.cli import main
    except ImportError as exc:
        sys.stderr.write(f"llmtel logs needs the OpenTelemetry SDK ({exc}): pip install 'llmtel[otlp]'\n")
        return 2
    return main(args.logs_words)


def register(subparsers: Any) -> None:
    """Add ``logs`` to the ``llmtel`` command's sub-commands (``argparse``'s ``add_subparsers()`` result).

    The words after ``logs`` reach :func:`llmtel.logs.cli.main` untouched: the ``logs`` parser matches no
    prefix character, so even ``--help`` goes through, and listing (``llmtel logs [SOURCE...]``) and the
    sub-commands (``show``, ``summary`` …) are told apart there, which one argparse parser cannot express. The
    handler is stored as ``handler``, what ``llmtel.cli.main`` calls.
    """
    parser = subparsers.add_parser(
        "logs",
        help="list, search, tail and summarise recorded LLM calls; serve an OTLP receiver (llmtel logs --help)",
        add_help=False,
        prefix_chars="\x00",
    )
    parser.add_argument("logs_words", nargs="*")
    parser.set_defaults(handler=_handler)
