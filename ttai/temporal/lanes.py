"""Broker lanes: the task queues broker reads run on, and their shared rate budget.

Clients only ever start work on the main task queue (default `ttai`). Every
activity that reads the broker declares one of two lanes named after it
(`@step(..., lane=...)`, ttai/temporal/steps.py); workflows call it there, and
every worker polls the lanes as well:

- `<main>-broker`, the bulk lane: the analysis steps and the screens'
  per-symbol analyses (`screen_symbol`). A screen can put hundreds of reads
  here in a burst.
- `<main>-broker-live`, the live lane: the monitors' checks, the symbol check
  behind adding an alert, the scheduled reports and the portfolio lookup. Few
  reads, each one waited for.
  Its own lane means a running screen never delays a monitor check.

A lane's rate limit is Temporal's task-queue-level activity rate
(`Worker(max_task_queue_activities_per_second=...)`): every worker sends it
with its polls and the server enforces it for the lane as a whole, so the
budget holds however many workers run. The deployment's broker budget is
the sum of the two lanes' rates. The server splits a queue's rate across its
partitions, so the stack runs one partition per task queue (see
`ttai.servers.temporal_server`); a production cluster should do the same for the
two lanes (docs/broker.md, "The broker budget").

Pure names only: workflows import this module.
"""

from __future__ import annotations

from typing import Literal

Lane = Literal["broker", "broker-live"]
BULK: Lane = "broker"
LIVE: Lane = "broker-live"
LANES: tuple[Lane, ...] = (BULK, LIVE)


def lane_queue(task_queue: str, lane: Lane) -> str:
    """The task queue of `lane` for the deployment whose main queue is `task_queue`."""
    return f"{task_queue}-{lane}"


DEFAULT_RATES: dict[str, dict[Lane, float]] = {
    # tastytrade publishes no rate limit and answers 429 past it. A screen's
    # symbol makes about four requests (candles, chain, greeks, metrics), so
    # 2 symbols/s is about 8 requests/s in bursts at most; the live lane adds at
    # most 1 check/s. Raise it with TTAI_BROKER_RATE once the account's limits
    # are known.
    "tastytrade": {BULK: 2.0, LIVE: 1.0},
}
"""Activities per second per lane when TTAI_BROKER_RATE / TTAI_BROKER_LIVE_RATE
are unset. Brokers not listed (the simulated market) get no limit."""


def lane_rate(lane: Lane, broker_name: str, configured: float | None) -> float | None:
    """The lane's rate limit (activities per second) or None for no limit.
    `configured` is the setting: None for the broker's default, 0 for no limit."""
    if configured is None:
        return DEFAULT_RATES.get(broker_name, {}).get(lane)
    return configured or None
