"""Quote streams (`QuoteStreaming.stream_quotes`): the simulated market's ticks and
tastytrade's DXLink quotes through the real SDK against the fake, behind the boundary.

The simulated stream runs on a clock the test moves by hand, so what it yields
is exact: each step takes the ticks that fell due (`TickStream.take_due`, what
the stream yields as its clock reaches them), nothing else.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.fake_tastytrade.app import FakeTastytrade
from tests.helpers.fake_tastytrade.faults import HttpFault
from tests.helpers.fake_tastytrade.scenario import Scenario
from tests.helpers.simulated_market import NOON
from ttai.broker.base import (
    BrokerAuthError,
    BrokerSchemaError,
    BrokerUnavailable,
    QuoteStream,
    QuoteStreaming,
)
from ttai.broker.boundary import guarded
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.broker.simulated.ticks import TickStream
from ttai.broker.tastytrade.streaming import MAX_SUBSCRIPTION_SYMBOLS
from ttai.models.market import Quote, Tick

SYMBOLS = ["AAPL", "MSFT", "KO"]


class HandClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def move(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def simulated(seed: int = 7, rate: float = 2.0) -> tuple[SimulatedMarket, HandClock]:
    clock = HandClock(NOON)
    return SimulatedMarket(seed=seed, clock=clock), clock


def run_for(
    market: SimulatedMarket, clock: HandClock, seconds: float, rate: float = 2.0
) -> list[Tick]:
    """Ticks of SYMBOLS while the clock moves `seconds` in steps of 0.1 s."""
    stream = TickStream(market, rate, SYMBOLS)
    ticks: list[Tick] = []
    for _ in range(round(seconds / 0.1)):
        ticks += stream.take_due()
        clock.move(0.1)
    return ticks


def test_both_brokers_stream() -> None:
    market, _ = simulated()
    broker = SimulatedBroker(market, InMemoryPaperAccount())
    assert isinstance(broker, QuoteStreaming)
    assert isinstance(guarded(broker), QuoteStreaming)
    assert isinstance(FakeTastytrade(Scenario.small()).broker(), QuoteStreaming)

    class Polled(SimulatedBroker):
        stream_quotes = None  # type: ignore[assignment]  # opted out: polled only

    polled = Polled(market, InMemoryPaperAccount())
    assert not isinstance(polled, QuoteStreaming)
    assert not isinstance(guarded(polled), QuoteStreaming)


def test_simulated_ticks_are_the_markets_quotes_on_a_fixed_grid() -> None:
    market, clock = simulated()
    ticks = run_for(market, clock, 5.0, rate=2.0)
    by_symbol = {s: [t for t in ticks if t.symbol == s] for s in SYMBOLS}
    last_step = NOON.timestamp() + 4.9
    for symbol, mine in by_symbol.items():
        # A snapshot at the start, then one tick every half second, the last due
        # by the last step.
        times = [t.time.timestamp() for t in mine]
        assert all(abs(b - a - 0.5) < 1e-6 for a, b in itertools.pairwise(times))
        assert times[0] <= NOON.timestamp() < times[0] + 0.5
        assert times[-1] <= last_step < times[-1] + 0.5
        for tick in mine:  # the market's own quote at that instant
            quote = market.get_quote(symbol, tick.time)
            assert (tick.bid, tick.ask, tick.last) == (quote.bid, quote.ask, quote.last)
    # Interleaved: phases in slots of a tenth of the period, not all the same.
    phases = {round(m[0].time.timestamp() % 0.5 / 0.05, 3) for m in by_symbol.values()}
    assert all(p.is_integer() for p in phases) and len(phases) > 1
    assert [t.time for t in ticks] == sorted(t.time for t in ticks)


def test_the_same_seed_gives_the_same_ticks() -> None:
    first = run_for(*simulated(seed=7), 3.0)
    again = run_for(*simulated(seed=7), 3.0)
    other = run_for(*simulated(seed=8), 3.0)
    assert first == again
    assert [(t.symbol, t.time) for t in first] != [(t.symbol, t.time) for t in other]


async def test_symbols_change_on_the_open_stream() -> None:
    market, clock = simulated()
    stream = TickStream(market, 1.0, ["AAPL", "ZZZZ"])
    assert [t.symbol for t in stream.take_due()] == ["AAPL"]  # ZZZZ is not listed
    await stream.set_symbols(["KO", "JPM"])
    # The added symbols' snapshots at once; AAPL is gone.
    assert sorted(t.symbol for t in stream.take_due()) == ["JPM", "KO"]
    clock.move(3)
    # Three seconds behind, each symbol skips to its latest tick.
    later = stream.take_due()
    assert sorted(t.symbol for t in later) == ["JPM", "KO"]
    assert all(clock.at - timedelta(seconds=1) < t.time <= clock.at for t in later)
    await stream.set_symbols([])
    clock.move(3)
    assert stream.take_due() == []
    await stream.set_symbols(["AAPL"])  # back, with a fresh snapshot
    assert [t.symbol for t in stream.take_due()] == ["AAPL"]


def test_a_bad_tick_rate_is_refused() -> None:
    market, _ = simulated()
    with pytest.raises(ValueError, match="tick rate"):
        TickStream(market, 0.0, SYMBOLS)


async def test_a_simulated_stream_keeps_time_with_the_clock() -> None:
    """On the machine's clock, ticks come as time passes, `rate` a second per symbol."""
    broker = SimulatedBroker(SimulatedMarket(seed=7), InMemoryPaperAccount(), tick_rate=20.0)
    async with guarded(broker).stream_quotes(["AAPL"]) as stream:
        it = aiter(stream)
        ticks = [await anext(it) for _ in range(4)]
        await stream.set_symbols(["AAPL", "KO"])
        ko = await anext(it)
    assert [t.time for t in ticks] == sorted({t.time for t in ticks})
    assert ticks[-1].time - ticks[0].time == timedelta(seconds=0.15)
    assert ticks[-1].time <= datetime.now(UTC)
    assert ko.symbol == "KO"


class _BrokenStream:
    async def set_symbols(self, symbols: Collection[str]) -> None:
        raise ValueError("bad subscription answer")

    async def __aiter__(self) -> AsyncIterator[Tick]:
        raise ValueError("could not read a price")
        yield  # pragma: no cover


class _BrokenBroker(SimulatedBroker):
    """A stream that fails reading what it was sent."""

    @asynccontextmanager
    async def stream_quotes(self, symbols: Collection[str]) -> AsyncIterator[QuoteStream]:
        yield _BrokenStream()


async def test_the_boundary_covers_a_stream_and_only_the_stream() -> None:
    market, _ = simulated()
    broker = SimulatedBroker(market, InMemoryPaperAccount())
    bad = guarded(_BrokenBroker(market, broker.account))
    async with bad.stream_quotes(["AAPL"]) as stream:
        with pytest.raises(BrokerSchemaError, match="stream_quotes"):
            await stream.set_symbols(["KO"])
        with pytest.raises(BrokerSchemaError, match="could not be read"):
            await anext(aiter(stream))
    # What the caller's own block raises is the caller's.
    with pytest.raises(ZeroDivisionError):
        async with guarded(broker).stream_quotes(["AAPL"]):
            raise ZeroDivisionError


# -- tastytrade, through the real SDK against the fake DXLink ----------------------------


async def test_dxlink_quotes_and_trades_become_ticks(fake: FakeTastytrade) -> None:
    broker = guarded(fake.broker())
    try:
        async with broker.stream_quotes(["AAPL"]) as stream:
            it = aiter(stream)
            first = await anext(it)  # after the snapshot's trade
            aapl = fake.scenario.quotes["AAPL"]
            assert (first.symbol, first.bid, first.ask, first.last) == (
                "AAPL",
                aapl.bid,
                aapl.ask,
                aapl.last,
            )
            await stream.set_symbols(["AAPL", "BRK.B"])  # BRK/B on the feed
            brk = await anext(it)
            assert (brk.symbol, brk.last) == ("BRK.B", fake.scenario.quotes["BRK.B"].last)
            assert await fake.dxlink.push("AAPL", bid=231.0, ask=231.2, last=231.1) == 2
            pushed = [await anext(it), await anext(it)]  # its quote, then its trade
            assert (pushed[0].bid, pushed[0].ask, pushed[0].last) == (231.0, 231.2, aapl.last)
            assert (pushed[1].bid, pushed[1].ask, pushed[1].last) == (231.0, 231.2, 231.1)
            assert all(t.time >= first.time for t in pushed)
            await stream.set_symbols(["BRK.B"])
            removes = [m for m in fake.dxlink.subscriptions if m.get("remove")]
            assert {e["symbol"] for m in removes for e in m["remove"]} == {"AAPL"}
        assert fake.websockets_opened == 1  # every change on the one connection
    finally:
        await broker.close()


async def test_dxlink_subscriptions_stay_within_the_size_limit() -> None:
    scenario = Scenario.small()
    symbols = ["".join(letters) for letters in itertools.product("ABCDEFGHIJ", repeat=3)]
    for symbol in symbols:
        scenario.quotes[symbol] = Quote(
            symbol=symbol, bid=9.99, ask=10.01, last=10.0, prev_close=10.0, time=scenario.now
        )
    fake = FakeTastytrade(scenario)
    broker = guarded(fake.broker())
    try:
        async with broker.stream_quotes(symbols) as stream:
            seen = {t.symbol for t in [await anext(aiter(stream)) for _ in range(10)]}
            assert seen <= set(symbols)
    finally:
        await broker.close()
    adds = [m["add"] for m in fake.dxlink.subscriptions if m.get("add")]
    assert max(len(a) for a in adds) <= MAX_SUBSCRIPTION_SYMBOLS
    for kind in ("Quote", "Trade"):
        assert sorted(e["symbol"] for a in adds for e in a if e["type"] == kind) == symbols


async def test_a_dropped_dxlink_connection_is_unavailable(fake: FakeTastytrade) -> None:
    broker = guarded(fake.broker())
    try:
        async with broker.stream_quotes(["AAPL"]) as stream:
            it = aiter(stream)
            await anext(it)
            fake.faults.drop_websocket = True
            with pytest.raises(BrokerUnavailable):
                await stream.set_symbols(["AAPL", "BRK.B"])  # the feed closes on it
                await anext(it)
    finally:
        await broker.close()


async def test_a_refused_quote_token_is_an_auth_error(fake: FakeTastytrade) -> None:
    fake.faults.http.append(HttpFault("/api-quote-tokens", status=401))
    broker = guarded(fake.broker())
    try:
        with pytest.raises(BrokerAuthError):
            async with broker.stream_quotes(["AAPL"]):
                pass
    finally:
        await broker.close()
