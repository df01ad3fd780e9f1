"""Reports: run one now, and the schedules that run them (apply, list, describe,
pause, unpause, trigger, backfill, delete).

- `run_report`: starts the kind's report workflow directly, with a fresh ID
  `report-<kind>-now-<random>` and "as of" now (or the `as_of` given). Not a
  schedule trigger, on purpose: it works whether or not the schedules are
  applied or paused, is never skipped by the schedule's overlap policy, and
  returns the workflow's ID and result. It checks the calendar like a
  scheduled run (a closed market ends as "skipped"), saves under its own ID
  and notifies unless `notify` is false. `trigger_schedule` makes the
  schedule itself fire. (The latest saved reports: `ttai.ops.commands`.)
- The schedule operations are those of `temporal schedule ...`, with names
  checked and ranges validated before anything is sent. A schedule is named by
  its ID (`report-end-of-day`) or without the prefix (`end-of-day`). The specs
  themselves live in `ttai.temporal.schedules` (imported when an operation
  runs: it needs the Temporal client's classes).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, Field

from ttai.domain.market_calendar import NEW_YORK
from ttai.models.common import Model
from ttai.models.reports import (
    REPORT_WORKFLOWS,
    SCHEDULE_IDS,
    ReportInput,
    ReportKind,
    ReportResult,
)
from ttai.ops import calls
from ttai.ops.calls import TaskRef
from ttai.ops.connection import Connection
from ttai.ops.errors import InvalidInput, NotFound, OperationFailed, translated

if TYPE_CHECKING:
    from temporalio.client import ScheduleDescription, ScheduleHandle

# A month of runs at most: a mistyped year must not start hundreds of reports.
MAX_BACKFILL = timedelta(days=31)
NEXT_TIMES = 5

Outcome = Literal["created", "updated", "unchanged"]
ScheduleState = Literal["active", "paused", "not applied"]


class RunReportInput(Model):
    kind: ReportKind
    as_of: AwareDatetime | None = Field(
        default=None, description="Report as of this instant (default: now)."
    )
    notify: bool = Field(default=True, description="Send it to the channels, as scheduled.")


class ReportRun(Model):
    task: TaskRef
    result: ReportResult | None = Field(default=None, description="None when not waited for.")


class SchedulesApplied(Model):
    outcomes: dict[str, Outcome]


class ScheduleRow(Model):
    schedule_id: str
    status: ScheduleState
    next: datetime | None = Field(default=None, description="The next run, if applied.")
    actions_taken: int | None = None
    description: str


class ScheduleList(Model):
    schedules: list[ScheduleRow]


class RecentAction(Model):
    scheduled_at: datetime
    workflow_id: str | None


class ScheduleDetails(Model):
    schedule_id: str
    paused: bool
    note: str | None
    time_zone: str | None
    skipped_days: list[str] = Field(description="The closures the schedule skips.")
    next_action_times: list[datetime]
    recent_actions: list[RecentAction]
    actions_taken: int


class ScheduleChanged(Model):
    schedule_id: str
    action: Literal["paused", "unpaused", "triggered", "deleted", "backfilling"]
    start: datetime | None = Field(default=None, description="backfill: the first time run.")
    end: datetime | None = Field(default=None, description="backfill: the last time run.")


def schedule_id(name: str) -> str:
    """`report-end-of-day`, or `end-of-day` for short; anything else is InvalidInput."""
    full = name if name.startswith("report-") else f"report-{name}"
    if full not in SCHEDULE_IDS.values():
        known = ", ".join(SCHEDULE_IDS.values())
        raise InvalidInput(f"unknown schedule {name!r}: expected one of {known}")
    return full


def _missing(sid: str) -> str:
    return f"schedule {sid} does not exist: run `starter.py schedules apply`"


async def _handle(conn: Connection, name: str) -> tuple[str, ScheduleHandle]:
    sid = schedule_id(name)  # before connecting: bad names fail fast
    client = await conn.client()
    return sid, client.get_schedule_handle(sid)


async def apply_schedules(conn: Connection) -> SchedulesApplied:
    """Create the three schedules, or update them in place where they differ."""
    from ttai.temporal.schedules import ScheduleSetupError
    from ttai.temporal.schedules import apply_schedules as apply

    client = await conn.client()
    with translated("schedules"):
        try:
            outcomes = await apply(client, conn.settings)
        except ScheduleSetupError as err:
            raise OperationFailed(str(err)) from None
    return SchedulesApplied(outcomes=outcomes)


def _details(desc: ScheduleDescription) -> ScheduleDetails:
    from temporalio.client import ScheduleActionExecutionStartWorkflow

    state = desc.schedule.state
    return ScheduleDetails(
        schedule_id=desc.id,
        paused=state.paused,
        note=state.note,
        time_zone=desc.schedule.spec.time_zone_name,
        skipped_days=[s.comment or "" for s in desc.schedule.spec.skip],
        next_action_times=desc.info.next_action_times[:NEXT_TIMES],
        recent_actions=[
            RecentAction(
                scheduled_at=a.scheduled_at,
                workflow_id=a.action.workflow_id
                if isinstance(a.action, ScheduleActionExecutionStartWorkflow)
                else None,
            )
            for a in desc.info.recent_actions
        ],
        actions_taken=desc.info.num_actions,
    )


async def list_schedules(conn: Connection) -> ScheduleList:
    """The three schedules, each active, paused or not applied."""
    from ttai.temporal.schedules import SCHEDULES

    client = await conn.client()
    rows = []
    for report in SCHEDULES:
        handle = client.get_schedule_handle(report.schedule_id)
        try:
            with translated(report.schedule_id, not_found=_missing(report.schedule_id)):
                details = _details(await handle.describe())
        except NotFound:
            rows.append(
                ScheduleRow(
                    schedule_id=report.schedule_id,
                    status="not applied",
                    description=report.description,
                )
            )
            continue
        rows.append(
            ScheduleRow(
                schedule_id=report.schedule_id,
                status="paused" if details.paused else "active",
                next=details.next_action_times[0] if details.next_action_times else None,
                actions_taken=details.actions_taken,
                description=report.description,
            )
        )
    return ScheduleList(schedules=rows)


async def describe_schedule(conn: Connection, name: str) -> ScheduleDetails:
    sid, handle = await _handle(conn, name)
    with translated(sid, not_found=_missing(sid)):
        return _details(await handle.describe())


async def _change(
    conn: Connection,
    name: str,
    action: Literal["paused", "unpaused", "triggered", "deleted"],
    note: str | None = None,
) -> ScheduleChanged:
    sid, handle = await _handle(conn, name)
    with translated(sid, not_found=_missing(sid)):
        if action == "paused":
            await handle.pause(note=note)
        elif action == "unpaused":
            await handle.unpause(note=note)
        elif action == "triggered":
            await handle.trigger()
        else:
            await handle.delete()
    return ScheduleChanged(schedule_id=sid, action=action)


async def pause_schedule(conn: Connection, name: str, note: str | None = None) -> ScheduleChanged:
    return await _change(conn, name, "paused", note)


async def unpause_schedule(conn: Connection, name: str, note: str | None = None) -> ScheduleChanged:
    return await _change(conn, name, "unpaused", note)


async def trigger_schedule(conn: Connection, name: str) -> ScheduleChanged:
    """Run the schedule's report now (skipped if a run is still in progress)."""
    return await _change(conn, name, "triggered")


async def delete_schedule(conn: Connection, name: str) -> ScheduleChanged:
    """Delete it (`apply_schedules` recreates it)."""
    return await _change(conn, name, "deleted")


def parse_instant(text: str, *, end: bool) -> datetime:
    """A date means the whole day in New York (TO inclusive); naive times are New York."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"invalid time {text!r}: expected YYYY-MM-DD or an ISO time"
            ) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=NEW_YORK)
    return datetime.combine(day + timedelta(days=1) if end else day, time(0), NEW_YORK)


def backfill_range(start: str, end: str, now: datetime) -> tuple[datetime, datetime]:
    first, last = parse_instant(start, end=False), parse_instant(end, end=True)
    if last <= first:
        raise InvalidInput(f"backfill range is inverted or empty: {start} .. {end}")
    if last - first > MAX_BACKFILL:
        raise InvalidInput(
            f"backfill range {start} .. {end} is longer than {MAX_BACKFILL.days} days: "
            "split it into smaller ranges"
        )
    if first > now:
        raise InvalidInput(f"backfill range starts in the future ({start}): nothing was missed yet")
    return first, min(last, now)


async def backfill_schedule(
    conn: Connection, name: str, start: str, end: str, *, now: datetime | None = None
) -> ScheduleChanged:
    """Run the reports the schedule missed from START to END (dates are whole New
    York days, END inclusive), one after the other, at most 31 days."""
    sid = schedule_id(name)
    first, last = backfill_range(start, end, now or datetime.now(UTC))
    from temporalio.client import ScheduleBackfill, ScheduleOverlapPolicy

    _, handle = await _handle(conn, sid)
    # The server's start is exclusive: a second earlier makes FROM inclusive.
    # Buffer, not skip: each missed run happens, one after another.
    backfill = ScheduleBackfill(
        start_at=first - timedelta(seconds=1), end_at=last, overlap=ScheduleOverlapPolicy.BUFFER_ALL
    )
    with translated(sid, not_found=_missing(sid)):
        await handle.backfill(backfill)
    return ScheduleChanged(schedule_id=sid, action="backfilling", start=first, end=last)


async def run_report(
    conn: Connection,
    request: RunReportInput,
    *,
    wait: bool = True,
    cancel_if_abandoned: bool = False,
) -> ReportRun:
    """Build (save, notify) a report of `request.kind` now; with `wait`, return its result."""
    from ttai.temporal.schedules import EXECUTION_TIMEOUT

    handle, task = await calls.start(
        conn,
        REPORT_WORKFLOWS[request.kind],
        ReportInput(as_of=request.as_of, notify=request.notify),
        workflow_id=calls.new_id(f"{SCHEDULE_IDS[request.kind]}-now"),
        result_type=ReportResult,
        execution_timeout=EXECUTION_TIMEOUT,
    )
    if not wait:
        return ReportRun(task=task)
    result = await calls.wait_result(handle, cancel_if_abandoned=cancel_if_abandoned)
    return ReportRun(task=task, result=result)
