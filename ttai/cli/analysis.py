"""analyze / status / result / cancel / list: the original TaskManager API."""

from __future__ import annotations

import argparse
import uuid
from datetime import datetime

from rich.table import Table
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from ttai.cli.common import (
    CliError,
    add_json_flag,
    client_from,
    console,
    parse_model,
    plain,
    print_json,
    settings_from,
    workflow_id_arg,
)
from ttai.models.analysis import AnalysisInput, AnalysisResult


def register(subparsers: argparse._SubParsersAction) -> None:
    analyze = subparsers.add_parser("analyze", help="start an AnalysisWorkflow")
    analyze.add_argument("symbol")
    analyze.add_argument("--strategy", default="csp")
    analyze.add_argument("--no-notify", action="store_true", help="skip the notification")
    analyze.add_argument("--id", help="workflow ID (default: analysis-SYMBOL-<random>)")
    analyze.add_argument("--wait", action="store_true", help="wait for and print the result")
    add_json_flag(analyze)
    analyze.set_defaults(func=analyze_command)

    for name, func, text in (
        ("status", status_command, "describe a workflow"),
        ("result", result_command, "wait for a workflow's result"),
        ("cancel", cancel_command, "cancel a running workflow"),
    ):
        sub = subparsers.add_parser(name, help=text)
        sub.add_argument("workflow_id")
        add_json_flag(sub)
        sub.set_defaults(func=func)

    listing = subparsers.add_parser("list", help="list TTAI workflows")
    listing.add_argument("--running", action="store_true")
    listing.add_argument("--type", help="workflow type, e.g. AnalysisWorkflow")
    listing.add_argument("--symbol", help="analyses of this symbol only")
    listing.add_argument("--limit", type=int, default=20)
    add_json_flag(listing)
    listing.set_defaults(func=list_command)


async def analyze_command(args: argparse.Namespace) -> int:
    request = parse_model(
        AnalysisInput,
        {"symbol": args.symbol, "strategy": args.strategy, "notify": not args.no_notify},
    )
    workflow_id = workflow_id_arg(args.id) or f"analysis-{request.symbol}-{uuid.uuid4().hex[:8]}"
    client = await client_from(args)
    handle = await client.start_workflow(
        "AnalysisWorkflow",
        request,
        id=workflow_id,
        task_queue=settings_from(args).task_queue,
        result_type=AnalysisResult,
    )
    if not args.wait:
        if args.json:
            print_json({"workflow_id": handle.id, "run_id": handle.result_run_id})
        else:
            console.print(plain(f"started {handle.id}"))
        return 0
    result = await handle.result()
    if args.json:
        print_json(result)
    else:
        console.print(analysis_table(result))
    return 0


def analysis_table(result: AnalysisResult) -> Table:
    table = Table(title=f"{result.symbol} — {result.recommendation}", show_header=False)
    chart = result.chart
    table.add_row("chart", f"{chart.recommendation} ({chart.score:g}/10), {chart.trend}")
    table.add_row(
        "price / SMA 20/50/200",
        f"{chart.price:.2f} / {chart.sma_20:.2f} / {chart.sma_50:.2f} / {chart.sma_200:.2f}",
    )
    table.add_row("RSI 14 / ATR 14", f"{chart.rsi_14:.1f} / {chart.atr_14:.2f}")
    table.add_row("support", "—" if chart.support is None else f"{chart.support:.2f}")
    if result.options is not None:
        best = result.options.best
        table.add_row("options", result.options.recommendation)
        if best is not None:
            table.add_row(
                "best put",
                f"{best.strike:g} {best.expiration} ({best.days_to_expiry} DTE) "
                f"credit {best.credit:.2f}, {best.annualized_return:.1%}/yr, "
                f"POP {best.probability_of_profit:.0%}, Δ {best.delta:.2f}, "
                f"OI {best.open_interest}",
            )
    if result.research is not None:
        research = result.research
        table.add_row(
            "research",
            f"{research.sentiment}: IV rank {research.iv_rank:.0f}, beta {research.beta:.2f}, "
            f"earnings {research.next_earnings or '—'}",
        )
    table.add_row("score", str(result.score))
    return table


async def _existing(args: argparse.Namespace) -> WorkflowHandle:
    client = await client_from(args)
    handle = client.get_workflow_handle(args.workflow_id)
    try:
        await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CliError(f"no workflow with ID {args.workflow_id!r}") from err
        raise
    return handle


async def status_command(args: argparse.Namespace) -> int:
    handle = await _existing(args)
    info = await handle.describe()
    details = {
        "workflow_id": info.id,
        "run_id": info.run_id,
        "type": info.workflow_type,
        "status": info.status.name if info.status else "UNKNOWN",
        "started": info.start_time,
        "closed": info.close_time,
        "task_queue": info.task_queue,
        "search_attributes": {k.name: v for k, v in info.typed_search_attributes},
    }
    if args.json:
        print_json(details)
        return 0
    table = Table(show_header=False)
    for key, value in details.items():
        table.add_row(key, plain("—" if value is None else value))
    console.print(table)
    return 0


async def result_command(args: argparse.Namespace) -> int:
    handle = await _existing(args)
    result = await handle.result()
    if isinstance(result, dict) and args.json is False and "chart" in result:
        console.print(analysis_table(AnalysisResult.model_validate(result)))
    else:
        print_json(result)
    return 0


async def cancel_command(args: argparse.Namespace) -> int:
    handle = await _existing(args)
    info = await handle.describe()
    if info.status != WorkflowExecutionStatus.RUNNING:
        raise CliError(f"{args.workflow_id} is not running ({info.status.name.lower()})")
    await handle.cancel()
    console.print(plain(f"cancellation requested for {args.workflow_id}"))
    return 0


async def list_command(args: argparse.Namespace) -> int:
    client = await client_from(args)
    clauses = [f"TaskQueue = '{settings_from(args).task_queue}'"]
    if args.running:
        clauses.append("ExecutionStatus = 'Running'")
    if args.type:
        parse_model_type(args.type)
        clauses.append(f"WorkflowType = '{args.type}'")
    if args.symbol:
        symbol = parse_model(AnalysisInput, {"symbol": args.symbol}).symbol
        clauses.append(f"TtaiSymbol = '{symbol}'")
    rows = []
    async for wf in client.list_workflows(" AND ".join(clauses), limit=args.limit):
        attrs = {k.name: v for k, v in wf.typed_search_attributes}
        rows.append(
            {
                "workflow_id": wf.id,
                "type": wf.workflow_type,
                "status": wf.status.name.lower() if wf.status else "unknown",
                "started": wf.start_time,
                "symbol": attrs.get("TtaiSymbol"),
                "recommendation": attrs.get("TtaiRecommendation"),
            }
        )
    if args.json:
        print_json(rows)
        return 0
    table = Table("workflow ID", "type", "status", "started", "symbol", "recommendation")
    for row in rows:
        started: datetime = row["started"]
        table.add_row(
            plain(row["workflow_id"]),  # IDs are chosen by whoever started the workflow
            plain(row["type"]),
            row["status"],
            started.strftime("%Y-%m-%d %H:%M:%S"),
            plain(row["symbol"]),
            plain(row["recommendation"]),
        )
    console.print(table)
    return 0


def parse_model_type(name: str) -> None:
    if not name.isidentifier():
        raise CliError(f"invalid workflow type {name!r}")
