"""Alert rules: the checks that evaluate them, and the steps that keep them.

Each check is idempotent under retry: what it records is keyed by the check
(workflow ID:run ID:iteration), and each firing's notification is queued in the
same transaction. The check makes the first delivery attempt of what it fired;
what a channel refused is retried by the outbox monitor, on its own clock.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from temporalio.exceptions import ApplicationError

from activities.errors import classified_errors
from ttai.broker.base import Broker
from ttai.db.alerts import AlertStore, TooManyAlerts
from ttai.domain.alerts import (
    Firing,
    back_in_band,
    evaluate_position_rules,
    evaluate_price_rules,
    is_expired,
    position_readings,
    price_readings,
)
from ttai.models.alerts import (
    AlertList,
    AlertRule,
    ListAlertsInput,
    RemoveAlertInput,
    RemoveAlertResult,
)
from ttai.models.conditions import names
from ttai.models.monitors import (
    MAX_TRACKED_PRICES,
    CheckInput,
    CreateAlertInput,
    PortfolioCheckResult,
    PriceCheckResult,
    SymbolsInput,
    SymbolsResult,
)
from ttai.notify.messages import alert_notification
from ttai.notify.outbox import Outbox
from ttai.telemetry.metrics import count
from ttai.temporal.lanes import LIVE
from ttai.temporal.steps import CHECK, UPDATE, step

logger = logging.getLogger(__name__)


class AlertActivities:
    def __init__(self, broker: Broker, alerts: AlertStore, outbox: Outbox) -> None:
        self._broker = broker
        self._alerts = alerts
        self._outbox = outbox

    async def _commit(
        self,
        request: CheckInput,
        rules: Sequence[AlertRule],
        firings: Sequence[Firing],
        expired: Sequence[int],
        monitor: str,
        readings: Mapping[int, float | None],
        returned: Sequence[int] = (),
    ) -> dict[str, Any]:
        """The tail of both checks: commit what fired (each with its notification),
        what expired, what each rule read and which moves came back inside their
        band, and read back this check's triggers (a retry finds the first
        attempt's). Returns the fields both check results share."""
        by_id = {r.alert_id: r for r in rules}
        await self._alerts.record_check(
            request.check_key,
            request.as_of,
            [(f, alert_notification(by_id[f.alert_id], f)) for f in firings],
            expired,
            readings,
            returned,
        )
        triggers = await self._alerts.triggers_for_check(request.check_key)
        count("ttai_alert_triggers_total", len(triggers), monitor=monitor)
        # The first delivery attempt; a retried check finds its rows delivered already.
        sent = await self._outbox.deliver_each([t.notification_id for t in triggers])
        return {
            "rules_evaluated": len(rules),
            "triggers": triggers,
            "delivered": sent.delivered,
            "delivery_error": sent.error,
        }

    @step(CHECK, lane=LIVE)
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
        # An unknown price (None) or IV rank is read as unknown and fires nothing.
        read: dict[str, float | None] = {s: q.last for s, q in quotes.items()}
        iv_ranks = {s: m.iv_rank for s, m in metrics.items()}
        firings = evaluate_price_rules(
            rules, read, request.previous_prices, iv_ranks, request.as_of
        )
        readings = price_readings(rules, read, iv_ranks)
        returned = back_in_band(rules, read, iv_ranks)
        shared = await self._commit(request, rules, firings, expired, "price", readings, returned)
        prices = {s: p for s, p in read.items() if p is not None}  # the next crossing test's
        return PriceCheckResult(prices=prices, **shared)

    @step(CHECK, lane=LIVE)
    async def check_portfolio(self, request: CheckInput) -> PortfolioCheckResult:
        rules = await self._alerts.active(names("position"))
        with classified_errors():
            positions = await self._broker.get_positions()
        firings = evaluate_position_rules(rules, positions, request.as_of)
        expired = [r.alert_id for r in rules if is_expired(r, request.as_of)]
        readings = position_readings(rules, positions, request.as_of)
        shared = await self._commit(request, rules, firings, expired, "portfolio", readings)
        return PortfolioCheckResult(positions=len(positions), **shared)

    @step(UPDATE, lane=LIVE)
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

    @step(UPDATE)
    async def create_alert(self, request: CreateAlertInput) -> AlertRule:
        try:
            return await self._alerts.create(request.request_id, request.spec)
        except TooManyAlerts as err:
            raise ApplicationError(str(err), type="InvalidInput", non_retryable=True) from None

    @step(UPDATE)
    async def list_alerts(self, request: ListAlertsInput) -> AlertList:
        return AlertList(alerts=await self._alerts.rules(include_inactive=request.include_inactive))

    @step(UPDATE)
    async def remove_alert(self, request: RemoveAlertInput) -> RemoveAlertResult:
        try:
            return await self._alerts.remove(request.alert_id)
        except LookupError as err:
            raise ApplicationError(str(err), type="UnknownAlert", non_retryable=True) from err
