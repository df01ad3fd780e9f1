"""The tastytrade adapter's account reads against the in-process fake of the API.

Accounts, balances, positions (marks, option details, day P&L) and fills
(every page, unreadable transactions skipped) are compared field by field
with what the fake served.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from tests.helpers.fake_tastytrade import rest
from tests.helpers.fake_tastytrade.app import FakeTastytrade
from tests.helpers.fake_tastytrade.scenario import Scenario
from ttai.broker.tastytrade.broker import TastytradeBroker
from ttai.domain.analytics.pnl import day_pnl
from ttai.models.market import Fill, OptionEvent, Position


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


def settlements(scenario: Scenario) -> list[OptionEvent]:
    """Friday's expiration of the short AAPL put, an assignment of a short MSFT put
    (+100 at 600), a long call exercised and a short call assigned (shares delivered)."""
    friday = scenario.today - timedelta(days=(scenario.today.weekday() - 4) % 7 or 7)
    evening = datetime.combine(friday, time(22, 30), UTC)  # as the broker posts them

    def event(
        n: int, symbol: str, kind: str, quantity: int, shares: int, flag: str, strike: float
    ) -> OptionEvent:
        return OptionEvent(
            account="5WT00012", kind=kind, symbol=f"{symbol:<6}{friday:%y%m%d}{flag}"
            f"{round(strike * 1000):08d}", underlying=symbol,
            option_kind="put" if flag == "P" else "call", strike=strike, expiration=friday,
            quantity=quantity, shares=shares, price=strike if shares else 0.0,
            day=friday, occurred_at=evening + timedelta(minutes=n),
        )  # fmt: skip

    return [
        event(0, "AAPL", "expired", -1, 0, "P", 210.0),
        event(1, "MSFT", "assigned", -1, 100, "P", 600.0),
        event(2, "SPY", "exercised", 2, 200, "C", 580.0),
        event(3, "KO", "assigned", -1, -100, "C", 60.0),
    ]


async def test_option_events_are_the_receive_deliver_entries(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    """Issue 20: expirations, assignments and exercises, as the SDK's Transaction
    models them ("Receive Deliver" / Expiration, Assignment, Exercise), are the
    same records as the paper account's. The stock entries beside them are not
    fills (nor trades: the P&L counts them through the events)."""
    fake.scenario.option_events = settlements(fake.scenario)
    since = fake.scenario.now - timedelta(days=8)
    events = await broker.get_option_events(since)
    assert events == fake.scenario.option_events
    assert [(e.kind, e.shares, e.cash) for e in events] == [
        ("expired", 0, 0), ("assigned", 100, -60_000), ("exercised", 200, -116_000),
        ("assigned", -100, 6_000),
    ]  # fmt: skip
    assert await broker.get_fills(since) == []
    asked = {r.query_params["type"] for r in fake.requests if r.url.path.endswith("/transactions")}
    assert asked == {"Receive Deliver", "Trade"}


async def test_an_unreadable_settlement_is_skipped(
    fake: FakeTastytrade, broker: TastytradeBroker, counts: Counter[tuple[str, str]]
) -> None:
    fake.scenario.option_events = settlements(fake.scenario)
    removal = rest.receive_deliver(90, fake.scenario.option_events[0])[0]
    fake.faults.extra_items["/accounts/5WT00012/transactions"] = [
        removal | {"id": 91, "action": None},  # an expiration that does not say its side
        removal | {"id": 92, "symbol": "AAPL"},  # not an OCC symbol
        removal | {"id": 93, "transaction-sub-type": "Forward Split"},  # not a settlement
    ]
    events = await broker.get_option_events(fake.scenario.now - timedelta(days=8))
    assert events == fake.scenario.option_events
    assert counts["ttai_broker_records_skipped_total", "option_event"] == 2
