"""Each activity's contract, declared once on the activity itself, and how workflows call it.

    class AnalysisActivities:
        @step(BROKER, lane=BULK)
        async def chart_analysis(self, request: SymbolRequest) -> ChartAnalysis: ...

    chart = await run_step(AnalysisActivities.chart_analysis, SymbolRequest(symbol=...))

`@step` registers the method as a Temporal activity under the method's own name
(the name running workflows depend on), with its retry preset and, for a broker
read, its lane. `run_step` reads that declaration: the preset's timeouts and
retries, local or not, and the lane's task queue. The worker builds its
activity list from the classes (`steps_of`) and puts each step on its lane.
So adding an activity touches the activity and the workflow that calls it.

A step's name is its method's name: renaming a method renames the activity,
which running workflows depend on. Do that only through a new method and the
SDK's patching (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

from ttai.temporal.lanes import Lane, lane_queue

NON_RETRYABLE_TYPES = ("UnknownSymbol", "BrokerAuthError", "BrokerSchemaError", "InvalidInput")
"""Failures no retry can fix (activities/errors.py raises them): every preset skips them."""


@dataclass(frozen=True)
class Preset:
    """How one kind of step is timed and retried: one attempt may take `timeout`,
    retries back off exponentially to `max_interval`, never past `attempts`."""

    timeout: timedelta
    attempts: int
    max_interval: timedelta
    total: timedelta | None = None
    heartbeat: timedelta | None = None
    # A cancelled caller waits for the step to end (cancelled, or finished and saved).
    wait_for_cancellation: bool = False
    also_non_retryable: tuple[str, ...] = ()
    local: bool = False  # a local activity: pure computation, recorded as a marker

    def options(self) -> dict[str, Any]:
        """Keyword arguments for `workflow.execute_(local_)activity`."""
        options: dict[str, Any] = {
            "start_to_close_timeout": self.timeout,
            "retry_policy": RetryPolicy(
                initial_interval=timedelta(seconds=1),
                backoff_coefficient=2.0,
                maximum_interval=self.max_interval,
                maximum_attempts=self.attempts,
                non_retryable_error_types=[*NON_RETRYABLE_TYPES, *self.also_non_retryable],
            ),
        }
        if self.total is not None:
            options["schedule_to_close_timeout"] = self.total
        if self.heartbeat is not None:
            options["heartbeat_timeout"] = self.heartbeat
        if self.wait_for_cancellation:
            options["cancellation_type"] = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
        return options


SECONDS = timedelta(seconds=1)

BROKER = Preset(timeout=30 * SECONDS, attempts=6, max_interval=30 * SECONDS)
"""Broker reads: short, retried with backoff, never forever."""

DURABLE = Preset(timeout=30 * SECONDS, attempts=20, max_interval=timedelta(minutes=1))
"""Database writes and deliveries: idempotent, so retried longer."""

COMPUTE = Preset(timeout=10 * SECONDS, attempts=3, max_interval=5 * SECONDS, local=True)
"""Pure computation as a local activity: nothing to retry for long."""

CALENDAR = Preset(timeout=30 * SECONDS, attempts=3, max_interval=10 * SECONDS, local=True)
"""The market calendar (a local activity): a few quick tries; the caller carries on without it."""

CHECK = Preset(timeout=20 * SECONDS, total=60 * SECONDS, attempts=3, max_interval=10 * SECONDS)
"""A loop's check: retried briefly, then counted as failed; the next interval tries again,
so a broker outage never piles up attempts."""

UPDATE = Preset(
    timeout=10 * SECONDS, attempts=3, max_interval=2 * SECONDS, also_non_retryable=("UnknownAlert",)
)
"""Steps behind a person's request: a caller is waiting, so fail fast with a clear error."""

READ = Preset(timeout=15 * SECONDS, attempts=3, max_interval=2 * SECONDS)
"""Reads behind a person's request (portfolio, latest reports): a database that is down
is a clear error within seconds."""

COMMAND = Preset(
    timeout=60 * SECONDS,
    attempts=3,
    max_interval=5 * SECONDS,
    also_non_retryable=("UnknownNotification", "AlreadyDelivered"),
)
"""A command a person runs on the outbox: a few quick attempts; a retry's sends are
idempotent per channel, so a repeated attempt sends nothing twice."""

SYMBOL = Preset(
    timeout=60 * SECONDS,
    attempts=6,
    max_interval=30 * SECONDS,
    heartbeat=10 * SECONDS,
    wait_for_cancellation=True,
)
"""A screen's one symbol: the whole analysis and the save. A long analysis heartbeats
(activities/heartbeats.py): a dead worker's symbol is retried after 10 s, and cancelling
the screen reaches it; the screen waits for its running symbols to end, so its result
holds exactly what was saved."""

BATCH = Preset(
    timeout=timedelta(minutes=5),
    attempts=6,
    max_interval=30 * SECONDS,
    heartbeat=10 * SECONDS,
    wait_for_cancellation=True,
)
"""A screen's batch of symbols, one after the other; cancelled, it returns what it finished."""


STREAM = Preset(
    timeout=timedelta(hours=24),
    attempts=5,
    max_interval=10 * SECONDS,
    heartbeat=10 * SECONDS,
    wait_for_cancellation=True,
)
"""A long-running stream (the price monitor's quotes): it heartbeats every second, so a
dead worker's stream is retried on another within 10 s, resuming from its last
heartbeat; a broker that keeps failing ends it after a few attempts (about 15 s of
retries) and the caller falls back to polling. Cancelled, it returns where it stood."""


@dataclass(frozen=True)
class Step:
    """An activity's whole contract: its name, its preset and its lane (None: the main queue)."""

    name: str
    preset: Preset
    lane: Lane | None = None


_STEP = "__ttai_step__"
F = TypeVar("F", bound=Callable[..., Any])
A = TypeVar("A")
R = TypeVar("R")


def step(preset: Preset, *, lane: Lane | None = None) -> Callable[[F], F]:
    """Declare an activity method: registered under its own name, called with `preset`,
    on `lane`'s task queue when it reads the broker."""

    def declare(fn: F) -> F:
        return _declared(fn, Step(fn.__name__, preset, lane))

    return declare


def same_step_as(real: Callable[..., Any]) -> Callable[[F], F]:
    """Declare a stand-in for the declared activity `real` (a test's fake): same
    name, preset and lane, so workflows and the worker treat it as the real one."""

    def declare(fn: F) -> F:
        return _declared(fn, declared(real))

    return declare


def _declared(fn: F, spec: Step) -> F:
    setattr(fn, _STEP, spec)
    return activity.defn(name=spec.name)(fn)


def declared(fn: Callable[..., Any]) -> Step:
    """The declaration of the activity `fn` (a function or a bound method)."""
    spec = getattr(fn, _STEP, None)
    if not isinstance(spec, Step):
        raise TypeError(f"{getattr(fn, '__qualname__', fn)!r} is not declared with @step")
    return spec


def steps_of(*holders: object) -> list[Callable[..., Any]]:
    """Every declared activity of these objects, bound to them: the worker's activity list."""
    return [
        getattr(holder, name)
        for holder in holders
        for name in dir(type(holder))
        if isinstance(getattr(getattr(type(holder), name, None), _STEP, None), Step)
    ]


async def run_step(fn: Callable[[Any, A], Awaitable[R]], arg: A, **options: Any) -> R:
    """Call the declared activity `fn` from a workflow, as its declaration says;
    `options` add to it (an activity ID, a summary)."""
    spec = declared(fn)
    options = spec.preset.options() | options
    if spec.preset.local:
        return await workflow.execute_local_activity_method(fn, arg, **options)
    if spec.lane is not None:
        options.setdefault("task_queue", lane_queue(workflow.info().task_queue, spec.lane))
    return await workflow.execute_activity_method(fn, arg, **options)
