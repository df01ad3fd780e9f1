"""Temporal plumbing shared by the worker, the CLI and other clients.

The client and its data converter (`client`), payload encryption (`codec`,
`codec_server`), each activity's declaration and how workflows call it
(`steps`), the broker lanes (`lanes`), the Web UI's search attributes, the
report schedules, bootstrap (monitors + schedules in place), and the generic
JSON Schema exporter. Nothing here imports `workflows/` or `activities/`: what
needs workflow classes takes them as arguments. `root_cause` below is standard
library only, so the ops layer and workflow code import it for free.
"""

from __future__ import annotations


def root_cause(err: BaseException) -> BaseException:
    """The innermost `__cause__` of a failure (`err` itself when it has none).

    A failure reaches a client or a workflow wrapped: `WorkflowFailureError` ->
    `ApplicationError` -> `ActivityError` -> the activity's `ApplicationError`
    ("unknown symbol: ZZZZ"). Each wrapper only says which step or child it came
    through; the innermost cause says why, for one-line error messages. Standard
    library only, so importing it costs nothing (the ops layer, workflow code).
    """
    seen = {id(err)}
    while err.__cause__ is not None and id(err.__cause__) not in seen:
        err = err.__cause__
        seen.add(id(err))
    return err
