"""One readable line for the failures a tool call can meet once it reaches the stack.

The ops layer's `OpsError`s are one line already (bad input, not found,
conflict, unavailable, failed). What can still escape around them, Temporal or
PostgreSQL going away under the server itself (the LISTEN connection, the
client), becomes a clear sentence too, never a traceback. Unknown exceptions
return None (the caller logs them with their traceback and says "internal
error").

Modules are looked up in `sys.modules` instead of imported: when one of their
exceptions exists, the module is loaded already, and this file stays free of
temporalio and asyncpg for the handshake.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ttai.mcp.stack import StackUnavailable

_UNREACHABLE_STATUS = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"}


def _deepest_cause(err: BaseException) -> BaseException:
    seen = set()
    while getattr(err, "cause", None) is not None and id(err) not in seen:
        seen.add(id(err))
        err = err.cause  # type: ignore[attr-defined]
    return err


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def explain(err: BaseException, on_unreachable: Callable[[], None] | None = None) -> str | None:
    """A one-line explanation of `err`, or None when it is not an expected failure."""
    unreachable = on_unreachable or (lambda: None)
    if isinstance(err, StackUnavailable):
        return _one_line(err)
    ops = sys.modules.get("ttai.ops.errors")
    if ops is not None and isinstance(err, ops.OpsError):
        if isinstance(err, ops.Unavailable):
            unreachable()  # check the stack now, not at the next health check
        return str(err)  # one line already, from the root cause
    client = sys.modules.get("temporalio.client")
    service = sys.modules.get("temporalio.service")
    if client is not None:
        if isinstance(err, client.WorkflowFailureError):
            cause = _deepest_cause(err)
            if type(cause).__name__ == "CancelledError":
                return "the workflow was cancelled"
            return f"the workflow failed: {_one_line(getattr(cause, 'message', cause))}"
        if isinstance(err, client.RPCTimeoutOrCancelledError):
            unreachable()
            return "Temporal did not answer in time; the server retries the connection"
    if service is not None and isinstance(err, service.RPCError):
        status = getattr(err.status, "name", "")
        if status == "NOT_FOUND":
            return _one_line(err.message) or "not found"
        if status in _UNREACHABLE_STATUS:
            unreachable()
            return (
                f"Temporal is not reachable ({_one_line(err.message)}); "
                "the server reconnects once it is back"
            )
        return f"Temporal refused the request: {_one_line(err.message)}"
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is not None and isinstance(
        err,
        asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.OperatorInterventionError
        | asyncpg.ConnectionDoesNotExistError,
    ):
        unreachable()
        return (
            f"PostgreSQL is not reachable ({_one_line(err) or type(err).__name__}); "
            "the server reconnects once it is back"
        )
    if isinstance(err, ConnectionError | TimeoutError) or (
        isinstance(err, OSError) and err.errno is not None
    ):
        unreachable()
        detail = _one_line(err) or type(err).__name__
        if _raised_in(err, "asyncpg"):
            return f"PostgreSQL is not reachable ({detail}); the server reconnects once it is back"
        return f"a TTAI service is not reachable ({detail})"
    return None


def _raised_in(err: BaseException, package: str) -> bool:
    """Did `err` come out of `package`'s code (a socket error inside asyncpg, say)?"""
    trace = err.__traceback__
    while trace is not None:
        module = trace.tb_frame.f_globals.get("__name__", "")
        if module == package or module.startswith(f"{package}."):
            return True
        trace = trace.tb_next
    return False
