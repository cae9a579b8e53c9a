"""llmtel overhead benchmark: ``python -m bench`` (or ``./dev bench``); results in ``bench/RESULTS.md``.

Per-call overhead of our OpenAI instrumentation over the same uninstrumented SDK call, measured in one process
against an in-process transport, reported as a ratio to the floor (what any semconv-compliant instrumentation
must minimally do). Modules: ``transport`` (recorded replies), ``pipeline`` (OTel SDK pipeline, switching),
``floor``, ``scenarios``, ``chunks`` (isolated per-chunk cost), ``memory``, ``startup``, ``runner``, ``report``.
"""
