"""The notification outbox: list its rows (dead letters first of all) and retry one.

Runs NotificationsWorkflow (the worker holds the database and the channels),
so the same is reachable with `temporal workflow execute --type
NotificationsWorkflow --input '{"action": "list", "dead_only": true}'`. An
unknown ID is `NotFound`, one already delivered `Conflict`.
"""

from __future__ import annotations

from ttai.models.notifications import NotificationsCommand, NotificationsCommandResult
from ttai.ops import calls
from ttai.ops.connection import Connection
from ttai.ops.errors import parse

WORKFLOW = "NotificationsWorkflow"


async def notifications_command(
    conn: Connection, command: NotificationsCommand
) -> NotificationsCommandResult:
    return await calls.execute_command(
        conn,
        WORKFLOW,
        command,
        id_prefix=f"notifications-{command.action}",
        result_type=NotificationsCommandResult,
    )


async def list_notifications(
    conn: Connection, *, dead_only: bool = False, limit: int = 50
) -> NotificationsCommandResult:
    command = parse(
        NotificationsCommand, {"action": "list", "dead_only": dead_only, "limit": limit}
    )
    return await notifications_command(conn, command)
