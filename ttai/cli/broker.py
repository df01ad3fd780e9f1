"""`starter.py broker check`: do the configured tastytrade credentials work?

Talks to tastytrade directly from this process (not through Temporal): it is a
set-up check, and the credentials never leave the machine it runs on. The
tastytrade SDK (and the pandas it brings) is imported only when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from ttai.broker.base import BrokerError
from ttai.cli.common import CliError, add_json_flag, console, handles, plain, print_json
from ttai.domain.portfolio import mask_account

if TYPE_CHECKING:
    from ttai.broker.tastytrade.broker import TastytradeBroker

NO_CREDENTIALS = (
    "no tastytrade credentials configured: set TT_PROVIDER_SECRET and TT_REFRESH_TOKEN "
    "(TT_SANDBOX=1 for the sandbox) or TTAI_TASTYTRADE_SECRETS_FILE"
)


__all__ = ["check", "mask_account", "register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("broker", help="broker set-up checks")
    commands = parser.add_subparsers(dest="broker_command", required=True, metavar="COMMAND")
    check_parser = commands.add_parser(
        "check", help="verify the tastytrade credentials and list the accounts they see"
    )
    add_json_flag(check_parser)
    handles(check_parser, handler)


async def handler(args: argparse.Namespace) -> int:
    from ttai.broker.tastytrade.broker import TastytradeBroker

    return await check(TastytradeBroker.from_environment, as_json=args.json)


async def check(
    open_broker: Callable[[], TastytradeBroker | None], *, as_json: bool = False
) -> int:
    """List the accounts; any failure becomes one `CliError` line (exit code 2)."""
    try:
        broker = open_broker()
    except BrokerError as err:
        raise CliError(str(err)) from None
    if broker is None:
        raise CliError(NO_CREDENTIALS)
    try:
        accounts = await broker.get_accounts()
    except BrokerError as err:
        raise CliError(str(err)) from None
    finally:
        await broker.close()
    where = "sandbox" if broker.is_test else "production"
    rows = [
        {"account": mask_account(a.account_number), "nickname": a.nickname, "paper": a.is_paper}
        for a in accounts
    ]
    if as_json:
        print_json({"broker": "tastytrade", "environment": where, "accounts": rows})
        return 0
    console.print(
        f"tastytrade credentials OK ({where}): {len(rows)} account(s)",
        markup=False,
        highlight=False,
    )
    for row in rows:  # the nickname is the broker's data
        console.print(plain(f"  {row['account']}  {row['nickname']}"), highlight=False)
    return 0
