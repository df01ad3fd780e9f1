"""Fakes the monitor tests and the monitors' recorder share.

`ScriptedBroker` answers quotes, IV ranks and positions as functions of the
activity's scheduled time (the time-skipping server's clock), so a test can
script a trading week and know exactly when each alert must fire. It does not
stream: the price monitor polls it. `TickingBroker` also streams: every streamed
symbol ticks at its scripted price, on its clock. `PushedBroker` streams only
the ticks a test pushes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta

import asyncpg
from temporalio import activity
from temporalio.client import Client

from activities import build_activities
from ttai.broker.base import UnknownSymbol
from ttai.config import Settings
from ttai.models.market import (
    Account,
    Balances,
    Candle,
    Fill,
    MarketMetrics,
    OptionChain,
    OptionEvent,
    Position,
    Quote,
    Tick,
)
from ttai.models.notifications import Notification
from ttai.notify.channels import Channel
from ttai.notify.outbox import Outbox
from ttai.services import Services
from worker import Workers, build_worker
from workflows.commands import COMMAND_WORKFLOWS
from workflows.monitors import MONITOR_WORKFLOWS

PricePath = Callable[[datetime], float | None]
"""A price (or IV rank) as a function of time; None: the broker has none (unknown)."""


def activity_time() -> datetime:
    """The server's clock when this activity attempt was scheduled."""
    return activity.info().current_attempt_scheduled_time


def wall_clock() -> datetime:
    """For a broker behind a dev server, whose clock is the machine's."""
    return datetime.now(UTC)


class ScriptedBroker:
    name = "scripted"

    def __init__(
        self,
        prices: dict[str, PricePath],
        *,
        iv_ranks: dict[str, PricePath] | None = None,
        positions: Callable[[datetime], list[Position]] | None = None,
        clock: Callable[[], datetime] = activity_time,
    ) -> None:
        self.prices = prices
        self.iv_ranks = iv_ranks or {}
        self.positions = positions or (lambda _: [])
        self.clock = clock
        self.quote_calls: list[list[str]] = []
        self.fail_with: Exception | None = None

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        self.quote_calls.append(list(symbols))
        if self.fail_with is not None:
            raise self.fail_with
        now = self.clock()
        quotes = {}
        for symbol in symbols:
            if symbol not in self.prices:
                raise UnknownSymbol(symbol)
            price = self.prices[symbol](now)
            if price is None:
                continue  # listed, but no price: left out, as the adapters do
            quotes[symbol] = Quote(
                symbol=symbol, bid=price, ask=price, last=price, prev_close=price, time=now
            )
        return quotes

    async def get_market_metrics(self, symbols: Sequence[str]) -> dict[str, MarketMetrics]:
        now = self.clock()
        return {
            s: MarketMetrics(
                symbol=s,
                iv_rank=self.iv_ranks[s](now),
                iv_percentile=50,
                implied_volatility=0.3,
                liquidity_rating=3,
                beta=1.0,
            )
            for s in symbols
            if s in self.iv_ranks
        }

    async def get_positions(self) -> list[Position]:
        if self.fail_with is not None:
            raise self.fail_with
        return self.positions(self.clock())

    async def now(self) -> datetime:
        return self.clock()

    async def get_daily_candles(self, symbol: str, days: int) -> list[Candle]:
        raise NotImplementedError

    async def get_option_chain(self, symbol: str) -> OptionChain:
        raise NotImplementedError

    async def get_accounts(self) -> list[Account]:
        return []

    async def get_balances(self) -> list[Balances]:
        return []

    async def get_fills(self, since: datetime) -> list[Fill]:
        return []

    async def get_option_events(self, since: datetime) -> list[OptionEvent]:
        return []

    async def close(self) -> None:
        return None


class ScriptedTicks:
    """A `QuoteStream` of a TickingBroker: each symbol at its scripted price, every
    `every` seconds (real time), stamped with the broker's clock."""

    def __init__(self, broker: TickingBroker, symbols: Collection[str], every: float) -> None:
        self._broker = broker
        self._symbols = sorted(symbols)
        self._every = every
        self._changed = asyncio.Event()
        broker.subscriptions.append(list(self._symbols))

    async def set_symbols(self, symbols: Collection[str]) -> None:
        self._symbols = sorted(symbols)
        self._broker.subscriptions.append(list(self._symbols))
        self._changed.set()  # the new symbols' first ticks at once

    async def __aiter__(self) -> AsyncIterator[Tick]:
        while True:
            if self._broker.fail_stream_with is not None:
                raise self._broker.fail_stream_with
            now = self._broker.clock()
            for symbol in self._symbols:
                if symbol in self._broker.prices:
                    price = self._broker.prices[symbol](now)
                    yield Tick(symbol=symbol, bid=price, ask=price, last=price, time=now)
            self._changed.clear()
            try:
                async with asyncio.timeout(self._every):
                    await self._changed.wait()
            except TimeoutError:
                pass


class TickingBroker(ScriptedBroker):
    """A ScriptedBroker that streams (`ScriptedTicks`), on the wall clock by default.

    `fail_stream_with`: opening a stream, and a stream's next round of ticks, raise it."""

    def __init__(
        self,
        prices: dict[str, PricePath],
        *,
        every: float = 0.2,
        clock: Callable[[], datetime] = wall_clock,
        **kwargs: object,
    ) -> None:
        super().__init__(prices, clock=clock, **kwargs)  # type: ignore[arg-type]
        self.every = every
        self.subscriptions: list[list[str]] = []  # every symbol set streamed, in order
        self.streams_opened = 0
        self.fail_stream_with: Exception | None = None

    @asynccontextmanager
    async def stream_quotes(self, symbols: Collection[str]) -> AsyncIterator[ScriptedTicks]:
        if self.fail_stream_with is not None:
            raise self.fail_stream_with
        self.streams_opened += 1
        yield ScriptedTicks(self, symbols, self.every)


class PushedStream:
    """A `QuoteStream` that yields exactly the ticks a test pushes."""

    def __init__(self, symbols: Collection[str]) -> None:
        self.symbols = sorted(symbols)
        self.changes: list[list[str]] = [list(self.symbols)]
        self._ticks: asyncio.Queue[Tick | Exception] = asyncio.Queue()

    async def set_symbols(self, symbols: Collection[str]) -> None:
        self.symbols = sorted(symbols)
        self.changes.append(list(self.symbols))

    def push(self, symbol: str, price: float, at: datetime) -> None:
        self._ticks.put_nowait(Tick(symbol=symbol, bid=price, ask=price, last=price, time=at))

    def fail(self, error: Exception) -> None:
        self._ticks.put_nowait(error)

    async def __aiter__(self) -> AsyncIterator[Tick]:
        while True:
            tick = await self._ticks.get()
            if isinstance(tick, Exception):
                raise tick
            yield tick


class PushedBroker(ScriptedBroker):
    """A broker whose quote streams tick only when the test pushes (`streams[-1].push`)."""

    def __init__(self, clock: Callable[[], datetime] = wall_clock) -> None:
        super().__init__({}, clock=clock)
        self.streams: list[PushedStream] = []

    @asynccontextmanager
    async def stream_quotes(self, symbols: Collection[str]) -> AsyncIterator[PushedStream]:
        self.streams.append(PushedStream(symbols))
        yield self.streams[-1]


def short_put(
    symbol: str = "AAPL  261218P00175000",
    *,
    delta: float | None,
    expiration: date | None = date(2026, 12, 18),
    quantity: float = -1,
) -> Position:
    """One short AAPL put contract, as a broker reports the position."""
    return Position(
        account="A1",
        symbol=symbol,
        underlying="AAPL",
        instrument="option",
        quantity=quantity,
        average_open_price=2.0,
        multiplier=100,
        option_kind="put",
        strike=175,
        expiration=expiration,
        delta=delta,
    )


class RecordingChannel:
    """Counts real sends, so a duplicate delivery would show."""

    channel_id = label = "recording"

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)


def monitor_worker(
    client: Client, pool: asyncpg.Pool, broker: ScriptedBroker, channel: Channel, tq: str
) -> Workers:
    """The monitors, the command workflows (alert rules) and every activity, on `tq`
    and its broker lanes."""
    services = Services(
        settings=Settings(), pool=pool, broker=broker, outbox=Outbox(pool, [channel])
    )
    return build_worker(
        client,
        None,
        tq,
        workflows=[*MONITOR_WORKFLOWS, *COMMAND_WORKFLOWS],
        activities=build_activities(services),
        # As before the lanes: the workers' defaults, not the project's.
        graceful_shutdown_timeout=timedelta(0),
    )
