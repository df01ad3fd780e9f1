"""Watchlists, through WatchlistWorkflow (the worker holds the database).

One short workflow per command: `list`, `show NAME`, `add NAME SYMBOLS`,
`remove NAME [SYMBOLS]` (no symbols: delete the watchlist). An unknown name
is `NotFound`.
"""

from __future__ import annotations

from ttai.models.screener import WatchlistCommand, WatchlistCommandResult, check_screenable
from ttai.ops import calls
from ttai.ops.connection import Connection
from ttai.ops.errors import InvalidInput, parse

WORKFLOW = "WatchlistWorkflow"


async def watchlist_command(conn: Connection, command: WatchlistCommand) -> WatchlistCommandResult:
    return await calls.execute_command(
        conn,
        WORKFLOW,
        command,
        id_prefix=f"watchlist-{command.action}",
        result_type=WatchlistCommandResult,
    )


async def list_watchlists(conn: Connection) -> WatchlistCommandResult:
    return await watchlist_command(conn, WatchlistCommand(action="list"))


async def show_watchlist(conn: Connection, name: str) -> WatchlistCommandResult:
    command = parse(WatchlistCommand, {"action": "show", "name": name})
    return await watchlist_command(conn, command)


async def screenable_symbols(conn: Connection, name: str) -> list[str]:
    """The watchlist's symbols, if a screen can take them (NotFound / InvalidInput if not).

    A screen checks this before it starts, so an unknown or empty watchlist is
    refused without a screen in Temporal's history.
    """
    symbols = (await show_watchlist(conn, name)).symbols
    try:
        check_screenable(name, symbols)
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    return symbols
