"""Refuse a workflow ID too long for the keys built from it, before any step runs.

Temporal accepts IDs of up to 1,000 characters; notification keys, check keys
and saved rows are built from the ID and must stay bounded (see
`ttai.models.common.MAX_WORKFLOW_ID_LENGTH`). The check issues no command, so
histories recorded before it replay unchanged.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from ttai.models.common import MAX_WORKFLOW_ID_LENGTH


def require_bounded_id(limit: int = MAX_WORKFLOW_ID_LENGTH) -> None:
    """Fail the workflow (non-retryable InvalidInput) when its ID is longer than `limit`
    or holds control characters (keys and saved rows are built from it)."""
    workflow_id = workflow.info().workflow_id
    if len(workflow_id) > limit:
        problem = f"is {len(workflow_id)} characters long; this workflow takes at most {limit}"
    elif any(ord(c) < 32 or ord(c) == 127 for c in workflow_id):
        problem = "holds control characters"
    else:
        return
    raise ApplicationError(
        f"workflow ID {problem}: start it with a shorter, printable ID",
        type="InvalidInput",
        non_retryable=True,
    )
