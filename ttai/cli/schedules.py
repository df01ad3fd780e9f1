"""schedules apply|list|describe|pause|unpause|trigger|backfill|delete (`ttai.ops.reports`)."""

from __future__ import annotations

import argparse
from datetime import datetime

from ttai.cli.common import add_json_flag, connection, console, handles, print_json, say
from ttai.cli.tables import Col, Grid, details
from ttai.domain.market_calendar import NEW_YORK
from ttai.models.reports import SCHEDULE_IDS
from ttai.ops import reports as ops


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("schedules", help="the report schedules")
    commands = parser.add_subparsers(dest="schedules_command", required=True, metavar="ACTION")

    apply = commands.add_parser("apply", help="create or update the three schedules")
    add_json_flag(apply)
    handles(apply, apply_command)

    listing = commands.add_parser("list", help="the three schedules and their state")
    add_json_flag(listing)
    handles(listing, list_command)

    ids = ", ".join(SCHEDULE_IDS.values())
    for name, func, text in (
        ("describe", describe_command, "spec, state, next and recent runs"),
        ("pause", change_command, "pause a schedule"),
        ("unpause", change_command, "unpause a schedule"),
        ("trigger", change_command, "run a schedule's report now (as the schedule)"),
        ("delete", change_command, "delete a schedule (apply recreates it)"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("schedule_id", help=f"one of {ids} (the report- prefix is optional)")
        if name in ("pause", "unpause"):
            sub.add_argument("--note", help="why (shown in describe and the Web UI)")
        add_json_flag(sub)
        handles(sub, func, action=name)

    backfill = commands.add_parser(
        "backfill", help="run the schedule's reports for past times it missed"
    )
    backfill.add_argument("schedule_id", help=f"one of {ids}")
    backfill.add_argument(
        "start", metavar="FROM", help="YYYY-MM-DD (whole day) or ISO time; New York if no offset"
    )
    backfill.add_argument("end", metavar="TO", help="YYYY-MM-DD (inclusive) or ISO time")
    handles(backfill, backfill_command)


def _new_york(when: datetime | None) -> str:
    return when.astimezone(NEW_YORK).strftime("%a %Y-%m-%d %H:%M %Z") if when else ""


async def apply_command(args: argparse.Namespace) -> int:
    applied = await ops.apply_schedules(connection(args))
    if args.json:
        print_json(applied.outcomes)
    else:
        for sid, outcome in applied.outcomes.items():
            say(f"{sid}: {outcome}")
    return 0


async def list_command(args: argparse.Namespace) -> int:
    listed = await ops.list_schedules(connection(args))
    if args.json:
        print_json([row.model_dump(mode="json") for row in listed.schedules])
        return 0
    grid = Grid(
        "schedule", "status", "next run (New York)", Col("runs", right=True),
        Col("what", wrap=True),
        narrow=["schedule", "status", "next run (New York)"],
    )  # fmt: skip
    for row in listed.schedules:
        runs = "" if row.actions_taken is None else row.actions_taken
        grid.add_row(row.schedule_id, row.status, _new_york(row.next), runs, row.description)
    console.print(grid)
    return 0


async def describe_command(args: argparse.Namespace) -> int:
    info = await ops.describe_schedule(connection(args), args.schedule_id)
    if args.json:
        print_json(info)
        return 0
    rows: list[tuple[str, object]] = [
        ("state", "paused" if info.paused else "active"),
        ("note", info.note),  # anyone pausing a schedule writes it: shown literally
        ("time zone", info.time_zone or "UTC"),
        ("skipped closures", len(info.skipped_days)),
    ]
    rows += [("next", f"{_new_york(w)} ({w:%H:%M} UTC)") for w in info.next_action_times]
    rows += [
        ("recent", f"{a.scheduled_at:%Y-%m-%d %H:%M} UTC  {a.workflow_id}")
        for a in info.recent_actions
    ]
    console.print(details(rows, title=info.schedule_id))
    return 0


async def change_command(args: argparse.Namespace) -> int:
    conn, name = connection(args), args.schedule_id
    if args.action == "pause":
        changed = await ops.pause_schedule(conn, name, args.note)
    elif args.action == "unpause":
        changed = await ops.unpause_schedule(conn, name, args.note)
    elif args.action == "trigger":
        changed = await ops.trigger_schedule(conn, name)
    else:
        changed = await ops.delete_schedule(conn, name)
    if args.json:
        print_json(changed)
    elif changed.action == "triggered":
        say(f"triggered {changed.schedule_id} (skipped if a run is still in progress)")
    else:
        say(f"{changed.action} {changed.schedule_id}")
    return 0


async def backfill_command(args: argparse.Namespace) -> int:
    changed = await ops.backfill_schedule(connection(args), args.schedule_id, args.start, args.end)
    first, last = (
        f"{when.astimezone(NEW_YORK):%Y-%m-%d %H:%M %Z}" if when else "?"
        for when in (changed.start, changed.end)
    )
    say(f"backfilling {changed.schedule_id} from {first} to {last}")
    return 0
