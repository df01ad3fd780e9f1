"""DXLink: the latest events per symbol, daily candle snapshots, and a quote stream.

Every call opens its own streamer connection (the SDK's `DXLinkStreamer` shares
the session's access token) and closes it when done or after a given number of seconds,
so concurrent activities never share a websocket. A quote stream
(`DXLinkQuoteStream`) holds its connection until it is closed.

Daily candles: DXLink sometimes answers a candle subscription with an empty
snapshot (tastyware/tastytrade issue 353, `contract: AUTO`). `HistoryCandleStreamer`
opens its channels with `contract: HISTORY`, which makes the server send the
backfill; the broker falls back to it when the first snapshot is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import anyio
from tastytrade import DXLinkStreamer, Session
from tastytrade.dxfeed import Candle as DXCandle
from tastytrade.dxfeed import Event, Trade
from tastytrade.dxfeed import Quote as DXQuote

from ttai.broker.base import BrokerUnavailable
from ttai.broker.tastytrade.errors import ErrorTranslator
from ttai.broker.tastytrade.mapping import TickBuilder, tt_symbol, unique
from ttai.models.market import Tick

MAX_SUBSCRIPTION_SYMBOLS = 500  # keeps one FEED_SUBSCRIPTION below the 1009 size limit
STREAMED_EVENTS: tuple[type[Event], ...] = (DXQuote, Trade)
TICK_BUFFER = 10_000  # ticks the consumer may lag behind before the feed waits for it


def chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class HistoryCandleStreamer(DXLinkStreamer):
    """A streamer whose channels request `contract: HISTORY` instead of the SDK's AUTO.

    Work-around for upstream issue 353: with AUTO the server may answer a candle
    subscription with an empty snapshot; with HISTORY it sends the backfill.
    """

    async def _channel_request(self, event_type: str, refresh_interval: float = 0.1) -> None:
        websocket = self._websocket
        send_json = websocket.send_json

        async def send_history(data: Any, mode: Any = "text") -> None:
            if isinstance(data, dict) and data.get("type") == "CHANNEL_REQUEST":
                data = {**data, "parameters": {"contract": "HISTORY"}}
            await send_json(data, mode)

        websocket.send_json = send_history  # type: ignore[method-assign]
        try:
            await super()._channel_request(event_type, refresh_interval)
        finally:
            del websocket.send_json  # back to the class's method


async def latest_events(
    session: Session,
    symbols: Sequence[str],
    kinds: Sequence[type[Event]],
    listen_for: float,
) -> dict[type[Event], dict[str, Event]]:
    """The latest event of each kind per symbol, collected on one streamer
    connection until every symbol has every kind or `listen_for` seconds pass."""
    wanted = set(symbols)
    found: dict[type[Event], dict[str, Event]] = {kind: {} for kind in kinds}
    if not wanted:
        return found

    async def collect(streamer: DXLinkStreamer, kind: type[Event]) -> None:
        into = found[kind]
        async for event in streamer.listen(kind):
            if event.event_symbol in wanted:
                into[event.event_symbol] = event
                if len(into) == len(wanted):
                    return

    with anyio.move_on_after(listen_for):
        async with DXLinkStreamer(session) as streamer:
            for kind in kinds:
                for chunk in chunks(list(wanted), MAX_SUBSCRIPTION_SYMBOLS):
                    await streamer.subscribe(kind, chunk)
            async with anyio.create_task_group() as tg:
                for kind in kinds:
                    tg.start_soon(collect, streamer, kind)
    return found


async def daily_candle_snapshot(
    session: Session,
    tt_symbol: str,
    start: datetime,
    listen_for: float,
    *,
    history_contract: bool = False,
) -> list[DXCandle]:
    """The daily candle events of one snapshot since `start`, as sent, up to its
    end or for at most `listen_for` seconds.

    Remove events (an empty snapshot is one REMOVE event with NaN prices) are left out.
    """
    streamer_class = HistoryCandleStreamer if history_contract else DXLinkStreamer
    events: list[DXCandle] = []
    with anyio.move_on_after(listen_for):
        async with streamer_class(session) as streamer:
            await streamer.subscribe_candle([tt_symbol], "1d", start_time=start)
            async for event in streamer.listen(DXCandle):
                if not event.remove:
                    events.append(event)
                if event.snapshot_end or event.snapshot_snip:
                    break
    return events


class DXLinkQuoteStream:
    """A `ttai.broker.base.QuoteStream` over one `DXLinkStreamer` connection.

    `Quote` and `Trade` events become ticks (`mapping.TickBuilder`), stamped with
    the moment they arrived. The streamer runs in a task of its own, so its task
    group never wraps the consumer's code; its failure reaches the consumer,
    translated into a broker error, once the ticks before it are read. Symbol
    changes are sent as FEED_SUBSCRIPTION adds and removes of at most
    MAX_SUBSCRIPTION_SYMBOLS symbols each, on the open connection.
    """

    def __init__(self, session: Session, errors: ErrorTranslator, symbols: Collection[str]) -> None:
        self._session = session
        self._errors = errors
        self._wanted: dict[str, TickBuilder] = {}  # by tastytrade symbol
        self._subscribed: set[str] = set()
        self._streamer: DXLinkStreamer | None = None
        self._ticks: asyncio.Queue[Tick] = asyncio.Queue(TICK_BUFFER)
        self._ready = asyncio.Event()
        self._changing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._want(symbols)

    def _want(self, symbols: Collection[str]) -> None:
        self._wanted = {
            tt_symbol(s): self._wanted.get(tt_symbol(s)) or TickBuilder(s) for s in unique(symbols)
        }

    async def __aenter__(self) -> DXLinkQuoteStream:
        self._task = asyncio.create_task(self._run(), name="ttai-dxlink-quotes")
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._task.done():
            await self._close()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _close(self) -> None:
        """Raise what ended the streamer task (a broker error)."""
        assert self._task is not None
        self._task.result()
        raise BrokerUnavailable("the tastytrade quote stream closed")

    async def _run(self) -> None:
        async with (
            self._errors.translating("streaming quotes", list(self._symbols())),
            DXLinkStreamer(self._session) as streamer,
        ):
            self._streamer = streamer
            await self._apply()
            self._ready.set()
            async with anyio.create_task_group() as group:
                for kind in STREAMED_EVENTS:
                    group.start_soon(self._pump, streamer, kind)

    def _symbols(self) -> list[str]:
        return [builder.symbol for builder in self._wanted.values()]

    async def _pump(self, streamer: DXLinkStreamer, kind: type[Event]) -> None:
        async for event in streamer.listen(kind):
            builder = self._wanted.get(event.event_symbol)
            if builder is None:
                continue  # removed meanwhile
            tick = builder.take(event, datetime.now(UTC))
            if tick is not None:
                await self._ticks.put(tick)

    async def _apply(self) -> None:
        """Subscribe what is wanted and not subscribed; remove the reverse."""
        assert self._streamer is not None
        async with self._changing:
            added = [s for s in self._wanted if s not in self._subscribed]
            removed = sorted(self._subscribed - self._wanted.keys())
            for chunk in chunks(added, MAX_SUBSCRIPTION_SYMBOLS):
                for kind in STREAMED_EVENTS:
                    await self._streamer.subscribe(kind, chunk)
                self._subscribed.update(chunk)
            for chunk in chunks(removed, MAX_SUBSCRIPTION_SYMBOLS):
                for kind in STREAMED_EVENTS:
                    await self._streamer.unsubscribe(kind, chunk)
                self._subscribed.difference_update(chunk)

    async def set_symbols(self, symbols: Collection[str]) -> None:
        self._want(symbols)
        if self._streamer is not None and not self._task_ended():
            async with self._errors.translating("changing the streamed symbols", self._symbols()):
                await self._apply()

    def _task_ended(self) -> bool:
        return self._task is None or self._task.done()

    async def __aiter__(self) -> AsyncIterator[Tick]:
        assert self._task is not None, "use the stream inside `async with`"
        while True:
            if not self._ticks.empty():
                yield self._ticks.get_nowait()
                continue
            if self._task.done():
                await self._close()
            getter = asyncio.ensure_future(self._ticks.get())
            try:
                await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not getter.done():
                    getter.cancel()
            if getter.done() and not getter.cancelled():
                yield getter.result()
