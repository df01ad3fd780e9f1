"""Reads and writes of what TTAI stores, each one short command workflow run to its end.

The worker holds the database, so a front end reaches stored data through Temporal
like everything else (workflows/commands.py):

- alert rules (AlertsWorkflow): add (validated by the model here, the symbol
  checked with the broker before anything is stored: an unknown one is
  `InvalidInput` "unknown symbol: ZZZZ"), list, remove (an unknown ID is `NotFound`);
- watchlists (WatchlistWorkflow): list, show, add, remove (no symbols: delete);
  an unknown name is `NotFound`;
- the notification outbox (NotificationsWorkflow): list rows (dead letters first
  of all), retry one (unknown: `NotFound`, already delivered: `Conflict`);
- the portfolio (PortfolioWorkflow): by default what PositionSyncWorkflow stored
  at its last sync (every 5 minutes while the market is open, every 30 while it
  is closed), with `as_of`: no broker call, so it answers when the broker is slow
  or down; `source="broker"` reads the broker now (read-only, like everything);
- the latest saved report of each kind (LatestReportsWorkflow).

The same is reachable from the `temporal` CLI, e.g. `temporal workflow execute
--type NotificationsWorkflow --input '{"action": "list", "dead_only": true}'`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ttai.models.alerts import (
    ALERTS_WORKFLOW,
    AddAlertInput,
    AlertList,
    AlertRule,
    AlertsCommand,
    AlertsCommandResult,
    ListAlertsInput,
    RemoveAlertInput,
    RemoveAlertResult,
)
from ttai.models.notifications import (
    NOTIFICATIONS_WORKFLOW,
    NotificationsCommand,
    NotificationsCommandResult,
)
from ttai.models.portfolio import PORTFOLIO_WORKFLOW, PortfolioRequest, PortfolioView
from ttai.models.reports import LATEST_REPORTS_WORKFLOW, LatestReports, LatestReportsInput
from ttai.models.screener import (
    WATCHLIST_WORKFLOW,
    WatchlistCommand,
    WatchlistCommandResult,
    check_screenable,
)
from ttai.ops import calls
from ttai.ops.connection import Connection
from ttai.ops.errors import InvalidInput, parse

# --- alert rules ---------------------------------------------------------------------------


async def _alerts(conn: Connection, command: AlertsCommand) -> AlertsCommandResult:
    return await calls.execute_command(
        conn,
        ALERTS_WORKFLOW,
        command,
        id_prefix=f"alerts-{command.action}",
        result_type=AlertsCommandResult,
    )


async def add_alert(conn: Connection, request: AddAlertInput) -> AlertRule:
    expires = request.rule.expires_at
    if expires is not None and expires <= datetime.now(UTC):
        # The workflow checks again against its own clock; this spares a history.
        raise InvalidInput(f"expires_at {expires.isoformat()} is in the past")
    result = await _alerts(conn, AlertsCommand(action="add", rule=request.rule))
    assert result.added is not None
    return result.added


async def list_alerts(conn: Connection, request: ListAlertsInput | None = None) -> AlertList:
    """Active rules; `include_inactive` adds the fired, expired and removed ones."""
    request = request or ListAlertsInput()
    command = AlertsCommand(action="list", include_inactive=request.include_inactive)
    result = await _alerts(conn, command)
    return AlertList(alerts=result.alerts or [])


async def remove_alert(conn: Connection, request: RemoveAlertInput) -> RemoveAlertResult:
    """An unknown ID is `NotFound`; one removed before says `removed=False`."""
    result = await _alerts(conn, AlertsCommand(action="remove", alert_id=request.alert_id))
    assert result.removed is not None
    return result.removed


# --- watchlists ----------------------------------------------------------------------------


async def watchlist_command(conn: Connection, command: WatchlistCommand) -> WatchlistCommandResult:
    return await calls.execute_command(
        conn,
        WATCHLIST_WORKFLOW,
        command,
        id_prefix=f"watchlist-{command.action}",
        result_type=WatchlistCommandResult,
    )


async def list_watchlists(conn: Connection) -> WatchlistCommandResult:
    return await watchlist_command(conn, WatchlistCommand(action="list"))


async def show_watchlist(conn: Connection, name: str) -> WatchlistCommandResult:
    command = parse(WatchlistCommand, {"action": "show", "name": name})
    return await watchlist_command(conn, command)


async def screenable_symbols(conn: Connection, name: str) -> list[str]:
    """The watchlist's symbols, if a screen can take them (NotFound / InvalidInput if not).

    A screen checks this before it starts, so an unknown or empty watchlist is
    refused without a screen in Temporal's history.
    """
    symbols = (await show_watchlist(conn, name)).symbols
    try:
        check_screenable(name, symbols)
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    return symbols


# --- the outbox ----------------------------------------------------------------------------


async def notifications_command(
    conn: Connection, command: NotificationsCommand
) -> NotificationsCommandResult:
    return await calls.execute_command(
        conn,
        NOTIFICATIONS_WORKFLOW,
        command,
        id_prefix=f"notifications-{command.action}",
        result_type=NotificationsCommandResult,
    )


async def list_notifications(
    conn: Connection, *, dead_only: bool = False, limit: int = 50
) -> NotificationsCommandResult:
    command = parse(
        NotificationsCommand, {"action": "list", "dead_only": dead_only, "limit": limit}
    )
    return await notifications_command(conn, command)


# --- the portfolio and the latest reports --------------------------------------------------


async def portfolio(conn: Connection, request: PortfolioRequest | None = None) -> PortfolioView:
    return await calls.execute_command(
        conn,
        PORTFOLIO_WORKFLOW,
        request or PortfolioRequest(),
        id_prefix="portfolio",
        result_type=PortfolioView,
    )


async def latest_reports(
    conn: Connection, request: LatestReportsInput | None = None
) -> LatestReports:
    return await calls.execute_command(
        conn,
        LATEST_REPORTS_WORKFLOW,
        request or LatestReportsInput(),
        id_prefix="reports-latest",
        result_type=LatestReports,
    )
