"""The anthropic wire format on the demo server (not yet served)."""

from __future__ import annotations

from llmtel.demo.server import WireReply, WireRequest


def serve(request: WireRequest) -> WireReply | None:
    """The reply to a request on one of this API's paths; None for any other path."""
    return None
