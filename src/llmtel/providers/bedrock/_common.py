"""What every Bedrock operation shares: the router over botocore's one API-call method, the endpoint, the
result dispatch, ``error.type`` and token usage.

    BaseClient._make_api_call(operation, params)
        → BedrockRuntime.route: not a bedrock-runtime call of ours → passes through (one dict look-up)
                                 Converse / ConverseStream      → converse.ConverseApi / ConverseStreamApi
                                 InvokeModel(WithResponseStream) → invoke.InvokeApi of the body's family
        → the core's call (span, content, guards) → :func:`dispatch` → the adapter's ``deliver``

``error.type`` (see :func:`error_type`): the HTTP status code as a string, as every provider reports it
(``"429"`` for ``ThrottlingException``, so the alert rules keyed on ``error_type="429"`` fire for Bedrock too),
also for the exception events of a stream, which arrive after an HTTP 200: they get the status the same
exception has on the API (``throttlingException`` → ``"429"``, ``modelStreamErrorException`` → ``"424"`` …,
from the service model). An error without either gets its code (``ClientError``'s ``Error.Code``), any
other exception the core's rule (``botocore.ReadTimeoutError``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError, EventStreamError
from opentelemetry.util.types import AttributeValue

from llmtel import semconv as sc
from llmtel.core import endpoints
from llmtel.core.adapter import Adapter, string
from llmtel.core.call import Routed, Router
from llmtel.core.invocation import Invocation, Telemetry
from llmtel.core.values import token_count

SERVICE = "bedrock-runtime"

# The HTTP status of each exception of the bedrock-runtime service model (botocore/data/bedrock-runtime/
# 2023-09-30/service-2.json, "error": {"httpStatusCode"}), by the names its event streams give them
# (ConverseStreamOutput and ResponseStream members: lowerCamelCase) and by the API's own codes.
_STATUS_BY_SHAPE = {
    "AccessDeniedException": 403,
    "ConflictException": 400,
    "InternalServerException": 500,
    "ModelErrorException": 424,
    "ModelNotReadyException": 429,
    "ModelStreamErrorException": 424,
    "ModelTimeoutException": 408,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 400,
    "ServiceUnavailableException": 503,
    "ThrottlingException": 429,
    "ValidationException": 400,
}
STATUS_BY_CODE: Mapping[str, str] = {
    **{name: str(status) for name, status in _STATUS_BY_SHAPE.items()},
    **{name[0].lower() + name[1:]: str(status) for name, status in _STATUS_BY_SHAPE.items()},
}


_MAX_CODE = 64  # AWS error codes are short names; a longer one is not a code to group dashboards by


def _status(value: Any) -> str | None:
    if type(value) is int and 100 <= value <= 599:
        return str(value)
    return None


def error_type(exc: BaseException) -> str | None:
    """``error.type`` of an exception from a Bedrock call or its stream (see the module docstring)."""
    if not isinstance(exc, ClientError):
        return None  # the core's rule: the exception's class
    response = exc.response if isinstance(exc.response, dict) else {}
    if not isinstance(exc, EventStreamError):  # an exception event has no HTTP status of its own
        meta = response.get("ResponseMetadata")
        status = _status(meta.get("HTTPStatusCode")) if isinstance(meta, dict) else None
        if status is not None:
            return status
    error = response.get("Error")
    code = error.get("Code") if isinstance(error, dict) else None
    if not isinstance(code, str):
        return None
    return STATUS_BY_CODE.get(code) or string(code[:_MAX_CODE])  # the server's word: bounded, valid UTF-8


class BedrockApi(Adapter):
    """One Bedrock operation's translation: the core's adapter contract, plus what the caller gets back."""

    model_key = "modelId"

    def deliver(self, inv: Invocation, kwargs: Mapping[str, Any], result: Any) -> Any:
        """End ``inv`` with a complete result, or hand the caller a result whose stream or body ends it."""
        raise NotImplementedError

    def error_type(self, exc: BaseException) -> str | None:
        return error_type(exc)


def dispatch(inv: Invocation, api: Adapter, kwargs: Mapping[str, Any], result: Any, hide_usage: bool) -> Any:
    """The core's ``Dispatch``: the adapter's own (a botocore result is a dict holding the stream or body)."""
    assert isinstance(api, BedrockApi)
    return api.deliver(inv, kwargs, result)


def endpoint_of(instance: Any, telemetry: Telemetry) -> endpoints.Endpoint:
    """The endpoint of the client (``meta.endpoint_url``: the region's host, or the app's ``endpoint_url``)."""
    meta = getattr(instance, "meta", None)
    url = getattr(meta, "endpoint_url", None)
    found = telemetry.endpoint_cache.get(url)  # by the identity of the client's URL string
    if found is not None:
        return found
    found = endpoints.resolve(url or "", sc.GenAiProviderNameValues.AWS_BEDROCK, telemetry.config.provider_map)
    return telemetry.endpoint_cache.put(url, found)


# -- usage ------------------------------------------------------------------------------------------------------

UsageNames = tuple[str, str, str, str]
"""(input, output, cache read, cache write): where one body dialect reports its token counts."""

CONVERSE_USAGE: UsageNames = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")


def usage(fields: Any, names: UsageNames, resp: dict[str, AttributeValue]) -> None:
    """Token counts from a usage object of the server's JSON (untrusted: only valid counts are written).

    Bedrock, like Anthropic, counts cache reads and writes apart from ``inputTokens`` (its ``totalTokens`` adds
    all four); the conventions' ``gen_ai.usage.input_tokens`` includes them, so they are added in."""
    if type(fields) is not dict:
        return
    input_name, output_name, read_name, write_name = names
    output_tokens = token_count(fields.get(output_name))
    if output_tokens is not None:
        resp[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
    input_tokens = token_count(fields.get(input_name))
    read = token_count(fields.get(read_name))
    write = token_count(fields.get(write_name))
    if read is not None:
        resp[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = read
    if write is not None:
        resp[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = write
    if input_tokens is not None:
        total = token_count(input_tokens + (read or 0) + (write or 0))  # None past int64
        if total is not None:
            resp[sc.GEN_AI_USAGE_INPUT_TOKENS] = total


def guardrail(identifier: Any, attrs: dict[str, AttributeValue]) -> None:
    found = string(identifier)
    if found is not None:
        attrs[sc.AWS_BEDROCK_GUARDRAIL_ID] = found


# -- the router -------------------------------------------------------------------------------------------------


class BedrockRuntime(Router):
    """Routes ``_make_api_call`` by operation, then service: every AWS call comes here."""

    def __init__(self) -> None:
        from llmtel.providers.bedrock.converse import ConverseApi, ConverseStreamApi
        from llmtel.providers.bedrock.invoke import invoke_route

        converse, converse_stream = ConverseApi(), ConverseStreamApi()
        self.operations: dict[str, Any] = {
            "Converse": lambda params: (converse, params),
            "ConverseStream": lambda params: (converse_stream, params),
            "InvokeModel": functools.partial(invoke_route, False),
            "InvokeModelWithResponseStream": functools.partial(invoke_route, True),
        }
        self.pick = self.operations.get

    def route(self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Routed | None:
        # Every AWS call comes here: the common answer ("not ours") is one dict look-up on the operation name.
        # (An unhashable name raises TypeError: the core's guard passes the call through.)
        pick = self.pick(args[0]) if args else None
        if pick is None:
            if not kwargs:
                return None
            pick = self.pick(kwargs.get("operation_name", ""))  # with keywords: not how botocore calls it
            if pick is None:
                return None
        params = args[1] if len(args) > 1 else kwargs.get("api_params")
        if type(params) is not dict:
            return None
        # Asked only for these four operation names. Not cached by client class: botocore makes a new class per
        # client it creates, and a cache would keep every one alive; the read is a few attribute look-ups.
        model = getattr(getattr(instance, "meta", None), "service_model", None)
        ours = getattr(model, "service_name", None) == SERVICE
        return pick(params) if ours else None  # type: ignore[no-any-return]
