"""The monitors: status, pause/resume/check-now/stop, interval, start.

Steering is the workflows' own interface: the `status` query, the `pause`,
`resume` and `check_now` signals, the validated `set_interval` update, and a
cancel to stop (the monitor completes with its final state; `start_monitors`
brings it back). A monitor is named `portfolio`, `price-alerts`,
`position-sync` or `outbox` (the `monitor-` prefix is optional), or `all`.

A streaming price monitor's stream is read from its running activity: the last
heartbeat's details (symbols, last tick) in the workflow's description, decoded
with the client's data converter. Reading it adds nothing to any history.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, get_args

from pydantic import Field

from ttai.models.common import Model
from ttai.models.monitors import (
    CHECK_NOW_SIGNAL,
    MONITOR_IDS,
    MONITOR_TYPES,
    PAUSE_SIGNAL,
    RESUME_SIGNAL,
    SET_INTERVAL_UPDATE,
    STATUS_QUERY,
    MonitorInput,
    MonitorName,
    MonitorStatus,
    SetIntervalInput,
    StreamProgress,
)
from ttai.ops import calls
from ttai.ops.connection import Connection
from ttai.ops.errors import InvalidInput, NotFound, translated

if TYPE_CHECKING:
    from temporalio.client import WorkflowExecutionDescription

STREAM_ACTIVITY = "stream_price_alerts"  # activities/streams.py (the step's name)

SteerAction = Literal["pause", "resume", "check", "stop"]
SIGNALS: dict[str, str] = {
    "pause": PAUSE_SIGNAL,
    "resume": RESUME_SIGNAL,
    "check": CHECK_NOW_SIGNAL,
}
ALL = "all"


class StreamInfo(Model):
    """The price monitor's quote stream, as its last heartbeat says."""

    symbols: list[str] = Field(description="The symbols streamed (those of active price rules).")
    last_tick_at: datetime | None = Field(description="The last tick evaluated.")
    tick_age_seconds: float | None = Field(
        description="Seconds from the last tick to when this status was read."
    )
    ticks: int
    fired: int = Field(description="Alerts the stream fired.")
    attempt: int = Field(description="1, then 2 ... after a worker died or the broker failed.")
    worker: str = Field(description="The worker holding the stream (its identity).")


class MonitorInfo(Model):
    name: MonitorName
    workflow_id: str
    workflow_type: str
    running: bool
    status: MonitorStatus | None = Field(default=None, description="None when not running.")
    stream: StreamInfo | None = Field(
        default=None, description="The price monitor's quote stream, while it streams."
    )


class MonitorsStatus(Model):
    monitors: list[MonitorInfo]

    def not_running(self) -> list[str]:
        return [m.workflow_id for m in self.monitors if not m.running]


class SteerOutcome(Model):
    action: SteerAction
    workflow_ids: list[str] = Field(description="The monitors the action was sent to.")


class MonitorsStarted(Model):
    workflow_ids: list[str] = Field(description="All of them; running ones were kept as they are.")


def not_running(workflow_id: str) -> str:
    return f"{workflow_id} is not running: start it with `starter.py monitors start`"


def monitor_ids(name: str, *, allow_all: bool = True) -> list[str]:
    """'all' -> every monitor's ID; 'price-alerts' or 'monitor-price-alerts' -> one."""
    if allow_all and name == ALL:
        return list(MONITOR_TYPES)
    workflow_id = name if name.startswith("monitor-") else f"monitor-{name}"
    if workflow_id not in MONITOR_TYPES:
        known = ", ".join(MONITOR_IDS) + (" or all" if allow_all else "")
        raise InvalidInput(f"unknown monitor {name!r}: one of {known}")
    return [workflow_id]


def _name(workflow_id: str) -> MonitorName:
    name = workflow_id.removeprefix("monitor-")
    assert name in get_args(MonitorName)
    return name  # type: ignore[return-value]


async def _info(conn: Connection, workflow_id: str) -> MonitorInfo:
    info = MonitorInfo(
        name=_name(workflow_id),
        workflow_id=workflow_id,
        workflow_type=MONITOR_TYPES[workflow_id],
        running=False,
    )
    try:
        _, desc = await calls.describe(conn, workflow_id)
    except NotFound:
        return info
    if desc.status is None or desc.status.name != "RUNNING":
        return info
    status = await calls.query(
        conn, workflow_id, STATUS_QUERY, MonitorStatus, not_found=not_running(workflow_id)
    )
    stream = await _stream(conn, desc) if status.mode == "streaming" else None
    return info.model_copy(update={"running": True, "status": status, "stream": stream})


async def _stream(conn: Connection, desc: WorkflowExecutionDescription) -> StreamInfo | None:
    """The stream activity's last heartbeat, decoded; None when it is not running."""
    for pending in desc.raw_description.pending_activities:
        if pending.activity_type.name != STREAM_ACTIVITY:
            continue
        progress = StreamProgress()
        if pending.heartbeat_details.payloads:
            client = await conn.client()
            with translated(desc.id):
                [progress] = await client.data_converter.decode(
                    pending.heartbeat_details.payloads, [StreamProgress]
                )
        age = None
        if progress.last_tick_at is not None:
            age = round((datetime.now(UTC) - progress.last_tick_at).total_seconds(), 3)
        return StreamInfo(
            symbols=progress.symbols,
            last_tick_at=progress.last_tick_at,
            tick_age_seconds=age,
            ticks=progress.ticks,
            fired=progress.fired,
            attempt=pending.attempt,
            worker=pending.last_worker_identity,
        )
    return None


async def monitors_status(conn: Connection, name: str = ALL) -> MonitorsStatus:
    """Each named monitor's status query, or `running=False` for one that is not running."""
    ids = monitor_ids(name)
    infos = await asyncio.gather(*(_info(conn, workflow_id) for workflow_id in ids))
    return MonitorsStatus(monitors=list(infos))


async def steer(conn: Connection, name: str, action: SteerAction) -> SteerOutcome:
    """pause | resume | check (now, even paused or off hours) | stop (cancel)."""
    if action not in get_args(SteerAction):
        raise InvalidInput(f"unknown action {action!r}: one of {', '.join(get_args(SteerAction))}")
    ids = monitor_ids(name)
    for workflow_id in ids:
        if action == "stop":
            await calls.cancel(conn, workflow_id, not_found=not_running(workflow_id))
        else:
            await calls.signal(
                conn, workflow_id, SIGNALS[action], not_found=not_running(workflow_id)
            )
    return SteerOutcome(action=action, workflow_ids=ids)


async def set_interval(conn: Connection, name: str, request: SetIntervalInput) -> MonitorStatus:
    """Change one monitor's check interval (the monitor refuses one below its minimum)."""
    [workflow_id] = monitor_ids(name, allow_all=False)
    return await calls.update(
        conn,
        workflow_id,
        SET_INTERVAL_UPDATE,
        request,
        MonitorStatus,
        not_found=not_running(workflow_id),
    )


async def start_monitors(conn: Connection, request: MonitorInput | None = None) -> MonitorsStarted:
    """Start the monitors that are not running, with `request` (default: the
    monitors' own defaults, NYSE regular hours); running ones are kept."""
    from ttai.temporal.bootstrap import ensure_monitors

    inputs = dict.fromkeys(MONITOR_TYPES, request or MonitorInput())
    client = await conn.client()
    with translated("monitors"):
        ids = await ensure_monitors(client, conn.settings, inputs=inputs)
    return MonitorsStarted(workflow_ids=ids)
