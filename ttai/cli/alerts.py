"""alerts add|list|remove: alert rules, through AlertsWorkflow (`ttai.ops.commands`)."""

from __future__ import annotations

import argparse
from typing import Any

from ttai.cli.common import (
    add_json_flag,
    connection,
    console,
    handles,
    local_time,
    one_of,
    print_json,
    say,
)
from ttai.cli.tables import Col, Grid
from ttai.models import conditions
from ttai.models.alerts import (
    AddAlertInput,
    AlertMode,
    AlertRule,
    ListAlertsInput,
    RemoveAlertInput,
)
from ttai.ops.commands import add_alert, list_alerts, remove_alert
from ttai.ops.errors import parse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("alerts", help="alert rules, which the monitors check")
    actions = parser.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="add a rule",
        epilog=f"conditions:\n{conditions.help_text()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("symbol")
    # Checked by the model (a one-line error, not argparse's), listed from the condition table.
    add.add_argument("condition", help=", ".join(conditions.names()))
    add.add_argument("threshold", type=float)
    add.add_argument(
        "--reference",
        type=float,
        help=f"{', '.join(conditions.referenced())}: the reference price",
    )
    add.add_argument("--mode", default="once", help=one_of(AlertMode, "once"))
    add.add_argument("--cooldown", type=int, default=3600, help="rearm: seconds between firings")
    add.add_argument("--expires", help="ISO time with zone, e.g. 2026-12-31T21:00:00Z")
    add.add_argument("--note", default="")
    add_json_flag(add)
    handles(add, add_command)

    listing = actions.add_parser("list", help="active rules (--all: also fired/expired/removed)")
    listing.add_argument("--all", action="store_true")
    add_json_flag(listing)
    handles(listing, list_command)

    remove = actions.add_parser("remove", help="remove a rule")
    remove.add_argument("alert_id", type=int)
    add_json_flag(remove)
    handles(remove, remove_command)


def alerts_grid(rules: list[AlertRule]) -> Grid:
    grid = Grid(
        Col("id", right=True), "symbol", "condition", "threshold", "mode", "status",
        Col("fired", right=True), Col("last read", right=True), "expires",
        title="alert rules",
        narrow=["id", "symbol", "condition", "threshold", "mode", "status", "last read"],
    )  # fmt: skip
    for r in rules:
        spec = r.spec
        reference = f" from {spec.reference_price:g}" if spec.reference_price is not None else ""
        mode = spec.mode if spec.mode == "once" else f"rearm {spec.cooldown_seconds}s"
        grid.add_row(
            r.alert_id,
            spec.symbol,
            spec.condition,
            f"{spec.threshold:g}{reference}",
            mode + (", waits for return" if r.awaiting_return else ""),
            r.status,
            r.trigger_count,
            last_reading(r),
            local_time(spec.expires_at),
        )
    return grid


def last_reading(rule: AlertRule) -> str:
    """What the last check read: the number, "unknown" when the broker sent none,
    "—" before the first check."""
    if rule.last_reading_unknown:
        return "unknown"
    return "—" if rule.last_reading is None else f"{rule.last_reading:g}"


async def add_command(args: argparse.Namespace) -> int:
    rule: dict[str, Any] = {
        "symbol": args.symbol,
        "condition": args.condition,
        "threshold": args.threshold,
        "mode": args.mode,
        "cooldown_seconds": args.cooldown,
        "note": args.note,
    }
    if args.reference is not None:
        rule["reference_price"] = args.reference
    if args.expires:
        rule["expires_at"] = args.expires
    created = await add_alert(connection(args), parse(AddAlertInput, {"rule": rule}))
    if args.json:
        print_json(created)
    else:
        console.print(alerts_grid([created]))
    return 0


async def list_command(args: argparse.Namespace) -> int:
    listed = await list_alerts(connection(args), ListAlertsInput(include_inactive=args.all))
    if args.json:
        print_json(listed)
    else:
        console.print(alerts_grid(listed.alerts))
    return 0


async def remove_command(args: argparse.Namespace) -> int:
    request = parse(RemoveAlertInput, {"alert_id": args.alert_id})
    result = await remove_alert(connection(args), request)
    if args.json:
        print_json(result)
    else:
        word = "removed" if result.removed else "was already removed"
        say(f"alert {result.alert_id} {word}")
    return 0
