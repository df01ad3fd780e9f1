"""The tastytrade adapter's account reads against the in-process fake of the API.

Accounts, balances, positions (marks, option details, day P&L) and fills
(every page, unreadable transactions skipped) are compared field by field
with what the fake served.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.helpers.fake_tastytrade import rest
from tests.helpers.fake_tastytrade.app import FakeTastytrade
from tests.helpers.fake_tastytrade.scenario import Scenario
from ttai.broker.tastytrade.broker import TastytradeBroker
from ttai.domain.analytics.pnl import day_pnl
from ttai.models.market import Fill, Position


async def test_accounts(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    accounts = await broker.get_accounts()
    assert [(a.account_number, a.nickname) for a in accounts] == [
        (a.account_number, a.nickname) for a in fake.scenario.accounts
    ]
    assert all(a.is_paper for a in accounts)  # sandbox credentials


async def test_balances(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    assert await broker.get_balances() == fake.scenario.balances


async def test_positions_with_marks_and_option_details(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    positions = await broker.get_positions()
    assert positions == fake.scenario.positions
    option = next(p for p in positions if p.instrument == "option")
    assert option.quantity < 0 and option.multiplier == 100
    assert option.delta is not None and option.delta < 0  # from the streamer's Greeks


def test_day_pnl_from_marks_and_previous_closes() -> None:
    def pos(symbol: str, qty: float, mult: int, mark: float, prev: float) -> Position:
        return Position(
            account="A",
            symbol=symbol,
            underlying="AAPL",
            instrument="equity" if mult == 1 else "option",
            quantity=qty,
            average_open_price=1.0,
            multiplier=mult,
            mark=mark,
            prev_close=prev,
        )

    positions = [
        pos("AAPL", 100, 1, 11.0, 10.0),  # +100
        pos("AAPL  261218P00200000", -2, 100, 1.5, 2.0),  # short puts lost value: +100
        pos("AAPL  261218P00190000", 1, 100, 0.8, 0.0),  # no previous close: ignored
    ]
    assert day_pnl(positions) == 200.0
    assert day_pnl([]) == 0.0


async def test_day_pnl_over_adapter_positions(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    expected = sum(
        (p.mark - p.prev_close) * p.quantity * p.multiplier for p in fake.scenario.positions
    )
    assert day_pnl(await broker.get_positions()) == pytest.approx(expected, abs=0.01)


def day_of_fills(scenario: Scenario) -> list[Fill]:
    """Yesterday's purchase, and today's: a short put opened, stock bought, a
    put closed."""
    now = scenario.now
    put = next(p for p in scenario.positions if p.instrument == "option")
    other = next(o for o in scenario.chains["AAPL"].options if o.kind == "put" and o.strike < 200)

    def fill(symbol: str, quantity: float, price: float, at: datetime, **kw: Any) -> Fill:
        option = len(symbol) == 21
        return Fill(
            account="5WT00012",
            symbol=symbol,
            underlying=kw.pop("underlying", "AAPL"),
            instrument="option" if option else "equity",
            quantity=quantity,
            price=price,
            multiplier=100 if option else 1,
            executed_at=at,
            **kw,
        )

    return [
        fill("AAPL", 50, 179.0, now - timedelta(days=1, hours=2)),
        fill(put.symbol, -1, 4.0, now - timedelta(hours=3)),
        fill("AAPL", 50, 182.0, now - timedelta(hours=2)),
        fill(other.occ_symbol, 2, 1.15, now - timedelta(minutes=45)),
        fill("BRK/B", -10, 471.25, now - timedelta(minutes=5), underlying="BRK.B"),
    ]


async def test_fills_are_the_trades_since(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    fake.scenario.fills = day_of_fills(fake.scenario)
    since = fake.scenario.now - timedelta(hours=4)
    fills = await broker.get_fills(since)
    # Trades only (no deposit, no dividend), signed by the action, oldest first.
    assert fills == [f for f in fake.scenario.fills if f.executed_at >= since]
    short_put = fills[0]
    assert (short_put.quantity, short_put.price, short_put.multiplier) == (-1, 4.0, 100)
    assert fills[-1].underlying == "BRK.B" and fills[-1].quantity == -10
    asked = [r for r in fake.requests if r.url.path.endswith("/transactions")]
    assert {r.query_params["type"] for r in asked} == {"Trade"}
    assert {r.url.path for r in asked} == {
        f"/accounts/{a.account_number}/transactions" for a in fake.scenario.accounts
    }


async def test_fills_read_every_page(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    start = fake.scenario.now - timedelta(hours=6)
    fake.scenario.fills = [
        Fill(
            account="5WT00012",
            symbol="AAPL",
            underlying="AAPL",
            instrument="equity",
            quantity=1 if n % 2 else -1,
            price=180 + n / 100,
            executed_at=start + timedelta(seconds=n),
        )
        for n in range(600)
    ]
    fills = await broker.get_fills(start)
    assert fills == fake.scenario.fills
    offsets = [
        r.query_params["page-offset"]
        for r in fake.requests
        if r.url.path == "/accounts/5WT00012/transactions"
    ]
    assert offsets == ["0", "1", "2"]


async def test_an_unreadable_transaction_is_skipped(
    fake: FakeTastytrade, broker: TastytradeBroker, counts: Counter[tuple[str, str]]
) -> None:
    fake.scenario.fills = day_of_fills(fake.scenario)
    since = fake.scenario.now - timedelta(hours=4)
    good = rest.trade(99, fake.scenario.fills[-1], opening=False)
    fake.faults.extra_items["/accounts/5WT00012/transactions"] = [
        good | {"id": 100, "price": None},  # a trade without a price
        good | {"id": 101, "instrument-type": "Spaceship"},  # not an instrument type
        good | {"id": 102, "quantity": "0.0"},
    ]
    fills = await broker.get_fills(since)
    assert fills == [f for f in fake.scenario.fills if f.executed_at >= since]
    assert counts["ttai_broker_records_skipped_total", "fill"] == 3
