"""Today's trades for day P&L, read the same way by the end-of-day summary, the
portfolio view (source=broker) and the position sync (stored for source=sync)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ttai.broker.base import Broker
from ttai.db.reports import ReportStore
from ttai.domain.analytics.pnl import DayTrades
from ttai.domain.market_calendar import previous_session
from ttai.models.market import Fill, Position


async def previous_closes(
    broker: Broker,
    reports: ReportStore | None,
    positions: Sequence[Position],
    fills: Sequence[Fill],
    day: date,
) -> dict[str, float]:
    """Previous closes the positions do not carry: those of instruments closed
    on session `day`. Stock: the broker's quote. Options (and a position the
    broker sent none for): the mark recorded by the previous session's
    end-of-day summary, when that summary ran."""
    last_session = previous_session(day).day
    previous = await reports.snapshot_before(day) if reports is not None else None
    closes = dict(previous.marks) if previous and previous.day == last_session else {}
    held = {p.symbol for p in positions}
    stock = sorted({f.symbol for f in fills if f.instrument == "equity"} - held)
    if stock:
        quotes = await broker.get_quotes(stock)
        closes.update({s: q.prev_close for s, q in quotes.items() if q.prev_close > 0})
    return closes


async def day_trades(
    broker: Broker, reports: ReportStore | None, positions: Sequence[Position], day: date
) -> DayTrades:
    """Session `day`'s trades: the fills since the previous session's close
    (after-hours ones included) and the previous closes of the instruments
    traded and no longer held."""
    since = previous_session(day).close
    fills = await broker.get_fills(since)
    closes = await previous_closes(broker, reports, positions, fills, day)
    return DayTrades(since=since, fills=fills, previous_closes=closes)
