"""TTAI's tools, resources and prompts for an AI host, declared over the ops layer.

`declare(server)` registers them; the server runs it after the handshake
(ttai.mcp.server), since the models and operations imported here cost more
than `initialize` may take. Every tool validates its arguments (the schema
carries the workflow models' own constraints, the body parses them into the
models), waits for the stack, calls one operation of `ttai.ops`, and returns
that operation's model as structured output. Nothing here talks to Temporal.

Waiting calls (`analyze_symbol`, `screen_symbols`, `reports` run) are
cancelled with the workflow they started: a host that cancels the call
(`notifications/cancelled`, a closed connection) cancels the analysis, the
screen or the report too (`cancel_if_abandoned`). Work started with
`wait=false` is never cancelled by the server; `cancel_task` stops it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, ToolAnnotations
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from ttai.domain.alerts.conditions import CONDITIONS, describe, names
from ttai.mcp.app import SERVER_URI, App, app_of
from ttai.mcp.bridge import (
    ALERTS_URI,
    ANALYSIS_URI,
    NOTIFICATIONS_URI,
    PORTFOLIO_URI,
    REPORT_URI,
)
from ttai.mcp.server import TtaiServer
from ttai.mcp.stack import StackStatus, StackUnavailable
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
from ttai.models.analysis import AnalysisInput, Recommendation
from ttai.models.common import Strategy, Symbol, WorkflowId
from ttai.models.monitors import MonitorStatus, SetIntervalInput
from ttai.models.portfolio import PortfolioRequest, PortfolioSource, PortfolioView
from ttai.models.reports import LatestReports, LatestReportsInput, ReportKind
from ttai.models.screener import (
    MAX_SCREEN_SYMBOLS,
    MAX_TOP_N,
    ScreenInput,
    ScreenProgress,
    WatchlistCommand,
    WatchlistCommandResult,
    WatchlistName,
)
from ttai.ops import alerts as alert_ops
from ttai.ops import analysis as analysis_ops
from ttai.ops import market as market_ops
from ttai.ops import monitors as monitor_ops
from ttai.ops import notifications as notification_ops
from ttai.ops import portfolio as portfolio_ops
from ttai.ops import reports as report_ops
from ttai.ops import screens as screen_ops
from ttai.ops import tasks as task_ops
from ttai.ops import watchlists as watchlist_ops
from ttai.ops.analysis import AnalyzeOutcome
from ttai.ops.errors import InvalidInput, parse
from ttai.ops.market import MarketStatus
from ttai.ops.monitors import MonitorName, MonitorsStatus, SteerOutcome
from ttai.ops.reports import ReportRun, RunReportInput
from ttai.ops.screens import ScreenOutcome
from ttai.ops.tasks import (
    CancelRequested,
    TaskFilter,
    TaskInfo,
    TaskList,
    TaskState,
    WorkflowType,
)

logger = logging.getLogger("ttai.mcp")

RECENT_NOTIFICATIONS = 50


def like(model: type[BaseModel], name: str, description: str | None = None) -> FieldInfo:
    """A workflow model field's constraints and description, for a tool argument of the
    same name (its default stays the argument's own): the input schema says what the
    model checks, and the body parses the arguments into that model all the same."""
    source = model.model_fields[name]
    constraints: dict[str, Any] = {}
    for meta in source.metadata:
        for key in ("gt", "ge", "lt", "le", "min_length", "max_length", "pattern"):
            value = getattr(meta, key, None)
            if value is not None:
                constraints[key] = value
    # Not allow_inf_nan: as a field constraint pydantic 2.14 raises a TypeError on the
    # string "inf" instead of refusing it; the model's own check refuses it in the body.
    return Field(description=description or source.description, **constraints)


def _conditions_help() -> str:
    """What fires each alert condition, from the one table of conditions."""
    fires = "; ".join(
        f"{name}: {describe(name, 'threshold', 'reference_price')}" for name in CONDITIONS
    )
    return (
        f"What fires the rule. {fires}. {', '.join(names('position'))} watch the symbol's "
        "option positions, one contract at a time."
    )


# --- argument types, with the models' constraints and descriptions ---------------------------

SymbolArg = Annotated[Symbol, Field(description="Ticker, upper case: AAPL, BRK.B")]
StrategyArg = Annotated[Strategy, Field(description="csp: cash-secured puts (the only one)")]
TaskIdArg = Annotated[
    WorkflowId,
    Field(description="A task ID (workflow ID) from analyze_symbol, screen_symbols or list_tasks"),
]
WaitArg = Annotated[
    bool,
    Field(
        description="true: wait and return the result (cancelling this call cancels the work); "
        "false: return the task ID at once, then poll it with get_task"
    ),
]


async def _connection(ctx: Context[Any, Any]) -> Any:
    return await app_of(ctx).connection(ctx)


# --- tasks ----------------------------------------------------------------------------------


async def analyze_symbol(
    ctx: Context[Any, Any],
    symbol: SymbolArg,
    strategy: StrategyArg = "csp",
    wait: WaitArg = True,
) -> AnalyzeOutcome:
    """Analyse one symbol for selling cash-secured puts: chart, option chain, research, verdict.

    Use it when the user asks about one ticker. With wait=true (default) `result`
    holds the recommendation (strong_select, select, watchlist or reject), the score,
    the chart figures (trend, SMAs, RSI, support), the best put to sell (strike,
    expiration, credit, annualised return, probability of profit, delta, open
    interest) and research (IV rank, beta, earnings before expiry). With wait=false
    only `task` comes back: poll it with get_task. Takes a few seconds.
    """
    request = parse(AnalysisInput, {"symbol": symbol, "strategy": strategy})
    conn = await _connection(ctx)
    return await analysis_ops.analyze(conn, request, wait=wait, cancel_if_abandoned=True)


async def screen_symbols(
    ctx: Context[Any, Any],
    symbols: Annotated[
        list[Symbol] | None,
        Field(
            description=f"Tickers to screen, at most {MAX_SCREEN_SYMBOLS} (duplicates once); "
            "or give watchlist instead"
        ),
    ] = None,
    watchlist: Annotated[
        WatchlistName | None, Field(description="Screen the symbols of this watchlist instead")
    ] = None,
    strategy: StrategyArg = "csp",
    top_n: Annotated[int, like(ScreenInput, "top_n", "Rows in the ranking")] = 10,
    max_concurrent: Annotated[
        int, like(ScreenInput, "max_concurrent", "Analyses running at once")
    ] = 5,
    wait: WaitArg = True,
) -> ScreenOutcome:
    """Screen many symbols, or a watchlist, and rank the best cash-secured-put candidates.

    Use it to compare tickers or to find candidates in a watchlist. While it runs it
    sends progress notifications (symbols done of total). With wait=true (default)
    `result.top` is the ranking (rank, symbol, recommendation, score, the put to sell,
    credit, annualised return, probability of profit, IV rank) and `result.failures`
    the symbols that could not be analysed and why. A 50-symbol screen takes tens of
    seconds; with wait=false only `task` comes back (poll it with get_task).
    """
    data: dict[str, Any] = {"strategy": strategy, "top_n": top_n, "max_concurrent": max_concurrent}
    if symbols is not None:
        data["symbols"] = symbols
    if watchlist is not None:
        data["watchlist"] = watchlist
    request = parse(ScreenInput, data)
    conn = await _connection(ctx)

    async def progress(update: ScreenProgress) -> None:
        if update.total:
            message = f"{update.done}/{update.total} analysed, {update.failed} failed"
            await ctx.report_progress(update.done, update.total, message)

    return await screen_ops.screen(
        conn, request, wait=wait, on_progress=progress, cancel_if_abandoned=True
    )


async def get_task(ctx: Context[Any, Any], task_id: TaskIdArg) -> TaskInfo:
    """Where a task (an analysis, a screen, a report, any TTAI workflow) stands.

    Use it to poll work started with wait=false, or to look at a task from
    list_tasks. Returns its status (running, completed, failed, canceled ...),
    start and close times, a running screen's progress or a running analysis' stage,
    and once finished its result or why it failed.
    """
    return await task_ops.get_task(await _connection(ctx), task_id)


async def cancel_task(ctx: Context[Any, Any], task_id: TaskIdArg) -> CancelRequested:
    """Cancel a running task (an analysis, a screen, a report run).

    Use it when the user no longer wants work that is running. A screen stops and
    keeps the symbols it finished. Returns that the cancellation was requested; a task
    that is not running is an error saying its status.
    """
    return await task_ops.cancel_task(await _connection(ctx), task_id)


async def list_tasks(
    ctx: Context[Any, Any],
    state: Annotated[
        TaskState | None, Field(description="running, or finished (any way it ended)")
    ] = None,
    workflow_type: Annotated[
        WorkflowType | None, Field(description="Only this kind, e.g. AnalysisWorkflow")
    ] = None,
    symbol: Annotated[Symbol | None, Field(description="Only analyses of this symbol")] = None,
    recommendation: Annotated[
        Recommendation | None, Field(description="Only analyses that ended with this")
    ] = None,
    limit: Annotated[int, like(TaskFilter, "limit", "At most this many, newest first")] = 20,
) -> TaskList:
    """List TTAI's tasks (workflows), newest first, filtered through Temporal's visibility.

    Use it to find earlier analyses of a symbol, what is running now, or which
    analyses recommended "select". Each entry has the task ID, type, status, times,
    and for analyses the symbol, recommendation and strategy; get_task gives more.
    """
    task_filter = parse(
        TaskFilter,
        {
            "state": state,
            "workflow_type": workflow_type,
            "symbol": symbol,
            "recommendation": recommendation,
            "limit": limit,
        },
    )
    return await task_ops.list_tasks(await _connection(ctx), task_filter)


# --- alerts -----------------------------------------------------------------------------------


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
    return await alert_ops.add_alert(await _connection(ctx), AddAlertInput(rule=spec))


async def list_alerts(
    ctx: Context[Any, Any],
    include_inactive: Annotated[
        bool, Field(description="Also the rules that fired (once), expired or were removed")
    ] = False,
) -> AlertList:
    """List the alert rules the monitors watch: ID, rule, status, how often each fired.

    Use it before adding an alert (to avoid duplicates) or to find an ID to remove.
    """
    request = ListAlertsInput(include_inactive=include_inactive)
    return await alert_ops.list_alerts(await _connection(ctx), request)


async def remove_alert(
    ctx: Context[Any, Any],
    alert_id: Annotated[int, like(RemoveAlertInput, "alert_id", "From add_alert or list_alerts")],
) -> RemoveAlertResult:
    """Remove an alert rule by its ID; it stops being watched at once."""
    request = parse(RemoveAlertInput, {"alert_id": alert_id})
    return await alert_ops.remove_alert(await _connection(ctx), request)


# --- account and market -------------------------------------------------------------------------


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
    return await portfolio_ops.portfolio(await _connection(ctx), request)


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


# --- grouped tools ----------------------------------------------------------------------------


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
            "position-sync (positions from the broker), or all (not for set_interval)"
        ),
    ] = "all",
    interval_seconds: Annotated[
        int | None, like(SetIntervalInput, "interval_seconds", "For set_interval")
    ] = None,
) -> MonitorsResult:
    """Watch and steer TTAI's three background monitors (portfolio, price alerts, position sync).

    Use status to see whether they run, when each last checked and will check next,
    errors and alerts fired, and the NYSE hours they follow. Use check_now after
    adding an alert to have it evaluated at once.
    """
    conn = None
    if action == "set_interval":
        if monitor == "all" or interval_seconds is None:
            raise InvalidInput("set_interval needs one monitor and interval_seconds")
        request = parse(SetIntervalInput, {"interval_seconds": interval_seconds})
        conn = await _connection(ctx)
        return MonitorsResult(monitor=await monitor_ops.set_interval(conn, monitor, request))
    if interval_seconds is not None:
        raise InvalidInput(f"{action} takes no interval_seconds")
    conn = await _connection(ctx)
    if action == "status":
        return MonitorsResult(monitors=await monitor_ops.monitors_status(conn, monitor))
    steered = await monitor_ops.steer(conn, monitor, MONITOR_ACTIONS[action])  # type: ignore[arg-type]
    return MonitorsResult(steered=steered)


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
    return await watchlist_ops.watchlist_command(await _connection(ctx), command)


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
        latest = await report_ops.latest_reports(await _connection(ctx), request)
        return ReportsResult(latest=latest)
    if kind is None:
        raise InvalidInput("run needs a kind")
    run = parse(RunReportInput, {"kind": kind})
    outcome = await report_ops.run_report(
        await _connection(ctx), run, wait=wait, cancel_if_abandoned=True
    )
    return ReportsResult(run=outcome)


READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=True)
STARTS_WORK = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)
CHANGES = ToolAnnotations(read_only_hint=False, destructive_hint=False)
REMOVES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True)

TOOLS: list[tuple[Callable[..., Any], ToolAnnotations]] = [
    (analyze_symbol, STARTS_WORK),
    (screen_symbols, STARTS_WORK),
    (get_task, READ_ONLY),
    (cancel_task, REMOVES),
    (list_tasks, READ_ONLY),
    (add_alert, CHANGES),
    (list_alerts, READ_ONLY),
    (remove_alert, REMOVES),
    (portfolio, READ_ONLY),
    (market_status, READ_ONLY),
    (monitors, CHANGES),
    (watchlists, CHANGES),
    (reports, STARTS_WORK),
]


# --- resources ----------------------------------------------------------------------------------
# Static resources get no Context (the SDK refuses one): they are given the App.


async def server_status(app: App) -> StackStatus:
    return app.stack.status()


async def recent_notifications(app: App) -> Any:
    conn = await app.connection()
    listing = await notification_ops.list_notifications(conn, limit=RECENT_NOTIFICATIONS)
    return listing.notifications


async def alert_rules(app: App) -> AlertList:
    conn = await app.connection()
    return await alert_ops.list_alerts(conn, ListAlertsInput(include_inactive=True))


async def portfolio_now(app: App) -> PortfolioView:
    return await portfolio_ops.portfolio(await app.connection(), PortfolioRequest())


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
    latest = await report_ops.latest_reports(await _connection(ctx), request)
    if not latest.reports:
        raise ResourceNotFoundError(f"no {checked} report has been saved yet")
    return latest.reports[0]


async def latest_analysis(symbol: str, ctx: Context[Any, Any]) -> Any:
    """The newest completed analysis of a symbol (AAPL, BRK.B)."""
    try:
        checked = TypeAdapter(Symbol).validate_python(symbol)
    except ValidationError:
        raise ResourceNotFoundError(f"no symbol {symbol[:20]!r}") from None
    conn = await _connection(ctx)
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


# --- prompts --------------------------------------------------------------------------------
# Arguments are strings on the wire; every one has a default (a missing required
# argument is an internal error with a traceback in the SDK) and is checked here.


def _prompt_argument(value: str, check: Callable[[str], Any], what: str) -> Any:
    try:
        return check(value)
    except ValidationError as err:
        reason = "; ".join(e["msg"] for e in err.errors(include_url=False))
    except (ValueError, TypeError) as err:
        reason = str(err)
    raise MCPError(INVALID_PARAMS, f"invalid {what} {value[:40]!r}: {reason}")


def _watchlist_name(value: str) -> str:
    from pydantic import TypeAdapter

    return TypeAdapter(WatchlistName).validate_python(value.strip())


def _top_n(value: str) -> int:
    number = int(value)
    if not 1 <= number <= MAX_TOP_N:
        raise ValueError(f"between 1 and {MAX_TOP_N}")
    return number


def find_csp_candidates(
    watchlist: Annotated[str, Field(description="The watchlist to screen")] = "default",
    top_n: Annotated[str, Field(description="How many candidates to present")] = "5",
) -> str:
    """Find cash-secured-put candidates in a watchlist."""
    name = _prompt_argument(watchlist, _watchlist_name, "watchlist")
    count = _prompt_argument(top_n, _top_n, "top_n")
    return f"""\
Find cash-secured-put candidates in my TTAI watchlist "{name}". TTAI is read-only \
towards the broker: never suggest that you placed an order.

1. Call `market_status` and note whether NYSE is open and any early close.
2. Call `watchlists` with action "show" and name "{name}" to see its symbols.
3. Call `screen_symbols` with watchlist "{name}", strategy "csp" and top_n {count}; it \
reports progress while it runs and returns the ranking.
4. For the ranked entries recommended "strong_select" or "select", present a table: \
symbol, strike and expiration of the put to sell, credit, annualised return, probability \
of profit, delta, IV rank. Say which ones have earnings before expiry (call \
`analyze_symbol` for a symbol when you need its research details).
5. Mention the symbols that failed and why, in one line each.
6. Offer to add price alerts (`add_alert`) near the strikes, but add none without my yes."""


def review_positions() -> str:
    """Review my open positions: risk, days to expiry, P&L, and the alerts that guard them."""
    return """\
Review my open TTAI positions. TTAI is read-only towards the broker: suggest, never \
claim to trade.

1. Call `portfolio` (it says when the positions were last synced; ask for source \
"broker" only if that is stale).
2. For each position show symbol, type, quantity, days to expiry, delta and P&L; for \
the account, net liquidating value and buying power.
3. Flag short puts with |delta| above 0.30, 21 days to expiry or fewer, or at least \
50% of the credit already earned, and underlyings with earnings before expiry \
(`analyze_symbol` gives the research).
4. Call `list_alerts` and point out flagged positions no alert watches; propose \
`add_alert` rules on the options' delta or days to expiry, or a price level near the \
strike, and add them only when I agree.
5. End with a short list: hold, consider closing, consider rolling, and why."""


def plan_session() -> str:
    """Plan today's trading session from the morning briefing."""
    return """\
Plan today's trading session with TTAI. TTAI is read-only towards the broker.

1. Call `market_status`: is NYSE open today, when does it open and close, is it an \
early close?
2. Call `reports` with action "latest" and read the morning briefing. If there is none \
for today, call `reports` with action "run" and kind "morning_briefing" (it waits for \
the report).
3. Call `portfolio` and `list_alerts` for what is open and what is watched.
4. Write the plan: what the briefing says matters today (earnings, moves, alerts), \
positions that need attention and why, candidates worth screening (offer \
`screen_symbols` on a watchlist), and the times that matter (open, close, early close).
Keep it to one screen of text."""


PROMPTS = [find_csp_candidates, review_positions, plan_session]


# --- declaration ------------------------------------------------------------------------------


def declare(server: TtaiServer) -> None:
    """Register every tool, resource and prompt on `server`."""
    for fn, hints in TOOLS:
        server.add_tool(fn, description=inspect.cleandoc(fn.__doc__ or ""), annotations=hints)

    def current_app() -> App:
        if not server.apps:
            raise ResourceError("the server is not connected yet")
        return server.apps[-1]  # stdio: the one connection; HTTP: the one process-wide app

    def reader_of(read: Callable[[App], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        async def reader() -> Any:
            return await read(current_app())

        reader.__name__ = read.__name__
        return reader

    for uri, name, description, read in STATIC_RESOURCES:
        server.resource(uri, name=name, mime_type="application/json", description=description)(
            reader_of(read)
        )
    for uri, name, description, template in TEMPLATES:
        server.resource(uri, name=name, mime_type="application/json", description=description)(
            template
        )
    for prompt in PROMPTS:
        server.prompt(description=inspect.cleandoc(prompt.__doc__ or ""))(prompt)
