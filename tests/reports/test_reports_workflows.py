"""Report workflows on the time-skipping server, with the real activities
against a fake broker (a known portfolio) and a fresh PostgreSQL database."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.reports import ReportActivities
from tests.helpers.reports_portfolio import (
    CLOSED_PUT,
    DAY,
    FakeBroker,
    analysis,
    insert_alert,
    insert_analysis,
    insert_screen,
    insert_snapshot,
    insert_trigger,
)
from tests.helpers.times import new_york
from ttai.broker.factory import open_broker
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.postgres import PostgresPaperAccount
from ttai.broker.simulated.paper.seed import STARTING_CASH
from ttai.config import Settings
from ttai.db.analyses import AnalysisStore
from ttai.db.reports import ReportStore
from ttai.models.market import Position
from ttai.models.reports import (
    EndOfDaySummary,
    MorningBriefing,
    ReportInput,
    ReportRequest,
    ReportResult,
    WeeklyReview,
)
from ttai.notify.outbox import Outbox
from ttai.services import Services
from worker import build_worker
from workflows.reports import (
    EndOfDaySummaryWorkflow,
    MorningBriefingWorkflow,
    WeeklyReviewWorkflow,
)


async def run_report(
    env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    broker: FakeBroker,
    task_queue: str,
    workflow: type,
    as_of: datetime,
    workflow_id: str | None = None,
) -> ReportResult:
    services = Services(settings=Settings(), pool=pool, broker=broker, outbox=Outbox(pool, []))
    async with build_worker(env.client, services, task_queue):
        return await env.client.execute_workflow(
            workflow.run,
            ReportInput(as_of=as_of),
            id=workflow_id or f"test-report-{uuid.uuid4()}",
            task_queue=task_queue,
        )


async def saved(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM reports ORDER BY id")


async def notifications(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM notifications WHERE kind LIKE 'report_%' ORDER BY id")


async def test_morning_briefing_content(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    as_of = new_york(DAY, 9, 30)
    await insert_alert(db_pool, "AAPL", "price_below", 150, note="add on dip")
    expired = await insert_alert(db_pool, "TSLA", "price_above", 400)
    await db_pool.execute(
        "UPDATE alert_rules SET expires_at = $2 WHERE id = $1", expired, new_york(DAY, 9, 0)
    )
    fired = await insert_alert(db_pool, "MSFT", "price_above", 500)
    await insert_trigger(db_pool, fired, new_york(DAY, 9, 0))

    result = await run_report(
        time_skipping_env, db_pool, FakeBroker(as_of), task_queue, MorningBriefingWorkflow, as_of
    )

    assert (result.status, result.kind, result.day) == ("reported", "morning_briefing", DAY)
    [row] = await saved(db_pool)
    assert row["id"] == result.report_id and row["kind"] == "morning_briefing"
    briefing = MorningBriefing.model_validate(row["content"])
    assert [p.symbol for p in briefing.positions] == [
        "AAPL", "AAPL  261204P00150000", "KO", "MSFT  270115P00300000",
    ]  # fmt: skip
    assert [(p.symbol, p.days_to_expiry) for p in briefing.expiring] == [
        ("AAPL  261204P00150000", 3)
    ]
    assert [p.symbol for p in briefing.near_the_money_puts] == ["AAPL  261204P00150000"]
    # Only the active, unexpired rule is armed.
    assert [(a.symbol, a.description) for a in briefing.armed_alerts] == [
        ("AAPL", "price at or below 150 (add on dip)")
    ]
    assert [(e.underlying, e.date, e.days_away) for e in briefing.earnings] == [
        ("AAPL", date(2026, 12, 5), 4)
    ]
    [note] = await notifications(db_pool)
    assert note["id"] == result.notification_id
    assert note["title"] == "Morning briefing 2026-12-01" == row["title"]
    assert note["body"] == row["body"]
    assert "**Open positions: 4**" in note["body"]
    assert "AAPL 150P 2026-12-04 -1 @ 1.20, 3 DTE, Δ -0.45" in note["body"]


async def test_end_of_day_summary_content(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    as_of = new_york(DAY, 16)
    await insert_snapshot(db_pool, date(2026, 11, 27), 73_000, 0)
    await insert_snapshot(db_pool, date(2026, 11, 30), 74_000, 0, {CLOSED_PUT: 1.30, "JPM": 217.9})
    await insert_analysis(db_pool, analysis("NVDA", "select", 8, new_york(DAY, 11)))
    await insert_analysis(
        db_pool, analysis("AMD", "watchlist", 5, new_york(date(2026, 11, 30), 15))
    )
    alert = await insert_alert(db_pool, "AAPL", "price_above", 159)
    await insert_trigger(db_pool, alert, new_york(DAY, 14, 5))

    result = await run_report(
        time_skipping_env, db_pool, FakeBroker(as_of), task_queue, EndOfDaySummaryWorkflow, as_of
    )

    assert result.status == "reported"
    [row] = await saved(db_pool)
    summary = EndOfDaySummary.model_validate(row["content"])
    by_symbol = {p.symbol: p.day_pnl for p in summary.positions}
    # By hand: held overnight, (mark - previous close) x quantity x multiplier;
    # traded today, from the fill.
    assert by_symbol == {
        "AAPL": 200.0,  # (160 - 158) x 100
        "AAPL  261204P00150000": 30.0,  # (1.20 - 1.50) x -1 x 100
        "MSFT  270115P00300000": -100.0,  # (3.00 - 2.50) x -2 x 100
        "KO": 10.0,  # bought today at 60, marked 61: (61 - 60) x 10
        "JPM": 120.0,  # closed: sold 50 at 220.40, previous close 218.00 (broker quote)
        CLOSED_PUT: 40.0,  # closed: bought back at 0.90, 1.30 at Monday's close (snapshot)
    }
    lines = {p.symbol: p for p in summary.positions}
    assert lines["AAPL  261204P00150000"].label == "AAPL 150P 2026-12-04"
    assert lines[CLOSED_PUT].label == "AAPL 140P 2026-12-18"
    assert (lines["JPM"].quantity, lines["JPM"].traded) == (0, -50)
    assert (lines["KO"].quantity, lines["KO"].traded) == (10, 10)
    assert summary.total_day_pnl == 300.0
    assert summary.net_liquidating_value == 75_000
    assert summary.previous_net_liquidating_value == 74_000
    assert summary.nlv_change == 1_000
    assert not summary.early_close
    assert [a.symbol for a in summary.alerts_triggered] == ["AAPL"]
    assert [a.symbol for a in summary.analyses] == ["NVDA"]  # yesterday's AMD is not today's
    # Today's NLV is recorded for tomorrow's change and the weekly review.
    snapshot = await db_pool.fetchrow("SELECT * FROM nlv_snapshots WHERE day = $1", DAY)
    assert snapshot["net_liquidating_value"] == 75_000
    # Unrealised: (160-150)x100 + (1.2-2.0)x-1x100 + (3.0-4.0)x-2x100 + (61-60)x10
    assert snapshot["unrealized_pnl"] == pytest.approx(1_000 + 80 + 200 + 10)
    # ... with each position's mark: tomorrow's previous close of what closes then.
    assert snapshot["marks"] == {
        "AAPL": 160, "AAPL  261204P00150000": 1.2, "MSFT  270115P00300000": 3.0, "KO": 61,
    }  # fmt: skip
    [note] = await notifications(db_pool)
    assert "**Day P&L: +$300.00**" in note["body"]
    assert "- JPM closed (sold 50): +$120.00" in note["body"]
    assert "- AAPL 140P 2026-12-18 closed (bought 1): +$40.00" in note["body"]
    assert "- KO +10 (opened today): +$10.00" in note["body"]
    assert "+$1,000.00 since the last close" in note["body"]
    assert "- AAPL 150P 2026-12-04 -1: +$30.00" in note["body"]


async def test_weekly_review_content(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    friday = date(2026, 12, 4)
    as_of = new_york(friday, 17)
    # The last snapshot before Monday 30 Nov is the week's start.
    await insert_snapshot(db_pool, date(2026, 11, 25), 70_000, 500)
    await insert_snapshot(db_pool, date(2026, 11, 27), 73_000, 1_000)
    await insert_snapshot(db_pool, date(2026, 12, 2), 74_500, 1_100)
    for symbol, rec, score, day in [
        ("NVDA", "select", 8, date(2026, 11, 30)),
        ("NVDA", "strong_select", 11, date(2026, 12, 3)),
        ("AMD", "watchlist", 5, date(2026, 12, 1)),
        ("KO", "reject", 0, date(2026, 12, 2)),
        ("JPM", "select", 9, date(2026, 12, 4)),
        ("AAPL", "strong_select", 12, date(2026, 11, 27)),  # last week
    ]:
        await insert_analysis(db_pool, analysis(symbol, rec, score, new_york(day, 12)))

    await insert_screen(db_pool, "screen-this-week", new_york(date(2026, 12, 2), 10))
    await insert_screen(db_pool, "screen-last-week", new_york(date(2026, 11, 27), 10))

    result = await run_report(
        time_skipping_env, db_pool, FakeBroker(as_of), task_queue, WeeklyReviewWorkflow, as_of
    )

    assert result.status == "reported"
    [row] = await saved(db_pool)
    review = WeeklyReview.model_validate(row["content"])
    assert [(s.screen_id, s.analyzed, s.top) for s in review.screens] == [
        ("screen-this-week", 12, ["NVDA", "JPM"])
    ]
    assert (review.week_start, review.week_end) == (date(2026, 11, 30), friday)
    assert review.analyses_count == 5
    assert review.recommendations == {
        "reject": 1, "select": 2, "strong_select": 1, "watchlist": 1,
    }  # fmt: skip
    # Best per symbol, best recommendation first, rejects left out.
    assert [(p.symbol, p.recommendation) for p in review.top_picks] == [
        ("NVDA", "strong_select"), ("JPM", "select"), ("AMD", "watchlist"),
    ]  # fmt: skip
    assert review.start_net_liquidating_value == 73_000
    assert review.nlv_change == 2_000
    assert review.unrealized_pnl == 1_290
    assert review.unrealized_change == 290
    assert review.realized_estimate == 1_710


async def test_closed_market_skips_without_saving_or_notifying(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    christmas = new_york(date(2026, 12, 25), 9, 30)
    broker = FakeBroker(christmas)
    result = await run_report(
        time_skipping_env, db_pool, broker, task_queue, MorningBriefingWorkflow, christmas
    )
    assert (result.status, result.reason, result.day) == (
        "skipped",
        "market closed",
        date(2026, 12, 25),
    )
    assert result.report_id is None and result.notification_id is None
    assert broker.calls == []
    assert await saved(db_pool) == [] and await notifications(db_pool) == []


async def test_end_of_day_on_an_early_close_still_reports_the_day(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    black_friday = date(2026, 11, 27)  # NYSE closes at 13:00 ET
    as_of = new_york(black_friday, 16)
    result = await run_report(
        time_skipping_env, db_pool, FakeBroker(as_of), task_queue, EndOfDaySummaryWorkflow, as_of
    )
    assert (result.status, result.day) == ("reported", black_friday)
    [row] = await saved(db_pool)
    assert EndOfDaySummary.model_validate(row["content"]).early_close
    assert "Early close today" in row["body"]


async def test_weekly_review_runs_on_a_friday_holiday(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    good_friday = date(2027, 3, 26)
    as_of = new_york(good_friday, 17)
    daily = await run_report(
        time_skipping_env, db_pool, FakeBroker(as_of), task_queue, EndOfDaySummaryWorkflow, as_of
    )
    weekly = await run_report(
        time_skipping_env, db_pool, FakeBroker(as_of), task_queue, WeeklyReviewWorkflow, as_of
    )
    assert daily.status == "skipped"
    assert weekly.status == "reported"


async def test_a_rerun_of_the_same_schedule_run_saves_and_notifies_once(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    as_of = new_york(DAY, 16)
    workflow_id = "report-end-of-day-2026-12-01T21:00:00Z"
    first, second = [
        await run_report(
            time_skipping_env,
            db_pool,
            FakeBroker(as_of),
            task_queue,
            EndOfDaySummaryWorkflow,
            as_of,
            workflow_id,
        )
        for _ in range(2)
    ]
    assert first.report_id == second.report_id
    assert first.notification_id == second.notification_id
    assert len(await saved(db_pool)) == 1
    assert len(await notifications(db_pool)) == 1


async def test_broker_outage_retries_then_fails_visibly(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    as_of = new_york(DAY, 9, 30)
    broker = FakeBroker(as_of, failing=True)
    with pytest.raises(WorkflowFailureError) as failure:
        await run_report(
            time_skipping_env, db_pool, broker, task_queue, MorningBriefingWorkflow, as_of
        )
    cause = failure.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "BrokerUnavailable"
    assert broker.calls.count("positions") == 6  # BROKER_STEP's bounded attempts
    assert await saved(db_pool) == [] and await notifications(db_pool) == []


async def test_reports_run_against_the_simulated_market(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """What `make run` uses: the seeded paper account in the simulated market."""
    broker = await open_broker(Settings(), db_pool)
    assert broker.name != "tastytrade"
    positions = await broker.get_positions()
    assert positions, "the paper account is seeded with positions"
    services = Services(
        settings=Settings(), pool=db_pool, broker=broker, outbox=Outbox(db_pool, [])
    )
    as_of = new_york(DAY, 9, 30)
    async with build_worker(time_skipping_env.client, services, task_queue):
        for workflow in (MorningBriefingWorkflow, EndOfDaySummaryWorkflow, WeeklyReviewWorkflow):
            result = await time_skipping_env.client.execute_workflow(
                workflow.run,  # type: ignore[attr-defined]
                ReportInput(as_of=as_of),
                id=f"test-report-{uuid.uuid4()}",
                task_queue=task_queue,
            )
            assert result.status == "reported"
    rows = await saved(db_pool)
    assert [r["kind"] for r in rows] == ["morning_briefing", "end_of_day", "weekly_review"]
    briefing = MorningBriefing.model_validate(rows[0]["content"])
    assert len(briefing.positions) == len(positions)
    assert len(await notifications(db_pool)) == 3


async def test_raw_input_without_a_utc_offset_fails_at_once(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """Plain JSON from another app: a naive time would be read in the worker's zone."""
    broker = FakeBroker(new_york(DAY, 9, 30))
    services = Services(
        settings=Settings(), pool=db_pool, broker=broker, outbox=Outbox(db_pool, [])
    )
    async with build_worker(time_skipping_env.client, services, task_queue):
        with pytest.raises(WorkflowFailureError) as failure:
            await time_skipping_env.client.execute_workflow(
                "MorningBriefingWorkflow",
                {"as_of": "2026-12-01T09:30:00"},
                id=f"test-report-{uuid.uuid4()}",
                task_queue=task_queue,
            )
    assert "timezone" in str(failure.value.cause)
    assert broker.calls == [] and await saved(db_pool) == []


async def test_simulated_day_pnl_with_trades_adds_up_to_the_nlv_change(
    db_pool: asyncpg.Pool,
) -> None:
    """Monday: the paper account is seeded (every position opened that day). Tuesday:
    KO is sold, a seeded short put bought back and a new put sold. Each day's
    P&L, fills included, adds up to the day's NLV change."""
    monday, tuesday = date(2026, 11, 30), DAY
    clock = [new_york(monday, 11)]
    market = SimulatedMarket(seed=7, clock=lambda: clock[0])
    account = PostgresPaperAccount(db_pool)
    await account.seed_if_empty(market, clock[0])
    broker = SimulatedBroker(market, account)
    steps = ReportActivities(
        broker, ReportStore(db_pool), AnalysisStore(db_pool), Outbox(db_pool, [])
    )

    async def end_of_day(day: date) -> EndOfDaySummary:
        clock[0] = new_york(day, 16, 30)
        report = await steps.build_end_of_day_summary(
            ReportRequest(kind="end_of_day", as_of=clock[0], day=day)
        )
        assert isinstance(report.content, EndOfDaySummary)
        return report.content

    first = await end_of_day(monday)
    # All opened today: the day's P&L is the NLV less the deposit (the spreads crossed).
    assert first.total_day_pnl == pytest.approx(
        first.net_liquidating_value - STARTING_CASH, abs=0.02
    )
    assert first.total_day_pnl < 0
    held_overnight = await broker.get_positions()
    half_spreads = 0.0
    for p in held_overnight:
        if p.instrument == "equity":
            quote = market.get_quote(p.symbol)
            half_spread = (quote.ask - quote.bid) / 2
        else:
            listed = {o.occ_symbol: o for o in market.get_option_chain(p.underlying).options}
            half_spread = (listed[p.symbol].ask - listed[p.symbol].bid) / 2
        half_spreads += half_spread * abs(p.quantity) * p.multiplier

    clock[0] = new_york(tuesday, 10)
    sold = market.get_quote("KO").bid
    await account.close_position("KO", sold, at=clock[0])
    put = next(p for p in held_overnight if p.instrument == "option")
    listed = {o.occ_symbol: o for o in market.get_option_chain(put.underlying).options}
    bought_back = listed[put.symbol].ask
    await account.close_position(put.symbol, bought_back, at=clock[0])
    clock[0] = new_york(tuesday, 11)
    chain = market.get_option_chain("AAPL")
    new_put = next(o for o in chain.options if o.kind == "put" and -0.3 <= o.delta <= -0.2)
    await account.open_position(
        Position(
            account=account.account_number, symbol=new_put.occ_symbol, underlying="AAPL",
            instrument="option", quantity=-1, average_open_price=new_put.bid, multiplier=100,
            option_kind="put", strike=new_put.strike, expiration=new_put.expiration,
        ),
        at=clock[0],
    )  # fmt: skip

    second = await end_of_day(tuesday)
    lines = {p.symbol: p for p in second.positions}
    ko_close = market.get_daily_candles("KO", 2, at=new_york(tuesday, 16, 30))[0].close
    assert lines["KO"].quantity == 0 and lines["KO"].prev_close == ko_close
    assert lines["KO"].day_pnl == pytest.approx((sold - ko_close) * 200, abs=0.01)
    monday_mark = next(p.mark for p in held_overnight if p.symbol == put.symbol)
    assert lines[put.symbol].day_pnl == pytest.approx((monday_mark - bought_back) * 100, abs=0.01)
    assert lines[new_put.occ_symbol].day_pnl == pytest.approx(
        (new_put.bid - lines[new_put.occ_symbol].mark) * 100, abs=0.01
    )
    # Positions held overnight are measured from the broker's previous close
    # (the close, or the option's value then), the NLV from Monday's mids:
    # they may differ by up to half a spread each.
    nlv_change = second.net_liquidating_value - first.net_liquidating_value
    assert second.nlv_change == pytest.approx(nlv_change, abs=0.01)
    assert abs(second.total_day_pnl - nlv_change) <= half_spreads + 0.05
