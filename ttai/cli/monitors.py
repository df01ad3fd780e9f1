"""monitors status|pause|resume|check|interval|start|stop and alerts add|list|remove.

Thin wrappers over the monitors' signals, updates and status query: the same
calls the `temporal` CLI or another app can make (see the README). Input is
validated here first, and the workflows validate it again.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from rich.table import Table
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

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
from ttai.domain.alerts import conditions
from ttai.models.alerts import (
    AddAlertInput,
    AlertList,
    AlertRule,
    ListAlertsInput,
    RemoveAlertInput,
    RemoveAlertResult,
)
from ttai.models.monitors import MonitorInput, MonitorStatus, SetIntervalInput
from ttai.temporal.errors import root_cause
from ttai.temporal.monitors import MONITOR_IDS, MONITOR_TYPES, ensure_monitors, monitor_id

T = TypeVar("T")
PRICE_MONITOR = MONITOR_IDS["price-alerts"]


def register(subparsers: argparse._SubParsersAction) -> None:
    monitors = subparsers.add_parser("monitors", help="the three monitor workflows")
    commands = monitors.add_subparsers(dest="monitors_command", required=True, metavar="ACTION")
    names = f"{', '.join(MONITOR_IDS)} or all"

    status = commands.add_parser("status", help="iterations, last run and error, next run")
    status.add_argument("name", nargs="?", default="all", help=names)
    add_json_flag(status)
    status.set_defaults(func=status_command)

    for action, text in (
        ("pause", "stop checking until resumed"),
        ("resume", "check again"),
        ("check", "check now, even while paused or outside market hours"),
        ("stop", "stop (cancel) the monitor; start brings it back"),
    ):
        sub = commands.add_parser(action, help=text)
        sub.add_argument("name", nargs="?", default="all", help=names)
        sub.set_defaults(func=steer_command, action=action)

    interval = commands.add_parser("interval", help="change a monitor's check interval")
    interval.add_argument("name", help=", ".join(MONITOR_IDS))
    interval.add_argument("seconds", type=int)
    add_json_flag(interval)
    interval.set_defaults(func=interval_command)

    start = commands.add_parser("start", help="start the monitors that are not running")
    start.add_argument(
        "--hours",
        choices=["regular", "extended", "always"],
        default="regular",
        help="market hours for monitors started now (default: NYSE regular session)",
    )
    start.set_defaults(func=start_command)

    alerts = subparsers.add_parser("alerts", help="alert rules (kept by the price monitor)")
    actions = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="add a rule",
        epilog=f"conditions:\n{conditions.help_text()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("symbol")
    # Checked by the model (one-line error), listed from the condition table.
    add.add_argument("condition", help=", ".join(conditions.names()))
    add.add_argument("threshold", type=float)
    add.add_argument(
        "--reference",
        type=float,
        help=f"{', '.join(conditions.referenced())}: the reference price",
    )
    add.add_argument("--mode", choices=["once", "rearm"], default="once")
    add.add_argument("--cooldown", type=int, default=3600, help="rearm: seconds between firings")
    add.add_argument("--expires", help="ISO time with zone, e.g. 2026-12-31T21:00:00Z")
    add.add_argument("--note", default="")
    add_json_flag(add)
    add.set_defaults(func=alerts_add_command)

    listing = actions.add_parser("list", help="active rules (--all: also fired/expired/removed)")
    listing.add_argument("--all", action="store_true")
    add_json_flag(listing)
    listing.set_defaults(func=alerts_list_command)

    remove = actions.add_parser("remove", help="remove a rule")
    remove.add_argument("alert_id", type=int)
    add_json_flag(remove)
    remove.set_defaults(func=alerts_remove_command)


def _ids(name: str) -> list[str]:
    if name == "all":
        return list(MONITOR_TYPES)
    try:
        return [monitor_id(name)]
    except ValueError as err:
        raise CliError(str(err)) from err


async def _call(workflow_id: str, op: Callable[[], Awaitable[T]]) -> T:
    """One-line errors: a missing monitor, a rejected or failed update."""
    try:
        return await op()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CliError(
                f"{workflow_id} is not running: start it with `starter.py monitors start`"
            ) from err
        raise
    except WorkflowUpdateFailedError as err:
        raise CliError(f"{workflow_id} refused: {root_cause(err)}") from err


def _handle(client: Client, workflow_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id)


def _time(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


async def status_command(args: argparse.Namespace) -> int:
    ids = _ids(args.name)
    client = await client_from(args)
    statuses: list[MonitorStatus] = []
    for workflow_id in ids:
        handle = _handle(client, workflow_id)
        statuses.append(
            await _call(workflow_id, lambda h=handle: h.query("status", result_type=MonitorStatus))
        )
    if args.json:
        print_json([s.model_dump(mode="json") for s in statuses])
        return 0
    table = Table(title="monitors")
    for column in ("monitor", "state", "checks", "errors", "fired", "last run", "next run"):
        table.add_column(column)
    table.add_column("last result / error")
    for s in statuses:
        state = s.state
        table.add_row(
            plain(s.workflow_type),
            "paused" if state.paused else ("market open" if s.market_open else "market closed"),
            str(state.iterations),
            str(state.errors),
            str(state.triggers),
            _time(state.last_run_at),
            _time(s.next_run_at),
            # Error text is anyone's (a broker message, a raw activity failure): literal.
            plain(f"error: {state.last_error}" if state.last_error else state.last_summary),
        )
    console.print(table)
    return 0


async def steer_command(args: argparse.Namespace) -> int:
    ids = _ids(args.name)
    client = await client_from(args)
    for workflow_id in ids:
        handle = _handle(client, workflow_id)
        if args.action == "stop":
            await _call(workflow_id, handle.cancel)
        else:
            signal = "check_now" if args.action == "check" else args.action
            await _call(workflow_id, lambda h=handle, s=signal: h.signal(s, {}))
        console.print(f"{workflow_id}: {args.action} sent")
    return 0


async def interval_command(args: argparse.Namespace) -> int:
    request = parse_model(SetIntervalInput, {"interval_seconds": args.seconds})
    workflow_id = _ids(args.name)[0]
    handle = _handle(await client_from(args), workflow_id)
    status = await _call(
        workflow_id,
        lambda: handle.execute_update("set_interval", request, result_type=MonitorStatus),
    )
    if args.json:
        print_json(status)
    else:
        console.print(f"{workflow_id}: every {status.state.interval_seconds} s")
    return 0


async def start_command(args: argparse.Namespace) -> int:
    client = await client_from(args)
    request = MonitorInput(hours=args.hours)
    ids = await ensure_monitors(
        client, settings_from(args), inputs=dict.fromkeys(MONITOR_TYPES, request)
    )
    for workflow_id in ids:
        console.print(f"{workflow_id}: running")
    return 0


async def _price_update(args: argparse.Namespace, name: str, request: Any, result: type[T]) -> T:
    handle = _handle(await client_from(args), PRICE_MONITOR)
    return await _call(
        PRICE_MONITOR, lambda: handle.execute_update(name, request, result_type=result)
    )


def _alerts_table(rules: list[AlertRule]) -> Table:
    table = Table(title="alert rules")
    for column in ("id", "symbol", "condition", "threshold", "mode", "status", "fired", "expires"):
        table.add_column(column)
    for r in rules:
        spec = r.spec
        # A rearmed move is measured from where it last fired.
        measured_from = conditions.measured_from(
            spec.condition, spec.reference_price, spec.mode, r.trigger_count, r.last_observed
        )
        reference = f" from {measured_from:g}" if measured_from is not None else ""
        table.add_row(
            str(r.alert_id),
            spec.symbol,
            spec.condition,
            f"{spec.threshold:g}{reference}",
            spec.mode if spec.mode == "once" else f"rearm {spec.cooldown_seconds}s",
            r.status,
            str(r.trigger_count),
            _time(spec.expires_at),
        )
    return table


async def alerts_add_command(args: argparse.Namespace) -> int:
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
    request = parse_model(AddAlertInput, {"rule": rule})
    created = await _price_update(args, "add_alert", request, AlertRule)
    if args.json:
        print_json(created)
    else:
        console.print(_alerts_table([created]))
    return 0


async def alerts_list_command(args: argparse.Namespace) -> int:
    listed = await _price_update(
        args, "list_alerts", ListAlertsInput(include_inactive=args.all), AlertList
    )
    if args.json:
        print_json(listed)
    else:
        console.print(_alerts_table(listed.alerts))
    return 0


async def alerts_remove_command(args: argparse.Namespace) -> int:
    request = parse_model(RemoveAlertInput, {"alert_id": args.alert_id})
    result = await _price_update(args, "remove_alert", request, RemoveAlertResult)
    if args.json:
        print_json(result)
    else:
        word = "removed" if result.removed else "was already removed"
        console.print(f"alert {result.alert_id} {word}")
    return 0
