"""Small internals shared by the core and the adapters."""

from __future__ import annotations

import logging

_log = logging.getLogger("llmtel")
_reported: set[str] = set()


def swallowed(where: str) -> None:
    """Log the exception being handled at debug level (once per place) and let the app go on.

    Call it from an ``except Exception`` block around our own code, never around the SDK's call: principle 1
    of DESIGN.md is that an instrumentation error never reaches the application.
    """
    if where in _reported:
        return
    _reported.add(where)
    _log.debug("llmtel: instrumentation error in %s (ignored; the app is unaffected)", where, exc_info=True)
