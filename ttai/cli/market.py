"""market: is NYSE open now, the next open and close, early closes (`ttai.ops.market`)."""

from __future__ import annotations

import argparse
from datetime import datetime

from ttai.cli.common import add_json_flag, connection, console, handles, print_json
from ttai.cli.tables import details
from ttai.domain.market_calendar import NEW_YORK
from ttai.ops.market import MarketSession, market_status


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("market", help="is NYSE open; next open and close; early closes")
    add_json_flag(parser)
    handles(parser, market_command)


def _ny(when: datetime | None) -> str:
    return when.astimezone(NEW_YORK).strftime("%a %Y-%m-%d %H:%M %Z") if when else "-"


def _session(s: MarketSession) -> str:
    close = s.close.astimezone(NEW_YORK)
    return f"{s.day:%a %Y-%m-%d} {s.open.astimezone(NEW_YORK):%H:%M}-{close:%H:%M}"


def _listed(label: str, sessions: list[MarketSession], none: str) -> list[tuple[str, object]]:
    """One session a line, the label on the first."""
    lines = [_session(s) for s in sessions] or [none]
    return [(label if i == 0 else "", line) for i, line in enumerate(lines)]


async def market_command(args: argparse.Namespace) -> int:
    status = await market_status(connection(args))
    if args.json:
        print_json(status)
        return 0
    rows: list[tuple[str, object]] = [
        ("NYSE", "open" if status.is_open else "closed"),
        ("next open", _ny(status.next_open)),
        ("next close", _ny(status.next_close)),
        *_listed("early closes", status.early_closes, "none ahead"),
        *_listed("sessions", status.upcoming, "-"),
        ("from", status.source_detail),
    ]
    console.print(details(rows, title=f"market as of {_ny(status.now)}"))
    return 0
