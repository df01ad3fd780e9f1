"""Re-record NotificationsWorkflow's replay histories (on purpose, after a deliberate change).

    .venv/bin/python tests/histories/record_notifications.py

Runs each case on a throw-away dev server with the real workflow code and a
fake activity, and writes tests/histories/NotificationsWorkflow-<case>.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from temporalio import activity  # noqa: E402
from temporalio.client import Client, WorkflowFailureError  # noqa: E402
from temporalio.exceptions import ApplicationError  # noqa: E402

from tests.history_files import write_history  # noqa: E402
from ttai.models.notifications import (  # noqa: E402
    NotificationInfo,
    NotificationsCommand,
    NotificationsCommandResult,
)
from ttai.stack.ports import free_port  # noqa: E402
from ttai.stack.temporal_server import TemporalDevServer  # noqa: E402
from ttai.temporal_client import data_converter  # noqa: E402
from worker import build_worker  # noqa: E402

HERE = Path(__file__).resolve().parent
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
        "list-dead": NotificationsCommand(action="list", dead_only=True),
        "retry": NotificationsCommand(action="retry", notification_id=7),
        "retry-unknown": NotificationsCommand(action="retry", notification_id=99),
    }
    async with build_worker(client, None, TASK_QUEUE, activities=[fake_notifications]):
        for case, command in cases.items():
            name = f"NotificationsWorkflow-{case}"
            handle = await client.start_workflow(
                "NotificationsWorkflow", command, id=f"record-{name}", task_queue=TASK_QUEUE
            )
            with contextlib.suppress(WorkflowFailureError):
                await handle.result()
            write_history(HERE / f"{name}.json", await handle.fetch_history())
            print("wrote", f"{name}.json")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with TemporalDevServer(
            log_path=Path(tmp) / "temporal.log", port=free_port(), port_env_var=None
        ) as server:
            client = await Client.connect(server.address, data_converter=data_converter())
            await record(client)


if __name__ == "__main__":
    asyncio.run(main())
