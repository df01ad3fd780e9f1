"""A monitor worker in its own process that streams quotes, for the stream's kill test.

    python -m tests.helpers.stream_worker_process ADDRESS TASK_QUEUE DSN SENT_FILE PRICES_FILE

Every symbol ticks ten times a second (wall clock) at the price PRICES_FILE holds
for it (JSON, `{"AAPL": 100.0}`), read on each tick, so the test moves prices
across processes. Every delivered notification's key is appended to SENT_FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from temporalio.client import Client

from tests.helpers.monitor_fakes import TickingBroker, monitor_worker
from tests.helpers.monitor_worker_process import FileChannel
from ttai.db.pool import create_pool
from ttai.temporal.client import data_converter

SYMBOLS = ("AAPL", "MSFT")


def price_of(path: Path, symbol: str) -> float:
    return float(json.loads(path.read_text())[symbol])


async def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("address", "task_queue", "dsn", "sent_file", "prices_file"):
        parser.add_argument(name)
    args = parser.parse_args()
    prices = Path(args.prices_file)

    def path(symbol: str) -> Callable[[datetime], float]:
        return lambda _at: price_of(prices, symbol)

    broker = TickingBroker({s: path(s) for s in SYMBOLS}, every=0.1)
    client = await Client.connect(args.address, data_converter=data_converter())
    pool = await create_pool(args.dsn, max_size=5)
    channel = FileChannel(Path(args.sent_file), crash=False)
    async with monitor_worker(client, pool, broker, channel, args.task_queue):
        await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main())
