"""The outbox as operators see it: list rows (dead letters first of all) and retry one."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ttai.models.notifications import NotificationsCommand, NotificationsCommandResult
from ttai.notify.outbox import AlreadyDelivered, NotificationNotFound, Outbox


class NotificationActivities:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    @activity.defn(name="notifications_command")
    async def notifications(self, command: NotificationsCommand) -> NotificationsCommandResult:
        if command.action == "list":
            rows = await self._outbox.notifications(
                dead_only=command.dead_only, limit=command.limit
            )
            return NotificationsCommandResult(notifications=rows)
        assert command.notification_id is not None  # the model checked it
        try:
            retried = await self._outbox.retry(command.notification_id)
        except NotificationNotFound as err:
            raise ApplicationError(
                str(err), type="UnknownNotification", non_retryable=True
            ) from None
        except AlreadyDelivered as err:
            raise ApplicationError(str(err), type="AlreadyDelivered", non_retryable=True) from None
        return NotificationsCommandResult(retried=retried)
