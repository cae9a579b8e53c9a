"""Completion logs: one record per LLM call, a local store, the in-process exporters, the receiver, the reader.

- :mod:`llmtel.logs.record`: the record and how it is built from a span and its details event
- :mod:`llmtel.logs.store`: the SQLite store (filters, search, summary, retention)
- :mod:`llmtel.logs.exporter`: ``llmtel_logs`` span and log exporters for the OpenTelemetry SDK
- :mod:`llmtel.logs.otlp`, :mod:`llmtel.logs.receiver`: OTLP in, ``llmtel logs serve``
- :mod:`llmtel.logs.cli`: ``llmtel logs``
"""
