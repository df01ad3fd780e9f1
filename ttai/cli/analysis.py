"""analyze SYMBOL [--wait]: start an AnalysisWorkflow (`ttai.ops.analysis`) and draw its result."""

from __future__ import annotations

import argparse

from rich.table import Table

from ttai.cli.common import add_json_flag, connection, console, handles, one_of, print_json, say
from ttai.cli.tables import details
from ttai.domain.reports.markdown import shown
from ttai.models.analysis import AnalysisInput, AnalysisResult
from ttai.models.common import Strategy
from ttai.ops.analysis import analyze
from ttai.ops.errors import parse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("analyze", help="start an AnalysisWorkflow")
    parser.add_argument("symbol")
    parser.add_argument("--strategy", default="csp", help=one_of(Strategy, "csp"))
    parser.add_argument("--no-notify", action="store_true", help="skip the notification")
    parser.add_argument("--id", help="workflow ID (default: analysis-SYMBOL-<random>)")
    parser.add_argument("--wait", action="store_true", help="wait for and print the result")
    add_json_flag(parser)
    handles(parser, analyze_command)


async def analyze_command(args: argparse.Namespace) -> int:
    request = parse(
        AnalysisInput,
        {"symbol": args.symbol, "strategy": args.strategy, "notify": not args.no_notify},
    )
    outcome = await analyze(connection(args), request, workflow_id=args.id, wait=args.wait)
    if outcome.result is None:
        if args.json:
            print_json({"workflow_id": outcome.task.workflow_id, "run_id": outcome.task.run_id})
        else:
            say(f"started {outcome.task.workflow_id}")
    elif args.json:
        print_json(outcome.result)
    else:
        console.print(analysis_table(outcome.result))
    return 0


def analysis_table(result: AnalysisResult) -> Table:
    chart = result.chart
    rows: list[tuple[str, object]] = [
        ("chart", f"{chart.recommendation} ({chart.score:g}/10), {chart.trend}"),
        (
            "price / SMA 20/50/200",
            f"{chart.price:.2f} / {chart.sma_20:.2f} / {chart.sma_50:.2f} / {chart.sma_200:.2f}",
        ),
        ("RSI 14 / ATR 14", f"{chart.rsi_14:.1f} / {chart.atr_14:.2f}"),
        ("support", "—" if chart.support is None else f"{chart.support:.2f}"),
    ]
    if result.options is not None:
        best = result.options.best
        rows.append(("options", result.options.recommendation))
        if best is not None:
            rows.append(
                (
                    "best put",
                    f"{best.strike:g} {best.expiration} ({best.days_to_expiry} DTE) "
                    f"credit {best.credit:.2f}, {best.annualized_return:.1%}/yr, "
                    f"POP {best.probability_of_profit:.0%}, Δ {best.delta:.2f}, "
                    f"OI {shown(best.open_interest)}",
                )
            )
    if result.research is not None:
        research = result.research
        rows.append(
            (
                "research",
                f"{research.sentiment}: IV rank {shown(research.iv_rank, '.0f')}, "
                f"beta {shown(research.beta, '.2f')}, earnings {research.next_earnings or '—'}",
            )
        )
    rows.append(("score", str(result.score)))
    return details(rows, title=f"{result.symbol} — {result.recommendation}")
