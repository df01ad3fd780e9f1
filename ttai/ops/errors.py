"""One family of errors for every operation, each message one readable line.

    OpsError                 anything an operation refuses or cannot do
      InvalidInput           the request is wrong (bad field, unknown symbol)   exit 2
      NotFound               what it names does not exist (workflow, watchlist)  exit 2
      Conflict               it exists but is in the wrong state (not running)   exit 2
      Unavailable            Temporal, a worker, PostgreSQL or the broker is     exit 1
                             down or did not answer: try again later
      OperationFailed        the work ran and failed for another reason          exit 1

Front ends show `str(err)` as it is: `starter.py` as `error: <message>` with
`exit_code`, the MCP server as the tool error's text. Messages come from the
root cause (`ttai.temporal.root_cause`), never from a traceback.

`translate` turns whatever the Temporal client raised into one of these;
operations call it through `translated(...)`, so no front end ever sees an
`RPCError` or a `WorkflowFailureError`. Nothing here imports temporalio at
module level: the classes are checked by name, so importing the ops layer
stays cheap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from ttai.temporal import root_cause

M = TypeVar("M", bound=BaseModel)

MAX_MESSAGE = 500


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Whitespace (newlines included) collapsed, cut at `limit` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class OpsError(Exception):
    """An operation refused or failed; `str(err)` is one line for a person."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    @property
    def message(self) -> str:
        return str(self)


class InvalidInput(OpsError):
    exit_code = 2


class NotFound(OpsError):
    exit_code = 2


class Conflict(OpsError):
    exit_code = 2


class Unavailable(OpsError):
    exit_code = 1


class OperationFailed(OpsError):
    exit_code = 1


# --- input --------------------------------------------------------------------------------


def validation_message(err: ValidationError) -> str:
    """pydantic's error list as one line: 'symbol: invalid symbol ...; top_n: ...'."""
    parts = []
    for e in err.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"]) or "input"
        parts.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse(model: type[M], data: Any) -> M:
    """Validate at the edge, before anything reaches Temporal's history."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InvalidInput(f"invalid input: {validation_message(err)}") from None


# --- Temporal's errors --------------------------------------------------------------------

# ApplicationError types (activities, validators, workflows) by what they mean to a caller.
_INVALID = {
    "InvalidInput",
    "InvalidAlert",
    "ValidationError",
    "ValueError",
    "TypeError",
    "UnknownSymbol",
}
_NOT_FOUND = {"WatchlistNotFound", "UnknownAlert", "UnknownNotification"}
_CONFLICT = {"AlreadyDelivered"}
# A database or broker that is down, as an activity's last failure names it.
_UNAVAILABLE = {
    "BrokerUnavailable",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "FileNotFoundError",  # the private cluster's socket is gone: PostgreSQL is not running
    "OSError",
    "TimeoutError",
    "CannotConnectNowError",
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "InterfaceError",
    "PostgresConnectionError",
    "TooManyConnectionsError",
}
_BY_TYPE: dict[str, type[OpsError]] = {
    **dict.fromkeys(_INVALID, InvalidInput),
    **dict.fromkeys(_NOT_FOUND, NotFound),
    **dict.fromkeys(_CONFLICT, Conflict),
    **dict.fromkeys(_UNAVAILABLE, Unavailable),
}


def _names(err: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(err).__mro__}


def failure_kind(err: BaseException) -> str:
    """An ApplicationError's type ('UnknownSymbol'), else the class name."""
    kind = getattr(err, "type", None)
    return kind if isinstance(kind, str) and kind else type(err).__name__


def failure_message(err: BaseException) -> str:
    """The root cause's own message: 'unknown symbol: ZZZZ'."""
    root = root_cause(err)
    text = getattr(root, "message", None) or str(root)
    return one_line(text or failure_kind(root))


def _from_failure(err: BaseException, what: str, prefix: str) -> OpsError:
    root = root_cause(err)
    names = _names(root)
    message = failure_message(root)
    if "CancelledError" in names:
        return Conflict(f"{what} was cancelled")
    if "TerminatedError" in names:
        return Conflict(f"{what} was terminated ({message})")
    if "TimeoutError" in names and "FailureError" in names:
        return Unavailable(f"{what} timed out ({message})")
    return _classify(err)(f"{prefix}{message}")


def _classify(err: BaseException) -> type[OpsError]:
    """The class of the innermost failure whose type is known: an activity that
    raised `ApplicationError(type="UnknownAlert") from LookupError(...)` is NotFound."""
    chain = [err]
    while chain[-1].__cause__ is not None and len(chain) < 50:
        chain.append(chain[-1].__cause__)
    for link in reversed(chain):
        if failure_kind(link) in _BY_TYPE:
            return _BY_TYPE[failure_kind(link)]
    return OperationFailed


def _from_rpc(err: Any, not_found: str | None, what: str) -> OpsError:
    from temporalio.service import RPCStatusCode

    status, message = err.status, one_line(err.message)
    if status == RPCStatusCode.NOT_FOUND:
        return NotFound(not_found or f"{what}: not found ({message})")
    if status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return Unavailable(f"Temporal did not answer ({message})")
    if status == RPCStatusCode.ALREADY_EXISTS:
        return Conflict(f"{what}: already exists ({message})")
    if status == RPCStatusCode.INVALID_ARGUMENT:
        return InvalidInput(f"{what}: Temporal refused the request ({message})")
    if status == RPCStatusCode.FAILED_PRECONDITION and "poller" in message.lower():
        return Unavailable(f"{what}: no worker is polling the task queue ({message})")
    return OperationFailed(f"{what}: Temporal: {message}")


def translate(
    err: BaseException, *, what: str, not_found: str | None = None, failed: str | None = None
) -> OpsError | None:
    """`err` as an OpsError, or None when it is not a Temporal or connection error.

    `what` names the operation's target (`monitor-price-alerts`); `not_found`
    is the whole message for an RPC NOT_FOUND; `failed` prefixes a workflow,
    update or activity failure (`"monitor-price-alerts refused: "`).
    """
    if isinstance(err, OpsError):
        return err
    names = _names(err)
    prefix = failed if failed is not None else f"{what}: "
    if "RPCError" in names:
        return _from_rpc(err, not_found, what)
    if "WorkflowAlreadyStartedError" in names:
        return Conflict(f"a workflow with ID {getattr(err, 'workflow_id', what)!r} already exists")
    if names & {"WorkflowFailureError", "WorkflowUpdateFailedError", "FailureError"}:
        return _from_failure(err, what, prefix)
    if "WorkflowQueryRejectedError" in names:
        return Conflict(f"{what}: query rejected ({err})")
    if "WorkflowQueryFailedError" in names:
        text = one_line(str(err))
        if "poller" in text.lower():
            return Unavailable(f"{what}: no worker answered ({text})")
        return OperationFailed(f"{what}: query failed: {text}")
    if "RPCTimeoutOrCancelledError" in names or isinstance(err, TimeoutError):
        return Unavailable(f"{what}: Temporal did not answer in time")
    if "WorkflowContinuedAsNewError" in names:
        return Conflict(f"{what}: continued as new; ask again")
    if isinstance(err, ConnectionError | OSError):
        return Unavailable(f"{what}: {one_line(str(err)) or type(err).__name__}")
    return None


@contextmanager
def translated(
    what: str, *, not_found: str | None = None, failed: str | None = None
) -> Iterator[None]:
    """Raise Temporal's errors inside as OpsErrors (cancellation passes through)."""
    try:
        yield
    except asyncio.CancelledError:
        raise
    except Exception as err:
        mapped = translate(err, what=what, not_found=not_found, failed=failed)
        if mapped is None or mapped is err:
            raise
        raise mapped from err
