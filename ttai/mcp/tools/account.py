"""The tools about the account and its context: portfolio, market_status, the
watchlists screens use, and the reports (latest, or run one now)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from ttai.mcp.app import app_of, connection
from ttai.mcp.stack import StackUnavailable
from ttai.mcp.tools.arguments import WaitArg, like
from ttai.models.common import Symbol
from ttai.models.portfolio import PortfolioRequest, PortfolioSource, PortfolioView
from ttai.models.reports import LatestReports, LatestReportsInput, ReportKind
from ttai.models.screener import (
    MAX_SCREEN_SYMBOLS,
    WatchlistCommand,
    WatchlistCommandResult,
    WatchlistName,
)
from ttai.ops import commands
from ttai.ops import market as market_ops
from ttai.ops import reports as report_ops
from ttai.ops.errors import InvalidInput, parse
from ttai.ops.market import MarketStatus
from ttai.ops.reports import ReportRun, RunReportInput


async def portfolio(
    ctx: Context[Any, Any],
    source: Annotated[PortfolioSource, like(PortfolioRequest, "source")] = "sync",
) -> PortfolioView:
    """The account: open positions with delta, days to expiry and P&L, plus NLV and buying power.

    Use it to review positions or before suggesting new trades (buying power). By
    default it reads the last position sync (every 5 minutes while the market is
    open) and says when that was (`as_of`); source="broker" reads the broker now.
    Read-only: TTAI never places orders.
    """
    request = parse(PortfolioRequest, {"source": source})
    return await commands.portfolio(await connection(ctx), request)


async def market_status(ctx: Context[Any, Any]) -> MarketStatus:
    """Whether NYSE is open now, when it next opens and closes, and early closes ahead.

    Use it before planning trades or when timing matters (sessions, holidays, the
    early closes around Thanksgiving and Christmas). Times are UTC with the New York
    date of each session.
    """
    try:
        conn = await app_of(ctx).stack.connection(wait_seconds=10)
    except StackUnavailable:
        conn = None  # the local NYSE calendar answers without Temporal
    return await market_ops.market_status(conn)


async def watchlists(
    ctx: Context[Any, Any],
    action: Annotated[
        Literal["list", "show", "add", "remove"],
        Field(
            description="list: every watchlist and its size; show: one watchlist's symbols; "
            "add: add symbols (creates it); remove: remove symbols, or the whole "
            "watchlist when no symbols are given"
        ),
    ] = "list",
    name: Annotated[WatchlistName | None, Field(description="The watchlist (not for list)")] = None,
    symbols: Annotated[
        list[Symbol] | None,
        Field(description="For add and remove", max_length=MAX_SCREEN_SYMBOLS),
    ] = None,
) -> WatchlistCommandResult:
    """Manage the watchlists screen_symbols can screen.

    Returns every watchlist (list) or the watchlist's symbols after the change
    (show, add, remove), with how many symbols changed.
    """
    command = parse(WatchlistCommand, {"action": action, "name": name, "symbols": symbols or []})
    return await commands.watchlist_command(await connection(ctx), command)


class ReportsResult(BaseModel):
    """`latest` for action latest, `run` for action run."""

    latest: LatestReports | None = None
    run: ReportRun | None = None


async def reports(
    ctx: Context[Any, Any],
    action: Annotated[
        Literal["latest", "run"],
        Field(
            description="latest: the newest saved report of each kind (or of `kind`); "
            "run: build a report of `kind` now (saved and sent like a scheduled one)"
        ),
    ] = "latest",
    kind: Annotated[
        ReportKind | None,
        Field(description="morning_briefing (9:30), end_of_day (16:00), weekly_review (Fri)"),
    ] = None,
    wait: WaitArg = True,
) -> ReportsResult:
    """TTAI's reports: the morning briefing, the end-of-day summary, the weekly review.

    They are built on schedule (New York time, NYSE days). Use latest to read them
    (title, day and the full markdown); use run to build one now, e.g. a briefing
    when today's is missing. A report on a closed market day ends "skipped".
    """
    if action == "latest":
        request = parse(LatestReportsInput, {"kinds": [kind]} if kind else {})
        latest = await commands.latest_reports(await connection(ctx), request)
        return ReportsResult(latest=latest)
    if kind is None:
        raise InvalidInput("run needs a kind")
    run = parse(RunReportInput, {"kind": kind})
    outcome = await report_ops.run_report(
        await connection(ctx), run, wait=wait, cancel_if_abandoned=True
    )
    return ReportsResult(run=outcome)
