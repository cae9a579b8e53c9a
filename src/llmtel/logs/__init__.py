"""Completion logs: one record per LLM call, a local store, the in-process exporters, the receiver, the reader.

- :mod:`llmtel.logs.record`: the record and how it is built from a span and its details event
- :mod:`llmtel.logs.store`: the SQLite store (filters, search, summary, retention)
- :mod:`llmtel.logs.exporter`: ``llmtel_logs`` span and log exporters for the OpenTelemetry SDK
- :mod:`llmtel.logs.prices`: the price table (``cost_usd``; ``scripts/gen_prices.py`` makes Prometheus rules of it)
- :mod:`llmtel.logs.otlp`, :mod:`llmtel.logs.receiver`: OTLP in, ``llmtel logs serve``
- :mod:`llmtel.logs.forward`: ``llmtel logs serve --forward``, what it receives passed on to a collector
- :mod:`llmtel.logs.correlation`: ``trace_id``/``span_id`` on the app's own log lines (stdlib and structlog)
- :mod:`llmtel.logs.cli`: ``llmtel logs``
"""
