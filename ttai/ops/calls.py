"""The Temporal calls every operation is made of, each with its errors translated.

Start a workflow, run a short command workflow to its result, describe,
query, signal, update, wait for a result: each raises only `OpsError`s
(`ttai.ops.errors`), with messages that name what was asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import Field

from ttai.models.common import MAX_WORKFLOW_ID_LENGTH, Model
from ttai.ops.connection import Connection
from ttai.ops.errors import InvalidInput, Unavailable, one_line, translated

if TYPE_CHECKING:
    from temporalio.client import WorkflowExecutionDescription, WorkflowHandle

R = TypeVar("R")

# Cancels started on behalf of an abandoned wait: kept alive until they finish.
_BACKGROUND: set[asyncio.Task[Any]] = set()


class TaskRef(Model):
    """A workflow an operation started: enough to ask for it again."""

    workflow_id: str
    run_id: str | None = Field(description="The first run's ID.")
    workflow_type: str


def new_id(prefix: str) -> str:
    """`<prefix>-<8 hex>`: unique enough for a person's commands."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def checked_workflow_id(value: str | None, limit: int = MAX_WORKFLOW_ID_LENGTH) -> str | None:
    """A caller's workflow ID, checked before it reaches Temporal (the workflow checks again)."""
    if value is None:
        return None
    if not value or len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(f"invalid workflow ID: 1-{limit} characters, no control characters")
    return value


def not_found_message(workflow_id: str) -> str:
    return f"no workflow with ID {workflow_id!r}"


async def start(
    conn: Connection,
    workflow_type: str,
    arg: Any,
    *,
    workflow_id: str,
    **options: Any,
) -> tuple[WorkflowHandle[Any, Any], TaskRef]:
    """Start `workflow_type` on the connection's task queue."""
    client = await conn.client()
    with translated(workflow_id):
        handle = await client.start_workflow(
            workflow_type, arg, id=workflow_id, task_queue=conn.task_queue, **options
        )
    return handle, TaskRef(
        workflow_id=handle.id, run_id=handle.result_run_id, workflow_type=workflow_type
    )


async def wait_result(
    handle: WorkflowHandle[Any, R],
    *,
    cancel_if_abandoned: bool = False,
    failed: str | None = None,
) -> R:
    """The workflow's result; its failure as an OpsError naming the root cause.

    When the caller gives up (its task is cancelled) and `cancel_if_abandoned`
    is set, the workflow is asked to cancel too before the cancellation
    propagates; the request survives a caller that keeps cancelling.
    `failed` prefixes a failure's root cause (default `workflow <ID> failed: `).
    """
    try:
        with translated(
            f"workflow {handle.id}",
            not_found=not_found_message(handle.id),
            failed=f"workflow {handle.id} failed: " if failed is None else failed,
        ):
            return await handle.result()
    except asyncio.CancelledError:
        if cancel_if_abandoned:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(cancel_in_background(handle))
        raise


def cancel_in_background(handle: WorkflowHandle[Any, Any]) -> asyncio.Task[None]:
    """Request cancellation in a task of its own, kept alive until it is sent: a
    caller that is being cancelled itself may await it shielded, or not at all."""
    task = asyncio.ensure_future(_cancel_quietly(handle))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task


async def _cancel_quietly(handle: WorkflowHandle[Any, Any]) -> None:
    with contextlib.suppress(Exception):  # already closed, or Temporal gone: nothing to stop
        await handle.cancel()


async def execute_command(
    conn: Connection,
    workflow_type: str,
    arg: Any,
    *,
    id_prefix: str,
    result_type: type[R],
) -> R:
    """Run a short command workflow (a few activities) to its result, within the
    connection's `command_timeout`.

    If it does not finish in time (no worker, or the database down while its
    activity retries), it is terminated and the error says why: the
    activity's last failure, or that no worker picked it up.
    """
    timeout = conn.command_timeout
    handle, _ = await start(
        conn,
        workflow_type,
        arg,
        workflow_id=new_id(id_prefix),
        result_type=result_type,
        # A guard if this process dies while waiting: the server ends it too.
        execution_timeout=timeout * 2,
    )
    try:
        # A refusal (unknown watchlist ...) is the message itself, without the run's ID.
        return await asyncio.wait_for(wait_result(handle, failed=""), timeout.total_seconds())
    except TimeoutError:
        reason = await _why_stuck(handle, conn.task_queue)
        with contextlib.suppress(Exception):
            await handle.terminate(reason="no answer in time")
        raise Unavailable(
            f"{workflow_type} did not finish within {timeout.total_seconds():g} s: {reason}"
        ) from None


async def _why_stuck(handle: WorkflowHandle[Any, Any], task_queue: str) -> str:
    try:
        desc = await handle.describe()
    except Exception:
        return "Temporal did not answer"
    for pending in desc.raw_description.pending_activities:
        if pending.HasField("last_failure") and pending.last_failure.message:
            return f"its step keeps failing: {one_line(pending.last_failure.message, 300)}"
    return f"no worker took it from task queue {task_queue!r} (is a worker running?)"


async def describe(
    conn: Connection, workflow_id: str
) -> tuple[WorkflowHandle[Any, Any], WorkflowExecutionDescription]:
    """The workflow's latest run (NotFound when there is none)."""
    client = await conn.client()
    handle = client.get_workflow_handle(workflow_id)
    with translated(workflow_id, not_found=not_found_message(workflow_id)):
        return handle, await handle.describe()


async def query(
    conn: Connection,
    workflow_id: str,
    name: str,
    result_type: type[R],
    *,
    not_found: str,
) -> R:
    client = await conn.client()
    handle = client.get_workflow_handle(workflow_id)
    with translated(workflow_id, not_found=not_found):
        return await handle.query(name, result_type=result_type)


async def signal(conn: Connection, workflow_id: str, name: str, *, not_found: str) -> None:
    client = await conn.client()
    handle = client.get_workflow_handle(workflow_id)
    with translated(workflow_id, not_found=not_found):
        await handle.signal(name, {})


async def cancel(conn: Connection, workflow_id: str, *, not_found: str) -> None:
    client = await conn.client()
    handle = client.get_workflow_handle(workflow_id)
    with translated(workflow_id, not_found=not_found):
        await handle.cancel()


async def update(
    conn: Connection,
    workflow_id: str,
    name: str,
    arg: Any,
    result_type: type[R],
    *,
    not_found: str,
) -> R:
    """Execute an update; a validator's or handler's refusal is
    `<workflow ID> refused: <root cause>`."""
    client = await conn.client()
    handle = client.get_workflow_handle(workflow_id)
    timeout = conn.update_timeout.total_seconds()
    with translated(workflow_id, not_found=not_found, failed=f"{workflow_id} refused: "):
        try:
            return await asyncio.wait_for(
                handle.execute_update(name, arg, result_type=result_type), timeout
            )
        except TimeoutError:
            raise Unavailable(
                f"{workflow_id} did not answer within {timeout:g} s (is a worker running?)"
            ) from None
