"""NotificationsWorkflow: list the outbox's rows and retry dead letters through Temporal,
like every other operation (one activity, no state of its own)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.policies import step

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from ttai.models.notifications import NotificationsCommand, NotificationsCommandResult

# A person is waiting: a few quick attempts. A retry's sends are idempotent
# per channel, so a repeated attempt sends nothing twice.
COMMAND_STEP = step(
    timeout=timedelta(seconds=60),
    attempts=3,
    max_interval=timedelta(seconds=5),
    also_non_retryable=["UnknownNotification", "AlreadyDelivered"],
)


@workflow.defn(name="NotificationsWorkflow")
class NotificationsWorkflow:
    @workflow.run
    async def run(self, command: NotificationsCommand) -> NotificationsCommandResult:
        return await workflow.execute_activity_method(
            NotificationActivities.notifications, command, **COMMAND_STEP
        )
