"""notifications list [--dead] | retry ID: the outbox's rows and its dead letters
(`ttai.ops.commands`, through NotificationsWorkflow)."""

from __future__ import annotations

import argparse

from ttai.cli.common import (
    add_json_flag,
    connection,
    console,
    handles,
    local_time,
    print_json,
    say,
)
from ttai.cli.tables import Col, Grid
from ttai.models.notifications import MAX_LIST_LIMIT, NotificationInfo, NotificationsCommand
from ttai.ops.commands import notifications_command
from ttai.ops.errors import parse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("notifications", help="the notification outbox, dead letters")
    actions = parser.add_subparsers(dest="notifications_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="newest rows first (--dead: dead letters only)")
    listing.add_argument("--dead", action="store_true", help="only rows out of attempts")
    listing.add_argument("--limit", type=int, default=50, help=f"rows, 1..{MAX_LIST_LIMIT}")
    add_json_flag(listing)
    handles(listing, command, action="list")
    retry = actions.add_parser("retry", help="send a dead (or pending) notification again now")
    retry.add_argument("notification_id", type=int)
    add_json_flag(retry)
    handles(retry, command, action="retry")


async def command(args: argparse.Namespace) -> int:
    data: dict[str, object] = {"action": args.action}
    if args.action == "list":
        data |= {"dead_only": args.dead, "limit": args.limit}
    else:
        data["notification_id"] = args.notification_id
    result = await notifications_command(connection(args), parse(NotificationsCommand, data))
    if args.json:
        print_json(result)
    elif result.retried is not None:
        row = result.retried
        outcome = "delivered" if row.status == "delivered" else f"still {row.status}"
        say(f"notification {row.notification_id} {outcome}")
        if row.status != "delivered":
            say(f"last error: {row.last_error}")
    else:
        console.print(notifications_grid(result.notifications))
    return 0


def notifications_grid(rows: list[NotificationInfo]) -> Grid:
    grid = Grid(
        Col("id", right=True), "status", Col("tries", right=True), "created", "next / dead",
        Col("title", wrap=True), Col("delivered to", wrap=True), Col("last error", wrap=True),
        title="notifications",
        narrow=["id", "status", "tries", "title", "last error"],
    )  # fmt: skip
    for row in rows:
        grid.add_row(
            row.notification_id,
            row.status,
            row.attempts,
            local_time(row.created_at),
            local_time(row.dead_at if row.status == "dead" else row.next_attempt_at),
            row.title,
            ", ".join(row.delivered_to) or "-",
            row.last_error or "",
        )
    return grid
