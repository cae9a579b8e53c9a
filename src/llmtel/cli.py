"""The ``llmtel`` command line. ``llmtel demo`` shows the instrumentation at work; see ``--help``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from llmtel.version import __version__

_DEMO_DESCRIPTION = """\
Make real SDK calls, instrumented by llmtel, through every provider SDK that
is installed (OpenAI, Anthropic, AWS Bedrock, Google Gemini; --provider picks
one), and print the telemetry they produced: one block per GenAI span
(operation, provider, request -> response model, input/output tokens,
latency, time to first chunk, finish reasons, error.type); then one span in
full, as an exporter sends it (the chat in which the model asks for the tool:
name, kind, parent, status, every attribute, the captured messages and tool
definitions pretty-printed, and its gen_ai.client.inference.operation.details
event); then the GenAI metric totals, the number of details events, and where
it was all exported.

The OpenAI calls, in order:
  1. chat completion
  2. streamed chat completion, printed live; the app passes no stream_options:
     llmtel asks for the usage chunk (stream_options.include_usage) and
     hides it from the app, by itself on api.openai.com and other known
     endpoints, and on the built-in server because the demo turns
     LLMTEL_OPENAI_STREAM_USAGE on
  3. a small agent: a tool call (tools=[get_weather]), the tool run, the
     answer (invoke_agent and execute_tool spans around the two chats)
  4. embeddings
  5. Responses API
  6. a deliberate error, caught: model "rate-limited" (HTTP 429) on the
     built-in server, model "does-not-exist" on a real endpoint
Anthropic: messages.create, messages.stream() printed live, tool use, an
error. Bedrock: converse, converse_stream printed live, invoke_model (a Claude
body), an error. Gemini: generate_content, generate_content_stream printed
live, embed_content, an error.

By default the calls go to a built-in, deterministic server on 127.0.0.1 that
speaks each provider's wire format: no network, no API key, nothing left
running afterwards. With --base-url (or OPENAI_BASE_URL) only the OpenAI calls
are made, to that endpoint.
"""

_DEMO_EPILOG = """\
environment:
  OPENAI_BASE_URL        a real OpenAI-compatible endpoint (like --base-url)
  OPENAI_API_KEY         its API key (default "demo"; never sent to the
                         built-in server)
  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT
                         also export the telemetry over OTLP (headers, TLS,
                         compression: the usual OTEL_EXPORTER_OTLP_* variables)
  OTEL_EXPORTER_OTLP_PROTOCOL
                         http/protobuf (default) or grpc
  OTEL_EXPORTER_OTLP_TIMEOUT
                         export timeout in seconds (the demo uses 3 if unset)
  OTEL_SERVICE_NAME      service.name of the exported telemetry
                         (default "llmtel-demo")
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
                         NO_CONTENT, SPAN_ONLY, EVENT_ONLY or SPAN_AND_EVENT;
                         the demo uses SPAN_AND_EVENT unless this is set
  LLMTEL_OPENAI_STREAM_USAGE
                         true or false: ask every endpoint (or none) for a
                         stream's usage; the demo uses true on the built-in
                         server unless this is set, and leaves a real
                         endpoint to llmtel's automatic rule

The demo builds its own OpenTelemetry pipeline (in-memory, plus OTLP when an
endpoint is set); it does not use or change the global providers.

exit status:
  0  every call behaved as expected (the deliberate error included), even if
     exporting to an OTLP endpoint failed
  1  a call failed unexpectedly or produced no GenAI span
  2  bad usage or configuration (e.g. an unsupported OTLP protocol), or a
     missing dependency: the demo needs openai and the OpenTelemetry SDK (and
     the OTLP exporter when an endpoint is set): pip install 'llmtel[all]'
"""


def _demo(args: argparse.Namespace) -> int:
    from llmtel.demo.run import DemoOptions, run

    return run(
        DemoOptions(
            base_url=args.base_url,
            model=args.model,
            embedding_model=args.embedding_model,
            local=args.local,
            json=args.json,
            providers=tuple(args.provider or ()),
        )
    )


def _parser() -> argparse.ArgumentParser:
    from llmtel.demo.providers import PROVIDERS
    from llmtel.demo.run import DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL

    parser = argparse.ArgumentParser(
        prog="llmtel",
        description="OpenTelemetry instrumentation for LLM SDKs, following the GenAI semantic conventions.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    demo = commands.add_parser(
        "demo",
        help="run instrumented LLM SDK calls against a built-in server and print the telemetry",
        description=_DEMO_DESCRIPTION,
        epilog=_DEMO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = demo.add_mutually_exclusive_group()
    target.add_argument(
        "--base-url",
        metavar="URL",
        help="call this OpenAI-compatible endpoint, not the built-in server (default: $OPENAI_BASE_URL)",
    )
    target.add_argument(
        "--local",
        action="store_true",
        help="use the built-in server even when OPENAI_BASE_URL is set",
    )
    demo.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model of the chat, tool and Responses calls (default: {DEFAULT_MODEL})",
    )
    demo.add_argument(
        "--embedding-model",
        metavar="MODEL",
        default=DEFAULT_EMBEDDING_MODEL,
        help=f"model of the embeddings call (default: {DEFAULT_EMBEDDING_MODEL})",
    )
    demo.add_argument(
        "--provider",
        action="append",
        choices=[p.name for p in PROVIDERS],
        metavar="NAME",
        help="make only this provider's calls (repeatable): "
        + ", ".join(p.name for p in PROVIDERS)
        + " (default: every one whose SDK is installed; only openai with --base-url)",
    )
    demo.add_argument(
        "--json",
        action="store_true",
        help='print only the summary: one JSON object {"calls": [...], "metrics": {...}, "exported_to": ...}',
    )
    demo.set_defaults(handler=_demo)
    from llmtel.logs.command import register as register_logs

    register_logs(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``llmtel`` console script; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
