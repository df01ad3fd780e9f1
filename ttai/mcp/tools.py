"""TTAI's tools, resources and prompts for an AI host, declared over the ops layer.

`declare(server)` registers them; the server runs it after the handshake
(ttai.mcp.server), since the models and operations imported here cost more
than `initialize` may take. Every tool body is: wait for the stack, call one
operation, return its model.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from ttai.mcp.app import SERVER_URI, App, app_of
from ttai.mcp.bridge import NOTIFICATIONS_URI
from ttai.mcp.server import TtaiServer
from ttai.mcp.stack import StackStatus
from ttai.models.alerts import AlertMode, AlertRule, ConditionName
from ttai.models.analysis import AnalysisResult
from ttai.models.common import Strategy, Symbol
from ttai.models.screener import (
    MAX_CONCURRENT_LIMIT,
    MAX_SCREEN_SYMBOLS,
    MAX_TOP_N,
    ScreenResult,
    WatchlistName,
)

logger = logging.getLogger("ttai.mcp")

PROGRESS_POLL_SECONDS = 0.5


# --- tool results -------------------------------------------------------------------------


class Started(BaseModel):
    """A workflow this call started and did not wait for."""

    task_id: str = Field(description="The workflow ID: pass it to get_task or cancel_task.")
    status: Literal["running"] = "running"


class AnalysisOutcome(BaseModel):
    """An analysis: its result when waited for, else only its task ID."""

    task_id: str
    status: Literal["running", "completed"]
    result: AnalysisResult | None = Field(default=None, description="Set when status=completed.")


class ScreenOutcome(BaseModel):
    """A screen: the ranked result when waited for, else only its task ID."""

    task_id: str
    status: Literal["running", "completed", "cancelled"]
    result: ScreenResult | None = Field(default=None, description="Set unless status=running.")


# --- tools ----------------------------------------------------------------------------------

SymbolArg = Annotated[Symbol, Field(description="Ticker, upper case: AAPL, BRK.B")]
WaitArg = Annotated[
    bool,
    Field(
        description="true: wait for the result (cancelling this call cancels the work); "
        "false: return the task ID at once and poll it with get_task"
    ),
]


async def analyze_symbol(
    ctx: Context,
    symbol: SymbolArg,
    strategy: Annotated[Strategy, Field(description="csp: cash-secured puts")] = "csp",
    wait: WaitArg = True,
) -> AnalysisOutcome:
    """Analyse one symbol for a strategy: chart, options chain, research, and a recommendation.

    Use it when the user asks about one ticker. With wait=true (default) it returns the
    analysis (recommendation strong_select/select/watchlist/reject, score, chart
    figures, the best put to sell with credit, annualised return and probability of
    profit, IV rank and earnings); with wait=false only the task ID.
    """
    conn = await app_of(ctx).connection(ctx)
    from ttai.models.analysis import AnalysisInput

    request = AnalysisInput(symbol=symbol, strategy=strategy)
    handle = await conn.client.start_workflow(
        "AnalysisWorkflow",
        request,
        id=f"analysis-{request.symbol}-{uuid.uuid4().hex[:8]}",
        task_queue=conn.settings.task_queue,
        result_type=AnalysisResult,
    )
    if not wait:
        return AnalysisOutcome(task_id=handle.id, status="running")
    result = await _result_or_cancel(handle)
    return AnalysisOutcome(task_id=handle.id, status="completed", result=result)


async def screen_symbols(
    ctx: Context,
    symbols: Annotated[
        list[Symbol] | None,
        Field(description=f"Tickers to screen (at most {MAX_SCREEN_SYMBOLS}); or give watchlist"),
    ] = None,
    watchlist: Annotated[
        WatchlistName | None, Field(description="Screen this watchlist's symbols instead")
    ] = None,
    strategy: Annotated[Strategy, Field(description="csp: cash-secured puts")] = "csp",
    top_n: Annotated[int, Field(ge=1, le=MAX_TOP_N, description="Rows in the ranking")] = 10,
    max_concurrent: Annotated[
        int, Field(ge=1, le=MAX_CONCURRENT_LIMIT, description="Analyses at once")
    ] = 5,
    wait: WaitArg = True,
) -> ScreenOutcome:
    """Screen many symbols (or a watchlist) and rank the best candidates.

    Use it to find candidates among several tickers. Progress notifications report
    done/total while it runs. With wait=true (default) it returns the ranked top_n
    (symbol, recommendation, score, best put, credit, annualised return, POP, IV rank)
    and the failures; with wait=false only the task ID.
    """
    conn = await app_of(ctx).connection(ctx)
    from ttai.models.screener import ScreenInput, ScreenProgress

    data: dict[str, Any] = {"strategy": strategy, "top_n": top_n, "max_concurrent": max_concurrent}
    if symbols is not None:
        data["symbols"] = symbols
    if watchlist is not None:
        data["watchlist"] = watchlist
    from pydantic import ValidationError

    try:
        request = ScreenInput.model_validate(data)
    except ValidationError as err:
        raise ToolError(err.errors()[0]["msg"].removeprefix("Value error, ")) from None
    handle = await conn.client.start_workflow(
        "ScreenerWorkflow",
        request,
        id=f"screen-{uuid.uuid4().hex[:8]}",
        task_queue=conn.settings.task_queue,
        result_type=ScreenResult,
    )
    if not wait:
        return ScreenOutcome(task_id=handle.id, status="running")
    outcome = asyncio.ensure_future(_result_or_cancel(handle))
    try:
        while not outcome.done():
            with contextlib.suppress(Exception):  # the result decides, not a query
                progress = await handle.query("progress", result_type=ScreenProgress)
                if progress.total:
                    await ctx.report_progress(
                        progress.done,
                        progress.total,
                        f"{progress.done}/{progress.total} analysed, {progress.failed} failed",
                    )
            await asyncio.wait([outcome], timeout=PROGRESS_POLL_SECONDS)
    finally:
        if not outcome.done():
            outcome.cancel()
            with anyio.CancelScope(shield=True), contextlib.suppress(BaseException):
                await outcome
    result = outcome.result()
    return ScreenOutcome(task_id=handle.id, status=result.status, result=result)


async def _result_or_cancel(handle: Any) -> Any:
    """The workflow's result; if the caller gives up, the workflow is cancelled too."""
    try:
        return await handle.result()
    except asyncio.CancelledError:
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await asyncio.wait_for(handle.cancel(), 5)
            logger.info("call cancelled: cancelled workflow %s", handle.id)
        raise


async def add_alert(
    ctx: Context,
    symbol: SymbolArg,
    condition: Annotated[ConditionName, Field(description="What to watch")],
    threshold: Annotated[float, Field(ge=0, allow_inf_nan=False, description="The level")],
    mode: Annotated[AlertMode, Field(description="once, or rearm after the cooldown")] = "once",
    cooldown_seconds: Annotated[int, Field(ge=0, le=30 * 86400)] = 3600,
    note: Annotated[str, Field(max_length=200)] = "",
) -> AlertRule:
    """Add an alert rule to the price-alert monitor; returns the stored rule with its ID."""
    conn = await app_of(ctx).connection(ctx)
    from ttai.models.alerts import AddAlertInput, AlertRuleSpec

    spec = AlertRuleSpec(
        symbol=symbol,
        condition=condition,
        threshold=threshold,
        mode=mode,
        cooldown_seconds=cooldown_seconds,
        note=note,
    )
    handle = conn.client.get_workflow_handle("monitor-price-alerts")
    return await handle.execute_update("add_alert", AddAlertInput(rule=spec), result_type=AlertRule)


TOOLS: list[tuple[Callable[..., Any], ToolAnnotations]] = [
    (analyze_symbol, ToolAnnotations(read_only_hint=False, open_world_hint=True)),
    (screen_symbols, ToolAnnotations(read_only_hint=False, open_world_hint=True)),
    (add_alert, ToolAnnotations(read_only_hint=False, idempotent_hint=False)),
]


# --- resources ----------------------------------------------------------------------------
# Static resources get no Context (the SDK refuses one): they take the App.


async def server_status(app: App) -> StackStatus:
    return app.stack.status()


async def recent_notifications(app: App) -> str:
    conn = await app.connection()
    from ttai.notify.outbox import Outbox

    rows = await Outbox(await conn.pool(), []).notifications(limit=50)
    return "[" + ",".join(row.model_dump_json() for row in rows) + "]"


RESOURCES: list[tuple[str, str, str, Callable[[App], Any]]] = [
    (
        SERVER_URI,
        "server",
        "Where this server's Temporal stack is, whether it is ready, and who runs it.",
        server_status,
    ),
    (
        NOTIFICATIONS_URI,
        "notifications",
        "The 50 most recent notifications (alerts fired, positions opened or closed, reports "
        "ready, analyses done), newest first. Subscribe to hear of new ones.",
        recent_notifications,
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
`add_alert` rules (delta_at_least, dte_at_most, price_below near the strike) and add \
them only when I agree.
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


# --- declaration ----------------------------------------------------------------------------


def declare(server: TtaiServer) -> None:
    for fn, hints in TOOLS:
        server.add_tool(fn, description=inspect.cleandoc(fn.__doc__ or ""), annotations=hints)
    for prompt in PROMPTS:
        server.prompt(description=inspect.cleandoc(prompt.__doc__ or ""))(prompt)

    def current_app() -> App:
        if not server.apps:
            raise ResourceError("the server is not connected yet")
        return server.apps[-1]  # stdio: the one connection; HTTP: the one process-wide app

    for uri, name, description, read in RESOURCES:

        def reader_of(read: Callable[[App], Any]) -> Callable[[], Any]:
            async def reader() -> Any:
                return await read(current_app())

            reader.__name__ = read.__name__
            return reader

        server.resource(uri, name=name, mime_type="application/json", description=description)(
            reader_of(read)
        )
