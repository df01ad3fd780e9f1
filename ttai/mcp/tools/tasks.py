"""The tools that run and follow work: analyze_symbol, screen_symbols, and the task
manager over Temporal (get_task, cancel_task, list_tasks).

Waiting calls are cancelled with the workflow they started (`cancel_if_abandoned`):
a host that cancels the call cancels the analysis or the screen too.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from ttai.mcp.app import connection
from ttai.mcp.tools.arguments import StrategyArg, SymbolArg, TaskIdArg, WaitArg, like
from ttai.models.analysis import AnalysisInput, Recommendation
from ttai.models.common import Symbol
from ttai.models.screener import MAX_SCREEN_SYMBOLS, ScreenInput, ScreenProgress, WatchlistName
from ttai.ops import analysis as analysis_ops
from ttai.ops import screens as screen_ops
from ttai.ops import tasks as task_ops
from ttai.ops.analysis import AnalyzeOutcome
from ttai.ops.errors import parse
from ttai.ops.screens import ScreenOutcome
from ttai.ops.tasks import (
    CancelRequested,
    TaskFilter,
    TaskInfo,
    TaskList,
    TaskState,
    WorkflowType,
)


async def analyze_symbol(
    ctx: Context[Any, Any],
    symbol: SymbolArg,
    strategy: StrategyArg = "csp",
    wait: WaitArg = True,
) -> AnalyzeOutcome:
    """Analyze one symbol for selling cash-secured puts: chart, option chain, research, verdict.

    Use it when the user asks about one ticker. With wait=true (default) `result`
    holds the recommendation (strong_select, select, watchlist or reject), the score,
    the chart figures (trend, SMAs, RSI, support), the best put to sell (strike,
    expiration, credit, annualised return, probability of profit, delta, open
    interest) and research (IV rank, beta, earnings before expiry). With wait=false
    only `task` comes back: poll it with get_task. Takes a few seconds.
    """
    request = parse(AnalysisInput, {"symbol": symbol, "strategy": strategy})
    conn = await connection(ctx)
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
    the symbols that could not be analyzed and why. A 50-symbol screen takes tens of
    seconds; with wait=false only `task` comes back (poll it with get_task).
    """
    data: dict[str, Any] = {"strategy": strategy, "top_n": top_n, "max_concurrent": max_concurrent}
    if symbols is not None:
        data["symbols"] = symbols
    if watchlist is not None:
        data["watchlist"] = watchlist
    request = parse(ScreenInput, data)
    conn = await connection(ctx)

    async def progress(update: ScreenProgress) -> None:
        if update.total:
            message = f"{update.done}/{update.total} analyzed, {update.failed} failed"
            await ctx.report_progress(update.done, update.total, message)

    return await screen_ops.screen(
        conn, request, wait=wait, on_progress=progress, cancel_if_abandoned=True
    )


async def get_task(ctx: Context[Any, Any], task_id: TaskIdArg) -> TaskInfo:
    """Where a task (an analysis, a screen or a report run) stands.

    Use it to poll work started with wait=false, or to look at a task from
    list_tasks. Returns its status (running, completed, failed, canceled ...),
    start and close times, a running screen's progress or a running analysis' stage,
    and once finished its result or why it failed.
    """
    return await task_ops.get_task(await connection(ctx), task_id)


async def cancel_task(ctx: Context[Any, Any], task_id: TaskIdArg) -> CancelRequested:
    """Cancel a running task (an analysis, a screen, a report run).

    Use it when the user no longer wants work that is running. A screen stops and
    keeps the symbols it finished. Returns that the cancellation was requested; a task
    that is not running is an error saying its status. Monitors are not tasks: pause
    them with the monitors tool.
    """
    return await task_ops.cancel_task(await connection(ctx), task_id)


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
    return await task_ops.list_tasks(await connection(ctx), task_filter)
