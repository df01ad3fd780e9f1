"""A monitor worker in its own process, for the kill-and-restart test.

    python -m tests.helpers.monitor_worker_process ADDRESS TASK_QUEUE DSN SENT_FILE CROSS_AT \
        [--crash-on-send]

AAPL trades at 100 until the wall-clock epoch CROSS_AT, then at 111; an AAPL
position is held all along and an MSFT one from CROSS_AT. Every delivered
notification's key is appended to SENT_FILE, so the test can count real sends
across processes. --crash-on-send kills the process (no cleanup, like
SIGKILL) inside its first delivery, after the trigger and its outbox row were
committed and before the send completed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client

from tests.helpers.monitor_fakes import ScriptedBroker, monitor_worker, wall_clock
from tests.helpers.portfolio import shares
from ttai.db.pool import create_pool
from ttai.models.market import Position
from ttai.models.notifications import Notification
from ttai.temporal.client import data_converter


class FileChannel:
    channel_id = label = "file"

    def __init__(self, path: Path, crash: bool) -> None:
        self._path = path
        self._crash = crash

    async def send(self, notification: Notification) -> None:
        if self._crash:
            os._exit(137)
        with self._path.open("a") as out:
            out.write(notification.idempotency_key + "\n")
            out.flush()
            os.fsync(out.fileno())


async def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("address", "task_queue", "dsn", "sent_file"):
        parser.add_argument(name)
    parser.add_argument("cross_at", type=float)
    parser.add_argument("--crash-on-send", action="store_true")
    args = parser.parse_args()
    cross_at = datetime.fromtimestamp(args.cross_at, UTC)

    def positions(at: datetime) -> list[Position]:
        held = [("AAPL", 100.0)] + ([("MSFT", 10.0)] if at >= cross_at else [])
        return [shares(symbol, quantity, 50) for symbol, quantity in held]

    broker = ScriptedBroker(
        {"AAPL": lambda at: 111.0 if at >= cross_at else 100.0},
        positions=positions,
        clock=wall_clock,
    )
    client = await Client.connect(args.address, data_converter=data_converter())
    pool = await create_pool(args.dsn, max_size=5)
    channel = FileChannel(Path(args.sent_file), args.crash_on_send)
    async with monitor_worker(client, pool, broker, channel, args.task_queue):
        await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main())
