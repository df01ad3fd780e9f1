"""Every retry preset the workflows use, each built with `step()`: explicit
timeouts, bounded retries, and the non-retryable error types always skipped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.errors import NON_RETRYABLE_TYPES
    from ttai.temporal.lanes import Lane, activity_queue, lane_queue


def step(
    *,
    timeout: timedelta,
    attempts: int,
    max_interval: timedelta,
    total: timedelta | None = None,
    also_non_retryable: Sequence[str] = (),
) -> dict[str, Any]:
    """Keyword arguments for `execute_activity`: one attempt may take `timeout`,
    retries back off exponentially to `max_interval`, never past `attempts`."""
    options: dict[str, Any] = {
        "start_to_close_timeout": timeout,
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=1),
            backoff_coefficient=2.0,
            maximum_interval=max_interval,
            maximum_attempts=attempts,
            non_retryable_error_types=[*NON_RETRYABLE_TYPES, *also_non_retryable],
        ),
    }
    if total is not None:
        options["schedule_to_close_timeout"] = total
    return options


# Broker reads: short, retried with backoff, never forever.
BROKER_STEP = step(timeout=timedelta(seconds=30), attempts=6, max_interval=timedelta(seconds=30))

# Database writes and deliveries: idempotent, so retried longer.
DURABLE_STEP = step(timeout=timedelta(seconds=30), attempts=20, max_interval=timedelta(minutes=1))

# Pure computation run as a local activity: nothing to retry for long.
COMPUTE_STEP = step(timeout=timedelta(seconds=10), attempts=3, max_interval=timedelta(seconds=5))

# A monitor's check is retried briefly, then counted as failed: the next
# interval tries again, so a broker outage never piles up attempts.
CHECK_STEP = step(
    timeout=timedelta(seconds=20),
    total=timedelta(seconds=60),
    attempts=3,
    max_interval=timedelta(seconds=10),
)

# Steps behind an update: a caller is waiting, so fail fast with a clear error.
UPDATE_STEP = step(
    timeout=timedelta(seconds=10),
    attempts=3,
    max_interval=timedelta(seconds=2),
    also_non_retryable=["UnknownAlert"],
)

# The monitors' market calendar (a local activity): a few quick tries, then the
# loop carries on without it and looks again after one interval.
CALENDAR_STEP = step(timeout=timedelta(seconds=30), attempts=3, max_interval=timedelta(seconds=10))

# Reads behind a person's request (the portfolio, the latest reports): a few
# quick attempts, so a database that is down is a clear error within seconds.
READ_STEP = step(timeout=timedelta(seconds=15), attempts=3, max_interval=timedelta(seconds=2))

# A screen's one symbol (`screen_symbol`): the whole analysis and the save.
# An analysis that runs long heartbeats (activities/heartbeats.py): a dead
# worker's symbol is retried after 10 s, and cancelling the screen reaches it.
# A cancelled screen waits for its running symbols to end (cancelled, or
# finished and saved) so its result holds exactly what was saved.
SYMBOL_STEP = step(
    timeout=timedelta(seconds=60), attempts=6, max_interval=timedelta(seconds=30)
) | {
    "heartbeat_timeout": timedelta(seconds=10),
    "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
}

# A screen's batch of symbols (`screen_symbols`), one after the other; it
# heartbeats once it runs long and, cancelled, returns what it finished.
BATCH_STEP = step(timeout=timedelta(minutes=5), attempts=6, max_interval=timedelta(seconds=30)) | {
    "heartbeat_timeout": timedelta(seconds=10),
    "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
}


def on_lane(lane: Lane) -> dict[str, Any]:
    """`task_queue=` for an activity on a broker lane of this workflow's task queue
    (ttai/temporal/lanes.py): its reads count against that lane's shared rate budget."""
    return {"task_queue": lane_queue(workflow.info().task_queue, lane)}


def queue_of(step: Callable[..., Any]) -> dict[str, Any]:
    """`task_queue=` for the activity `step`: its broker lane, or the main queue."""
    name = activity._Definition.must_from_callable(step).name
    return {"task_queue": activity_queue(workflow.info().task_queue, name)}
