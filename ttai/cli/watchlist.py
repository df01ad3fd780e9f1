"""watchlist list | show NAME | add NAME SYMBOL... | remove NAME [SYMBOL...].

Over `ttai.ops.commands` (WatchlistWorkflow).
"""

from __future__ import annotations

import argparse

from ttai.cli.common import add_json_flag, connection, console, handles, print_json, say
from ttai.cli.tables import Col, Grid
from ttai.models.screener import WatchlistCommand
from ttai.ops.commands import watchlist_command
from ttai.ops.errors import parse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("watchlist", help="manage watchlists")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every watchlist with its size")
    show = actions.add_parser("show", help="a watchlist's symbols")
    show.add_argument("name")
    add = actions.add_parser("add", help="add symbols (creates the watchlist)")
    add.add_argument("name")
    add.add_argument("symbols", nargs="+", metavar="SYMBOL")
    remove = actions.add_parser("remove", help="remove symbols, or the watchlist without any")
    remove.add_argument("name")
    remove.add_argument("symbols", nargs="*", metavar="SYMBOL")
    for sub in actions.choices.values():
        add_json_flag(sub)
    handles(parser, command)


async def command(args: argparse.Namespace) -> int:
    request = parse(
        WatchlistCommand,
        {
            "action": args.action,
            "name": getattr(args, "name", None),
            "symbols": getattr(args, "symbols", []),
        },
    )
    result = await watchlist_command(connection(args), request)
    if args.json:
        print_json(result)
    elif request.action == "list":
        grid = Grid("watchlist", Col("symbols", right=True), "updated")
        for info in result.watchlists:
            grid.add_row(info.name, info.size, info.updated_at.strftime("%Y-%m-%d %H:%M"))
        console.print(grid)
    elif result.deleted:
        say(f"deleted watchlist {request.name}")
    else:
        if request.action != "show":
            verb = "added" if request.action == "add" else "removed"
            say(f"{verb} {result.changed} symbol(s)")
        say(f"{request.name} ({len(result.symbols)}): {' '.join(result.symbols)}")
    return 0
