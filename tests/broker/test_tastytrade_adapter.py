"""The tastytrade adapter against the in-process fake of the tastytrade API.

Every method's mapping is compared field by field with what the fake served;
every injected fault must end in the right retryable / non-retryable error; no
credential value may show up in an error or a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import traceback
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import TypeAdapter
from tastytrade.metrics import MarketMetricInfo

from tests.helpers.fake_tastytrade import rest
from tests.helpers.fake_tastytrade.app import FakeTastytrade
from tests.helpers.fake_tastytrade.faults import HttpFault
from tests.helpers.fake_tastytrade.scenario import Scenario, occ_symbol
from ttai import telemetry
from ttai.broker.base import (
    Broker,
    BrokerAuthError,
    BrokerError,
    BrokerSchemaError,
    BrokerUnavailable,
    UnknownSymbol,
)
from ttai.broker.credentials import TastytradeCredentials, load_credentials
from ttai.broker.tastytrade.broker import TastytradeBroker
from ttai.broker.tastytrade.candles import candle_day
from ttai.broker.tastytrade.contracts import DTE_MARGIN_DAYS, STRATEGY_DTE_WINDOW
from ttai.cli import broker as broker_cli
from ttai.cli.common import CliError
from ttai.domain.analytics import csp
from ttai.domain.analytics.pnl import day_pnl
from ttai.domain.analytics.technicals import atr
from ttai.models.market import (
    Candle,
    Fill,
    MarketMetrics,
    OptionChain,
    OptionQuote,
    Position,
    Quote,
)


@pytest.fixture
def fake() -> FakeTastytrade:
    return FakeTastytrade(Scenario.small())


@pytest.fixture
async def broker(fake: FakeTastytrade) -> AsyncIterator[TastytradeBroker]:
    b = fake.broker(stream_timeout=5)
    yield b
    await b.close()


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """What the code under test counted through `ttai.telemetry.count`, by (name, kind)."""
    seen: Counter[tuple[str, str]] = Counter()

    def count(name: str, value: int = 1, **attributes: str) -> None:
        seen[name, attributes.get("kind", "")] += value

    monkeypatch.setattr(telemetry, "count", count)
    return seen


def assert_no_secrets(fake: FakeTastytrade, *texts: str) -> None:
    values = fake.secret_values()
    assert fake.access_tokens, "the fake never issued a token: the check would be empty"
    for text in texts:
        for value in values:
            assert value not in text


def error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


# -- mapping -----------------------------------------------------------------------------


async def test_is_a_broker(broker: TastytradeBroker) -> None:
    assert isinstance(broker, Broker)
    assert broker.name == "tastytrade"


async def test_accounts(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    accounts = await broker.get_accounts()
    assert [(a.account_number, a.nickname) for a in accounts] == [
        (a.account_number, a.nickname) for a in fake.scenario.accounts
    ]
    assert all(a.is_paper for a in accounts)  # sandbox credentials


async def test_quotes_map_every_field(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    quotes = await broker.get_quotes(["AAPL", "BRK.B"])
    assert quotes == fake.scenario.quotes
    # Class shares go to the API as BRK/B and come back under the caller's name.
    assert fake.requests[-1].query_params.getlist("equity") == ["AAPL", "BRK/B"]


async def test_quotes_are_chunked_at_100_symbols() -> None:
    now = Scenario.small().now
    names = [f"{a}{b}{c}" for a in "ABC" for b in "ABCDEFGHIJ" for c in "ABCDEFGHIJ"][:250]
    quotes = {
        s: Quote(symbol=s, bid=10 + i, ask=10.5 + i, last=10.2 + i, prev_close=9 + i, time=now)
        for i, s in enumerate(names)
    }
    fake = FakeTastytrade(Scenario(now=now, quotes=quotes))
    broker = fake.broker()
    try:
        assert await broker.get_quotes(names) == quotes
    finally:
        await broker.close()
    sizes = [
        len(r.query_params.getlist("equity"))
        for r in fake.requests
        if r.url.path == "/market-data/by-type"
    ]
    assert sizes == [100, 100, 50]


async def test_market_metrics_scales(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    metrics = await broker.get_market_metrics(["AAPL", "BRK.B"])
    for symbol, served in fake.scenario.metrics.items():
        got = metrics[symbol]
        # The API sends ranks as 0-1 fractions; the model holds 0-100.
        assert got.iv_rank == pytest.approx(served.iv_rank)
        assert got.iv_percentile == pytest.approx(served.iv_percentile)
        assert got.implied_volatility == pytest.approx(served.implied_volatility)
        assert got.model_dump(exclude={"iv_rank", "iv_percentile", "implied_volatility"}) == (
            served.model_dump(exclude={"iv_rank", "iv_percentile", "implied_volatility"})
        )
    assert metrics["AAPL"].next_earnings is not None
    # The dividend yield is a fraction on both sides (compared above too).
    assert metrics["AAPL"].dividend_yield == 0.0045 and metrics["BRK.B"].dividend_yield == 0


def test_fake_market_metrics_use_the_api_scales() -> None:
    """Pins the fake to what the real /market-metrics sends (the SDK's model, the
    developer docs' example and captured responses agree): IV rank, its tos/tw
    variants and the IV percentile are 0-1 fractions (rank and percentile as
    strings), the IV index is a fraction, the 30-day IV and HV are percentages.
    The dividend yield is a fraction too (a captured AAPL response: "0.006396146"
    beside a quarterly $0.24 a share; in percent AAPL would cost $15,000)."""
    m = MarketMetrics(
        symbol="AAPL",
        iv_rank=42.5,
        iv_percentile=61.25,
        implied_volatility=0.3,
        liquidity_rating=4,
        beta=1.2,
        dividend_yield=0.031,
    )
    now = datetime(2026, 11, 27, 15, tzinfo=UTC)
    item = rest.market_metrics("AAPL", m, now)
    assert item["implied-volatility-index-rank"] == "0.425"
    assert item["tos-implied-volatility-index-rank"] == "0.425"
    assert 0 <= float(item["tw-implied-volatility-index-rank"]) <= 1
    assert item["implied-volatility-percentile"] == "0.6125"
    assert item["implied-volatility-index"] == "0.3"
    assert item["implied-volatility-30-day"] == "30.0"
    assert float(item["historical-volatility-30-day"]) > 1
    assert item["dividend-yield"] == "0.031"
    info = MarketMetricInfo(**item)  # the SDK's model reads it as the real API's
    assert info.implied_volatility_index_rank == "0.425"
    assert info.implied_volatility_percentile == "0.6125"
    assert info.dividend_yield == Decimal("0.031")
    no_dividend = rest.market_metrics("KO", m.model_copy(update={"dividend_yield": 0}), now)
    assert no_dividend["dividend-yield"] == "0.0"  # as the API sends it for none


async def test_iv_rank_outside_0_1_is_not_read_as_a_fraction(
    fake: FakeTastytrade,
    broker: TastytradeBroker,
    counts: Counter[tuple[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 42.5 would be a percentage: never clamp it to a rank of 100.
    fake.faults.metrics_overrides["AAPL"] = {
        "implied-volatility-index-rank": "42.5",
        "tos-implied-volatility-index-rank": "42.5",
        "tw-implied-volatility-index-rank": "0.4",
    }
    fake.faults.metrics_overrides["BRK/B"] = {
        "implied-volatility-index-rank": "NaN",
        "tos-implied-volatility-index-rank": None,
        "tw-implied-volatility-index-rank": "-3.0",
        "implied-volatility-percentile": "250.0",
    }
    metrics = await broker.get_market_metrics(["AAPL", "BRK.B"])
    assert metrics["AAPL"].iv_rank == 40.0  # the next rank field that is a fraction
    # None readable: 0, which reads as low IV (no put is sold on it), never as high.
    assert (metrics["BRK.B"].iv_rank, metrics["BRK.B"].iv_percentile) == (0.0, 0.0)
    assert counts["ttai_broker_records_repaired_total", "market_metrics"] == 2
    assert "BRK/B" in caplog.text and "implied-volatility-index-rank" in caplog.text


async def test_dividend_yield_outside_0_1_is_not_read_as_a_fraction(
    fake: FakeTastytrade,
    broker: TastytradeBroker,
    counts: Counter[tuple[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.faults.metrics_overrides["AAPL"] = {"dividend-yield": "0.006396146"}  # as captured
    # 3.1 would be a percentage (310 % as a fraction): the yield is unknown, 0.
    fake.faults.metrics_overrides["BRK/B"] = {"dividend-yield": "3.1"}
    metrics = await broker.get_market_metrics(["AAPL", "BRK.B"])
    assert metrics["AAPL"].dividend_yield == 0.006396146
    assert metrics["BRK.B"].dividend_yield == 0.0
    assert counts["ttai_broker_records_repaired_total", "market_metrics"] == 1
    assert "BRK/B: dividend-yield not within 0-1" in caplog.text


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


async def test_daily_candles(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    served = fake.scenario.candles["AAPL"]
    assert await broker.get_daily_candles("AAPL", 10) == served[-10:]
    assert await broker.get_daily_candles("AAPL", 1000) == served
    assert fake.contracts == ["AUTO", "AUTO"]


@pytest.mark.parametrize(
    "stamp",
    ["2026-11-25T00:00:00+00:00", "2026-11-25T00:00:00-05:00", "2026-11-25T09:30:00-05:00"],
)
def test_candle_day_reads_every_stamping_convention(stamp: str) -> None:
    ms = int(datetime.fromisoformat(stamp).timestamp() * 1000)
    assert candle_day(ms) == date(2026, 11, 25)


async def test_empty_candle_snapshot_falls_back_to_history_contract(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.empty_candle_snapshot = True
    assert await broker.get_daily_candles("BRK.B", 30) == fake.scenario.candles["BRK.B"][-30:]
    assert fake.contracts == ["AUTO", "HISTORY"]


async def test_candles_of_unknown_symbol(broker: TastytradeBroker) -> None:
    with pytest.raises(UnknownSymbol) as err:
        await broker.get_daily_candles("ZZZZ", 10)
    assert err.value.symbol == "ZZZZ"


async def test_bad_candles_are_repaired_or_dropped(
    fake: FakeTastytrade,
    broker: TastytradeBroker,
    counts: Counter[tuple[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    served = fake.scenario.candles["AAPL"]
    day = [c.day for c in served]
    fake.faults.candle_overrides = {
        day[-2]: {"high": "NaN", "low": "NaN"},  # as dxFeed writes a missing price
        day[-3]: {"high": float("nan"), "low": float("inf")},  # JSON NaN / Infinity
        day[-4]: {"high": served[-4].low, "low": served[-4].high},  # swapped
        day[-5]: {"close": "NaN"},  # no close: nothing to repair from
        day[-6]: {"open": -1.0, "volume": "NaN"},
        day[-7]: {"low": 0.0, "high": served[-7].close - 0.5},  # high below the close
    }
    candles = await broker.get_daily_candles("AAPL", 40)

    by_day = {c.day: c for c in candles}
    for i in (-2, -3):  # high and low rebuilt from the open and close
        c, s = by_day[day[i]], served[i]
        assert (c.open, c.close) == (s.open, s.close)
        assert (c.high, c.low) == (max(s.open, s.close), min(s.open, s.close))
    assert by_day[day[-4]] == served[-4]  # swapped back
    assert day[-5] not in by_day
    assert by_day[day[-6]].open == served[-6].close and by_day[day[-6]].volume == 0
    seventh = by_day[day[-7]]
    assert (seventh.high, seventh.low) == (served[-7].close, min(served[-7].open, seventh.close))
    untouched = {day[i] for i in range(-7, -1)}
    assert [c for c in candles if c.day not in untouched] == [
        c for c in served if c.day not in untouched
    ]
    for c in candles:
        assert 0 < c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high
    # The chart step's numbers stay finite and cross the data converter intact.
    assert math.isfinite(atr(candles))
    as_json = TypeAdapter(list[Candle]).dump_json(candles)
    assert TypeAdapter(list[Candle]).validate_json(as_json) == candles
    assert counts["ttai_broker_records_repaired_total", "candle"] == 5
    assert counts["ttai_broker_records_skipped_total", "candle"] == 1
    assert "AAPL" in caplog.text and "repaired 5" in caplog.text


def in_window(options: list[OptionQuote], today: date) -> list[OptionQuote]:
    first, last = STRATEGY_DTE_WINDOW
    return [o for o in options if first <= (o.expiration - today).days <= last]


async def test_option_chain_maps_every_contract(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    chain = await broker.get_option_chain("AAPL")
    served = in_window(fake.scenario.chains["AAPL"].options, fake.scenario.today)
    assert {(o.expiration - fake.scenario.today).days for o in served} == {35, 42}
    assert chain.underlying == "AAPL"
    assert chain.underlying_price == fake.scenario.quotes["AAPL"].mark
    assert chain.missing == []
    assert sorted(chain.options, key=lambda o: o.occ_symbol) == sorted(
        served, key=lambda o: o.occ_symbol
    )
    # One streamer connection for the whole chain.
    assert fake.websockets_opened == 1


async def test_option_chain_limits_expirations_and_strikes(fake: FakeTastytrade) -> None:
    spot = fake.scenario.quotes["AAPL"].mark
    broker = fake.broker(dte_window=(1, 20), strike_band=0.06)
    try:
        chain = await broker.get_option_chain("AAPL")
    finally:
        await broker.close()
    expected = {
        o.occ_symbol
        for o in fake.scenario.chains["AAPL"].options
        if (o.expiration - fake.scenario.today).days <= 20 and abs(o.strike / spot - 1) <= 0.06
    }
    assert expected and {o.occ_symbol for o in chain.options} == expected


def daily_chain(symbol: str, spot: float, today: date, days: int) -> OptionChain:
    """Expirations every weekday for `days` days, two strikes each, puts and calls."""
    options = [
        OptionQuote(
            occ_symbol=occ_symbol(symbol, expiration, kind, strike),
            underlying=symbol,
            expiration=expiration,
            strike=strike,
            kind=kind,
            bid=1.0,
            ask=1.1,
            open_interest=100,
            volume=10,
            implied_volatility=0.3,
            delta=-0.25 if kind == "put" else 0.5,
            gamma=0.01,
            theta=-0.02,
            vega=0.1,
        )
        for expiration in (today + timedelta(days=n) for n in range(1, days + 1))
        if expiration.weekday() < 5
        for strike in (round(spot * 0.95), round(spot))
        for kind in ("put", "call")
    ]
    now = datetime.now(UTC)
    return OptionChain(underlying=symbol, underlying_price=spot, as_of=now, options=options)


async def test_option_chain_keeps_every_expiration_in_the_strategy_window() -> None:
    scenario = Scenario.small()
    today, spot = scenario.today, scenario.quotes["AAPL"].mark
    scenario.chains["AAPL"] = daily_chain("AAPL", spot, today, days=60)
    served = {o.expiration for o in scenario.chains["AAPL"].options}
    fake = FakeTastytrade(scenario)
    broker = fake.broker()
    try:
        chain = await broker.get_option_chain("AAPL")
    finally:
        await broker.close()
    got = {o.expiration for o in chain.options}

    def dte(day: date) -> int:
        return (day - today).days

    in_window = {e for e in served if csp.MIN_DTE <= dte(e) <= csp.MAX_DTE}
    assert len(in_window) >= 11
    assert in_window <= got  # every expiration the strategy can use
    low, high = csp.MIN_DTE - DTE_MARGIN_DAYS, csp.MAX_DTE + DTE_MARGIN_DAYS
    assert DTE_MARGIN_DAYS == 1  # at most one day either side
    assert got and all(low <= dte(e) <= high for e in got)


async def test_option_chain_reports_contracts_without_data(fake: FakeTastytrade) -> None:
    served = in_window(fake.scenario.chains["AAPL"].options, fake.scenario.today)
    put = next(o for o in served if o.kind == "put")
    fake.faults.silent_symbols = {
        f".AAPL{put.expiration:%y%m%d}P{put.strike:g}",
    }
    broker = fake.broker(stream_timeout=1)
    try:
        chain = await broker.get_option_chain("AAPL")
    finally:
        await broker.close()
    assert chain.missing == [put.occ_symbol]
    assert put.occ_symbol not in {o.occ_symbol for o in chain.options}
    assert len(chain.options) == len(served) - 1


async def test_unknown_symbols(broker: TastytradeBroker) -> None:
    with pytest.raises(UnknownSymbol, match="ZZZZ"):
        await broker.get_quotes(["AAPL", "ZZZZ"])
    with pytest.raises(UnknownSymbol, match="ZZZZ"):
        await broker.get_market_metrics(["ZZZZ"])
    with pytest.raises(UnknownSymbol, match="ZZZZ") as err:
        await broker.get_option_chain("ZZZZ")
    assert not err.value.retryable


async def test_one_session_shared_by_concurrent_calls(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    chains = await asyncio.gather(
        broker.get_option_chain("AAPL"),
        broker.get_option_chain("BRK.B"),
        broker.get_quotes(["AAPL"]),
        broker.get_daily_candles("AAPL", 5),
        broker.get_positions(),
    )
    assert chains[0].options and chains[1].options
    assert len(fake.access_tokens) == 1  # one OAuth refresh served everything
    # Read-only: nothing but GETs, apart from the OAuth token request.
    assert {(r.method, r.url.path) for r in fake.requests if r.method != "GET"} == {
        ("POST", "/oauth/token")
    }


# -- faults ------------------------------------------------------------------------------


async def test_revoked_refresh_token_is_an_auth_error(fake: FakeTastytrade) -> None:
    broker = TastytradeBroker(
        TastytradeCredentials(fake.provider_secret, "revoked-refresh-token"),
        client_kwargs={"transport": fake.transport()},
    )
    try:
        with pytest.raises(BrokerAuthError) as err:
            await broker.get_accounts()
    finally:
        await broker.close()
    assert not err.value.retryable
    assert "refresh token expired or revoked" in str(err.value)
    assert "revoked-refresh-token" not in error_text(err.value)
    assert fake.provider_secret not in error_text(err.value)


@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_api_call_is_an_auth_error(
    fake: FakeTastytrade, broker: TastytradeBroker, status: int
) -> None:
    fake.faults.http.append(HttpFault("/customers/me/accounts", status=status))
    with pytest.raises(BrokerAuthError):
        await broker.get_accounts()


async def test_rate_limit_is_retryable_with_retry_after(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.http.append(HttpFault("/market-data", status=429, retry_after=7))
    with pytest.raises(BrokerUnavailable) as err:
        await broker.get_quotes(["AAPL"])
    assert err.value.retryable and err.value.retry_after == 7
    # The fault was one response: the retry succeeds.
    assert (await broker.get_quotes(["AAPL"]))["AAPL"] == fake.scenario.quotes["AAPL"]


async def test_server_error_is_retryable(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    fake.faults.http.append(HttpFault("/option-chains", status=500))
    with pytest.raises(BrokerUnavailable) as err:
        await broker.get_option_chain("AAPL")
    assert err.value.retryable and err.value.retry_after is None
    assert (await broker.get_option_chain("AAPL")).options


async def test_token_endpoint_outage_is_retryable(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.http.append(HttpFault("/oauth/token", status=503, retry_after=3))
    with pytest.raises(BrokerUnavailable) as err:
        await broker.get_balances()
    assert err.value.retry_after == 3


async def test_network_fault_is_retryable() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    broker = TastytradeBroker(
        TastytradeCredentials("secret", "refresh"),
        client_kwargs={"transport": httpx2.MockTransport(refuse)},
    )
    try:
        with pytest.raises(BrokerUnavailable, match="cannot reach tastytrade") as err:
            await broker.get_accounts()
    finally:
        await broker.close()
    assert err.value.retryable


async def test_malformed_json_is_a_schema_error(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.http.append(HttpFault("/market-metrics", kind="malformed"))
    with pytest.raises(BrokerSchemaError) as err:
        await broker.get_market_metrics(["AAPL"])
    assert not err.value.retryable


async def test_missing_required_field_is_a_schema_error(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.http.append(
        HttpFault("/market-metrics", kind="missing_field", field_name="updated-at")
    )
    with pytest.raises(BrokerSchemaError, match="updated-at") as err:
        await broker.get_market_metrics(["AAPL", "BRK.B"])
    assert not err.value.retryable


async def test_dropped_websocket_is_retryable_and_unwrapped(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.drop_websocket = True
    with pytest.raises(BrokerUnavailable) as err:
        await broker.get_option_chain("AAPL")
    assert not isinstance(err.value, BaseExceptionGroup)
    with pytest.raises(BrokerUnavailable):
        await broker.get_daily_candles("AAPL", 5)
    fake.faults.drop_websocket = False
    assert (await broker.get_option_chain("AAPL")).options


# -- secrets -----------------------------------------------------------------------------


async def test_no_secret_in_errors_or_logs(
    fake: FakeTastytrade, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker = fake.broker(stream_timeout=5)
    errors: list[BaseException] = []
    try:
        await broker.get_accounts()
        await broker.get_positions()
        await broker.get_balances()
        await broker.get_quotes(["AAPL"])
        await broker.get_market_metrics(["AAPL"])
        await broker.get_daily_candles("AAPL", 5)
        await broker.get_option_chain("AAPL")
        # A refusal whose message echoes credentials must come out redacted.
        echo = f"bad grant {fake.refresh_token} / {fake.access_tokens[-1]}"
        fake.faults.http.append(HttpFault("/market-data", status=400, message=echo))
        fake.faults.http.append(HttpFault("/market-metrics", kind="malformed"))
        fake.faults.http.append(HttpFault("/customers", status=401))
        for call in (
            broker.get_quotes(["AAPL"]),
            broker.get_market_metrics(["AAPL"]),
            broker.get_accounts(),
        ):
            with pytest.raises(BrokerError) as err:
                await call
            errors.append(err.value)
    finally:
        await broker.close()
    assert "***" in str(errors[0])
    assert_no_secrets(
        fake,
        caplog.text,
        repr(broker),
        *(error_text(e) for e in errors),
    )
    assert logging.getLogger("tastytrade").getEffectiveLevel() >= logging.INFO


def test_credentials_repr_hides_values() -> None:
    creds = TastytradeCredentials("the-provider-secret", "the-refresh-token", is_test=True)
    assert "the-provider-secret" not in repr(creds) and "the-refresh-token" not in str(creds)


# -- credentials -------------------------------------------------------------------------


def test_credentials_from_environment() -> None:
    env = {"TT_PROVIDER_SECRET": "s", "TT_REFRESH_TOKEN": "r", "TT_SANDBOX": "1"}
    assert load_credentials(env) == TastytradeCredentials("s", "r", is_test=True)
    assert load_credentials({}) is None
    with pytest.raises(BrokerAuthError, match="TT_REFRESH_TOKEN is not set"):
        load_credentials({"TT_PROVIDER_SECRET": "s"})


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("tt.json", '{"provider_secret": "fs", "refresh_token": "fr", "sandbox": true}'),
        ("tt.toml", 'provider_secret = "fs"\nrefresh_token = "fr"\nsandbox = true\n'),
    ],
)
def test_credentials_from_private_file(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    env = {"TTAI_TASTYTRADE_SECRETS_FILE": str(path)}
    assert load_credentials(env) == TastytradeCredentials("fs", "fr", is_test=True)
    # The environment wins over the file.
    both = {**env, "TT_PROVIDER_SECRET": "es", "TT_REFRESH_TOKEN": "er"}
    assert load_credentials(both) == TastytradeCredentials("es", "er")


def test_readable_secrets_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tt.json"
    path.write_text('{"provider_secret": "fs", "refresh_token": "fr"}')
    path.chmod(0o644)
    with pytest.raises(BrokerAuthError, match="chmod 600"):
        load_credentials({"TTAI_TASTYTRADE_SECRETS_FILE": str(path)})


def test_broken_secrets_file_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "tt.json"
    path.write_text('{"provider_secret": "very-secret-value", ')
    os.chmod(path, 0o600)
    with pytest.raises(BrokerAuthError, match="not valid JSON") as err:
        load_credentials({"TTAI_TASTYTRADE_SECRETS_FILE": str(path)})
    assert "very-secret-value" not in error_text(err.value)


def test_from_environment_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TT_PROVIDER_SECRET", "TT_REFRESH_TOKEN", "TTAI_TASTYTRADE_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert TastytradeBroker.from_environment() is None


# -- broker check ------------------------------------------------------------------------


def test_mask_account() -> None:
    assert broker_cli.mask_account("5WT00012") == "5WT•••12"
    assert broker_cli.mask_account("1234") == "•••34"


async def test_broker_check_lists_masked_accounts(
    fake: FakeTastytrade, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await broker_cli.check(fake.broker) == 0
    out = capsys.readouterr().out
    assert "5WT•••12" in out and "5WT•••34" in out and "sandbox" in out
    assert "5WT00012" not in out
    assert await broker_cli.check(fake.broker, as_json=True) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [a["account"] for a in listed["accounts"]] == ["5WT•••12", "5WT•••34"]


async def test_broker_check_errors_are_one_line(fake: FakeTastytrade) -> None:
    with pytest.raises(CliError, match="no tastytrade credentials"):
        await broker_cli.check(lambda: None)
    fake.faults.http.append(HttpFault("/oauth/token", status=401))
    with pytest.raises(CliError, match="refresh token expired or revoked") as err:
        await broker_cli.check(fake.broker)
    assert err.value.code == 2 and "\n" not in str(err.value)


async def test_option_symbols_follow_occ(fake: FakeTastytrade) -> None:
    # Guards the fake itself: the chain's OCC symbols are what the adapter returns.
    o = fake.scenario.chains["AAPL"].options[0]
    assert occ_symbol("AAPL", o.expiration, o.kind, o.strike) == o.occ_symbol
    assert len(o.occ_symbol) == 21
    assert o.expiration - fake.scenario.today == timedelta(days=14)
