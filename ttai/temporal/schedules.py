"""The three report schedules: specs, and `apply_schedules` (create or update in place).

Calendar times are read in America/New_York, so the UTC instants move by an
hour when daylight saving starts or ends. The daily reports skip the NYSE
closures from January 1 of this year to December 31 of next year (computed
from `ttai.domain.market_calendar`; the list only changes when the year turns, so
applying twice changes nothing, and `schedules apply` refreshes it). The
workflows check the calendar again as their first step.

Catch-up window: 10 minutes. A run missed by a minute (a server restart)
still fires; a briefing missed three days ago while the stack was down does
not. Overlap: skip, so a slow report never queues a second one behind it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from ttai.config import Settings
from ttai.domain import market_calendar
from ttai.models.reports import REPORT_WORKFLOWS, SCHEDULE_IDS, ReportInput, ReportKind
from ttai.temporal import search_attributes

TIME_ZONE = "America/New_York"
CATCHUP_WINDOW = timedelta(minutes=10)
# Bounds one report run (its activities retry for a few minutes at most) so a
# stuck run cannot hold the overlap policy's slot for the next day.
EXECUTION_TIMEOUT = timedelta(hours=1)
NOTE = "managed by `starter.py schedules apply`"

# Temporal's day_of_week: 0 = Sunday.
MONDAY_TO_FRIDAY = ScheduleRange(1, 5)
FRIDAY = ScheduleRange(5)


@dataclass(frozen=True)
class ReportSchedule:
    schedule_id: str
    workflow: str
    hour: int
    minute: int
    days: ScheduleRange
    skip_closures: bool
    description: str
    kind: ReportKind


SCHEDULES: tuple[ReportSchedule, ...] = (
    ReportSchedule(
        SCHEDULE_IDS["morning_briefing"],
        REPORT_WORKFLOWS["morning_briefing"],
        9,
        30,
        MONDAY_TO_FRIDAY,
        skip_closures=True,
        description="Morning briefing, 9:30 ET on trading days",
        kind="morning_briefing",
    ),
    ReportSchedule(
        SCHEDULE_IDS["end_of_day"],
        REPORT_WORKFLOWS["end_of_day"],
        16,
        0,
        MONDAY_TO_FRIDAY,
        skip_closures=True,
        description="End-of-day summary, 16:00 ET on trading days (early closes included)",
        kind="end_of_day",
    ),
    # Not skipped on a Friday holiday: the workflow still reviews the week.
    ReportSchedule(
        SCHEDULE_IDS["weekly_review"],
        REPORT_WORKFLOWS["weekly_review"],
        17,
        0,
        FRIDAY,
        skip_closures=False,
        description="Weekly review, Friday 17:00 ET",
        kind="weekly_review",
    ),
)

Outcome = Literal["created", "updated", "unchanged"]


class ScheduleSetupError(Exception):
    """The namespace cannot host the schedules (e.g. search attributes missing)."""


def skip_window(today: date) -> tuple[date, date]:
    return date(today.year, 1, 1), date(today.year + 1, 12, 31)


def closure_skips(start: date, end: date) -> list[ScheduleCalendarSpec]:
    """One whole-day calendar entry per NYSE weekday closure."""
    return [
        ScheduleCalendarSpec(
            year=[ScheduleRange(day.year)],
            month=[ScheduleRange(day.month)],
            day_of_month=[ScheduleRange(day.day)],
            # Hour/minute/second default to 0: without full ranges only midnight is skipped.
            hour=[ScheduleRange(0, 23)],
            minute=[ScheduleRange(0, 59)],
            second=[ScheduleRange(0, 59)],
            comment=f"NYSE closed {day.isoformat()}",
        )
        for day in market_calendar.closed_weekdays(start, end)
    ]


def schedule_spec(report: ReportSchedule, today: date) -> ScheduleSpec:
    return ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(
                day_of_week=[report.days],
                hour=[ScheduleRange(report.hour)],
                minute=[ScheduleRange(report.minute)],
                second=[ScheduleRange(0)],
                comment=report.description,
            )
        ],
        skip=closure_skips(*skip_window(today)) if report.skip_closures else [],
        time_zone_name=TIME_ZONE,
    )


def build_schedule(report: ReportSchedule, task_queue: str, today: date) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            report.workflow,
            ReportInput(),
            # The schedule appends the scheduled time: one workflow ID per run.
            id=report.schedule_id,
            task_queue=task_queue,
            execution_timeout=EXECUTION_TIMEOUT,
        ),
        spec=schedule_spec(report, today),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(note=NOTE),
    )


async def check_search_attributes(client: Client) -> None:
    """Fail setup with the fix spelled out, not the first analysis a schedule leads to.

    The dev server registers them from flags (`make run`); a remote namespace
    needs `ttai.temporal.search_attributes.register` or the printed CLI command once.
    """
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = [k for k in search_attributes.ALL if k.name not in listed.custom_attributes]
    if missing:
        names = ", ".join(k.name for k in missing)
        flags = " ".join(
            f"--name {k.name} --type {k.indexed_value_type.name.title()}" for k in missing
        )
        raise ScheduleSetupError(
            f"namespace {client.namespace!r} lacks the search attributes {names}: "
            f"add them with `temporal operator search-attribute create {flags}`"
        )


async def apply_schedules(
    client: Client, settings: Settings, *, today: date | None = None
) -> dict[str, Outcome]:
    """Create the three schedules, or update them in place where they differ.

    Idempotent: an existing schedule that already matches is not touched, and
    an update keeps its paused state and note.
    """
    await check_search_attributes(client)
    today = today or market_calendar.new_york_date(datetime.now(UTC))
    outcomes: dict[str, Outcome] = {}
    for report in SCHEDULES:
        desired = build_schedule(report, settings.task_queue, today)
        try:
            await client.create_schedule(report.schedule_id, desired)
            outcomes[report.schedule_id] = "created"
            continue
        except ScheduleAlreadyRunningError:
            pass
        handle = client.get_schedule_handle(report.schedule_id)
        current = await handle.describe()
        if await fingerprint(current.schedule, client) == await fingerprint(desired, client):
            outcomes[report.schedule_id] = "unchanged"
            continue

        def keep_state(update: ScheduleUpdateInput, desired: Schedule = desired) -> ScheduleUpdate:
            state = update.description.schedule.state
            return ScheduleUpdate(
                dataclasses.replace(
                    desired, state=ScheduleState(note=state.note, paused=state.paused)
                )
            )

        await handle.update(keep_state)
        outcomes[report.schedule_id] = "updated"
    return outcomes


def _ranges(ranges: Sequence[ScheduleRange]) -> tuple[tuple[int, int, int], ...]:
    # The server fills in end and step; compare the meaning, not the spelling.
    return tuple((r.start, max(r.end, r.start), r.step or 1) for r in ranges)


def _calendar(spec: ScheduleCalendarSpec) -> tuple[Any, ...]:
    fields = ("second", "minute", "hour", "day_of_month", "month", "year", "day_of_week")
    return (*(_ranges(getattr(spec, name)) for name in fields), spec.comment or "")


async def fingerprint(schedule: Schedule, client: Client) -> tuple[Any, ...]:
    """What apply controls, in a form equal for equal schedules, described or built."""
    action = schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow):
        return ("not a start-workflow action",)  # never equal to ours: apply replaces it
    args = action.args
    if args and not isinstance(args[0], ReportInput):
        args = await client.data_converter.decode(args, [ReportInput])  # type: ignore[arg-type]
    spec = schedule.spec
    return (
        tuple(_calendar(c) for c in spec.calendars),
        tuple(_calendar(c) for c in spec.skip),
        spec.time_zone_name,
        spec.start_at,
        spec.end_at,
        action.workflow,
        action.id,
        action.task_queue,
        action.execution_timeout,
        tuple(args),
        schedule.policy.overlap,
        schedule.policy.catchup_window,
    )
