"""Re-record the report workflows' replay histories (on purpose, after a deliberate change).

    .venv/bin/python tests/histories/record_reports.py

Runs each case on the time-skipping server with the real workflow code and
stand-in activities (same names, the known test portfolio through the real
builders), and writes tests/histories/<WorkflowType>-<case>.json.
tests/test_reports_replay.py replays them: a workflow change that would
break runs already in flight fails there.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from temporalio import activity  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from activities.reports import market_day, week_start  # noqa: E402
from tests.history_files import write_history  # noqa: E402
from tests.reports_portfolio import BALANCES, METRICS, POSITIONS, new_york  # noqa: E402
from ttai.models.notifications import NotifyResult  # noqa: E402
from ttai.models.reports import (  # noqa: E402
    MarketDay,
    MarketDayRequest,
    NotifyReportRequest,
    Report,
    ReportInput,
    ReportRequest,
    SaveReportRequest,
    SaveReportResult,
)
from ttai.reports import content, markdown  # noqa: E402
from ttai.temporal_client import data_converter  # noqa: E402
from worker import build_worker  # noqa: E402
from workflows.reports import (  # noqa: E402
    REPORT_WORKFLOWS,
    EndOfDaySummaryWorkflow,
    MorningBriefingWorkflow,
    WeeklyReviewWorkflow,
)

HERE = Path(__file__).resolve().parent


def _report(request: ReportRequest, body, render) -> Report:  # type: ignore[no-untyped-def]
    return Report(
        kind=request.kind,
        as_of=request.as_of,
        day=request.day,
        title=markdown.title(request.kind, request.day),
        markdown=render(body),
        content=body,
    )


@activity.defn(name="report_market_day")
async def fake_market_day(request: MarketDayRequest) -> MarketDay:
    return market_day(request)


@activity.defn(name="build_morning_briefing")
async def fake_briefing(request: ReportRequest) -> Report:
    body = content.morning_briefing(POSITIONS, METRICS, [], request.day)
    return _report(request, body, markdown.render_morning_briefing)


@activity.defn(name="build_end_of_day_summary")
async def fake_summary(request: ReportRequest) -> Report:
    body = content.end_of_day(POSITIONS, BALANCES, 74_000, [], [], request.early_close)
    return _report(request, body, markdown.render_end_of_day)


@activity.defn(name="build_weekly_review")
async def fake_review(request: ReportRequest) -> Report:
    monday = week_start(request.day)
    body = content.weekly_review(monday, request.day, [], [], [], POSITIONS, BALANCES, None, None)
    return _report(request, body, markdown.render_weekly_review)


@activity.defn(name="save_report")
async def fake_save(request: SaveReportRequest) -> SaveReportResult:
    return SaveReportResult(report_id=1, created=True)


@activity.defn(name="notify_report")
async def fake_notify(request: NotifyReportRequest) -> NotifyResult:
    return NotifyResult(notification_id=1, delivered=True, duplicate=False)


FAKE_ACTIVITIES = [
    fake_market_day,
    fake_briefing,
    fake_summary,
    fake_review,
    fake_save,
    fake_notify,
]

CASES: list[tuple[type, str, datetime]] = [
    (MorningBriefingWorkflow, "reported", new_york(date(2026, 12, 1), 9, 30)),
    (MorningBriefingWorkflow, "market-closed", new_york(date(2026, 12, 25), 9, 30)),
    (EndOfDaySummaryWorkflow, "early-close", new_york(date(2026, 11, 27), 16)),
    (WeeklyReviewWorkflow, "reported", new_york(date(2026, 12, 4), 17)),
]


async def main() -> None:
    test_server = Path(sys.executable).parent / "temporal-test-server"
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server), data_converter=data_converter()
    )
    try:
        async with build_worker(
            env.client,
            None,
            "record-reports",
            workflows=REPORT_WORKFLOWS,
            activities=FAKE_ACTIVITIES,
        ):
            for workflow, case, as_of in CASES:
                name = f"{workflow.__temporal_workflow_definition.name}-{case}"  # type: ignore[attr-defined]
                handle = await env.client.start_workflow(
                    workflow.run,  # type: ignore[attr-defined]
                    ReportInput(as_of=as_of),
                    id=f"record-{name}",
                    task_queue="record-reports",
                )
                await handle.result()
                history = await handle.fetch_history()
                write_history(HERE / f"{name}.json", history)
                print(f"wrote {name}.json")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # The SDK runtime can abort the interpreter while it finalises (sdk-python#300).
    os._exit(0)
