"""monitors status|pause|resume|check|stop|interval|start, over `ttai.ops.monitors`.

The same calls the `temporal` CLI or another app can make (docs/workflows.md):
the monitors' status query, signals, set_interval update and a cancel.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from ttai.cli.common import (
    CliError,
    add_json_flag,
    choices,
    connection,
    console,
    handles,
    one_of,
    print_json,
    say,
)
from ttai.cli.tables import Col, Grid
from ttai.models.monitors import MarketHours, MonitorInput, MonitorName, SetIntervalInput
from ttai.ops.errors import parse
from ttai.ops.monitors import (
    MonitorsStatus,
    monitor_ids,
    monitors_status,
    not_running,
    set_interval,
    start_monitors,
    steer,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("monitors", help="the monitor workflows: status and steering")
    commands = parser.add_subparsers(dest="monitors_command", required=True, metavar="ACTION")
    names = f"{', '.join(choices(MonitorName))} or all"

    status = commands.add_parser("status", help="checks, errors, last result, next run")
    status.add_argument("name", nargs="?", default="all", help=names)
    add_json_flag(status)
    handles(status, status_command)

    for action, text in (
        ("pause", "stop checking until resumed"),
        ("resume", "check again"),
        ("check", "check now, even while paused or outside market hours"),
        ("stop", "stop (cancel) the monitor; start brings it back"),
    ):
        sub = commands.add_parser(action, help=text)
        sub.add_argument("name", nargs="?", default="all", help=names)
        handles(sub, steer_command, action=action)

    interval = commands.add_parser("interval", help="change a monitor's check interval")
    interval.add_argument("name", help=", ".join(choices(MonitorName)))
    interval.add_argument("seconds", type=int)
    add_json_flag(interval)
    handles(interval, interval_command)

    start = commands.add_parser("start", help="start the monitors that are not running")
    start.add_argument(
        "--hours",
        default="regular",
        help=f"market hours for monitors started now: {one_of(MarketHours, 'regular')}",
    )
    handles(start, start_command)


def _time(value: datetime | None) -> str:
    return value.astimezone().strftime("%m-%d %H:%M:%S") if value else "-"


def status_grid(report: MonitorsStatus) -> Grid:
    grid = Grid(
        "monitor", "state", Col("checks", right=True), Col("errors", right=True),
        Col("fired", right=True), "last run", "next run", Col("last result / error", wrap=True),
        title="monitors",
        narrow=["monitor", "state", "checks", "next run", "last result / error"],
    )  # fmt: skip
    for m in report.monitors:
        if m.status is None:
            grid.add_row(m.name, "not running")
            continue
        s, state = m.status, m.status.state
        if state.paused:
            condition = "paused"
        elif s.hours == "always":
            condition = "running"
        else:
            condition = "market open" if s.market_open else "market closed"
        grid.add_row(
            m.name,
            condition,
            state.iterations,
            state.errors,
            state.triggers,
            _time(state.last_run_at),
            _time(s.next_run_at),
            # Error text is anyone's (a broker message, a raw activity failure): literal.
            f"error: {state.last_error}" if state.last_error else state.last_summary,
        )
    return grid


async def status_command(args: argparse.Namespace) -> int:
    report = await monitors_status(connection(args), args.name)
    if args.json:
        print_json([m.status.model_dump(mode="json") for m in report.monitors if m.status])
    else:
        console.print(status_grid(report))
    stopped = report.not_running()
    if stopped:
        raise CliError(not_running(stopped[0]))
    return 0


async def steer_command(args: argparse.Namespace) -> int:
    outcome = await steer(connection(args), args.name, args.action)
    for workflow_id in outcome.workflow_ids:
        say(f"{workflow_id}: {args.action} sent")
    return 0


async def interval_command(args: argparse.Namespace) -> int:
    request = parse(SetIntervalInput, {"interval_seconds": args.seconds})
    status = await set_interval(connection(args), args.name, request)
    if args.json:
        print_json(status)
    else:
        [workflow_id] = monitor_ids(args.name, allow_all=False)
        say(f"{workflow_id}: every {status.state.interval_seconds} s")
    return 0


async def start_command(args: argparse.Namespace) -> int:
    request = parse(MonitorInput, {"hours": args.hours})
    started = await start_monitors(connection(args), request)
    for workflow_id in started.workflow_ids:
        say(f"{workflow_id}: running")
    return 0
