"""A month in the life of the default account (issue 20): 60 sessions, one at a time.

The paper account is seeded on the simulated market (seed 7) on the first
Monday whose seeded puts expire with one of them in the money, so the month
goes through their expiration and one assignment. The clock then moves one
session at a time; each session runs, in process, what the workers run:

- in the morning (30 minutes after the open): the position sync, the portfolio
  monitor's check of `dte_at_most 3` rules on the puts' underlyings, the
  morning briefing, and the portfolio view as the position sync stored it;
- at the close: the end-of-day summary (it records the NLV snapshot that is
  the next day's reference), then the position sync and the view again.

And checks, every time: NLV = cash + the marked positions; no open position
has DTE < 0; buying power = NLV - the maintenance requirement recomputed from
the positions; the view, the broker, the DTE rules and the reports agree; and
day P&L = the NLV change since the previous close, expiration and assignment
days included. At the end: every seeded put settled once, each notified as
what happened to it, the assigned one's shares in the account.
"""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.alerts import AlertActivities
from activities.portfolio import PortfolioActivities
from activities.reports import ReportActivities
from tests.helpers.monitor_fakes import RecordingChannel
from ttai.broker.simulated.broker import SimulatedBroker, maintenance_requirement
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.postgres import PostgresPaperAccount
from ttai.broker.simulated.paper.seed import default_portfolio
from ttai.db.alerts import AlertStore
from ttai.db.analyses import AnalysisStore
from ttai.db.positions import PositionStore
from ttai.db.reports import ReportStore
from ttai.domain.market_calendar import Session, sessions
from ttai.models.alerts import AlertRuleSpec
from ttai.models.market import Position
from ttai.models.monitors import CheckInput
from ttai.models.portfolio import PortfolioSnapshotRequest, PortfolioView
from ttai.models.reports import EndOfDaySummary, MorningBriefing, ReportRequest
from ttai.notify.outbox import Outbox

SEED = 7
SESSIONS = 60
DTE_RULE = 3


def first_month_with_an_assignment() -> Session:
    """The first Monday session from March 2026 whose seeded puts, sold that
    morning, expire with at least one $0.01 or more in the money."""
    monday = date(2026, 3, 2)
    for _ in range(52):
        found = sessions(monday, monday)
        if found:
            at = found[0].open + timedelta(minutes=30)
            market = SimulatedMarket(SEED, clock=lambda at=at: at)
            puts = [p for p in default_portfolio(market, at) if p.instrument == "option"]
            for p in puts:
                assert p.expiration is not None and p.strike is not None
                settled = market.settlement(p.underlying, p.expiration, at + timedelta(days=60))
                assert settled is not None
                if round(p.strike - settled[2], 2) >= 0.01:
                    return found[0]
        monday += timedelta(days=7)
    raise AssertionError("no seeded put is assigned in a year of Mondays")


def lines(positions: list[Position]) -> float:
    """The tolerance of a comparison of sums of cent-rounded lines."""
    return 0.005 * (len(positions) + 2)


class Month:
    """The account, the broker on a movable clock, and the steps the workers run."""

    def __init__(self, pool: asyncpg.Pool, start: Session) -> None:
        self.now = start.open + timedelta(minutes=30)
        self.market = SimulatedMarket(SEED, clock=lambda: self.now)
        self.account = PostgresPaperAccount(pool)
        self.broker = SimulatedBroker(self.market, self.account)
        self.channel = RecordingChannel()
        outbox = Outbox(pool, [self.channel])
        reports = ReportStore(pool)
        self.rules = AlertStore(pool)
        self.portfolio = PortfolioActivities(self.broker, PositionStore(pool), outbox, reports)
        self.alerts = AlertActivities(self.broker, self.rules, outbox)
        self.reports = ReportActivities(self.broker, reports, AnalysisStore(pool), outbox)
        self.env = ActivityEnvironment()
        self.checks = 0

    async def sync(self, key: str) -> PortfolioView:
        await self.env.run(self.portfolio.sync_positions, CheckInput(check_key=key, as_of=self.now))
        return await self.env.run(
            self.portfolio.portfolio_snapshot,
            PortfolioSnapshotRequest(source="sync", now=self.now),
        )

    async def report(self, kind: str, session: Session) -> MorningBriefing | EndOfDaySummary:
        build = {
            "morning_briefing": self.reports.build_morning_briefing,
            "end_of_day": self.reports.build_end_of_day_summary,
        }[kind]
        request = ReportRequest(
            kind=kind, as_of=self.now, day=session.day, early_close=session.early_close
        )  # type: ignore[arg-type]
        report = await self.env.run(build, request)
        assert isinstance(report.content, MorningBriefing | EndOfDaySummary)
        return report.content

    async def check_account(self, view: PortfolioView) -> list[Position]:
        """NLV, buying power and DTE, from the broker and from the view."""
        positions = await self.broker.get_positions()
        (balances,) = await self.broker.get_balances()
        marked = sum(p.mark * p.quantity * p.multiplier for p in positions)
        assert balances.net_liquidating_value == pytest.approx(balances.cash + marked, abs=0.01)
        spots = self.market.get_quotes({p.underlying for p in positions})
        requirement = sum(maintenance_requirement(p, spots[p.underlying].mark) for p in positions)
        assert balances.maintenance_requirement == pytest.approx(requirement, abs=0.01)
        assert balances.buying_power == pytest.approx(
            max(0.0, balances.net_liquidating_value - requirement), abs=0.01
        )
        today = view.today
        assert all(p.expiration is None or p.expiration >= today for p in positions)
        held = [p for p in view.positions if not p.closed_today]
        assert all(p.days_to_expiry is None or p.days_to_expiry >= 0 for p in held)
        # The view is what the sync stored a moment ago: the broker's numbers.
        assert sorted((p.symbol, p.quantity) for p in held) == sorted(
            (p.symbol, p.quantity) for p in positions
        )
        assert (view.net_liquidating_value, view.buying_power, view.cash) == (
            balances.net_liquidating_value,
            balances.buying_power,
            balances.cash,
        )
        self.checks += 1
        return positions


async def test_a_month_in_the_life(db_pool: asyncpg.Pool) -> None:
    start = first_month_with_an_assignment()
    month = Month(db_pool, start)
    assert await month.account.seed_if_empty(month.market, month.now)
    seeded = {p.symbol: p for p in await month.account.get_positions() if p.instrument == "option"}
    assert len(seeded) == 3
    for underlying in sorted({p.underlying for p in seeded.values()}):
        spec = AlertRuleSpec(
            symbol=underlying, condition="dte_at_most", threshold=DTE_RULE, mode="rearm",
            cooldown_seconds=3600,
        )  # fmt: skip
        await month.rules.create(f"dte-{underlying}", spec)
    days = sessions(start.day, start.day + timedelta(days=120))[:SESSIONS]
    assert len(days) == SESSIONS
    last_expiry = max(p.expiration for p in seeded.values() if p.expiration)
    assert days[-1].day > last_expiry  # the month goes past every seeded expiration
    fired_on: dict[str, list[date]] = {}
    summaries: dict[date, EndOfDaySummary] = {}

    for n, session in enumerate(days):
        # -- the morning ------------------------------------------------------------
        month.now = session.open + timedelta(minutes=30)
        view = await month.sync(f"sync:{n}:morning")
        positions = await month.check_account(view)
        if n > 0:  # the previous close's snapshot is the reference
            previous = summaries[days[n - 1].day].net_liquidating_value
            change = view.net_liquidating_value - previous
            assert view.day_pnl == pytest.approx(change, abs=lines(positions)), session.day
        # DTE rules fire on exactly the option positions 0-3 days out, never a past one.
        result = await month.env.run(
            month.alerts.check_portfolio, CheckInput(check_key=f"rules:{n}", as_of=month.now)
        )
        near = {
            p.underlying
            for p in view.positions
            if not p.closed_today and p.days_to_expiry is not None and p.days_to_expiry <= DTE_RULE
        }
        fired = {t.symbol.split()[0]: t.observed for t in result.triggers}
        assert set(fired) == near & {p.underlying for p in seeded.values()}, session.day
        assert all(0 <= observed <= DTE_RULE for observed in fired.values())
        for underlying in fired:
            fired_on.setdefault(underlying, []).append(session.day)
        # The briefing's "expiring within 7 days" is the view's.
        briefing = await month.report("morning_briefing", session)
        assert isinstance(briefing, MorningBriefing)
        assert sorted(p.symbol for p in briefing.expiring) == sorted(
            p.symbol
            for p in view.positions
            if not p.closed_today and p.days_to_expiry is not None and p.days_to_expiry <= 7
        )

        # -- the close --------------------------------------------------------------
        month.now = session.close
        summary = await month.report("end_of_day", session)
        assert isinstance(summary, EndOfDaySummary)
        summaries[session.day] = summary
        view = await month.sync(f"sync:{n}:close")
        positions = await month.check_account(view)
        assert summary.net_liquidating_value == view.net_liquidating_value
        assert summary.total_day_pnl == pytest.approx(view.day_pnl, abs=0.01)
        if n > 0:
            assert summary.nlv_change == pytest.approx(
                summary.total_day_pnl, abs=lines(positions)
            ), session.day
        for line in summary.positions:
            if line.symbol in seeded and seeded[line.symbol].expiration == session.day:
                assert line.settled in ("expired", "assigned") and line.quantity == 0

    # -- what happened to the seeded puts ---------------------------------------------------
    events = {e.symbol: e for e in await month.broker.get_option_events(start.open)}
    assert set(events) == set(seeded)
    kinds = {events[s].kind for s in seeded}
    assert "assigned" in kinds and kinds <= {"assigned", "expired"}
    titles = [n.title for n in month.channel.sent]
    held = {p.symbol: p for p in await month.broker.get_positions()}
    for symbol, put in seeded.items():
        event = events[symbol]
        assert event.day == put.expiration and symbol not in held
        assert put.strike is not None and event.settlement_price is not None
        if event.kind == "assigned":
            assert event.settlement_price <= put.strike - 0.01
            assert f"Assigned: +100 {put.underlying} at {put.strike:g}" in titles
            assert held[put.underlying].quantity >= 100  # the shares it brought
        else:
            assert f"Expired worthless: {put.underlying} {put.strike:g}P" in " ".join(titles)
        # Each settlement was announced once, and not as "closed".
        assert not any(t == f"Position closed: {symbol}" for t in titles)
        assert summaries[put.expiration].positions  # the expiry day's summary has its line
        # The DTE rule fired in the days before the expiration, never after it.
        assert fired_on[put.underlying] and max(fired_on[put.underlying]) <= put.expiration
    assert len([t for t in titles if t.startswith(("Assigned:", "Expired worthless:"))]) == 3
    assert month.checks == 2 * SESSIONS
