"""The outbox: delivering what is due (the outbox monitor's check), and the operators'
commands: list rows (dead letters first of all) and retry one."""

from __future__ import annotations

import logging

from temporalio.exceptions import ApplicationError

from ttai.models.monitors import CheckInput, DeliveryResult
from ttai.models.notifications import NotificationsCommand, NotificationsCommandResult
from ttai.notify.outbox import AlreadyDelivered, NotificationNotFound, Outbox
from ttai.temporal.steps import CHECK, COMMAND, step

logger = logging.getLogger(__name__)


class NotificationActivities:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    @step(CHECK)
    async def deliver_notifications(self, request: CheckInput) -> DeliveryResult:
        """One attempt at every due row; a refusing channel's rows back off (see the outbox).
        Idempotent: each channel gets a row once, under the row's lock."""
        run = await self._outbox.deliver_pending()
        if run.error is not None:
            logger.warning("notification delivery: %s", run.error)
        return DeliveryResult(
            delivered=run.delivered, failed=run.failed, dead=run.dead, error=run.error
        )

    @step(COMMAND)
    async def notifications_command(
        self, command: NotificationsCommand
    ) -> NotificationsCommandResult:
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
