"""Raw responses of the SDKs generated alike (openai, anthropic): ``with_raw_response`` / ``with_streaming_response``
give the caller the SDK's own response object, and it stays exactly that.

Instead of wrapping the response, its call waits on it (:func:`hold`): hooks on the SDK's private ``_parse`` and
``close`` (:class:`RawResponses`, one per provider, around that provider's result dispatch) settle the call when the
response is parsed (the parsed result is dispatched like a direct call's: a model ends the span, a stream gets a
proxy), closed unparsed (the span ends), or dropped (a weakref finaliser abandons it). The SDK caches what
``_parse`` returns, so the caller's own ``parse()`` gets what our dispatch returned, and ``.headers``,
``.iter_lines()``, ``close()`` are untouched.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from llmtel._internal import swallowed

if TYPE_CHECKING:
    from llmtel.core.adapter import Adapter
    from llmtel.core.call import Dispatch
    from llmtel.core.invocation import Invocation

PENDING = "_llmtel_pending"


class _Pending:
    """A held raw response's call, waiting for the body to be parsed."""

    __slots__ = ("api", "finalizer", "hide_usage", "inv", "kwargs")

    def __init__(self, inv: Invocation, api: Adapter, kwargs: Mapping[str, Any], hide_usage: bool, owner: Any) -> None:
        self.inv, self.api, self.kwargs, self.hide_usage = inv, api, kwargs, hide_usage
        self.finalizer = weakref.finalize(owner, inv.abandon)


def hold(response: Any, inv: Invocation, api: Adapter, kwargs: Mapping[str, Any], hide_usage: bool) -> None:
    """Let the call wait on ``response``'s parse (or close, or collection)."""
    response.__dict__[PENDING] = _Pending(inv, api, kwargs, hide_usage, response)


def held(response: Any) -> bool:
    return PENDING in getattr(response, "__dict__", ())


class RawResponses:
    """One provider's raw-response hooks, around its result ``dispatch``. ``unheld_close``: what closing a response
    that no call waits on (any more) does too, e.g. end the span of a stream parsed from it."""

    def __init__(self, dispatch: Dispatch, unheld_close: Callable[[Any], None] | None = None) -> None:
        self._dispatch = dispatch
        self._unheld_close = unheld_close

    def settle(self, response: Any, parsed: Any, error: BaseException | None = None) -> Any:
        """The held call, given what the parse produced (``None``: closed unparsed; ``error``: the parse failed)."""
        pending = response.__dict__.pop(PENDING, None)
        if not isinstance(pending, _Pending):
            return parsed
        pending.finalizer.detach()
        inv = pending.inv
        if error is not None:
            inv.fail(error)
        elif parsed is None:
            inv.end()
        else:
            try:
                return self._dispatch(inv, pending.api, pending.kwargs, parsed, pending.hide_usage)
            except Exception:
                swallowed("raw response result")
                if not inv.ended:
                    inv.end()
        return parsed

    def parse_hook(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        """Around ``_parse``: a pass-through unless a call waits on this response (and not for a ``to=`` cast)."""
        if not held(instance) or kwargs.get("to") is not None:
            return wrapped(*args, **kwargs)
        try:
            parsed = wrapped(*args, **kwargs)
        except BaseException as exc:
            self.settle(instance, None, exc)
            raise
        return self.settle(instance, parsed)

    def closed(self, response: Any) -> None:
        if held(response):
            self.settle(response, None)
        elif self._unheld_close is not None:
            self._unheld_close(response)

    def close_hook(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        """Around ``close``: a response closed before it was parsed ends its call's span."""
        try:
            return wrapped(*args, **kwargs)
        finally:
            self.closed(instance)

    async def async_close_hook(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            return await wrapped(*args, **kwargs)
        finally:
            self.closed(instance)
