"""reports latest [KIND...] | run KIND: the saved reports, and one built now.

Over `ttai.ops.reports`.
"""

from __future__ import annotations

import argparse

from ttai.cli.common import (
    add_json_flag,
    choices,
    connection,
    console,
    handles,
    local_time,
    one_of,
    print_json,
    say,
)
from ttai.cli.tables import details
from ttai.models.reports import LatestReportsInput, ReportKind
from ttai.ops.commands import latest_reports
from ttai.ops.errors import parse
from ttai.ops.reports import RunReportInput, run_report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("reports", help="the scheduled reports: latest, run one now")
    actions = parser.add_subparsers(dest="reports_command", required=True, metavar="ACTION")
    kinds = choices(ReportKind)

    latest = actions.add_parser("latest", help="the newest saved report of each kind")
    latest.add_argument(
        "kinds", nargs="*", metavar="KIND", help=f"{', '.join(kinds)} (default: all)"
    )
    add_json_flag(latest)
    handles(latest, latest_command)

    run = actions.add_parser(
        "run", help="build a report now (a new run of its workflow, not the schedule's)"
    )
    run.add_argument("kind", help=one_of(ReportKind))
    run.add_argument("--as-of", help="ISO time with zone (default: now)")
    run.add_argument("--no-notify", action="store_true", help="save it without sending it")
    run.add_argument("--no-wait", action="store_true", help="start it and print its ID")
    add_json_flag(run)
    handles(run, run_command)


async def latest_command(args: argparse.Namespace) -> int:
    request = parse(LatestReportsInput, {"kinds": args.kinds} if args.kinds else {})
    found = await latest_reports(connection(args), request)
    if args.json:
        print_json(found)
        return 0
    if not found.reports:
        say("no saved report yet")
    for report in found.reports:
        console.rule(style="dim")
        say(f"{report.title} (as of {local_time(report.as_of)}, {report.workflow_id})")
        say(report.markdown)
    return 0


async def run_command(args: argparse.Namespace) -> int:
    data: dict[str, object] = {"kind": args.kind, "notify": not args.no_notify}
    if args.as_of:
        data["as_of"] = args.as_of
    run = await run_report(connection(args), parse(RunReportInput, data), wait=not args.no_wait)
    if args.json:
        print_json(run.result if run.result is not None else run.task)
    elif run.result is None:
        say(f"started {run.task.workflow_id}")
    else:
        r = run.result
        console.print(
            details(
                [
                    ("status", r.status if r.reason is None else f"{r.status}: {r.reason}"),
                    ("day", r.day.isoformat()),
                    ("title", r.title),
                    ("report ID", r.report_id),
                    ("notification", r.notification_id),
                ],
                title=run.task.workflow_id,
            )
        )
    return 0
