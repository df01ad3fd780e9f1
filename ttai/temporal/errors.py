"""The root cause of a Temporal failure, for one-line error messages.

A failure reaches a client or a workflow wrapped: `WorkflowFailureError` ->
`ApplicationError` -> `ActivityError` -> the activity's `ApplicationError`
("unknown symbol: ZZZZ"). Each wrapper only says which step or child it came
through; the innermost cause says why. Temporal sets `__cause__` on every
wrapper (its `.cause` is the same), so following `__cause__` finds it.

Standard library only: workflow code imports it too.
"""

from __future__ import annotations


def root_cause(err: BaseException) -> BaseException:
    """The innermost `__cause__` of `err` (`err` itself when it has none)."""
    seen = {id(err)}
    while err.__cause__ is not None and id(err.__cause__) not in seen:
        err = err.__cause__
        seen.add(id(err))
    return err
