"""notifications list [--dead] | retry ID: the outbox's rows and its dead letters.

Runs NotificationsWorkflow (the worker holds the database and the channels),
so the same is reachable with `temporal workflow execute --type
NotificationsWorkflow --input '{"action": "list", "dead_only": true}'`.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import datetime

from rich.table import Table
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from ttai.cli.common import (
    CliError,
    add_json_flag,
    client_from,
    console,
    parse_model,
    plain,
    print_json,
    settings_from,
)
from ttai.models.notifications import (
    MAX_LIST_LIMIT,
    NotificationInfo,
    NotificationsCommand,
    NotificationsCommandResult,
)

REFUSALS = frozenset({"UnknownNotification", "AlreadyDelivered", "InvalidInput", "ValidationError"})


class NotificationsError(Exception):
    """The command was refused (unknown ID, already delivered): one line for the user."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("notifications", help="the notification outbox, dead letters")
    actions = parser.add_subparsers(dest="notifications_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="newest rows first (--dead: dead letters only)")
    listing.add_argument("--dead", action="store_true", help="only rows out of attempts")
    listing.add_argument("--limit", type=int, default=50, help=f"rows, 1..{MAX_LIST_LIMIT}")
    add_json_flag(listing)
    listing.set_defaults(func=handler, action="list")
    retry = actions.add_parser("retry", help="send a dead (or pending) notification again now")
    retry.add_argument("notification_id", type=int)
    add_json_flag(retry)
    retry.set_defaults(func=handler, action="retry")


async def notifications_command(
    client: Client, task_queue: str, command: NotificationsCommand
) -> NotificationsCommandResult:
    """Run the command through Temporal; a refusal raises NotificationsError."""
    try:
        return await client.execute_workflow(
            "NotificationsWorkflow",
            command,
            id=f"notifications-{command.action}-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
            result_type=NotificationsCommandResult,
        )
    except WorkflowFailureError as err:
        cause: BaseException | None = err.cause
        while cause is not None:
            if isinstance(cause, ApplicationError) and cause.type in REFUSALS:
                raise NotificationsError(cause.message) from err
            cause = getattr(cause, "cause", None)
        raise


async def handler(args: argparse.Namespace) -> int:
    data: dict[str, object] = {"action": args.action}
    if args.action == "list":
        data |= {"dead_only": args.dead, "limit": args.limit}
    else:
        data["notification_id"] = args.notification_id
    command = parse_model(NotificationsCommand, data)
    client = await client_from(args)
    try:
        result = await notifications_command(client, settings_from(args).task_queue, command)
    except NotificationsError as err:
        raise CliError(str(err)) from err
    if args.json:
        print_json(result)
    elif result.retried is not None:
        row = result.retried
        outcome = "delivered" if row.status == "delivered" else f"still {row.status}"
        console.print(plain(f"notification {row.notification_id} {outcome}"))
        if row.status != "delivered":
            console.print(plain(f"last error: {row.last_error}"))
    else:
        console.print(notifications_table(result.notifications))
    return 0


def _time(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def notifications_table(rows: list[NotificationInfo]) -> Table:
    table = Table(title="notifications")
    for column in ("id", "status", "tries", "created", "next / dead", "title", "delivered to"):
        table.add_column(column)
    table.add_column("last error")
    for row in rows:
        table.add_row(
            str(row.notification_id),
            row.status,
            str(row.attempts),
            _time(row.created_at),
            _time(row.dead_at if row.status == "dead" else row.next_attempt_at),
            plain(row.title),
            plain(", ".join(row.delivered_to) or "-"),
            plain(row.last_error or ""),
        )
    return table
