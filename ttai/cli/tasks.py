"""status / result / cancel / list: the original TaskManager, over `ttai.ops.tasks`."""

from __future__ import annotations

import argparse

from ttai.cli.analysis import analysis_table
from ttai.cli.common import (
    add_json_flag,
    connection,
    console,
    handles,
    local_time,
    one_of,
    print_json,
    say,
)
from ttai.cli.tables import Grid, details
from ttai.models.analysis import AnalysisResult, Recommendation
from ttai.ops.errors import parse
from ttai.ops.tasks import (
    MAX_LIST,
    TaskFilter,
    WorkflowType,
    cancel_task,
    get_task,
    list_tasks,
    task_result,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, func, text in (
        ("status", status_command, "where a task stands: analysis, screen, report"),
        ("result", result_command, "wait for a task's result"),
        ("cancel", cancel_command, "cancel a running task (monitors: `monitors pause`)"),
    ):
        sub = subparsers.add_parser(name, help=text)
        sub.add_argument("workflow_id")
        add_json_flag(sub)
        handles(sub, func)

    listing = subparsers.add_parser("list", help="list TTAI workflows, newest first")
    state = listing.add_mutually_exclusive_group()
    state.add_argument("--running", action="store_true")
    state.add_argument("--finished", action="store_true", help="completed, failed, cancelled ...")
    listing.add_argument("--type", help=f"workflow type, {one_of(WorkflowType)}")
    listing.add_argument("--symbol", help="analyses of this symbol only")
    listing.add_argument("--recommendation", help=f"analyses ending so: {one_of(Recommendation)}")
    listing.add_argument("--limit", type=int, default=20, help=f"1..{MAX_LIST}")
    add_json_flag(listing)
    handles(listing, list_command)


async def status_command(args: argparse.Namespace) -> int:
    info = await get_task(connection(args), args.workflow_id)
    if args.json:
        print_json(info)
        return 0
    rows: list[tuple[str, object]] = [
        ("workflow ID", info.workflow_id),
        ("run ID", info.run_id),
        ("type", info.workflow_type),
        ("status", info.status),
        ("started", local_time(info.started_at)),
        ("closed", local_time(info.closed_at)),
        ("task queue", info.task_queue),
        ("history events", info.history_length),
    ]
    rows += [(name, value) for name, value in info.search_attributes.items()]
    if info.stage:
        rows.append(("stage", info.stage))
    if info.progress:
        p = info.progress
        rows.append(("progress", f"{p.status}: {p.done}/{p.total} done, {p.failed} failed"))
    if info.failure:
        rows.append(("failure", info.failure))
    console.print(details(rows))
    return 0


async def result_command(args: argparse.Namespace) -> int:
    outcome = await task_result(connection(args), args.workflow_id)
    if outcome.workflow_type == "AnalysisWorkflow" and not args.json:
        console.print(analysis_table(AnalysisResult.model_validate(outcome.result)))
    else:
        print_json(outcome.result)
    return 0


async def cancel_command(args: argparse.Namespace) -> int:
    cancelled = await cancel_task(connection(args), args.workflow_id)
    if args.json:
        print_json(cancelled)
    else:
        say(f"cancellation requested for {cancelled.workflow_id}")
    return 0


async def list_command(args: argparse.Namespace) -> int:
    state = "running" if args.running else "finished" if getattr(args, "finished", False) else None
    task_filter = parse(
        TaskFilter,
        {
            "state": state,
            "workflow_type": args.type,
            "symbol": args.symbol,
            "recommendation": getattr(args, "recommendation", None),
            "limit": args.limit,
        },
    )
    listed = await list_tasks(connection(args), task_filter)
    if args.json:
        print_json([t.model_dump(mode="json") for t in listed.tasks])
        return 0
    grid = Grid(
        "workflow ID", "type", "status", "started", "symbol", "recommendation",
        narrow=["workflow ID", "status", "started", "symbol", "recommendation"],
    )  # fmt: skip
    for t in listed.tasks:
        grid.add_row(
            t.workflow_id,  # IDs are chosen by whoever started the workflow: shown literally
            t.workflow_type,
            t.status,
            t.started_at.astimezone().strftime("%Y-%m-%d %H:%M") if t.started_at else "-",
            t.symbol,
            t.recommendation,
        )
    console.print(grid)
    return 0
