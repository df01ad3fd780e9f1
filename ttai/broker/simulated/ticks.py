"""Simulated quote ticks: the simulated market's quotes as a stream.

Each symbol ticks `rate` times a second on a fixed grid: its tick k is at
`k / rate + phase` seconds after the Unix epoch, the phase drawn from (seed,
symbol) among PHASES slots of the period, so the symbols' ticks interleave
rather than arrive all at once (in up to PHASES groups a period, as a live feed
sends its events in batches), and the same seed gives the same ticks. A tick's
quote is the market's quote at that instant (`SimulatedMarket.get_quote`): a
streamed and a polled quote agree.

A symbol's first tick after it is added is the last grid tick at or before now
(a snapshot, as a live feed sends one). A stream that falls behind (a busy
consumer, a test clock that jumps) skips to the latest grid tick, as a live feed
conflates, rather than replaying every tick it missed.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime

from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.universe import is_simulated, stable_rng
from ttai.models.market import Tick

# A stream's clock may stand still (a test pins it): never wait less than this.
_MIN_WAIT = 0.001

PHASES = 10
"""Tick phases a period: a stream wakes at most this often a period, however many
symbols it streams (each wake-up costs the event loop more than a tick does)."""


class TickStream:
    """A `ttai.broker.base.QuoteStream` over `market`, `rate` ticks per second per symbol."""

    def __init__(self, market: SimulatedMarket, rate: float, symbols: Collection[str]) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"tick rate must be a positive number, not {rate!r}")
        self._market = market
        self._period = 1.0 / rate
        self._phases: dict[str, float] = {}
        # (tick time, symbol, generation): a removed and re-added symbol's old
        # entries carry an older generation and are dropped when they come up.
        self._due: list[tuple[float, str, int]] = []
        self._generation: dict[str, int] = {}
        self._symbols: set[str] = set()
        self._changed = asyncio.Event()
        self._update(symbols)

    def tick_at_or_before(self, symbol: str, ts: float) -> float:
        """The time of `symbol`'s last grid tick at or before `ts` (POSIX seconds)."""
        phase = self._phases.get(symbol)
        if phase is None:
            rng = stable_rng(self._market.seed, symbol, "ticks")
            slot = int(rng.integers(PHASES))
            phase = self._phases[symbol] = slot * self._period / PHASES
        return math.floor((ts - phase) / self._period) * self._period + phase

    def _update(self, symbols: Collection[str]) -> None:
        wanted = {s for s in symbols if is_simulated(s)}  # others never tick
        now = self._market.now().timestamp()
        for symbol in sorted(wanted - self._symbols):
            generation = self._generation.get(symbol, 0) + 1
            self._generation[symbol] = generation
            heapq.heappush(self._due, (self.tick_at_or_before(symbol, now), symbol, generation))
        for symbol in self._symbols - wanted:
            self._generation[symbol] += 1
        self._symbols = wanted
        self._changed.set()

    async def set_symbols(self, symbols: Collection[str]) -> None:
        self._update(symbols)

    def take_due(self) -> list[Tick]:
        """The ticks due by the market's clock, in time order: one per symbol whose
        tick has come, at its latest grid time (a symbol that fell behind skips the
        ticks it missed); each symbol's next tick is scheduled."""
        now = self._market.now().timestamp()
        taken: list[tuple[float, str]] = []
        while self._due and self._due[0][0] <= now:
            _, symbol, generation = heapq.heappop(self._due)
            if generation != self._generation[symbol]:
                continue  # removed since
            at = self.tick_at_or_before(symbol, now)
            heapq.heappush(self._due, (at + self._period, symbol, generation))
            taken.append((at, symbol))
        ticks = []
        for at, symbol in sorted(taken):
            quote = self._market.get_quote(symbol, datetime.fromtimestamp(at, UTC))
            ticks.append(
                Tick(symbol=symbol, bid=quote.bid, ask=quote.ask, last=quote.last, time=quote.time)
            )
        return ticks

    async def __aiter__(self) -> AsyncIterator[Tick]:
        while True:
            for tick in self.take_due():
                yield tick
            self._changed.clear()
            wait = self._due[0][0] - self._market.now().timestamp() if self._due else None
            try:
                async with asyncio.timeout(None if wait is None else max(wait, _MIN_WAIT)):
                    await self._changed.wait()  # symbols changed: look again
            except TimeoutError:
                pass
