"""The root cause of an error: the one unwrapper every layer uses.

Temporal wraps a failure in layers that say where it passed, not why:
`WorkflowFailureError` -> `ChildWorkflowError` -> `ActivityError` ->
`ApplicationError("unknown symbol: ZZZZ")`. Every one of them (and Python's
`raise ... from ...`) links the next through `__cause__`, so the innermost
error is the one whose message a person should read.
"""

from __future__ import annotations


def root_cause(err: BaseException) -> BaseException:
    """The innermost `__cause__` of `err` (`err` itself when it has none)."""
    seen = {id(err)}
    while err.__cause__ is not None and id(err.__cause__) not in seen:
        err = err.__cause__
        seen.add(id(err))
    return err
