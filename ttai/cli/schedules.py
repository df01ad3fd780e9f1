"""schedules apply|list|describe|pause|unpause|trigger|backfill|delete.

Thin wrappers over Temporal's schedule handle (the same operations as
`temporal schedule ...`), with names checked and ranges validated first.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from rich.table import Table
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleOverlapPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from ttai.cli.common import (
    CliError,
    add_json_flag,
    client_from,
    console,
    plain,
    print_json,
    settings_from,
)
from ttai.domain.market_calendar import NEW_YORK
from ttai.temporal.schedules import SCHEDULE_IDS, SCHEDULES, ScheduleSetupError, apply_schedules

# A month of runs at most: a mistyped year must not start hundreds of reports.
MAX_BACKFILL = timedelta(days=31)
NEXT_TIMES = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("schedules", help="the report schedules")
    commands = parser.add_subparsers(dest="schedules_command", required=True, metavar="ACTION")

    apply = commands.add_parser("apply", help="create or update the three schedules")
    add_json_flag(apply)
    apply.set_defaults(func=apply_command)

    listing = commands.add_parser("list", help="the three schedules and their state")
    add_json_flag(listing)
    listing.set_defaults(func=list_command)

    ids = ", ".join(SCHEDULE_IDS)
    for name, func, text in (
        ("describe", describe_command, "spec, state, next and recent runs"),
        ("pause", pause_command, "pause a schedule"),
        ("unpause", unpause_command, "unpause a schedule"),
        ("trigger", trigger_command, "run a schedule's report now"),
        ("delete", delete_command, "delete a schedule (apply recreates it)"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("schedule_id", help=f"one of {ids} (the report- prefix is optional)")
        if name in ("pause", "unpause"):
            sub.add_argument("--note", help="why (shown in describe and the Web UI)")
        add_json_flag(sub)
        sub.set_defaults(func=func)

    backfill = commands.add_parser(
        "backfill", help="run the schedule's reports for past times it missed"
    )
    backfill.add_argument("schedule_id", help=f"one of {ids}")
    backfill.add_argument(
        "start", metavar="FROM", help="YYYY-MM-DD (whole day) or ISO time; New York if no offset"
    )
    backfill.add_argument("end", metavar="TO", help="YYYY-MM-DD (inclusive) or ISO time")
    backfill.set_defaults(func=backfill_command)


def schedule_id(name: str) -> str:
    """`report-end-of-day`, or `end-of-day` for short; anything else is a one-line error."""
    full = name if name.startswith("report-") else f"report-{name}"
    if full not in SCHEDULE_IDS:
        raise CliError(f"unknown schedule {name!r}: expected one of {', '.join(SCHEDULE_IDS)}")
    return full


async def _call(handle: ScheduleHandle, op: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return await op()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CliError(
                f"schedule {handle.id} does not exist: run `starter.py schedules apply`"
            ) from err
        raise


async def _handle(args: argparse.Namespace) -> tuple[Client, ScheduleHandle]:
    target = schedule_id(args.schedule_id)  # before connecting: bad names fail fast
    client = await client_from(args)
    return client, client.get_schedule_handle(target)


async def apply_command(args: argparse.Namespace) -> int:
    client = await client_from(args)
    try:
        outcomes = await apply_schedules(client, settings_from(args))
    except ScheduleSetupError as err:
        raise CliError(str(err)) from err
    if args.json:
        print_json(outcomes)
    else:
        for sid, outcome in outcomes.items():
            console.print(f"{sid}: {outcome}")
    return 0


def summary(desc: ScheduleDescription) -> dict[str, Any]:
    state = desc.schedule.state
    recent = [
        {
            "scheduled_at": a.scheduled_at,
            "workflow_id": a.action.workflow_id
            if isinstance(a.action, ScheduleActionExecutionStartWorkflow)
            else None,
        }
        for a in desc.info.recent_actions
    ]
    return {
        "schedule_id": desc.id,
        "paused": state.paused,
        "note": state.note,
        "time_zone": desc.schedule.spec.time_zone_name,
        "skipped_days": [s.comment for s in desc.schedule.spec.skip],
        "next_action_times": desc.info.next_action_times[:NEXT_TIMES],
        "recent_actions": recent,
        "actions_taken": desc.info.num_actions,
    }


async def list_command(args: argparse.Namespace) -> int:
    client = await client_from(args)
    rows: list[dict[str, Any]] = []
    for report in SCHEDULES:
        try:
            desc = await client.get_schedule_handle(report.schedule_id).describe()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            rows.append({"schedule_id": report.schedule_id, "status": "not applied"})
            continue
        info = summary(desc)
        nxt = info["next_action_times"]
        rows.append(
            {
                "schedule_id": report.schedule_id,
                "status": "paused" if info["paused"] else "active",
                "next": nxt[0] if nxt else None,
                "actions_taken": info["actions_taken"],
                "description": report.description,
            }
        )
    if args.json:
        print_json(rows)
        return 0
    table = Table("schedule", "status", "next run (New York)", "runs", "what")
    for row in rows:
        nxt = row.get("next")
        table.add_row(
            row["schedule_id"],
            row["status"],
            nxt.astimezone(NEW_YORK).strftime("%a %Y-%m-%d %H:%M %Z") if nxt else "",
            str(row.get("actions_taken", "")),
            row.get("description", ""),
        )
    console.print(table)
    return 0


async def describe_command(args: argparse.Namespace) -> int:
    _, handle = await _handle(args)
    info = summary(await _call(handle, handle.describe))
    if args.json:
        print_json(info)
        return 0
    table = Table(show_header=False, title=handle.id)
    table.add_row("state", "paused" if info["paused"] else "active")
    table.add_row("note", plain(info["note"]))  # anyone pausing a schedule writes it
    table.add_row("time zone", info["time_zone"] or "UTC")
    table.add_row("skipped closures", str(len(info["skipped_days"])))
    for when in info["next_action_times"]:
        local = when.astimezone(NEW_YORK)
        table.add_row("next", f"{local:%a %Y-%m-%d %H:%M %Z} ({when:%H:%M} UTC)")
    for action in info["recent_actions"]:
        table.add_row(
            "recent", plain(f"{action['scheduled_at']:%Y-%m-%d %H:%M} UTC  {action['workflow_id']}")
        )
    console.print(table)
    return 0


async def pause_command(args: argparse.Namespace) -> int:
    _, handle = await _handle(args)
    await _call(handle, lambda: handle.pause(note=args.note))
    console.print(f"paused {handle.id}")
    return 0


async def unpause_command(args: argparse.Namespace) -> int:
    _, handle = await _handle(args)
    await _call(handle, lambda: handle.unpause(note=args.note))
    console.print(f"unpaused {handle.id}")
    return 0


async def trigger_command(args: argparse.Namespace) -> int:
    _, handle = await _handle(args)
    await _call(handle, handle.trigger)
    console.print(f"triggered {handle.id} (skipped if a run is still in progress)")
    return 0


async def delete_command(args: argparse.Namespace) -> int:
    _, handle = await _handle(args)
    await _call(handle, handle.delete)
    console.print(f"deleted {handle.id}")
    return 0


def parse_instant(text: str, *, end: bool) -> datetime:
    """A date means the whole day in New York (TO inclusive); naive times are New York."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as err:
            raise CliError(f"invalid time {text!r}: expected YYYY-MM-DD or an ISO time") from err
        return moment if moment.tzinfo else moment.replace(tzinfo=NEW_YORK)
    return datetime.combine(day + timedelta(days=1) if end else day, time(0), NEW_YORK)


def backfill_range(start: str, end: str, now: datetime) -> tuple[datetime, datetime]:
    first, last = parse_instant(start, end=False), parse_instant(end, end=True)
    if last <= first:
        raise CliError(f"backfill range is inverted or empty: {start} .. {end}")
    if last - first > MAX_BACKFILL:
        raise CliError(
            f"backfill range {start} .. {end} is longer than {MAX_BACKFILL.days} days: "
            "split it into smaller ranges"
        )
    if first > now:
        raise CliError(f"backfill range starts in the future ({start}): nothing was missed yet")
    return first, min(last, now)


async def backfill_command(args: argparse.Namespace) -> int:
    target = schedule_id(args.schedule_id)
    first, last = backfill_range(args.start, args.end, datetime.now(UTC))
    client = await client_from(args)
    handle = client.get_schedule_handle(target)
    # The server's start is exclusive: a second earlier makes FROM inclusive.
    # Buffer, not skip: each missed run happens, one after another.
    backfill = ScheduleBackfill(
        start_at=first - timedelta(seconds=1), end_at=last, overlap=ScheduleOverlapPolicy.BUFFER_ALL
    )
    await _call(handle, lambda: handle.backfill(backfill))
    console.print(
        f"backfilling {target} from {first.astimezone(NEW_YORK):%Y-%m-%d %H:%M %Z} "
        f"to {last.astimezone(NEW_YORK):%Y-%m-%d %H:%M %Z}"
    )
    return 0
