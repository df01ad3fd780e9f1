"""The monitors' checks and the alert-rule steps behind the price monitor's updates.

Each check is idempotent under retry: what it records is keyed by the check
(workflow ID:run ID:iteration) or by durable rows, and notifications go
through the outbox in the same transaction. Due outbox rows (left by a crash
or a refusing channel) are delivered by every check, so none is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.day_trades import day_trades
from activities.errors import classified_errors
from ttai.broker.base import Broker
from ttai.db.alerts import AlertStore, TooManyAlerts
from ttai.db.positions import PositionStore
from ttai.db.reports import ReportStore
from ttai.domain import market_calendar
from ttai.domain.alerts.conditions import names
from ttai.domain.alerts.rules import (
    Firing,
    evaluate_position_rules,
    evaluate_price_rules,
    is_expired,
)
from ttai.domain.analytics.pnl import DayTrades
from ttai.models.alerts import (
    AlertList,
    AlertRule,
    ListAlertsInput,
    RemoveAlertInput,
    RemoveAlertResult,
)
from ttai.models.market import Position
from ttai.models.monitors import (
    MAX_TRACKED_PRICES,
    CheckInput,
    CreateAlertInput,
    PortfolioCheckResult,
    PriceCheckResult,
    SessionsInput,
    SessionsResult,
    SessionWindow,
    SymbolsInput,
    SymbolsResult,
    SyncResult,
)
from ttai.notify.messages import alert_notification
from ttai.notify.outbox import Outbox
from ttai.telemetry.metrics import count

logger = logging.getLogger(__name__)


class MonitorActivities:
    def __init__(
        self,
        broker: Broker,
        alerts: AlertStore,
        positions: PositionStore,
        outbox: Outbox,
        reports: ReportStore | None = None,
    ) -> None:
        self._broker = broker
        self._alerts = alerts
        self._positions = positions
        self._outbox = outbox
        self._reports = reports  # previous closes of options closed today (day P&L)

    async def _deliver_pending(self) -> tuple[int, str | None]:
        """Deliver the due outbox rows; a refusing channel's rows back off (see the outbox)."""
        try:
            run = await self._outbox.deliver_pending()
        except Exception as err:  # the database: the check's own result still counts
            logger.warning("notification delivery failed, retried next check: %s", err)
            return 0, str(err)[:300]
        if run.error is not None:
            logger.warning("notification delivery: %s", run.error)
        return run.delivered, run.error[:300] if run.error else None

    async def _commit(
        self,
        request: CheckInput,
        rules: Sequence[AlertRule],
        firings: Sequence[Firing],
        expired: Sequence[int],
        monitor: str,
    ) -> dict[str, Any]:
        """The tail of both alert checks: commit what fired (each with its
        notification) and what expired, read back this check's triggers (a
        retry finds the first attempt's), deliver what is due. Returns the
        fields both check results share."""
        by_id = {r.alert_id: r for r in rules}
        await self._alerts.record_check(
            request.check_key,
            request.as_of,
            [(f, alert_notification(by_id[f.alert_id], f)) for f in firings],
            expired,
        )
        triggers = await self._alerts.triggers_for_check(request.check_key)
        delivered, error = await self._deliver_pending()
        count("ttai_alert_triggers_total", len(triggers), monitor=monitor)
        return {
            "rules_evaluated": len(rules),
            "triggers": triggers,
            "delivered": delivered,
            "delivery_error": error,
        }

    @activity.defn(name="check_price_alerts")
    async def check_price_alerts(self, request: CheckInput) -> PriceCheckResult:
        rules = await self._alerts.active(names("price") + names("iv_rank"))
        expired = [r.alert_id for r in rules if is_expired(r, request.as_of)]
        symbols = sorted({r.spec.symbol for r in rules})
        if len(symbols) > MAX_TRACKED_PRICES:
            # Only reachable by writing rules into the table directly (adding
            # refuses past MAX_ACTIVE_ALERTS): check the oldest rules' symbols.
            logger.warning(
                "%d alert symbols; checking the first %d", len(symbols), MAX_TRACKED_PRICES
            )
            kept = set(list(dict.fromkeys(r.spec.symbol for r in rules))[:MAX_TRACKED_PRICES])
            symbols = sorted(kept)
            rules = [r for r in rules if r.spec.symbol in kept]
        iv_conditions = names("iv_rank")
        iv_symbols = sorted({r.spec.symbol for r in rules if r.spec.condition in iv_conditions})
        with classified_errors():
            # One batched call for every alert symbol, not one per alert.
            quotes = await self._broker.get_quotes(symbols) if symbols else {}
            metrics = await self._broker.get_market_metrics(iv_symbols) if iv_symbols else {}
        prices = {s: q.last for s, q in quotes.items()}
        firings = evaluate_price_rules(
            rules,
            prices,
            request.previous_prices,
            {s: m.iv_rank for s, m in metrics.items()},
            request.as_of,
        )
        shared = await self._commit(request, rules, firings, expired, "price")
        return PriceCheckResult(prices=prices, **shared)

    @activity.defn(name="check_portfolio")
    async def check_portfolio(self, request: CheckInput) -> PortfolioCheckResult:
        rules = await self._alerts.active(names("position"))
        with classified_errors():
            positions = await self._broker.get_positions()
        firings = evaluate_position_rules(rules, positions, request.as_of)
        expired = [r.alert_id for r in rules if is_expired(r, request.as_of)]
        shared = await self._commit(request, rules, firings, expired, "portfolio")
        return PortfolioCheckResult(positions=len(positions), **shared)

    @activity.defn(name="sync_positions")
    async def sync_positions(self, request: CheckInput) -> SyncResult:
        with classified_errors():
            positions = await self._broker.get_positions()
            # Stored with the positions: the portfolio view's NLV and buying power.
            balances = await self._broker.get_balances()
        trades = await self._day_trades(positions, request)
        changes = await self._positions.sync(positions, request.as_of, balances, trades)
        delivered, error = await self._deliver_pending()
        return SyncResult(
            open_positions=changes.open_positions,
            opened=changes.opened,
            changed=changes.changed,
            closed=changes.closed,
            delivered=delivered,
            delivery_error=error,
        )

    async def _day_trades(self, positions: list[Position], request: CheckInput) -> DayTrades | None:
        """Today's trades for the portfolio view's day P&L. If the broker cannot
        give them, the sync still stores positions and balances (the alerts and
        the view need them more) and stores the trades as unknown: the view then
        shows day P&L as unknown instead of measuring without them."""
        session = market_calendar.latest_session(request.as_of)
        try:
            return await day_trades(self._broker, self._reports, positions, session.day)
        except Exception as err:  # the broker or the reports store: day P&L only
            logger.warning("today's fills unavailable, day P&L unknown until next sync: %s", err)
            return None

    @activity.defn(name="market_sessions")
    async def market_sessions(self, request: SessionsInput) -> SessionsResult:
        """Trading windows of the NYSE days in [start, start + days)."""
        end = request.start + timedelta(days=request.days - 1)
        windows = [
            market_calendar.trading_window(s, request.hours)
            for s in market_calendar.sessions(request.start, end)
        ]
        return SessionsResult(windows=[SessionWindow(open=o, close=c) for o, c in windows])

    @activity.defn(name="check_symbols")
    async def check_symbols(self, request: SymbolsInput) -> SymbolsResult:
        """Raises a non-retryable UnknownSymbol error when the broker does not list one."""
        with classified_errors():
            quotes = await self._broker.get_quotes(request.symbols)
        missing = sorted(set(request.symbols) - set(quotes))
        if missing:
            raise ApplicationError(
                f"unknown symbol: {', '.join(missing)}", type="UnknownSymbol", non_retryable=True
            )
        return SymbolsResult(known=sorted(quotes))

    @activity.defn(name="create_alert")
    async def create_alert(self, request: CreateAlertInput) -> AlertRule:
        try:
            return await self._alerts.create(request.request_id, request.spec)
        except TooManyAlerts as err:
            raise ApplicationError(str(err), type="InvalidInput", non_retryable=True) from None

    @activity.defn(name="list_alerts")
    async def list_alerts(self, request: ListAlertsInput) -> AlertList:
        return AlertList(alerts=await self._alerts.rules(include_inactive=request.include_inactive))

    @activity.defn(name="remove_alert")
    async def remove_alert(self, request: RemoveAlertInput) -> RemoveAlertResult:
        try:
            return await self._alerts.remove(request.alert_id)
        except LookupError as err:
            raise ApplicationError(str(err), type="UnknownAlert", non_retryable=True) from err
