"""The account: the position sync, the portfolio view, and today's trades for day P&L.

Today's trades are read the same way by the end-of-day summary, the portfolio view
(source=broker) and the position sync (stored for source=sync).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from activities.errors import classified_errors
from ttai.broker.base import Broker
from ttai.db.positions import PositionStore
from ttai.db.reports import ReportStore
from ttai.domain.analytics.pnl import DayTrades, settlement_fills
from ttai.domain.market_calendar import latest_session, previous_session
from ttai.domain.portfolio import portfolio_view
from ttai.models.market import Fill, Position
from ttai.models.monitors import CheckInput, SyncResult
from ttai.models.portfolio import PortfolioSnapshotRequest, PortfolioView
from ttai.notify.outbox import Outbox
from ttai.temporal.lanes import LIVE
from ttai.temporal.steps import CHECK, READ, step

logger = logging.getLogger(__name__)


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
    (after-hours ones included), the option events recorded since then (those
    settled in session `day` count for its P&L; the position sync also names
    the earlier ones) and the previous closes of the instruments traded or
    settled and no longer held."""
    since = previous_session(day).close
    fills = await broker.get_fills(since)
    events = await broker.get_option_events(since)
    trades = DayTrades(since=since, fills=fills, events=events, day=day)
    moved = [*fills, *(f for e in trades.session_events() for f in settlement_fills(e))]
    closes = await previous_closes(broker, reports, positions, moved, day)
    return replace(trades, previous_closes=closes)


class PortfolioActivities:
    def __init__(
        self,
        broker: Broker,
        positions: PositionStore,
        outbox: Outbox,
        reports: ReportStore | None = None,
    ) -> None:
        self._broker = broker
        self._positions = positions
        self._outbox = outbox
        self._reports = reports  # previous closes of options closed today (day P&L)

    @step(CHECK, lane=LIVE)
    async def sync_positions(self, request: CheckInput) -> SyncResult:
        with classified_errors():
            positions = await self._broker.get_positions()
            # Stored with the positions: the portfolio view's NLV and buying power.
            balances = await self._broker.get_balances()
        trades = await self._day_trades(positions, request)
        changes = await self._positions.sync(positions, request.as_of, balances, trades)
        # The first delivery attempt of the opened/closed notifications; the outbox
        # monitor retries what a channel refused.
        sent = await self._outbox.deliver_each(changes.notification_ids)
        return SyncResult(
            open_positions=changes.open_positions,
            opened=changes.opened,
            changed=changes.changed,
            closed=changes.closed,
            settled=changes.settled,
            delivered=sent.delivered,
            delivery_error=sent.error,
        )

    async def _day_trades(self, positions: list[Position], request: CheckInput) -> DayTrades | None:
        """Today's trades for the portfolio view's day P&L. If the broker cannot
        give them, the sync still stores positions and balances (the alerts and
        the view need them more) and stores the trades as unknown: the view then
        shows day P&L as unknown instead of measuring without them."""
        session = latest_session(request.as_of)
        try:
            return await day_trades(self._broker, self._reports, positions, session.day)
        except Exception as err:  # the broker or the reports store: day P&L only
            logger.warning("today's fills unavailable, day P&L unknown until next sync: %s", err)
            return None

    @step(READ, lane=LIVE)
    async def portfolio_snapshot(self, request: PortfolioSnapshotRequest) -> PortfolioView:
        """PortfolioWorkflow's step. source=sync reads the rows PositionSyncWorkflow
        stored (as of its last sync, today's trades included; no broker call);
        source=broker reads the broker now: positions, balances and the fills
        since the previous close."""
        if request.source == "broker":
            with classified_errors():
                positions = await self._broker.get_positions()
                balances = await self._broker.get_balances()
                as_of = await self._broker.now()
                session = latest_session(as_of)
                trades = await day_trades(self._broker, self._reports, positions, session.day)
        else:
            snapshot = await self._positions.snapshot()
            positions, balances, as_of = snapshot.positions, snapshot.balances, snapshot.as_of
            trades = snapshot.trades
        return portfolio_view(
            positions, balances, source=request.source, as_of=as_of, now=request.now, trades=trades
        )
