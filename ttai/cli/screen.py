"""screen / watchlist: ScreenerWorkflow with a live progress bar, WatchlistWorkflow."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError

from ttai.cli.common import (
    add_json_flag,
    client_from,
    console,
    parse_model,
    plain,
    print_json,
    settings_from,
    workflow_id_arg,
)
from ttai.models.common import MAX_SCREEN_ID_LENGTH
from ttai.models.screener import (
    MAX_CONCURRENT_LIMIT,
    MAX_SCREEN_SYMBOLS,
    ScreenInput,
    ScreenProgress,
    ScreenResult,
    WatchlistCommand,
    WatchlistCommandResult,
)

POLL_SECONDS = 0.5


def register(subparsers: argparse._SubParsersAction) -> None:
    screen = subparsers.add_parser(
        "screen",
        help="screen symbols or a watchlist and rank them",
        description=f"At most {MAX_SCREEN_SYMBOLS} symbols; duplicates are analysed once.",
    )
    screen.add_argument("symbols", nargs="*", metavar="SYMBOL")
    screen.add_argument("--watchlist", help="screen this watchlist instead of SYMBOLs")
    screen.add_argument("--strategy", default="csp")
    screen.add_argument(
        "--max-concurrent", type=int, default=5, help=f"analyses at once, 1..{MAX_CONCURRENT_LIMIT}"
    )
    screen.add_argument("--top", type=int, default=10, help="rows in the ranked result")
    screen.add_argument("--notify", action="store_true", help="one summary notification")
    screen.add_argument(
        "--per-symbol-workflows",
        action="store_true",
        help="one child AnalysisWorkflow per symbol (a Web UI row each; slower)",
    )
    screen.add_argument("--id", help="workflow ID (default: screen-<random>)")
    screen.add_argument("--no-wait", action="store_true", help="start it and print its ID")
    add_json_flag(screen)
    screen.set_defaults(func=screen_command)

    watchlist = subparsers.add_parser("watchlist", help="manage watchlists")
    actions = watchlist.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every watchlist with its size")
    show = actions.add_parser("show", help="a watchlist's symbols")
    show.add_argument("name")
    add = actions.add_parser("add", help="add symbols (creates the watchlist)")
    add.add_argument("name")
    add.add_argument("symbols", nargs="+", metavar="SYMBOL")
    remove = actions.add_parser("remove", help="remove symbols, or the watchlist without any")
    remove.add_argument("name")
    remove.add_argument("symbols", nargs="*", metavar="SYMBOL")
    for sub in actions.choices.values():
        add_json_flag(sub)
    watchlist.set_defaults(func=watchlist_command)


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
    return parse_model(ScreenInput, data)


async def screen_command(args: argparse.Namespace) -> int:
    request = screen_input(args)  # before connecting: bad input never reaches Temporal
    workflow_id = workflow_id_arg(args.id, MAX_SCREEN_ID_LENGTH) or f"screen-{uuid.uuid4().hex[:8]}"
    client = await client_from(args)
    source = (
        f"watchlist {request.watchlist}"
        if request.watchlist
        else f"{len(request.symbols or [])} symbols"
    )
    handle = await client.start_workflow(
        "ScreenerWorkflow",
        request,
        id=workflow_id,
        task_queue=settings_from(args).task_queue,
        result_type=ScreenResult,
        static_summary=f"Screen of {source}, {request.max_concurrent} at once",
    )
    if args.no_wait:
        if args.json:
            print_json({"workflow_id": handle.id, "run_id": handle.result_run_id})
        else:
            console.print(plain(f"started {handle.id}"))
        return 0
    result = await handle.result() if args.json else await watch(handle)
    if args.json:
        print_json(result)
    else:
        console.print(screen_table(result))
    return 0


async def watch(handle: WorkflowHandle[Any, ScreenResult]) -> ScreenResult:
    """Draw the progress query as a bar until the screen ends."""
    outcome = asyncio.ensure_future(handle.result())
    columns = (
        TextColumn(f"{escape(handle.id)} [dim]{{task.fields[status]}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed, {task.fields[running]} running"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("screen", total=None, status="starting", failed=0, running=0)
        while not outcome.done():
            try:
                progress = await handle.query("progress", result_type=ScreenProgress)
            except (RPCError, WorkflowQueryFailedError):  # the result decides, not a query
                progress = None
            if progress is not None:
                bar.update(
                    task,
                    total=progress.total or None,
                    completed=progress.done,
                    status=progress.status,
                    failed=progress.failed,
                    running=progress.running,
                )
            await asyncio.wait([outcome], timeout=POLL_SECONDS)
    return outcome.result()


def screen_table(result: ScreenResult) -> Table:
    title = plain(
        f"{result.screen_id}: {result.analysed}/{result.total} analysed, "
        f"{result.rejected} rejected, {result.failed} failed"
        + (" (cancelled)" if result.status == "cancelled" else "")
    )
    table = Table("#", "symbol", "recommendation", "score", "chart", "price", "put", "credit",
                  "ann. return", "POP", "IV rank", title=title)  # fmt: skip
    for e in result.top:
        table.add_row(
            str(e.rank),
            e.symbol,
            e.recommendation,
            f"{e.rank_score:.2f}",
            f"{e.chart_score:g} {e.trend}",
            f"{e.price:.2f}",
            f"{e.strike:g} {e.expiration}" if e.strike is not None else "—",
            f"{e.credit:.2f}" if e.credit is not None else "—",
            f"{e.annualized_return:.1%}" if e.annualized_return is not None else "—",
            f"{e.probability_of_profit:.0%}" if e.probability_of_profit is not None else "—",
            f"{e.iv_rank:.0f}" if e.iv_rank is not None else "—",
        )
    for failure in result.failures[:10]:
        table.add_row("", failure.symbol, "failed", "", plain(failure.reason), style="red")
    return table


async def watchlist_command(args: argparse.Namespace) -> int:
    command = parse_model(
        WatchlistCommand,
        {
            "action": args.action,
            "name": getattr(args, "name", None),
            "symbols": getattr(args, "symbols", []),
        },
    )
    client = await client_from(args)
    result = await client.execute_workflow(
        "WatchlistWorkflow",
        command,
        id=f"watchlist-{command.action}-{uuid.uuid4().hex[:8]}",
        task_queue=settings_from(args).task_queue,
        result_type=WatchlistCommandResult,
    )
    if args.json:
        print_json(result)
    elif command.action == "list":
        table = Table("watchlist", "symbols", "updated")
        for info in result.watchlists:
            table.add_row(info.name, str(info.size), info.updated_at.strftime("%Y-%m-%d %H:%M"))
        console.print(table)
    elif result.deleted:
        console.print(f"deleted watchlist {command.name}")
    else:
        if command.action != "show":
            verb = "added" if command.action == "add" else "removed"
            console.print(f"{verb} {result.changed} symbol(s)")
        console.print(f"{command.name} ({len(result.symbols)}): {' '.join(result.symbols)}")
    return 0
