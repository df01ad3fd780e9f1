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
