"""Re-record NotificationsWorkflow's replay histories (on purpose, after a deliberate change).

    .venv/bin/python -m tests.histories.record_notifications

Runs each case on a throw-away dev server with the real workflow code and a
fake `notifications_command` activity, and writes
tests/histories/NotificationsWorkflow-<case>.json for tests/replay/test_replay.py.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from tests.helpers.histories import run_recorder, save, workflow_id
from tests.helpers.temporal import throwaway_dev_server
from ttai.models.notifications import (
    NotificationInfo,
    NotificationsCommand,
    NotificationsCommandResult,
)
from worker import build_worker

TASK_QUEUE = "record-notifications"
AT = datetime(2026, 11, 30, 15, tzinfo=UTC)
DEAD = NotificationInfo(
    notification_id=7, idempotency_key="alert:3:1", kind="alert", title="AAPL crossed 110",
    status="dead", attempts=10, last_error="tgram:// #1a2b3c: refused the notification",
    created_at=AT, next_attempt_at=None, delivered_at=None, dead_at=AT, delivered_to=["log"],
)  # fmt: skip


@activity.defn(name="notifications_command")
async def fake_notifications(command: NotificationsCommand) -> NotificationsCommandResult:
    if command.action == "list":
        return NotificationsCommandResult(notifications=[DEAD])
    if command.notification_id != DEAD.notification_id:
        raise ApplicationError(
            f"no notification {command.notification_id}",
            type="UnknownNotification",
            non_retryable=True,
        )
    delivered = DEAD.model_copy(update={"status": "delivered", "delivered_at": AT, "dead_at": None})
    return NotificationsCommandResult(retried=delivered)


async def record(client: Client) -> None:
    cases = {
        "NotificationsWorkflow-list-dead": NotificationsCommand(action="list", dead_only=True),
        "NotificationsWorkflow-retry": NotificationsCommand(action="retry", notification_id=7),
        "NotificationsWorkflow-retry-unknown": NotificationsCommand(
            action="retry", notification_id=99
        ),
    }
    async with build_worker(client, None, TASK_QUEUE, activities=[fake_notifications]):
        for case, command in cases.items():
            handle = await client.start_workflow(
                "NotificationsWorkflow", command, id=workflow_id(case), task_queue=TASK_QUEUE
            )
            with contextlib.suppress(WorkflowFailureError):  # retry-unknown fails, as designed
                await handle.result()
            await save(handle, case)


async def main() -> None:
    async with throwaway_dev_server() as client:
        await record(client)


if __name__ == "__main__":
    run_recorder(main)
