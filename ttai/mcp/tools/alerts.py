"""The tools that watch: alert rules (add_alert, list_alerts, remove_alert) and the
monitors that evaluate them (monitors: status, pause, resume, check_now, set_interval)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from ttai.mcp.app import connection
from ttai.mcp.tools.arguments import like
from ttai.models.alerts import (
    AddAlertInput,
    AlertList,
    AlertMode,
    AlertRule,
    AlertRuleSpec,
    ConditionName,
    ListAlertsInput,
    RemoveAlertInput,
    RemoveAlertResult,
)
from ttai.models.common import Symbol
from ttai.models.conditions import CONDITIONS, describe, names
from ttai.models.monitors import MonitorName, MonitorStatus, SetIntervalInput
from ttai.ops import commands
from ttai.ops import monitors as monitor_ops
from ttai.ops.errors import InvalidInput, parse
from ttai.ops.monitors import MonitorsStatus, SteerOutcome


def _conditions_help() -> str:
    """What fires each alert condition, from the one table of conditions."""
    fires = "; ".join(
        f"{name}: {describe(name, 'threshold', 'reference_price')}" for name in CONDITIONS
    )
    return (
        f"What fires the rule. {fires}. {', '.join(names('position'))} watch the symbol's "
        "option positions, one contract at a time."
    )


async def add_alert(
    ctx: Context[Any, Any],
    symbol: Annotated[Symbol, like(AlertRuleSpec, "symbol")],
    condition: Annotated[ConditionName, Field(description=_conditions_help())],
    threshold: Annotated[float, like(AlertRuleSpec, "threshold")],
    reference_price: Annotated[float | None, like(AlertRuleSpec, "reference_price")] = None,
    mode: Annotated[AlertMode, like(AlertRuleSpec, "mode")] = "once",
    cooldown_seconds: Annotated[
        int, like(AlertRuleSpec, "cooldown_seconds", "rearm: seconds before it may fire again")
    ] = 3600,
    expires_at: Annotated[
        datetime | None,
        Field(description="ISO time with a zone (2026-12-19T21:00:00Z); inactive after it"),
    ] = None,
    note: Annotated[str, like(AlertRuleSpec, "note", "Sent with the alert")] = "",
) -> AlertRule:
    """Add an alert rule; TTAI's monitors watch it and notify the user when it fires.

    Use it when the user asks to be told about a price level, a move, IV rank, or an
    option position's delta or days to expiry. Returns the stored rule with its
    alert_id (for remove_alert). A fired alert appears in the ttai://notifications
    resource and is pushed to subscribers.
    """
    spec = parse(
        AlertRuleSpec,
        {
            "symbol": symbol,
            "condition": condition,
            "threshold": threshold,
            "reference_price": reference_price,
            "mode": mode,
            "cooldown_seconds": cooldown_seconds,
            "expires_at": expires_at,
            "note": note,
        },
    )
    return await commands.add_alert(await connection(ctx), AddAlertInput(rule=spec))


async def list_alerts(
    ctx: Context[Any, Any],
    include_inactive: Annotated[
        bool, Field(description="Also the rules that fired (once), expired or were removed")
    ] = False,
) -> AlertList:
    """List the alert rules the monitors watch: ID, rule, status, how often each fired,
    and what the last check read (`last_reading`; `last_reading_unknown` true when the
    broker sent no number, so the rule could not fire: say "unknown", never 0).

    Use it before adding an alert (to avoid duplicates) or to find an ID to remove.
    """
    request = ListAlertsInput(include_inactive=include_inactive)
    return await commands.list_alerts(await connection(ctx), request)


async def remove_alert(
    ctx: Context[Any, Any],
    alert_id: Annotated[int, like(RemoveAlertInput, "alert_id", "From add_alert or list_alerts")],
) -> RemoveAlertResult:
    """Remove an alert rule by its ID; it stops being watched at once."""
    request = parse(RemoveAlertInput, {"alert_id": alert_id})
    return await commands.remove_alert(await connection(ctx), request)


class MonitorsResult(BaseModel):
    """What the action returned: `monitors` for status, `steered` for pause/resume/check_now,
    `monitor` for set_interval."""

    monitors: MonitorsStatus | None = None
    steered: SteerOutcome | None = None
    monitor: MonitorStatus | None = None


MONITOR_ACTIONS = {"pause": "pause", "resume": "resume", "check_now": "check"}


async def monitors(
    ctx: Context[Any, Any],
    action: Annotated[
        Literal["status", "pause", "resume", "check_now", "set_interval"],
        Field(
            description="status: how each monitor is doing; pause / resume: stop or restart "
            "its checks; check_now: check at once; set_interval: change how often it checks"
        ),
    ] = "status",
    monitor: Annotated[
        MonitorName | Literal["all"],
        Field(
            description="portfolio (P&L and position rules), price-alerts (alert rules), "
            "position-sync (positions from the broker), outbox (retries of refused "
            "notifications), or all (not for set_interval)"
        ),
    ] = "all",
    interval_seconds: Annotated[
        int | None, like(SetIntervalInput, "interval_seconds", "For set_interval")
    ] = None,
) -> MonitorsResult:
    """Watch and steer TTAI's background monitors (portfolio, price alerts, position sync, outbox).

    Use status to see whether they run, when each last checked and will check next,
    errors and alerts fired, and the NYSE hours they follow. Use check_now after
    adding an alert to have it evaluated at once.
    """
    conn = None
    if action == "set_interval":
        if monitor == "all" or interval_seconds is None:
            raise InvalidInput("set_interval needs one monitor and interval_seconds")
        request = parse(SetIntervalInput, {"interval_seconds": interval_seconds})
        conn = await connection(ctx)
        return MonitorsResult(monitor=await monitor_ops.set_interval(conn, monitor, request))
    if interval_seconds is not None:
        raise InvalidInput(f"{action} takes no interval_seconds")
    conn = await connection(ctx)
    if action == "status":
        return MonitorsResult(monitors=await monitor_ops.monitors_status(conn, monitor))
    steered = await monitor_ops.steer(conn, monitor, MONITOR_ACTIONS[action])  # type: ignore[arg-type]
    return MonitorsResult(steered=steered)
