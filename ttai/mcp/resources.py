"""TTAI's resources for an AI host: the server's stack, recent notifications, the
alert rules, the portfolio (static), and the latest report of a kind and the latest
analysis of a symbol (templates). The bridge (ttai.mcp.bridge) pushes updates of
these URIs when the outbox commits a notification.

Static resources get no Context (the SDK refuses one): they are given the App.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from pydantic import TypeAdapter, ValidationError

from ttai.mcp.app import SERVER_URI, App, connection
from ttai.mcp.bridge import (
    ALERTS_URI,
    ANALYSIS_URI,
    NOTIFICATIONS_URI,
    PORTFOLIO_URI,
    REPORT_URI,
)
from ttai.mcp.stack import StackStatus
from ttai.models.alerts import AlertList, ListAlertsInput
from ttai.models.common import Symbol
from ttai.models.portfolio import PortfolioRequest, PortfolioView
from ttai.models.reports import LatestReportsInput, ReportKind
from ttai.ops import commands
from ttai.ops import tasks as task_ops
from ttai.ops.tasks import TaskFilter

RECENT_NOTIFICATIONS = 50


async def server_status(app: App) -> StackStatus:
    return app.stack.status()


async def recent_notifications(app: App) -> Any:
    conn = await app.connection()
    listing = await commands.list_notifications(conn, limit=RECENT_NOTIFICATIONS)
    return listing.notifications


async def alert_rules(app: App) -> AlertList:
    conn = await app.connection()
    return await commands.list_alerts(conn, ListAlertsInput(include_inactive=True))


async def portfolio_now(app: App) -> PortfolioView:
    return await commands.portfolio(await app.connection(), PortfolioRequest())


STATIC_RESOURCES: list[tuple[str, str, str, Callable[[App], Awaitable[Any]]]] = [
    (
        SERVER_URI,
        "server",
        "Where this server's Temporal stack is, whether it is ready, and who runs it.",
        server_status,
    ),
    (
        NOTIFICATIONS_URI,
        "notifications",
        f"The {RECENT_NOTIFICATIONS} most recent notifications (alerts fired, positions opened "
        "or closed, reports ready, analyses and screens done), newest first, with their "
        "delivery status. Subscribe to hear of new ones as they are committed.",
        recent_notifications,
    ),
    (
        ALERTS_URI,
        "alert rules",
        "Every alert rule with its status and how often it fired (updated when one fires).",
        alert_rules,
    ),
    (
        PORTFOLIO_URI,
        "portfolio",
        "Positions with delta, days to expiry and P&L, NLV and buying power, as of the last "
        "position sync (updated when a position opens or closes).",
        portfolio_now,
    ),
]


async def latest_report(kind: str, ctx: Context[Any, Any]) -> Any:
    """The newest saved report of a kind: morning_briefing, end_of_day or weekly_review."""
    try:
        checked = TypeAdapter(ReportKind).validate_python(kind)
    except ValidationError:
        raise ResourceNotFoundError(f"no report kind {kind!r}") from None
    request = LatestReportsInput(kinds=[checked])
    latest = await commands.latest_reports(await connection(ctx), request)
    if not latest.reports:
        raise ResourceNotFoundError(f"no {checked} report has been saved yet")
    return latest.reports[0]


async def latest_analysis(symbol: str, ctx: Context[Any, Any]) -> Any:
    """The newest completed analysis of a symbol (AAPL, BRK.B)."""
    try:
        checked = TypeAdapter(Symbol).validate_python(symbol)
    except ValidationError:
        raise ResourceNotFoundError(f"no symbol {symbol[:20]!r}") from None
    conn = await connection(ctx)
    found = await task_ops.list_tasks(
        conn,
        TaskFilter(state="finished", workflow_type="AnalysisWorkflow", symbol=checked, limit=20),
    )
    for task in found.tasks:
        if task.status == "completed":
            info = await task_ops.get_task(conn, task.workflow_id)
            if info.result is not None:
                return {"task_id": info.workflow_id, "completed_at": info.closed_at, **info.result}
    raise ResourceNotFoundError(f"{checked} has no completed analysis yet (use analyze_symbol)")


TEMPLATES: list[tuple[str, str, str, Callable[..., Awaitable[Any]]]] = [
    (
        REPORT_URI,
        "latest report",
        "The newest saved report of a kind (morning_briefing, end_of_day, weekly_review): "
        "title, day and markdown. Updated when a new one is saved.",
        latest_report,
    ),
    (
        ANALYSIS_URI,
        "latest analysis",
        "The newest completed analysis of a symbol. Updated when an analysis of it completes.",
        latest_analysis,
    ),
]
