"""screen: a ScreenerWorkflow (`ttai.ops.screens`) with a live progress bar and a ranked table."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ttai.cli.common import add_json_flag, connection, console, handles, one_of, print_json, say
from ttai.cli.tables import Col, Grid, printable
from ttai.domain.reports.markdown import shown
from ttai.models.common import Strategy
from ttai.models.screener import (
    MAX_CONCURRENT_LIMIT,
    MAX_SCREEN_SYMBOLS,
    ScreenInput,
    ScreenResult,
)
from ttai.ops.connection import Connection
from ttai.ops.errors import parse
from ttai.ops.screens import screen_result, start_screen, watch_screen


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "screen",
        help="screen symbols or a watchlist and rank them",
        description=f"At most {MAX_SCREEN_SYMBOLS} symbols; duplicates are analyzed once.",
    )
    parser.add_argument("symbols", nargs="*", metavar="SYMBOL")
    parser.add_argument("--watchlist", help="screen this watchlist instead of SYMBOLs")
    parser.add_argument("--strategy", default="csp", help=one_of(Strategy, "csp"))
    parser.add_argument(
        "--max-concurrent", type=int, default=5, help=f"analyses at once, 1..{MAX_CONCURRENT_LIMIT}"
    )
    parser.add_argument("--top", type=int, default=10, help="rows in the ranked result")
    parser.add_argument("--notify", action="store_true", help="one summary notification")
    parser.add_argument(
        "--per-symbol-workflows",
        action="store_true",
        help="one child AnalysisWorkflow per symbol (a Web UI row each; slower)",
    )
    parser.add_argument("--id", help="workflow ID (default: screen-<random>)")
    parser.add_argument("--no-wait", action="store_true", help="start it and print its ID")
    add_json_flag(parser)
    handles(parser, screen_command)


def screen_input(args: argparse.Namespace) -> ScreenInput:
    data: dict[str, Any] = {
        "strategy": args.strategy,
        "max_concurrent": args.max_concurrent,
        "top_n": args.top,
        "notify": args.notify,
        "per_symbol_workflows": args.per_symbol_workflows,
    }
    if args.symbols:
        data["symbols"] = args.symbols
    if args.watchlist is not None:
        data["watchlist"] = args.watchlist
    return parse(ScreenInput, data)


async def screen_command(args: argparse.Namespace) -> int:
    request = screen_input(args)  # before connecting: bad input never reaches Temporal
    conn = connection(args)
    task = await start_screen(conn, request, workflow_id=args.id)
    if args.no_wait:
        if args.json:
            print_json({"workflow_id": task.workflow_id, "run_id": task.run_id})
        else:
            say(f"started {task.workflow_id}")
        return 0
    if not args.json:
        await _draw_progress(conn, task.workflow_id)
    result = await screen_result(conn, task.workflow_id)
    if args.json:
        print_json(result)
    else:
        console.print(screen_table(result))
    return 0


async def _draw_progress(conn: Connection, workflow_id: str) -> None:
    """The screen's progress query as a bar, until the screen ends."""
    columns = (
        TextColumn(f"{escape(printable(workflow_id))} [dim]{{task.fields[status]}}"),
        BarColumn(bar_width=None),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed, {task.fields[running]} running"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("screen", total=None, status="starting", failed=0, running=0)
        async with contextlib.aclosing(watch_screen(conn, workflow_id)) as updates:
            async for progress in updates:
                bar.update(
                    task,
                    total=progress.total or None,
                    completed=progress.done,
                    status=progress.status,
                    failed=progress.failed,
                    running=progress.running,
                )


def _money(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def screen_table(result: ScreenResult) -> RenderableType:
    """The ranking (narrower on a small terminal), then the failures with their reasons."""
    title = (
        f"{result.screen_id}: {result.analyzed}/{result.total} analyzed, "
        f"{result.rejected} rejected, {result.failed} failed"
        + (" (cancelled)" if result.status == "cancelled" else "")
        + (f"; {result.note}" if result.note else "")
    )
    ranking = Grid(
        Col("#", right=True), "symbol", "recommendation", Col("score", right=True), "chart",
        Col("price", right=True), "put", Col("credit", right=True), Col("return/yr", right=True),
        Col("POP", right=True), Col("IV rank", right=True),
        title=title,
        narrow=["#", "symbol", "recommendation", "put", "credit", "return/yr", "POP"],
    )  # fmt: skip
    for e in result.top:
        ranking.add_row(
            e.rank,
            e.symbol,
            e.recommendation,
            f"{e.rank_score:.2f}",
            f"{e.chart_score:g} {e.trend}",
            f"{e.price:.2f}",
            f"{e.strike:g} {e.expiration}" if e.strike is not None else "—",
            _money(e.credit),
            _money(e.annualized_return, ".1%"),
            _money(e.probability_of_profit, ".0%"),
            shown(e.iv_rank, ".0f"),  # every ranked symbol has research: None is unknown
        )
    if not result.failures:
        return ranking
    failures = Grid("failed", Col("reason", wrap=True))
    for failure in result.failures[:10]:
        failures.add_row(failure.symbol, failure.reason, style="red")
    return Group(ranking, failures)
