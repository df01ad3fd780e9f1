"""The report schedules on a real dev server: apply (idempotent, in place),
next action times across holidays and DST, trigger and backfill end to end."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import pytest_asyncio
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleHandle,
    ScheduleOverlapPolicy,
)
from temporalio.service import RPCError

from tests.helpers.reports_portfolio import FakeBroker
from tests.helpers.waiting import eventually
from ttai.config import Settings
from ttai.models.reports import SCHEDULE_IDS, ReportResult
from ttai.notify.outbox import Outbox
from ttai.servers.temporal_server import TemporalDevServer
from ttai.services import Services
from ttai.temporal.client import data_converter
from ttai.temporal.schedules import (
    SCHEDULES,
    ScheduleSetupError,
    apply_schedules,
    build_schedule,
)
from worker import build_worker

NY = ZoneInfo("America/New_York")
TODAY = date(2026, 11, 26)  # the skip list then covers 2026-01-01 .. 2027-12-31


async def delete_ours(client: Client) -> None:
    for sid in SCHEDULE_IDS.values():
        with contextlib.suppress(RPCError):
            await client.get_schedule_handle(sid).delete()


@pytest_asyncio.fixture(loop_scope="session")
async def clean(client: Client) -> AsyncIterator[Client]:
    """The fixed IDs are namespace-wide: start and end without them."""
    await delete_ours(client)
    try:
        yield client
    finally:
        await delete_ours(client)


async def test_apply_twice_leaves_exactly_three_schedules_with_the_right_specs(
    clean: Client,
) -> None:
    client = clean
    settings = Settings(task_queue="tq-reports")
    first = await apply_schedules(client, settings, today=TODAY)
    assert first == dict.fromkeys(SCHEDULE_IDS.values(), "created")
    before = {
        sid: await client.get_schedule_handle(sid).describe() for sid in SCHEDULE_IDS.values()
    }
    second = await apply_schedules(client, settings, today=TODAY)
    assert second == dict.fromkeys(SCHEDULE_IDS.values(), "unchanged")

    async def listed() -> list[str]:
        return sorted([s.id async for s in await client.list_schedules()])

    await eventually(
        listed,
        what="the three schedules listed",
        until=lambda ids: ids == sorted(SCHEDULE_IDS.values()),
    )

    expected = {
        "report-morning-briefing": ("MorningBriefingWorkflow", 9, 30, (1, 5), True),
        "report-end-of-day": ("EndOfDaySummaryWorkflow", 16, 0, (1, 5), True),
        "report-weekly-review": ("WeeklyReviewWorkflow", 17, 0, (5, 5), False),
    }
    for sid, (workflow, hour, minute, days, skips) in expected.items():
        desc = await client.get_schedule_handle(sid).describe()
        assert desc.info.last_updated_at == before[sid].info.last_updated_at  # untouched
        spec = desc.schedule.spec
        assert spec.time_zone_name == "America/New_York"
        [cal] = spec.calendars
        assert [(r.start, r.end) for r in cal.hour] == [(hour, hour)]
        assert [(r.start, r.end) for r in cal.minute] == [(minute, minute)]
        assert [(r.start, r.end) for r in cal.second] == [(0, 0)]
        assert [(r.start, r.end) for r in cal.day_of_week] == [days]
        skipped = {
            date(s.year[0].start, s.month[0].start, s.day_of_month[0].start) for s in spec.skip
        }
        if skips:
            # Known NYSE closures, whole days.
            assert {date(2026, 12, 25), date(2027, 1, 1), date(2027, 3, 26)} <= skipped
            assert all((s.hour[0].start, s.hour[0].end) == (0, 23) for s in spec.skip)
            assert all((s.minute[0].end, s.second[0].end) == (59, 59) for s in spec.skip)
            assert date(2026, 11, 27) not in skipped  # an early close is a session
        else:
            assert skipped == set()
        assert desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        assert desc.schedule.policy.catchup_window == timedelta(minutes=10)
        assert not desc.schedule.policy.pause_on_failure  # a failed report does not stop it
        action = desc.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.id, action.task_queue) == (workflow, sid, "tq-reports")


async def test_apply_updates_in_place_and_keeps_a_pause(clean: Client) -> None:
    client = clean
    await apply_schedules(client, Settings(task_queue="tq-a"), today=TODAY)
    handle = client.get_schedule_handle("report-end-of-day")
    await handle.pause(note="holiday week")
    outcome = await apply_schedules(client, Settings(task_queue="tq-b"), today=TODAY)
    assert outcome == dict.fromkeys(SCHEDULE_IDS.values(), "updated")
    desc = await handle.describe()
    assert isinstance(desc.schedule.action, ScheduleActionStartWorkflow)
    assert desc.schedule.action.task_queue == "tq-b"
    assert desc.schedule.state.paused and desc.schedule.state.note == "holiday week"


async def next_times(client: Client, schedule_id: str, start: datetime) -> list[datetime]:
    """The applied spec, starting at `start`, under a throwaway ID."""
    (report,) = (s for s in SCHEDULES if s.schedule_id == schedule_id)
    schedule = build_schedule(report, "tq-none", TODAY)
    schedule = dataclasses.replace(
        schedule, spec=dataclasses.replace(schedule.spec, start_at=start)
    )
    handle = await client.create_schedule(f"test-{schedule_id}-{uuid.uuid4().hex[:8]}", schedule)
    try:
        return (await handle.describe()).info.next_action_times
    finally:
        await handle.delete()


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY).astimezone(UTC)


async def test_next_action_times_skip_holidays(client: Client) -> None:
    days = [date(2026, 12, d) for d in (21, 22, 23, 24, 28)]  # Fri 25 Dec: closed
    times = await next_times(client, "report-end-of-day", ny(date(2026, 12, 21), 0))
    assert times[:5] == [ny(d, 16) for d in days]  # Thu 24 Dec closes early: still runs

    days = [date(2026, 12, 31), date(2027, 1, 4)]  # Fri 1 Jan 2027: closed
    times = await next_times(client, "report-morning-briefing", ny(date(2026, 12, 31), 0))
    assert times[:2] == [ny(d, 9, 30) for d in days]


async def test_next_action_times_move_an_hour_in_utc_across_dst(client: Client) -> None:
    # DST starts Sunday 14 March 2027: 9:30 ET is 14:30 UTC before, 13:30 UTC after.
    times = await next_times(client, "report-morning-briefing", ny(date(2027, 3, 11), 0))
    assert times[:3] == [
        datetime(2027, 3, 11, 14, 30, tzinfo=UTC),
        datetime(2027, 3, 12, 14, 30, tzinfo=UTC),
        datetime(2027, 3, 15, 13, 30, tzinfo=UTC),
    ]
    # DST ends Sunday 7 November 2027: 16:00 ET is 20:00 UTC before, 21:00 UTC after.
    times = await next_times(client, "report-end-of-day", ny(date(2027, 11, 5), 0))
    assert times[:2] == [
        datetime(2027, 11, 5, 20, 0, tzinfo=UTC),
        datetime(2027, 11, 8, 21, 0, tzinfo=UTC),
    ]
    # The weekly review still runs on Good Friday (26 March 2027), at 17:00 EDT.
    times = await next_times(client, "report-weekly-review", ny(date(2027, 3, 22), 0))
    assert times[:2] == [
        datetime(2027, 3, 26, 21, 0, tzinfo=UTC),
        datetime(2027, 4, 2, 21, 0, tzinfo=UTC),
    ]


async def started_runs(handle: ScheduleHandle, count: int) -> list[str]:
    async def ids() -> list[str]:
        actions = (await handle.describe()).info.recent_actions
        return [
            a.action.workflow_id
            for a in actions
            if isinstance(a.action, ScheduleActionExecutionStartWorkflow)
        ]

    return await eventually(
        ids, what=f"{count} runs started by {handle.id}", until=lambda found: len(found) >= count
    )


async def test_trigger_runs_the_report_which_saves_and_notifies_once(
    clean: Client, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    client = clean
    settings = Settings(task_queue=task_queue)
    await apply_schedules(client, settings)
    broker = FakeBroker(datetime.now(UTC))
    services = Services(settings=settings, pool=db_pool, broker=broker, outbox=Outbox(db_pool, []))
    handle = client.get_schedule_handle("report-weekly-review")
    async with build_worker(client, services, task_queue):
        await handle.trigger()
        [workflow_id] = await started_runs(handle, 1)
        result = await client.get_workflow_handle(workflow_id, result_type=ReportResult).result()
    assert workflow_id.startswith("report-weekly-review-")
    if result.status == "skipped":  # a week with no session so far (a Monday holiday)
        pytest.skip("no NYSE session yet this week: the trigger correctly skipped")
    reports = await db_pool.fetch("SELECT workflow_id, kind FROM reports")
    assert [(r["workflow_id"], r["kind"]) for r in reports] == [(workflow_id, "weekly_review")]
    notes = await db_pool.fetch("SELECT idempotency_key FROM notifications")
    assert [n["idempotency_key"] for n in notes] == [f"report:{workflow_id}"]


async def test_backfill_reports_the_day_it_stands_for(
    clean: Client, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A run backfilled for a past Friday reports that Friday, not today."""
    client = clean
    settings = Settings(task_queue=task_queue)
    await apply_schedules(client, settings)
    friday = date(2026, 11, 20)
    scheduled = ny(friday, 17)
    services = Services(
        settings=settings, pool=db_pool, broker=FakeBroker(scheduled), outbox=Outbox(db_pool, [])
    )
    handle = client.get_schedule_handle("report-weekly-review")
    async with build_worker(client, services, task_queue):
        await handle.backfill(
            ScheduleBackfill(
                start_at=ny(friday, 0),
                end_at=ny(friday, 23),
                overlap=ScheduleOverlapPolicy.BUFFER_ALL,
            )
        )
        [workflow_id] = await started_runs(handle, 1)
        result = await client.get_workflow_handle(workflow_id, result_type=ReportResult).result()
    assert (result.status, result.as_of, result.day) == ("reported", scheduled, friday)


async def test_apply_refuses_a_namespace_without_the_search_attributes(
    client: Client, dev_server: TemporalDevServer
) -> None:
    namespace = f"bare-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    bare = await Client.connect(
        dev_server.address, namespace=namespace, data_converter=data_converter()
    )
    with pytest.raises(ScheduleSetupError) as err:
        await apply_schedules(bare, Settings())
    assert "lacks the search attributes TtaiSymbol" in str(err.value)
    assert "search-attribute create --name TtaiSymbol --type Keyword" in str(err.value)
