"""Fakes the monitor tests and the monitors' recorder share.

`ScriptedBroker` answers quotes, IV ranks and positions as functions of the
activity's scheduled time (the time-skipping server's clock), so a test can
script a trading week and know exactly when each alert must fire.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
