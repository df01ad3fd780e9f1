"""Outbox retries run on their own clock: the outbox monitor delivers what a channel
refused, with no other monitor running, and never sends a row twice."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from temporalio.testing import WorkflowEnvironment

from activities.notifications import NotificationActivities
from tests.helpers.waiting import eventually
from ttai.models.monitors import MonitorInput, MonitorStatus
from ttai.models.notifications import Notification
from ttai.notify.delivery import Backoff
from ttai.notify.outbox import Outbox
from ttai.temporal.steps import steps_of
from worker import build_worker
from workflows.monitors import OutboxMonitorWorkflow


class RefusesFirst:
    """A channel that refuses its first `refusals` sends, then takes each one."""

    channel_id = label = "refuses-first"

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.sent: list[str] = []

    async def send(self, notification: Notification) -> None:
        if self.refusals > 0:
            self.refusals -= 1
            raise ConnectionError("channel down")
        self.sent.append(notification.idempotency_key)


async def test_a_refused_notification_is_delivered_by_the_outbox_monitor_once(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    channel = RefusesFirst(refusals=1)
    # Due again at once after a refusal, so only the monitor's own timer paces it.
    outbox = Outbox(db_pool, [channel], backoff=Backoff(base_seconds=0, cap_seconds=0))
    first = await outbox.publish(
        Notification(idempotency_key="outbox-monitor-test", kind="test", title="t", body="b")
    )
    assert not first.delivered and channel.sent == []  # the first attempt was refused

    client = time_skipping_env.client
    activities = steps_of(NotificationActivities(outbox))
    async with build_worker(
        client, None, task_queue, workflows=[OutboxMonitorWorkflow], activities=activities
    ):
        handle = await client.start_workflow(
            OutboxMonitorWorkflow.run,
            MonitorInput(interval_seconds=30),
            id=f"outbox-{task_queue}",
            task_queue=task_queue,
        )
        # Hours of workflow time: the loop keeps checking, the row goes out once.
        await time_skipping_env.sleep(timedelta(hours=2))

        async def status() -> MonitorStatus:
            return await handle.query(OutboxMonitorWorkflow.status)

        checked = await eventually(
            status, what="a few checks", until=lambda s: s.state.iterations >= 3, within=30
        )
        assert checked.hours == "always" and checked.market_open
        assert checked.state.triggers == 1  # delivered: once
        await handle.cancel()
        await handle.result()
    assert channel.sent == ["outbox-monitor-test"]
    row = await db_pool.fetchrow(
        "SELECT status, attempts FROM notifications WHERE id = $1", first.notification_id
    )
    assert (row["status"], row["attempts"]) == ("delivered", 2)
