"""Re-record NotificationsWorkflow's replay histories (on purpose, after a deliberate change).

    .venv/bin/python -m tests.histories.record_notifications

Runs each case on a throw-away dev server with the real workflow code and a
fake `notifications_command` activity, and writes
tests/histories/NotificationsWorkflow-<case>.json for tests/replay/test_replay.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.exceptions import ApplicationError

from activities.notifications import NotificationActivities
from tests.helpers.histories import record_cases
from ttai.models.notifications import (
    NotificationInfo,
    NotificationsCommand,
    NotificationsCommandResult,
)
from ttai.temporal.steps import same_step_as

TASK_QUEUE = "record-notifications"
AT = datetime(2026, 11, 30, 15, tzinfo=UTC)
DEAD = NotificationInfo(
    notification_id=7, idempotency_key="alert:3:1", kind="alert", title="AAPL crossed 110",
    status="dead", attempts=10, last_error="tgram:// #1a2b3c: refused the notification",
    created_at=AT, next_attempt_at=None, delivered_at=None, dead_at=AT, delivered_to=["log"],
)  # fmt: skip


@same_step_as(NotificationActivities.notifications_command)
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


CASES = {
    "NotificationsWorkflow-list-dead": NotificationsCommand(action="list", dead_only=True),
    "NotificationsWorkflow-retry": NotificationsCommand(action="retry", notification_id=7),
    # Fails, as designed: an unknown ID.
    "NotificationsWorkflow-retry-unknown": NotificationsCommand(action="retry", notification_id=99),
}

if __name__ == "__main__":
    record_cases(
        TASK_QUEUE,
        [fake_notifications],
        {case: ("NotificationsWorkflow", command) for case, command in CASES.items()},
    )
