"""The portfolio view's day P&L on a day with trades (issue 13 #3's rule, as in
the end-of-day summary): a position opened today is measured from its fill, one
closed today keeps a line with its realised day P&L. Both sources, through the
real activities and stores on PostgreSQL: source=broker reads the fills now;
source=sync reads what the position sync stored, with no broker call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.portfolio import PortfolioActivities
from tests.helpers.reports_portfolio import insert_snapshot
from tests.helpers.times import new_york
from ttai.broker.base import BrokerUnavailable
from ttai.db.positions import PositionStore
from ttai.db.reports import ReportStore
from ttai.domain.analytics.pnl import DayTrades
from ttai.domain.market_calendar import latest_session
from ttai.domain.portfolio import portfolio_view
from ttai.models.market import Balances, Fill, OptionEvent, Position, Quote
from ttai.models.monitors import CheckInput
from ttai.models.portfolio import PortfolioSnapshotRequest, PortfolioView
from ttai.notify.outbox import Outbox

MONDAY, DAY = date(2026, 11, 30), date(2026, 12, 1)  # Tuesday, a regular session
NOW = new_york(DAY, 15)
SOLD_TODAY = "XYZ   261218P00095000"  # a short put sold today at 4.00
BOUGHT_BACK = "XYZ   261218P00090000"  # a short put held overnight, bought back today

POSITIONS = [
    Position(
        account="5WT01", symbol=SOLD_TODAY, underlying="XYZ", instrument="option",
        quantity=-1, average_open_price=4.0, multiplier=100, mark=3.125, prev_close=4.6559,
        option_kind="put", strike=95, expiration=date(2026, 12, 18), delta=-0.3,
    ),
    Position(
        account="5WT01", symbol="AAPL", underlying="AAPL", instrument="equity",
        quantity=100, average_open_price=150, mark=160, prev_close=158, delta=1.0,
    ),
]  # fmt: skip
FILLS = [
    Fill(account="5WT01", symbol=SOLD_TODAY, underlying="XYZ", instrument="option",
         quantity=-1, price=4.00, multiplier=100, executed_at=new_york(DAY, 10)),
    Fill(account="5WT01", symbol=BOUGHT_BACK, underlying="XYZ", instrument="option",
         quantity=1, price=1.80, multiplier=100, executed_at=new_york(DAY, 11)),
    Fill(account="5WT01", symbol="KO", underlying="KO", instrument="equity",
         quantity=-200, price=69.10, executed_at=new_york(DAY, 12)),
]  # fmt: skip
QUOTES = {
    "KO": Quote(symbol="KO", bid=69.0, ask=69.2, last=69.1, prev_close=68.0, time=NOW),
}
BALANCES = [
    Balances(account="5WT01", cash=20_000, net_liquidating_value=50_000,
             buying_power=40_000, maintenance_requirement=5_000),
]  # fmt: skip

EXPECTED = {
    SOLD_TODAY: 87.50,  # (4.00 - 3.125) x 100, not +153.09 from its previous close 4.6559
    "AAPL": 200.0,  # (160 - 158) x 100: untouched
    BOUGHT_BACK: 70.0,  # (2.50 Monday's mark - 1.80) x 100: closed today
    "KO": 220.0,  # (69.10 - 68.00) x 200: closed today
}


class TradingBroker:
    """Positions, fills since a time, quotes; records each call and the `since` asked."""

    name = "fake"

    def __init__(
        self, now: datetime, *, fills: Sequence[Fill] = FILLS, fills_fail: bool = False
    ) -> None:
        self.clock = now
        self.fills = list(fills)
        self.fills_fail = fills_fail
        self.calls: list[str] = []
        self.since: list[datetime] = []

    async def now(self) -> datetime:
        self.calls.append("now")
        return self.clock

    async def get_positions(self) -> list[Position]:
        self.calls.append("positions")
        return list(POSITIONS)

    async def get_balances(self) -> list[Balances]:
        self.calls.append("balances")
        return list(BALANCES)

    async def get_fills(self, since: datetime) -> list[Fill]:
        self.calls.append("fills")
        self.since.append(since)
        if self.fills_fail:
            raise BrokerUnavailable("transactions endpoint down (test)")
        return [f for f in self.fills if f.executed_at >= since]

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        self.calls.append("quotes")
        return {s: QUOTES[s] for s in symbols}

    async def get_option_events(self, since: datetime) -> list[OptionEvent]:
        self.calls.append("events")
        return []


class NoBroker:
    """Any broker call at lookup time is a test failure."""

    name = "none"

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"source=sync called the broker: {name}")


async def _prepare(db_pool: asyncpg.Pool) -> None:
    # Monday's end-of-day summary recorded the option's mark: its previous close.
    await insert_snapshot(db_pool, MONDAY, 49_000, 0, {BOUGHT_BACK: 2.50})


async def _view(
    broker: object, db_pool: asyncpg.Pool, source: str, now: datetime = NOW
) -> PortfolioView:
    steps = PortfolioActivities(
        broker,  # type: ignore[arg-type]
        PositionStore(db_pool),
        Outbox(db_pool, []),
        ReportStore(db_pool),
    )
    return await ActivityEnvironment().run(
        steps.portfolio_snapshot, PortfolioSnapshotRequest(source=source, now=now)
    )


async def _sync(broker: TradingBroker, db_pool: asyncpg.Pool, n: int = 0) -> None:
    steps = PortfolioActivities(
        broker,  # type: ignore[arg-type]
        PositionStore(db_pool),
        Outbox(db_pool, []),
        ReportStore(db_pool),
    )
    await ActivityEnvironment().run(
        steps.sync_positions, CheckInput(check_key=f"sync:run:{n}", as_of=broker.clock)
    )


def _check(view: PortfolioView) -> None:
    lines = {p.symbol: p for p in view.positions}
    assert {s: p.day_pnl for s, p in lines.items()} == EXPECTED
    assert view.day_pnl == 577.50 and view.day_pnl_known
    assert view.day_pnl_since == new_york(MONDAY, 16)
    opened = lines[SOLD_TODAY]
    assert (opened.closed_today, opened.traded_today, opened.unrealized_pnl) == (False, -1, 87.5)
    ko, put = lines["KO"], lines[BOUGHT_BACK]
    assert ko.closed_today and put.closed_today and not lines["AAPL"].closed_today
    assert (ko.quantity, ko.traded_today, ko.mark, ko.prev_close) == (0, -200, 69.10, 68.0)
    assert (ko.market_value, ko.unrealized_pnl, ko.label) == (0, 0, "KO")
    assert put.label == "XYZ 90P 2026-12-18" and put.days_to_expiry == 17
    assert put.multiplier == 100 and put.traded_today == 1
    # The closed lines sort with the open ones (by underlying, expiry, symbol).
    assert [p.symbol for p in view.positions] == ["AAPL", "KO", BOUGHT_BACK, SOLD_TODAY]
    assert view.unrealized_pnl == 1_087.5  # open positions only: 1000 + 87.50


async def test_source_broker_measures_day_pnl_with_todays_fills(db_pool: asyncpg.Pool) -> None:
    await _prepare(db_pool)
    broker = TradingBroker(NOW)
    _check(await _view(broker, db_pool, "broker"))
    assert broker.since == [new_york(MONDAY, 16)]  # the previous session's close


async def test_source_sync_stores_todays_fills_and_reads_them_without_the_broker(
    db_pool: asyncpg.Pool,
) -> None:
    await _prepare(db_pool)
    broker = TradingBroker(NOW)
    await _sync(broker, db_pool)
    assert "fills" in broker.calls
    _check(await _view(NoBroker(), db_pool, "sync"))

    # The next sync replaces the stored fills (here: the broker now reports none).
    await _sync(TradingBroker(NOW, fills=[]), db_pool, 1)
    view = await _view(NoBroker(), db_pool, "sync")
    assert [p.symbol for p in view.positions] == ["AAPL", SOLD_TODAY]
    assert view.positions[1].day_pnl == 153.09  # without its fill: from the previous close


async def test_a_sync_without_fills_stores_positions_and_says_day_pnl_is_unknown(
    db_pool: asyncpg.Pool,
) -> None:
    await _prepare(db_pool)
    await _sync(TradingBroker(NOW), db_pool)
    await _sync(TradingBroker(NOW, fills_fail=True), db_pool, 1)
    view = await _view(NoBroker(), db_pool, "sync")
    assert [p.symbol for p in view.positions] == ["AAPL", SOLD_TODAY]  # positions still stored
    assert all(p.day_pnl is None for p in view.positions) and not view.day_pnl_known
    assert view.day_pnl == 0 and view.day_pnl_since is None
    assert view.net_liquidating_value == 50_000


async def test_before_any_sync_day_pnl_is_unknown(db_pool: asyncpg.Pool) -> None:
    view = await _view(NoBroker(), db_pool, "sync")
    assert view.positions == [] and view.as_of is None and not view.day_pnl_known


async def test_on_a_sunday_the_view_shows_the_last_sessions_move_with_its_trades(
    db_pool: asyncpg.Pool,
) -> None:
    """Sunday: the broker's previous close is Thursday's (the close before the
    last session, Friday), so Friday's trades count: fills since Thursday's close."""
    thursday, friday, sunday = date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 6)
    broker = TradingBroker(new_york(sunday, 12))
    await _view(broker, db_pool, "broker", now=new_york(sunday, 12))
    assert broker.since == [new_york(thursday, 16)]
    assert latest_session(new_york(sunday, 12)).day == friday


@pytest.mark.parametrize(
    ("at", "session"),
    [
        (new_york(DAY, 10), DAY),  # in session
        (new_york(DAY, 9, 29), MONDAY),  # before the open: the last session
        (new_york(DAY, 20), DAY),  # after the close
        (new_york(date(2026, 11, 26), 12), date(2026, 11, 25)),  # Thanksgiving
        (new_york(date(2026, 11, 29), 12), date(2026, 11, 27)),  # Sunday: Friday's early close
    ],
)
def test_latest_session(at: datetime, session: date) -> None:
    assert latest_session(at).day == session


def test_the_same_instrument_in_two_accounts_is_measured_per_account() -> None:
    """Account 2 bought 50 AAPL today at 159; account 1's 100 were held overnight."""
    first = POSITIONS[1]
    second = first.model_copy(update={"account": "5WT02", "quantity": 50})
    bought = Fill(account="5WT02", symbol="AAPL", underlying="AAPL", instrument="equity",
                  quantity=50, price=159, executed_at=new_york(DAY, 10))  # fmt: skip
    trades = DayTrades(since=new_york(MONDAY, 16), fills=[bought])
    view = portfolio_view(
        [first, second], BALANCES, source="broker", as_of=NOW, now=NOW, trades=trades
    )
    assert sorted(p.day_pnl for p in view.positions) == [50.0, 200.0]  # 50 x 1, 100 x 2
    assert view.day_pnl == 250.0
