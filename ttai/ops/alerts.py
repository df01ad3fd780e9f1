"""Alert rules, kept by the price monitor: add, list and remove through its updates.

The rule is validated by its model here and again by the update's validator,
and the monitor checks the symbol with the broker before it stores the rule:
an unknown symbol is `InvalidInput` (`monitor-price-alerts refused: unknown
symbol: ZZZZ`) and nothing is stored. With the price monitor stopped, every
call is `NotFound`.
"""

from __future__ import annotations

from typing import TypeVar

from ttai.models.alerts import (
    AddAlertInput,
    AlertList,
    AlertRule,
    ListAlertsInput,
    RemoveAlertInput,
    RemoveAlertResult,
)
from ttai.ops import calls
from ttai.ops.connection import Connection
from ttai.ops.monitors import not_running
from ttai.temporal.monitors import MONITOR_IDS

PRICE_MONITOR = MONITOR_IDS["price-alerts"]
R = TypeVar("R")


async def _update(conn: Connection, name: str, request: object, result_type: type[R]) -> R:
    return await calls.update(
        conn, PRICE_MONITOR, name, request, result_type, not_found=not_running(PRICE_MONITOR)
    )


async def add_alert(conn: Connection, request: AddAlertInput) -> AlertRule:
    return await _update(conn, "add_alert", request, AlertRule)


async def list_alerts(conn: Connection, request: ListAlertsInput | None = None) -> AlertList:
    """Active rules; `include_inactive` adds the fired, expired and removed ones."""
    return await _update(conn, "list_alerts", request or ListAlertsInput(), AlertList)


async def remove_alert(conn: Connection, request: RemoveAlertInput) -> RemoveAlertResult:
    """An unknown ID is `NotFound`; one removed before says `removed=False`."""
    return await _update(conn, "remove_alert", request, RemoveAlertResult)
