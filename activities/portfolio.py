"""PortfolioWorkflow's one step: the portfolio view, from the sync's data or the broker."""

from __future__ import annotations

from temporalio import activity

from activities.day_trades import day_trades
from activities.errors import classified_errors
from ttai.broker.base import Broker
from ttai.db.positions import PositionStore
from ttai.db.reports import ReportStore
from ttai.domain.market_calendar import latest_session
from ttai.domain.portfolio import portfolio_view
from ttai.models.portfolio import PortfolioSnapshotRequest, PortfolioView


class PortfolioActivities:
    def __init__(
        self, broker: Broker, positions: PositionStore, reports: ReportStore | None = None
    ) -> None:
        self._broker = broker
        self._positions = positions
        self._reports = reports

    @activity.defn(name="portfolio_snapshot")
    async def portfolio(self, request: PortfolioSnapshotRequest) -> PortfolioView:
        """source=sync reads the rows PositionSyncWorkflow stored (as of its last
        sync, today's trades included; no broker call); source=broker reads the
        broker now: positions, balances and the fills since the previous close."""
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
