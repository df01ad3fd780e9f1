"""The paper account, in memory and in PostgreSQL: seeding, idempotence, trades."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from tests.helpers.portfolio import shares
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.account import PAPER_ACCOUNT, PaperAccount
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.broker.simulated.paper.postgres import PostgresPaperAccount
from ttai.broker.simulated.paper.seed import STARTING_CASH, opening_cash
from ttai.domain.market_calendar import NEW_YORK
from ttai.models.market import Position

NOON = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
LATER = NOON + timedelta(hours=1)


@pytest.fixture(scope="module")
def market() -> SimulatedMarket:
    return SimulatedMarket(seed=7, clock=lambda: NOON)


@pytest.fixture(params=["memory", "postgres"])
def account(request: pytest.FixtureRequest) -> PaperAccount:
    if request.param == "memory":
        return InMemoryPaperAccount()
    return PostgresPaperAccount(request.getfixturevalue("db_pool"))


async def test_seed_creates_default_portfolio_once(
    account: PaperAccount, market: SimulatedMarket
) -> None:
    assert await account.get_positions() == []
    assert await account.seed_if_empty(market, NOON) is True
    assert await account.seed_if_empty(market, NOON) is False
    positions = await account.get_positions()
    assert len(positions) == 6
    assert await account.get_cash() == opening_cash(positions) < STARTING_CASH
    # Seeding trades at NOON: one fill per position, at its open price.
    fills = await account.get_fills(NOON)
    assert sorted((f.symbol, f.quantity, f.price) for f in fills) == sorted(
        (p.symbol, p.quantity, p.average_open_price) for p in positions
    )
    assert all(f.executed_at == NOON for f in fills)
    assert await account.get_fills(NOON + timedelta(seconds=1)) == []
    assert all(p.account == PAPER_ACCOUNT == account.account_number for p in positions)

    stocks = {p.symbol: p for p in positions if p.instrument == "equity"}
    assert {s: p.quantity for s, p in stocks.items()} == {"AAPL": 100, "KO": 200, "SPY": 50}
    for p in stocks.values():
        assert p.multiplier == 1 and p.average_open_price == market.get_quote(p.symbol).ask > 0

    today = NOON.astimezone(NEW_YORK).date()
    puts = [p for p in positions if p.instrument == "option"]
    assert len(puts) == 3
    for p in puts:
        assert p.option_kind == "put" and p.quantity == -1 and p.multiplier == 100
        assert p.expiration is not None and p.strike is not None
        assert 30 <= (p.expiration - today).days <= 45
        spot = market.get_quote(p.underlying).last
        assert 0.05 <= 1 - p.strike / spot <= 0.10  # 5-10 % out of the money
        listed = {o.occ_symbol: o for o in market.get_option_chain(p.underlying).options}
        assert p.symbol in listed
        assert p.average_open_price == listed[p.symbol].bid > 0


async def test_seeded_portfolio_is_paid_for_and_balances(
    account: PaperAccount, market: SimulatedMarket
) -> None:
    """The stock is bought out of the deposit and the put premium credited, so the
    opening NLV is the deposit less what crossing the spread cost."""
    await account.seed_if_empty(market, NOON)
    positions = await account.get_positions()
    stock_cost = sum(
        p.quantity * p.average_open_price for p in positions if p.instrument == "equity"
    )
    premium = sum(
        -p.quantity * p.average_open_price * p.multiplier
        for p in positions
        if p.instrument == "option"
    )
    assert stock_cost > 50_000 and premium > 0
    assert await account.get_cash() == pytest.approx(STARTING_CASH - stock_cost + premium, abs=0.01)

    broker = SimulatedBroker(market, account)
    marked = await broker.get_positions()
    (balances,) = await broker.get_balances()
    # NLV = cash + marked positions.
    assert balances.net_liquidating_value == pytest.approx(
        balances.cash + sum(p.mark * p.quantity * p.multiplier for p in marked), abs=0.01
    )
    # Stock bought at the ask, puts sold at the bid: each costs half its spread.
    spread = 0.0
    for p in marked:
        if p.instrument == "equity":
            quote = market.get_quote(p.symbol)
            assert p.average_open_price == quote.ask
            spread += (quote.ask - quote.bid) * abs(p.quantity)
        else:
            listed = {o.occ_symbol: o for o in market.get_option_chain(p.underlying).options}
            spread += (listed[p.symbol].ask - listed[p.symbol].bid) * p.multiplier
    shortfall = STARTING_CASH - balances.net_liquidating_value
    assert 0 < shortfall <= spread / 2 + 0.01


async def test_open_and_close_move_cash(account: PaperAccount, market: SimulatedMarket) -> None:
    await account.seed_if_empty(market, NOON)
    start = await account.get_cash()
    put = Position(
        account=account.account_number,
        symbol="AMD   270115P00120000",
        underlying="AMD",
        instrument="option",
        quantity=-2,
        average_open_price=1.25,
        multiplier=100,
        option_kind="put",
        strike=120.0,
        expiration=date(2027, 1, 15),
    )
    await account.open_position(put, at=LATER)
    assert await account.get_cash() == pytest.approx(start + 250.0)
    await account.open_position(
        put.model_copy(update={"quantity": -1, "average_open_price": 1.55}), at=LATER
    )
    held = next(p for p in await account.get_positions() if p.symbol == put.symbol)
    assert held.quantity == -3
    assert held.average_open_price == pytest.approx((2 * 1.25 + 1.55) / 3, abs=1e-6)
    assert held.expiration == date(2027, 1, 15) and held.strike == 120.0
    assert await account.get_cash() == pytest.approx(start + 405.0)

    with pytest.raises(ValueError):  # reducing goes through close_position
        await account.open_position(put.model_copy(update={"quantity": 1}), at=LATER)

    closed = await account.close_position(put.symbol, 0.40, at=LATER + timedelta(hours=1))
    assert closed.quantity == -3
    assert await account.get_cash() == pytest.approx(start + 405.0 - 120.0)
    assert put.symbol not in {p.symbol for p in await account.get_positions()}
    with pytest.raises(KeyError):
        await account.close_position(put.symbol, 0.40, at=LATER)

    await account.open_position(
        shares("MSFT", 10, 400.0, account=account.account_number), at=LATER + timedelta(hours=2)
    )
    assert await account.get_cash() == pytest.approx(start + 285.0 - 4000.0)

    # Every trade is a fill, signed; seeding's at NOON, these later.
    assert len(await account.get_fills(NOON)) == 6 + 4
    fills = await account.get_fills(LATER)
    assert [(f.symbol, f.quantity, f.price, f.multiplier) for f in fills] == [
        (put.symbol, -2, 1.25, 100),
        (put.symbol, -1, 1.55, 100),
        (put.symbol, 3, 0.40, 100),  # the close buys back all three
        ("MSFT", 10, 400.0, 1),
    ]
    assert [f.executed_at for f in fills] == [
        LATER,
        LATER,
        LATER + timedelta(hours=1),
        LATER + timedelta(hours=2),
    ]
    assert all(f.account == account.account_number for f in fills)


async def test_rejects_malformed_trades(account: PaperAccount, market: SimulatedMarket) -> None:
    await account.seed_if_empty(market, NOON)
    start = await account.get_cash()
    stock = shares("KO", 5, 60.0, account=account.account_number)
    for bad in (
        stock.model_copy(update={"account": "SOMEONE-ELSE"}),
        stock.model_copy(update={"quantity": 0}),
        stock.model_copy(update={"multiplier": 100}),
    ):
        with pytest.raises(ValueError):
            await account.open_position(bad, at=LATER)
    assert await account.get_cash() == start
    assert await account.get_fills(LATER) == []


async def test_concurrent_seeding_inserts_once(
    db_pool: asyncpg.Pool, market: SimulatedMarket
) -> None:
    """Workers starting together: one seeds, the others find the account."""
    accounts = [PostgresPaperAccount(db_pool) for _ in range(4)]
    results = await asyncio.gather(*(a.seed_if_empty(market, NOON) for a in accounts))
    assert sorted(results) == [False, False, False, True]
    assert await db_pool.fetchval("SELECT count(*) FROM paper_positions") == 6
    assert await db_pool.fetchval("SELECT count(*) FROM paper_balances") == 1


async def test_trades_before_seeding_are_refused(account: PaperAccount) -> None:
    with pytest.raises(LookupError):
        await account.close_position("KO", 1.0, at=LATER)
    with pytest.raises(LookupError):
        await account.open_position(shares("KO", 1, 60.0, account=account.account_number), at=LATER)


FRIDAY = date(2026, 12, 4)  # a weekly expiration
AFTER_THE_CLOSE = datetime(2026, 12, 4, 21, 5, tzinfo=UTC)  # 16:05 ET


def option(underlying: str, kind: str, strike: float, quantity: int) -> Position:
    flag = "P" if kind == "put" else "C"
    return Position(
        account=PAPER_ACCOUNT,
        symbol=f"{underlying:<6}{FRIDAY:%y%m%d}{flag}{round(strike * 1000):08d}",
        underlying=underlying,
        instrument="option",
        quantity=quantity,
        average_open_price=1.0,
        multiplier=100,
        option_kind=kind,
        strike=strike,
        expiration=FRIDAY,
    )


async def test_options_settle_at_their_expiration_close(
    account: PaperAccount, market: SimulatedMarket
) -> None:
    """Issue 20: options never expired. At the close of their expiration day an
    out-of-the-money one expires worthless, an in-the-money short one is assigned,
    a long one is exercised by exception from $0.01 in the money: the option
    leaves, shares move at the strike, cash by their value, one event each."""
    await account.seed_if_empty(market, NOON)
    later = SimulatedMarket(seed=7, clock=lambda: AFTER_THE_CLOSE)
    close = {
        s: later.settlement(s, FRIDAY, AFTER_THE_CLOSE)
        for s in ("AAPL", "KO", "MSFT", "SPY", "JPM", "QQQ")
    }
    assert all(c is not None and c[0] == FRIDAY for c in close.values())
    price = {s: c[2] for s, c in close.items()}  # type: ignore[index]
    trades = [
        option("AAPL", "put", price["AAPL"] + 10, -1),  # assigned: +100 AAPL (100 held)
        option("KO", "call", price["KO"] - 5, -1),  # assigned: -100 of the 200 KO held
        option("MSFT", "call", price["MSFT"] - 20, -2),  # assigned, none held: short 200
        option("SPY", "call", price["SPY"] - 3, 1),  # exercised: +100 SPY (50 held)
        option("JPM", "put", price["JPM"] - 5, 1),  # out of the money: expires
        option("QQQ", "put", price["QQQ"], -1),  # at the money: expires, not assigned
        option("QQQ", "put", round(price["QQQ"] + 0.01, 2), 1),  # a cent in: exercised
    ]
    for trade in trades:
        await account.open_position(trade, at=NOON)
    before = {p.symbol: p for p in await account.get_positions()}
    cash = await account.get_cash()

    # Not before the close (15:59 ET on the day).
    assert await account.settle(market, datetime(2026, 12, 4, 20, 59, tzinfo=UTC)) == []
    events = await account.settle(later, AFTER_THE_CLOSE)
    assert await account.settle(later, AFTER_THE_CLOSE + timedelta(days=3)) == []  # once
    by_symbol = {e.symbol: e for e in events}
    assert [(by_symbol[t.symbol].kind, by_symbol[t.symbol].shares) for t in trades] == [
        ("assigned", 100), ("assigned", -100), ("assigned", -200), ("exercised", 100),
        ("expired", 0), ("expired", 0), ("exercised", -100),
    ]  # fmt: skip
    for t in trades:
        e = by_symbol[t.symbol]
        assert (e.quantity, e.strike, e.settlement_price, e.day) == (
            t.quantity, t.strike, price[t.underlying], FRIDAY,
        )  # fmt: skip
        assert e.occurred_at == close[t.underlying][1] and e.price == (t.strike if e.shares else 0)
    assert await account.get_cash() == pytest.approx(cash + sum(e.cash for e in events), abs=1e-6)
    assert await account.get_option_events(NOON) == sorted(events, key=lambda e: e.occurred_at)
    after = {p.symbol: p for p in await account.get_positions()}
    assert not any(t.symbol in after for t in trades)  # every contract left
    aapl, ko, spy = before["AAPL"], before["KO"], before["SPY"]
    assert after["AAPL"].quantity == 200
    assert after["AAPL"].average_open_price == pytest.approx(
        (100 * aapl.average_open_price + 100 * (price["AAPL"] + 10)) / 200
    )
    assert (after["KO"].quantity, after["KO"].average_open_price) == (100, ko.average_open_price)
    assert (after["MSFT"].quantity, after["MSFT"].average_open_price) == (
        -200, price["MSFT"] - 20,
    )  # fmt: skip
    assert after["SPY"].quantity == 150 and spy.quantity == 50
    assert after["QQQ"].quantity == -100  # the exercised long put sold shares it did not hold
    # The seeded puts expire later: still there.
    assert {p.symbol for p in after.values() if p.instrument == "option"} == {
        s for s, p in before.items() if p.instrument == "option" and p.expiration != FRIDAY
    }


async def test_the_broker_settles_before_it_answers(
    account: PaperAccount, market: SimulatedMarket
) -> None:
    """Positions, balances and events read after an expiration close include its
    settlement: no option with DTE < 0, its requirement released."""
    await account.seed_if_empty(market, NOON)
    put = next(p for p in await account.get_positions() if p.instrument == "option")
    assert put.expiration is not None
    after = datetime.combine(put.expiration + timedelta(days=3), datetime.min.time(), UTC)
    broker = SimulatedBroker(SimulatedMarket(seed=7, clock=lambda: after), account)
    today = after.astimezone(NEW_YORK).date()
    positions = await broker.get_positions()
    assert all(p.expiration is None or p.expiration >= today for p in positions)
    assert put.symbol not in {p.symbol for p in positions}
    events = await broker.get_option_events(NOON)
    assert put.symbol in {e.symbol for e in events}
    (balances,) = await broker.get_balances()
    assert balances.net_liquidating_value == pytest.approx(
        balances.cash + sum(p.mark * p.quantity * p.multiplier for p in positions), abs=0.01
    )
