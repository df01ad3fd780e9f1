"""The portfolio view's numbers, the sync's stored snapshot, and market status
from sessions (the calendar's early close and holiday included)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import pytest

from tests.helpers.portfolio import BALANCES, SHARES, SHORT_PUT
from tests.helpers.times import new_york
from ttai.db.positions import PositionStore
from ttai.domain.analytics.pnl import DayTrades
from ttai.domain.portfolio import mask_account, portfolio_view
from ttai.ops.market import from_calendar

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
PUT = SHORT_PUT


def test_portfolio_view_numbers() -> None:
    trades = DayTrades(since=datetime(2026, 11, 27, 18, 0, tzinfo=UTC))  # no trades today
    view = portfolio_view(
        [SHARES, PUT], [BALANCES], source="sync", as_of=NOW, now=NOW, trades=trades
    )
    put, shares = view.positions  # by underlying
    assert put.label == "AAPL 180P 2026-12-18" and put.days_to_expiry == 18
    assert put.market_value == -250.0
    assert put.unrealized_pnl == 50.0  # sold at 3.00, marked 2.50, x100
    assert put.day_pnl == 10.0  # 2.60 -> 2.50 on a short contract
    assert put.position_delta == 21.0  # short put, delta -0.21, x100: long 21 shares' worth
    assert shares.days_to_expiry is None and shares.unrealized_pnl == 200.0
    assert shares.day_pnl is None  # no previous close: unknown, not zero
    assert view.unrealized_pnl == 250.0 and view.day_pnl == 10.0
    assert (view.net_liquidating_value, view.buying_power, view.cash) == (60_950, 31_750, 50_000)
    assert view.accounts[0].account == mask_account("5WT00012") == "5WT•••12"
    assert view.today == date(2026, 11, 30)


async def test_the_sync_stores_what_the_portfolio_reads(db_pool: asyncpg.Pool) -> None:
    store = PositionStore(db_pool)
    empty = await store.snapshot()
    assert (empty.positions, empty.balances, empty.as_of) == ([], [], None)
    await store.sync([PUT, SHARES], NOW, [BALANCES])
    snapshot = await store.snapshot()
    assert snapshot.as_of == NOW and snapshot.balances == [BALANCES]
    assert sorted(snapshot.positions, key=lambda p: p.symbol) == [PUT, SHARES]

    later = datetime(2026, 11, 30, 15, 5, tzinfo=UTC)
    moved = PUT.model_copy(update={"mark": 2.0, "delta": -0.15})
    await store.sync([moved], later, [])  # KO sold; no account reported any more
    snapshot = await store.snapshot()
    assert snapshot.as_of == later and snapshot.positions == [moved] and snapshot.balances == []


@pytest.mark.parametrize(
    ("now", "is_open", "next_open", "next_close", "early_days"),
    [
        # The day after Thanksgiving closes early at 13:00.
        (new_york(date(2026, 11, 27), 12), True, new_york(date(2026, 11, 30), 9, 30),
         new_york(date(2026, 11, 27), 13), [date(2026, 11, 27)]),
        # Thanksgiving: closed all day.
        (new_york(date(2026, 11, 26), 12), False, new_york(date(2026, 11, 27), 9, 30),
         new_york(date(2026, 11, 27), 13), [date(2026, 11, 27)]),
        # A regular Monday after the close.
        (new_york(date(2026, 11, 30), 16), False, new_york(date(2026, 12, 1), 9, 30),
         new_york(date(2026, 12, 1), 16), []),
        # Before the open, Christmas Eve ahead.
        (new_york(date(2026, 12, 21), 8), False, new_york(date(2026, 12, 21), 9, 30),
         new_york(date(2026, 12, 21), 16), [date(2026, 12, 24)]),
    ],
)  # fmt: skip
def test_market_status_from_the_calendar(
    now: datetime,
    is_open: bool,
    next_open: datetime,
    next_close: datetime,
    early_days: list[date],
) -> None:
    status = from_calendar(now)
    assert status.is_open is is_open and status.source == "calendar"
    assert status.next_open == next_open and status.next_close == next_close
    assert [s.day for s in status.early_closes] == early_days
    for s in status.early_closes:
        assert s.close == new_york(s.day, 13)
