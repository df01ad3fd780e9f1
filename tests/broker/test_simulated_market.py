"""The simulated market: deterministic, consistent, moving with time, honest about unknowns.

The catalogue and any well-formed ticker, the same answers for the same seed
(in any process), candles and quotes consistent with each other and with the
NYSE calendar, and the simulated broker marking positions and balances to
the market. Option chains and volatility: test_simulated_options.py.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from pydantic import TypeAdapter

from activities.analysis import AnalysisActivities
from tests.helpers.simulated_market import NOON, SAMPLE, fixed, generated, nyse_sessions
from ttai.broker.base import Broker, UnknownSymbol
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.earnings import earnings_dates
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.broker.simulated.universe import RESERVED_UNKNOWN_PREFIX, is_simulated
from ttai.data.sp500 import sp500_symbols
from ttai.domain.analytics.pnl import day_pnl
from ttai.models.analysis import SymbolRequest
from ttai.models.common import Symbol

SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def market() -> SimulatedMarket:
    return fixed(NOON)


def test_catalogue_is_the_known_tickers_and_the_sp500(market: SimulatedMarket) -> None:
    symbols = market.symbols
    assert len(symbols) >= 500
    assert len(set(symbols)) == len(symbols)
    validate = TypeAdapter(Symbol).validate_python
    assert [validate(s) for s in symbols] == symbols
    assert {"AAPL", "MSFT", "SPY", "QQQ", "KO", "JPM", "BRK.B"} <= set(symbols)
    assert set(sp500_symbols()) <= set(symbols)
    # The same catalogue for every seed; the prices behind it differ.
    other = SimulatedMarket(seed=8)
    assert other.symbols == symbols
    assert other.params("MMM") != market.params("MMM")


def test_any_well_formed_ticker_is_simulated_deterministically(market: SimulatedMarket) -> None:
    """Not only the catalogue: a watchlist of any real tickers works offline."""
    for symbol in ["QWERT", "XX", "BRK.A", "BRK/A", "ZYXW"]:
        assert symbol not in market.symbols and is_simulated(symbol)
        chain = market.get_option_chain(symbol)
        assert chain.underlying == symbol and chain.options
        assert market.get_daily_candles(symbol, 5)[-1].day == date(2026, 11, 24)  # partial
        assert _fingerprint(fixed(NOON), [symbol]) == _fingerprint(market, [symbol])
    assert market.params("QWERT") != market.params("QWERS")


def test_reserved_zz_tickers_are_unknown(market: SimulatedMarket) -> None:
    """`ZZ...` is the documented way to get an unknown symbol from the simulated market."""
    assert RESERVED_UNKNOWN_PREFIX == "ZZ"
    assert not any(s.startswith("ZZ") for s in sp500_symbols())
    for symbol in ["ZZ", "ZZZZ", "ZZTOP", "ZZA.B"]:
        assert not is_simulated(symbol)
        with pytest.raises(UnknownSymbol, match=re.escape(f"unknown symbol: {symbol}")):
            market.get_option_chain(symbol)


def _fingerprint(market: SimulatedMarket, symbols: list[str]) -> dict[str, object]:
    return {
        s: (
            [c.model_dump(mode="json") for c in market.get_daily_candles(s, 30)],
            market.get_quote(s).model_dump(mode="json"),
            market.get_option_chain(s).model_dump(mode="json"),
            market.get_market_metrics(s).model_dump(mode="json"),
        )
        for s in symbols
    }


def test_same_seed_same_market_other_seed_differs(market: SimulatedMarket) -> None:
    symbols = [*SAMPLE, *generated(market)]
    assert _fingerprint(fixed(NOON), symbols) == _fingerprint(market, symbols)
    other = SimulatedMarket(seed=8, clock=lambda: NOON)
    assert _fingerprint(other, SAMPLE) != _fingerprint(market, SAMPLE)


def test_independent_of_python_hash_randomisation(market: SimulatedMarket) -> None:
    """A worker process with another PYTHONHASHSEED must see the same market."""
    script = (
        "import hashlib, json, sys\n"
        "from datetime import datetime\n"
        "from ttai.broker.simulated.market import SimulatedMarket\n"
        f"m = SimulatedMarket(7, clock=lambda: datetime.fromisoformat({NOON.isoformat()!r}))\n"
        "s = m.symbols[-1]\n"
        "data = [m.symbols, m.get_option_chain(s).model_dump(mode='json')]\n"
        "print(hashlib.sha256(json.dumps(data).encode()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    here = [market.symbols, market.get_option_chain(market.symbols[-1]).model_dump(mode="json")]
    assert out.stdout.strip() == hashlib.sha256(json.dumps(here).encode()).hexdigest()


def test_candles_cover_400_sessions_and_are_consistent(market: SimulatedMarket) -> None:
    for symbol in [*SAMPLE, *generated(market)]:
        candles = market.get_daily_candles(symbol, 450)
        assert len(candles) == 450
        days = [c.day for c in candles]
        assert days == sorted(set(days))
        assert set(days) <= nyse_sessions()
        # At noon on the 24th the last completed session is the 23rd; the 24th,
        # trading, is the last candle, a partial one.
        assert days[-1] == date(2026, 11, 24)
        expected = sorted(d for d in nyse_sessions() if d <= date(2026, 11, 24))[-450:]
        assert days == expected
        for c in candles:
            assert 0 < c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high
            assert c.volume > 0
    assert len(market.get_daily_candles("AAPL", 5000)) > 1900  # everything since 2019


def test_realised_volatility_matches_parameters(market: SimulatedMarket) -> None:
    """The diffusion's volatility, report days aside (their earnings moves come on top)."""
    for symbol in [*SAMPLE, *generated(market)]:
        candles = market.get_daily_candles(symbol, 1500)[:-1]
        reports = set(earnings_dates(market.params(symbol), candles[0].day, candles[-1].day))
        returns = [
            math.log(c.close / prev.close)
            for prev, c in itertools.pairwise(candles)
            if c.day not in reports
        ]
        realised = float(np.std(returns)) * math.sqrt(252)
        assert realised == pytest.approx(market.params(symbol).volatility, rel=0.15)


@pytest.mark.parametrize("later", [timedelta(days=1), timedelta(days=430)])
def test_past_candles_do_not_change_as_time_moves(
    market: SimulatedMarket, later: timedelta
) -> None:
    moved = fixed(NOON + later)
    for symbol in [*SAMPLE, *generated(market)]:
        before = market.get_daily_candles(symbol, 401)[:-1]  # completed: not noon's partial
        after = moved.get_daily_candles(symbol, 800)
        assert after[-1].day > before[-1].day
        overlap = [c for c in after if c.day <= before[-1].day][-400:]
        assert overlap == before


def test_quotes_move_during_market_hours_only(market: SimulatedMarket) -> None:
    symbols = market.symbols[:50]
    at_noon = market.get_quotes(symbols)
    five_minutes = fixed(NOON + timedelta(minutes=5)).get_quotes(symbols)
    moved = [s for s in symbols if at_noon[s].last != five_minutes[s].last]
    assert len(moved) > 40
    weekend_a = fixed(SATURDAY).get_quotes(symbols)
    weekend_b = fixed(SATURDAY + timedelta(hours=20)).get_quotes(symbols)
    for s in symbols:
        assert weekend_a[s].model_dump(exclude={"time"}) == weekend_b[s].model_dump(
            exclude={"time"}
        )


def test_quote_fields_agree_with_candles(market: SimulatedMarket) -> None:
    for symbol in [*SAMPLE, *generated(market)]:
        quote = market.get_quote(symbol)
        assert quote.time == NOON
        assert 0 < quote.bid <= quote.last <= quote.ask
        candles = market.get_daily_candles(symbol, 2)[:-1]  # without Tuesday's partial bar
        assert quote.prev_close == candles[-1].close  # Monday's close, seen on Tuesday
        # After Tuesday's close the quote is Tuesday's close, prev_close still Monday's.
        evening = fixed(datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
        tuesday = evening.get_daily_candles(symbol, 1)[0]
        assert tuesday.day == date(2026, 11, 24)
        assert tuesday.low <= quote.last <= tuesday.high
        assert evening.get_quote(symbol).last == tuesday.close
        assert evening.get_quote(symbol).prev_close == candles[-1].close


def test_the_session_in_progress_is_a_partial_bar() -> None:
    """Issue 20: at 15:00 ET the TSLA chart said 535.01 (the day before's close)
    against a live 555.12. The chart, SMAs, support and a screen's price read the
    candles, so today's session is their last bar while it trades."""
    three_pm = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    for symbol in [*SAMPLE, *generated(fixed(three_pm))]:
        market = fixed(three_pm)
        quote = market.get_quote(symbol)
        *before, today = market.get_daily_candles(symbol, 30)
        assert (today.day, today.close) == (date(2026, 11, 24), quote.last)
        assert before[-1].day == date(2026, 11, 23) and len(before) == 29
        # It grows through the session into the day's candle.
        noon = fixed(NOON).get_daily_candles(symbol, 1)[0]
        closed = fixed(datetime(2026, 11, 24, 23, 0, tzinfo=UTC)).get_daily_candles(symbol, 1)[0]
        assert noon.open == today.open == closed.open
        assert closed.low <= today.low <= noon.low and noon.high <= today.high <= closed.high
        assert noon.volume < today.volume < closed.volume
    # Before the open and on a weekend there is no partial bar.
    early = fixed(datetime(2026, 11, 24, 13, 0, tzinfo=UTC)).get_daily_candles("AAPL", 1)
    assert early[0].day == date(2026, 11, 23)
    weekend = fixed(SATURDAY).get_daily_candles("AAPL", 1)
    assert weekend[0].day.weekday() == 4


async def test_the_chart_step_sees_the_live_price() -> None:
    three_pm = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    market = fixed(three_pm)
    broker = SimulatedBroker(market, InMemoryPaperAccount())
    chart = await AnalysisActivities(broker, None, None).chart_analysis(  # type: ignore[arg-type]
        SymbolRequest(symbol="TSLA")
    )
    assert chart.price == market.get_quote("TSLA").last and chart.as_of == date(2026, 11, 24)


def test_unknown_symbols_raise(market: SimulatedMarket) -> None:
    for bad in ["ZZZZZ", "aapl", "", "AAPL;DROP"]:
        with pytest.raises(UnknownSymbol):
            market.get_quote(bad)
        with pytest.raises(UnknownSymbol):
            market.get_daily_candles(bad, 10)
        with pytest.raises(UnknownSymbol):
            market.get_option_chain(bad)
        with pytest.raises(UnknownSymbol):
            market.get_market_metrics(bad)


async def test_broker_marks_positions_and_balances() -> None:
    market = fixed(NOON)
    account = InMemoryPaperAccount()
    assert await account.seed_if_empty(market, NOON - timedelta(days=3))
    broker = SimulatedBroker(market, account)
    assert isinstance(broker, Broker)
    assert broker.name == "simulated"
    assert await broker.now() == NOON
    with pytest.raises(UnknownSymbol):
        await broker.get_quotes(["AAPL", "ZZNOP"])

    positions = await broker.get_positions()
    assert {p.instrument for p in positions} == {"equity", "option"}
    for p in positions:
        if p.instrument == "equity":
            quote = market.get_quote(p.symbol)
            assert p.mark == quote.mark and p.prev_close == quote.prev_close
            assert p.delta == 1.0
        else:
            chain = await broker.get_option_chain(p.underlying)
            listed = next(o for o in chain.options if o.occ_symbol == p.symbol)
            assert p.mark == listed.mid
            assert p.delta == pytest.approx(listed.delta, abs=1e-4)
            assert -1 < p.delta < 0 and p.prev_close > 0

    (balances,) = await broker.get_balances()
    cash = await account.get_cash()
    nlv = cash + sum(p.mark * p.quantity * p.multiplier for p in positions)
    assert balances.cash == cash
    assert balances.net_liquidating_value == pytest.approx(nlv, abs=0.01)
    # Requirement recomputed by hand: 25 % of long stock, CBOE naked-put rule for puts.
    spots = {p.underlying: market.get_quote(p.underlying).mark for p in positions}
    requirement = 0.0
    for p in positions:
        if p.instrument == "equity":
            requirement += 0.25 * p.quantity * p.mark
        else:
            s, k = spots[p.underlying], p.strike
            assert k is not None
            requirement += 100 * (p.mark + max(0.2 * s - max(s - k, 0), 0.1 * k))
    assert balances.maintenance_requirement == pytest.approx(requirement, abs=0.01)
    assert balances.buying_power == pytest.approx(nlv - requirement, abs=0.02)
    (acct,) = await broker.get_accounts()
    assert acct.account_number == account.account_number and acct.is_paper


async def test_an_expired_option_settles_against_its_expiration_close() -> None:
    """Issue 20: ten days after expiry the seeded put was still held, marked at its
    intrinsic value against the expiry close. Now it settled at that close."""
    market = fixed(NOON)
    account = InMemoryPaperAccount()
    await account.seed_if_empty(market, NOON)
    put = next(p for p in await account.get_positions() if p.instrument == "option")
    assert put.expiration is not None and put.strike is not None
    after = fixed(datetime.combine(put.expiration + timedelta(days=10), datetime.min.time(), UTC))
    broker = SimulatedBroker(after, account)
    assert put.symbol not in {p.symbol for p in await broker.get_positions()}
    (event,) = [e for e in await broker.get_option_events(NOON) if e.symbol == put.symbol]
    expiry_close = next(
        c.close for c in after.get_daily_candles(put.underlying, 15) if c.day == put.expiration
    )
    assert (event.day, event.settlement_price) == (put.expiration, expiry_close)
    in_the_money = round(put.strike - expiry_close, 2) >= 0.01
    assert event.kind == ("assigned" if in_the_money else "expired")


@pytest.mark.parametrize(
    "at",
    [
        NOON,  # during Tuesday's session
        datetime(2026, 11, 24, 23, 0, tzinfo=UTC),  # Tuesday evening
        datetime(2026, 11, 25, 13, 0, tzinfo=UTC),  # Wednesday 08:00 ET, before the open
    ],
)
async def test_on_a_day_without_trades_day_pnl_is_the_nlv_change(at: datetime) -> None:
    """Issue 20: NLV changed -257.00 from one close to the next session while day
    P&L said -254.75: options' previous closes were theoretical values, their
    marks listed mids. Both are now marks, so the two agree to the cent."""
    seeded = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # the Friday before: no trades since
    account = InMemoryPaperAccount()
    await account.seed_if_empty(fixed(seeded), seeded)
    now = SimulatedBroker(fixed(at), account)
    previous_close = fixed(at).previous_close_time(at)
    then = SimulatedBroker(fixed(previous_close), account)
    positions = await now.get_positions()
    assert not await now.get_fills(previous_close)
    ((balances_now,), (balances_then,)) = (await now.get_balances(), await then.get_balances())
    change = balances_now.net_liquidating_value - balances_then.net_liquidating_value
    # Each line and the NLV are rounded to cents: at most half a cent apart per line.
    assert day_pnl(positions) == pytest.approx(change, abs=0.005 * (len(positions) + 1))
    for p in positions:
        (marked_then,) = [q for q in await then.get_positions() if q.symbol == p.symbol]
        assert p.prev_close == marked_then.mark
