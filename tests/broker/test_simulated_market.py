"""The simulated market: deterministic, consistent, moving with time, honest about unknowns."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas_market_calendars as mcal
import pytest
from pydantic import TypeAdapter

from ttai.broker import Broker, UnknownSymbol
from ttai.broker.paper.memory import InMemoryPaperAccount
from ttai.broker.simulated import (
    IV_RANK_SESSIONS,
    KNOWN_SYMBOLS,
    RESERVED_UNKNOWN_PREFIX,
    RISK_FREE_RATE,
    SimulatedBroker,
    SimulatedMarket,
    is_simulated,
)
from ttai.broker.simulated.earnings import earnings_dates
from ttai.data.sp500 import sp500_symbols
from ttai.domain.analytics import black_scholes as bs
from ttai.domain.market_calendar import NEW_YORK
from ttai.models.common import Symbol
from ttai.models.market import OptionChain

# Tuesday 24 Nov 2026, 12:00 in New York: the market is open.
NOON = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
SAMPLE = ["AAPL", "SPY", "KO", "TSLA"]


def fixed(at: datetime) -> SimulatedMarket:
    return SimulatedMarket(seed=7, clock=lambda: at)


@pytest.fixture(scope="module")
def market() -> SimulatedMarket:
    return fixed(NOON)


@pytest.fixture(scope="module")
def nyse_sessions() -> set[date]:
    schedule = mcal.get_calendar("NYSE").schedule("2018-12-01", "2029-12-31")
    return {d.date() for d in schedule.index}


def generated(market: SimulatedMarket, count: int = 5) -> list[str]:
    return [s for s in market.symbols if s not in KNOWN_SYMBOLS][:count]


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
        assert market.get_daily_candles(symbol, 5)[-1].day == date(2026, 11, 23)
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
        "from ttai.broker.simulated import SimulatedMarket\n"
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


def test_candles_cover_400_sessions_and_are_consistent(
    market: SimulatedMarket, nyse_sessions: set[date]
) -> None:
    for symbol in [*SAMPLE, *generated(market)]:
        candles = market.get_daily_candles(symbol, 450)
        assert len(candles) == 450
        days = [c.day for c in candles]
        assert days == sorted(set(days))
        assert set(days) <= nyse_sessions
        # At noon on the 24th the last completed session is the 23rd.
        assert days[-1] == date(2026, 11, 23)
        expected = sorted(d for d in nyse_sessions if d <= date(2026, 11, 23))[-450:]
        assert days == expected
        for c in candles:
            assert 0 < c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high
            assert c.volume > 0
    assert len(market.get_daily_candles("AAPL", 5000)) > 1900  # everything since 2019


def test_realised_volatility_matches_parameters(market: SimulatedMarket) -> None:
    for symbol in [*SAMPLE, *generated(market)]:
        closes = np.array([c.close for c in market.get_daily_candles(symbol, 1500)])
        realised = np.diff(np.log(closes)).std() * math.sqrt(252)
        assert realised == pytest.approx(market.params(symbol).volatility, rel=0.15)


@pytest.mark.parametrize("later", [timedelta(days=1), timedelta(days=430)])
def test_past_candles_do_not_change_as_time_moves(
    market: SimulatedMarket, later: timedelta
) -> None:
    moved = fixed(NOON + later)
    for symbol in [*SAMPLE, *generated(market)]:
        before = market.get_daily_candles(symbol, 400)
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
        candles = market.get_daily_candles(symbol, 2)
        assert quote.prev_close == candles[-1].close  # Monday's close, seen on Tuesday
        # After Tuesday's close the quote is Tuesday's close, prev_close still Monday's.
        evening = fixed(datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
        tuesday = evening.get_daily_candles(symbol, 1)[0]
        assert tuesday.day == date(2026, 11, 24)
        assert tuesday.low <= quote.last <= tuesday.high
        assert evening.get_quote(symbol).last == tuesday.close
        assert evening.get_quote(symbol).prev_close == candles[-1].close


@functools.cache
def _nyse_closes() -> dict[date, datetime]:
    schedule = mcal.get_calendar("NYSE").schedule("2026-01-01", "2029-12-31")
    return {d.date(): c.to_pydatetime() for d, c in schedule["market_close"].items()}


def _expiry_close(day: date) -> datetime:
    return _nyse_closes()[day]


OCC = re.compile(r"^([A-Z]{1,5}) *(\d{6})([PC])(\d{8})$")


def _check_chain(market: SimulatedMarket, chain: OptionChain) -> None:
    symbol = chain.underlying
    today = chain.as_of.astimezone(NEW_YORK).date()
    expirations = sorted({o.expiration for o in chain.options})
    dte = [(e - today).days for e in expirations]
    assert any(30 <= d <= 45 for d in dte), dte
    assert max(dte) >= 150
    assert all(d >= 0 for d in dte)
    q = market.params(symbol).dividend_yield
    prev_close = market.get_daily_candles(symbol, 1)[-1].close
    closes = {e: _expiry_close(e) for e in expirations}
    for o in chain.options:
        m = OCC.match(o.occ_symbol)
        assert m, o.occ_symbol
        assert len(o.occ_symbol) == 21
        assert m.group(1) == symbol
        assert datetime.strptime(m.group(2), "%y%m%d").date() == o.expiration
        assert m.group(3) == o.kind[0].upper()
        assert int(m.group(4)) / 1000 == o.strike
        assert abs(o.strike / prev_close - 1) <= 0.35 + 1e-9
        assert 0 <= o.bid < o.ask
        assert o.open_interest >= 0 and o.volume >= 0
        years = (closes[o.expiration] - chain.as_of).total_seconds() / (365 * 86400)
        expected = bs.evaluate(
            o.kind, chain.underlying_price, o.strike, years, RISK_FREE_RATE, o.implied_volatility, q
        )
        assert o.delta == pytest.approx(expected.delta, abs=1e-9)
        assert o.gamma == pytest.approx(expected.gamma, rel=1e-9, abs=1e-12)
        assert o.theta == pytest.approx(expected.theta, rel=1e-9, abs=1e-12)
        assert o.vega == pytest.approx(expected.vega, rel=1e-9, abs=1e-12)
        # The market straddles the theoretical value.
        assert o.bid <= expected.price + 1e-9 and o.ask >= expected.price - 1e-9
        if o.kind == "put":
            assert -1.0 <= o.delta <= 0.0
            if (o.expiration - today).days >= 7 and abs(
                o.strike / chain.underlying_price - 1
            ) < 0.2:
                assert -1.0 < o.delta < 0.0


def test_option_chain_prices_and_greeks(market: SimulatedMarket) -> None:
    for symbol in [*SAMPLE, *generated(market)]:
        chain = market.get_option_chain(symbol)
        assert chain.underlying_price == market.get_quote(symbol).last
        _check_chain(market, chain)


def test_option_chain_shape(market: SimulatedMarket) -> None:
    chain = market.get_option_chain("AAPL")
    today = NOON.astimezone(NEW_YORK).date()
    expirations = sorted({o.expiration for o in chain.options})
    # Weeklies on Fridays, or Thursday 24 Dec because Christmas is a holiday.
    assert date(2026, 12, 24) in expirations and date(2026, 12, 25) not in expirations
    assert all(e.weekday() in (3, 4) for e in expirations)
    assert sum(1 for e in expirations if (e - today).days <= 56) >= 8
    target = next(e for e in expirations if 30 <= (e - today).days <= 45)
    puts = sorted(
        (o for o in chain.options if o.kind == "put" and o.expiration == target),
        key=lambda o: o.strike,
    )
    calls = {o.strike: o for o in chain.options if o.kind == "call" and o.expiration == target}
    spot = chain.underlying_price
    atm = min(puts, key=lambda o: abs(o.strike - spot))
    low = min(puts, key=lambda o: abs(o.strike - 0.8 * spot))
    assert low.implied_volatility > atm.implied_volatility  # put skew
    assert calls[atm.strike].implied_volatility == atm.implied_volatility
    assert [o.delta for o in puts] == sorted((o.delta for o in puts), reverse=True)
    near = [o.open_interest for o in puts if abs(o.strike / spot - 1) < 0.05]
    far = [o.open_interest for o in puts if abs(o.strike / spot - 1) > 0.25]
    assert np.mean(near) > 3 * np.mean(far)
    # Put-call parity on theoretical mids within the spread.
    t = (_expiry_close(target) - NOON).total_seconds() / (365 * 86400)
    q = market.params("AAPL").dividend_yield
    for put in puts:
        call = calls[put.strike]
        parity = spot * math.exp(-q * t) - put.strike * math.exp(-RISK_FREE_RATE * t)
        spread = (put.ask - put.bid) + (call.ask - call.bid)
        assert abs((call.mid - put.mid) - parity) <= spread / 2 + 0.01


def test_market_metrics_rank_and_percentile(market: SimulatedMarket) -> None:
    for symbol in [*SAMPLE, *generated(market)]:
        metrics = market.get_market_metrics(symbol)
        history = market.iv_history(symbol)
        assert len(history) == IV_RANK_SESSIONS
        assert history[-1][0] == date(2026, 11, 24)
        values = [v for _, v in history]
        current = values[-1]
        expected_rank = (current - min(values)) / (max(values) - min(values)) * 100
        below = sum(1 for v in values[:-1] if v < current)
        assert metrics.iv_rank == pytest.approx(expected_rank, abs=0.01)
        assert metrics.iv_percentile == pytest.approx(100 * below / (len(values) - 1), abs=0.01)
        assert metrics.implied_volatility == current
        assert 0 <= metrics.liquidity_rating <= 5
        assert metrics.beta == market.params(symbol).beta
        assert metrics.dividend_yield == market.params(symbol).dividend_yield
    # The IV moves from day to day.
    later = fixed(NOON + timedelta(days=7))
    assert later.get_market_metrics("AAPL").implied_volatility != current or any(
        later.get_market_metrics(s).implied_volatility
        != market.get_market_metrics(s).implied_volatility
        for s in SAMPLE
    )


def chain_iv30(market: SimulatedMarket, chain: OptionChain) -> float:
    """The 30-day IV a broker reads off `chain`: each expiration's at-the-money IV
    (interpolated between the strikes around the forward), then total variance
    interpolated linearly in time to 30 calendar days."""
    q = market.params(chain.underlying).dividend_yield
    points = []
    for expiration in sorted({o.expiration for o in chain.options}):
        years = (_expiry_close(expiration) - chain.as_of).total_seconds() / (365 * 86400)
        if years <= 0:
            continue
        forward = chain.underlying_price * math.exp((RISK_FREE_RATE - q) * years)
        strikes, ivs = zip(
            *sorted(
                (o.strike, o.implied_volatility)
                for o in chain.options
                if o.expiration == expiration and o.kind == "put"
            ),
            strict=True,
        )
        atm = float(np.interp(forward, strikes, ivs))
        points.append((years, atm * atm * years))
    years, variances = zip(*points, strict=True)
    target = 30 / 365
    return math.sqrt(float(np.interp(target, years, variances)) / target)


def test_iv_behind_iv_rank_is_the_30_day_constant_maturity_iv(market: SimulatedMarket) -> None:
    # The example: AAPL showed 0.18 (the short-end session IV) against
    # 0.27 for the 30-DTE at-the-money put.
    chain = market.get_option_chain("AAPL")
    today = NOON.astimezone(NEW_YORK).date()
    thirty = today + timedelta(days=30)  # Thu 24 Dec 2026: a listed weekly
    atm_put = min(
        (o for o in chain.options if o.kind == "put" and o.expiration == thirty),
        key=lambda o: abs(o.strike - chain.underlying_price),
    )
    metrics = market.get_market_metrics("AAPL")
    assert metrics.implied_volatility == pytest.approx(atm_put.implied_volatility, abs=0.005)
    for symbol in [*SAMPLE, *generated(market)]:
        iv30 = chain_iv30(market, market.get_option_chain(symbol))
        assert market.get_market_metrics(symbol).implied_volatility == pytest.approx(
            iv30, abs=0.002
        )


def test_iv_history_is_the_30_day_iv_of_each_past_close(market: SimulatedMarket) -> None:
    closes = _nyse_closes()
    for symbol in ["AAPL", "KO", *generated(market, 2)]:
        history = market.iv_history(symbol)
        for day, iv in history[-200:-1:37]:
            past = market.get_option_chain(symbol, at=closes[day])
            assert iv == pytest.approx(chain_iv30(market, past), abs=0.002), (symbol, day)


def test_earnings_dates(market: SimulatedMarket, nyse_sessions: set[date]) -> None:
    today = NOON.astimezone(NEW_YORK).date()
    assert market.get_market_metrics("SPY").next_earnings is None
    before, after = 0, 0
    for symbol in [s for s in market.symbols[:120] if s not in ("SPY", "QQQ", "IWM")]:
        nxt = market.get_market_metrics(symbol).next_earnings
        if nxt is None:
            continue
        assert nxt in nyse_sessions
        assert today <= nxt <= today + timedelta(days=95)
        if nxt <= today + timedelta(days=38):
            before += 1
        else:
            after += 1
        # Quarterly: the report after next is about 91 days later.
        following = earnings_dates(
            market.params(symbol), nxt + timedelta(days=1), nxt + timedelta(days=120)
        )
        assert 85 <= (following[0] - nxt).days <= 97
    assert before > 10 and after > 10


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


async def test_expired_option_is_marked_at_intrinsic() -> None:
    market = fixed(NOON)
    account = InMemoryPaperAccount()
    await account.seed_if_empty(market, NOON)
    put = next(p for p in await account.get_positions() if p.instrument == "option")
    assert put.expiration is not None and put.strike is not None
    after = fixed(datetime.combine(put.expiration + timedelta(days=10), datetime.min.time(), UTC))
    (marked,) = [
        p for p in await SimulatedBroker(after, account).get_positions() if p.symbol == put.symbol
    ]
    expiry_close = next(
        c.close for c in after.get_daily_candles(put.underlying, 15) if c.day == put.expiration
    )
    assert marked.mark == pytest.approx(max(put.strike - expiry_close, 0.0), abs=1e-6)


def test_report_chain_build_time() -> None:
    """Prints (does not assert) how long a 500-symbol screen spends building chains."""
    market = fixed(NOON)
    symbols = market.symbols[:500]
    market.get_quotes(symbols)  # daily paths are built once per symbol and cached
    start = time.perf_counter()
    contracts = sum(len(market.get_option_chain(s).options) for s in symbols)
    elapsed = time.perf_counter() - start
    print(
        f"\n500 chains ({contracts} contracts) in {elapsed:.2f} s, "
        f"{elapsed / 500 * 1000:.1f} ms per chain"
    )
