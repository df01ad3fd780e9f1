"""portfolio [--live]: positions with delta, DTE and P&L, NLV and buying power.

Over `ttai.ops.commands` (PortfolioWorkflow).
"""

from __future__ import annotations

import argparse

from rich.console import Group

from ttai.cli.common import add_json_flag, connection, console, handles, local_time, print_json
from ttai.cli.tables import Col, Grid, details
from ttai.domain.reports.markdown import SETTLED, shown
from ttai.models.portfolio import PortfolioPosition, PortfolioRequest, PortfolioView
from ttai.ops.commands import portfolio


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "portfolio", help="positions, greeks, P&L and balances (from the position sync)"
    )
    parser.add_argument(
        "--live", action="store_true", help="read the broker now instead of the last sync"
    )
    add_json_flag(parser)
    handles(parser, portfolio_command)


def _num(value: float | None, spec: str = ",.2f") -> str:
    return shown(value, spec)  # None is a number the broker did not send: "unknown"


def _label(p: PortfolioPosition) -> str:
    if p.settled is not None:
        return f"{p.label} ({SETTLED[p.settled]})"
    return f"{p.label} (closed today)" if p.closed_today else p.label


def portfolio_view(view: PortfolioView) -> Group:
    source = "the broker, now" if view.source == "broker" else "the position sync"
    grid = Grid(
        "position", Col("qty", right=True), Col("mark", right=True), Col("DTE", right=True),
        Col("delta", right=True), Col("pos. delta", right=True), Col("value", right=True),
        Col("unrealized", right=True), Col("day P&L", right=True),
        title=f"positions as of {local_time(view.as_of)} (from {source})",
        narrow=["position", "qty", "DTE", "delta", "unrealized", "day P&L"],
    )  # fmt: skip
    for p in view.positions:
        grid.add_row(
            _label(p),
            f"{p.quantity:+g}",
            _num(p.mark),
            "" if p.days_to_expiry is None else p.days_to_expiry,
            _num(p.delta),
            _num(p.position_delta, ",.1f"),
            _num(p.market_value),
            _num(p.unrealized_pnl),
            _num(p.day_pnl),
        )
    totals = details(
        [
            ("net liquidating value", _num(view.net_liquidating_value)),
            ("buying power", _num(view.buying_power)),
            ("cash", _num(view.cash)),
            ("unrealized P&L", _num(view.unrealized_pnl)),
            (
                "day P&L",
                _num(view.day_pnl)
                if view.day_pnl_known
                else "unknown (today's trades could not be read at the last sync)",
            ),
            ("accounts", ", ".join(a.account for a in view.accounts) or "-"),
        ]
    )
    return Group(grid, totals)


async def portfolio_command(args: argparse.Namespace) -> int:
    request = PortfolioRequest(source="broker" if args.live else "sync")
    view = await portfolio(connection(args), request)
    if args.json:
        print_json(view)
    else:
        console.print(portfolio_view(view))
    return 0
