"""DXLink: the latest events per symbol, and daily candle snapshots.

Every call opens its own streamer connection (the SDK's `DXLinkStreamer` shares
the session's access token) and closes it when done or after a given number of seconds,
so concurrent activities never share a websocket.

Daily candles: DXLink sometimes answers a candle subscription with an empty
snapshot (tastyware/tastytrade issue 353, `contract: AUTO`). `HistoryCandleStreamer`
opens its channels with `contract: HISTORY`, which makes the server send the
backfill; the broker falls back to it when the first snapshot is empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import anyio
from tastytrade import DXLinkStreamer, Session
from tastytrade.dxfeed import Candle as DXCandle
from tastytrade.dxfeed import Event

MAX_SUBSCRIPTION_SYMBOLS = 500  # keeps one FEED_SUBSCRIPTION below the 1009 size limit


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
