"""Every notification TTAI sends, built one way, and the one place its keys are made.

A notification is sent once per idempotency key (the outbox's unique index),
so a key is built only from durable facts that a retried activity, a replay or
a reset run sees again unchanged:

| key                                   | one notification per                          |
|---------------------------------------|-----------------------------------------------|
| `analysis:<workflow ID>:<run ID>`     | analysis run                                  |
| `screen:<workflow ID>:<run ID>`       | screen (its first run: stable across continue-as-new) |
| `alert:<alert ID>:<sequence>`         | firing of a rule (1, 2, 3 ... per rule)       |
| `alert-check:<check key>`             | check that fired several rules (one message)  |
| `position-opened:<position row ID>`   | position lifetime (a reopened symbol is a new row) |
| `position-closed:<position row ID>`   | position lifetime                             |
| `position-settled:<position row ID>`  | option position expired, assigned or exercised |
| `report:<workflow ID>`                | schedule run (retries and resets send it once) |

These keys are a stored format: rows already in the outbox dedupe against
them, so they never change shape (tests/notify/test_messages.py pins them).

Text a user or another program wrote (an alert's note) is data: it is
escaped and shown as a quoted, labelled note, never where TTAI's own words
go and never interpreted (no Markdown, no placeholders).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ttai.domain.alerts import Firing, reference
from ttai.domain.reports.content import OccContract, contract_label
from ttai.domain.reports.markdown import shown
from ttai.models.alerts import AlertRule
from ttai.models.analysis import AnalysisResult
from ttai.models.conditions import describe
from ttai.models.market import OptionEvent
from ttai.models.notifications import Notification
from ttai.models.reports import Report
from ttai.models.screener import ScreenResult

KEYS: dict[str, tuple[str, ...]] = {
    "analysis": ("workflow ID", "run ID"),
    "screen": ("workflow ID", "run ID"),
    "alert": ("alert ID", "sequence"),
    "alert-check": ("check key",),
    "position-opened": ("position row ID",),
    "position-closed": ("position row ID",),
    "position-settled": ("position row ID",),
    "report": ("workflow ID",),
}
"""Every key family and the durable IDs after it, in order."""


def notification_key(family: str, *ids: object) -> str:
    """`<family>:<id>:<id>...`, e.g. notification_key("alert", 7, 2) == "alert:7:2"."""
    parts = KEYS.get(family)
    if parts is None:
        raise ValueError(f"unknown notification key family {family!r}")
    if len(ids) != len(parts):
        raise ValueError(f"a {family} key takes {', '.join(parts)}; got {len(ids)} IDs")
    return ":".join([family, *map(str, ids)])


def _notification(
    key: str, kind: str, title: str, body: str, payload: dict[str, Any]
) -> Notification:
    return Notification(idempotency_key=key, kind=kind, title=title, body=body, payload=payload)


def analysis_notification(workflow_id: str, run_id: str, result: AnalysisResult) -> Notification:
    lines = [
        f"**{result.symbol}**: {result.recommendation.replace('_', ' ')} "
        f"(score {result.score}, chart {result.chart.score:g}/10, {result.chart.trend})"
    ]
    best = result.options.best if result.options else None
    if best is not None:
        lines.append(
            f"- Sell the {best.strike:g} put {best.expiration} for {best.credit:.2f}: "
            f"{best.annualized_return:.1%} annualised, POP {best.probability_of_profit:.0%}, "
            f"delta {best.delta:.2f}"
        )
    if result.research is not None:
        iv_rank = shown(result.research.iv_rank, ".0f")
        lines.append(f"- IV rank {iv_rank}, {result.research.sentiment}")
        lines.extend(f"- {reason}" for reason in result.research.reasons[1:])
    return _notification(
        notification_key("analysis", workflow_id, run_id),
        "analysis_complete",
        f"Analysis complete: {result.symbol} {result.recommendation}",
        "\n".join(lines),
        {
            "symbol": result.symbol,
            "recommendation": result.recommendation,
            "workflow_id": workflow_id,
        },
    )


def screen_notification(workflow_id: str, run_id: str, result: ScreenResult) -> Notification:
    source = f"watchlist {result.watchlist}" if result.watchlist else f"{result.total} symbols"
    lines = [
        f"Screened {source}: {result.analyzed} analyzed, {result.rejected} rejected, "
        f"{result.failed} failed" + (" (cancelled)" if result.status == "cancelled" else "")
    ]
    if result.note:
        lines.append(result.note[0].upper() + result.note[1:] + ".")
    for entry in result.top:
        line = f"{entry.rank}. **{entry.symbol}** {entry.recommendation.replace('_', ' ')}"
        if entry.strike is not None and entry.annualized_return is not None:
            line += f": {entry.strike:g} put {entry.expiration}, {entry.annualized_return:.1%}/yr"
        lines.append(line)
    return _notification(
        notification_key("screen", workflow_id, run_id),
        "screen_complete",
        f"Screen {result.status}: {result.analyzed} of {result.total} analyzed",
        "\n".join(lines),
        {
            "screen_id": result.screen_id,
            "status": result.status,
            "top": [entry.symbol for entry in result.top],
        },
    )


def alert_notification(rule: AlertRule, firing: Firing) -> Notification:
    """`rule` as the check read it (before this firing); a move names the
    user's reference, which every move is measured from."""
    spec = rule.spec
    measured_from = reference(rule)
    body = f"**{firing.subject}**: observed {firing.observed:g}."
    if spec.note:
        body += f"\n\n> Your note on alert {rule.alert_id}: “{quoted(spec.note)}”"
    payload: dict[str, Any] = {
        "alert_id": rule.alert_id,
        "sequence": firing.sequence,
        "symbol": spec.symbol,
        "condition": spec.condition,
        "threshold": spec.threshold,
        "subject": firing.subject,
        "observed": firing.observed,
    }
    if measured_from is not None:
        payload["reference"] = measured_from
    return _notification(
        notification_key("alert", rule.alert_id, firing.sequence),
        "alert",
        f"Alert: {spec.symbol} {describe(spec.condition, spec.threshold, measured_from)}",
        body,
        payload,
    )


MAX_COMBINED = 20
"""Alerts listed in one combined notification's body; the rest are counted."""


def combined_alert_notification(check_key: str, alerts: Sequence[Notification]) -> Notification:
    """What one check that fired several rules sends: one notification, not a burst.

    A single alert is sent as it is (its own key). The combined one is keyed by
    the check, so a retried check never sends it twice.
    """
    if len(alerts) == 1:
        return alerts[0]
    shown = alerts[:MAX_COMBINED]
    lines = [f"**{alert.title}**\n{alert.body}" for alert in shown]
    if len(alerts) > len(shown):
        lines.append(f"... and {len(alerts) - len(shown)} more (see the alert rules).")
    symbols = list(dict.fromkeys(str(alert.payload.get("symbol")) for alert in alerts))
    named = ", ".join(symbols[:5]) + (" ..." if len(symbols) > 5 else "")
    return _notification(
        notification_key("alert-check", check_key),
        "alert",
        f"Alerts: {len(alerts)} rules fired ({named})",
        "\n\n".join(lines),
        {"check_key": check_key, "alerts": [alert.payload for alert in alerts]},
    )


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~>])")


def quoted(text: str) -> str:
    """`text` as literal data inside a Markdown body: every character that Markdown
    (or the HTML it becomes) would read as markup is escaped."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def position_notification(
    event: str, position_id: int, symbol: str, quantity: float
) -> Notification:
    """`event` is "opened" or "closed"."""
    return _notification(
        notification_key(f"position-{event}", position_id),
        f"position_{event}",
        f"Position {event}: {symbol}",
        f"**{symbol}** quantity {quantity:g} {event}.",
        {"position_id": position_id, "symbol": symbol, "quantity": quantity},
    )


def settlement_notification(position_id: int, event: OptionEvent) -> Notification:
    """An option position that left by settlement: "Expired worthless: JPM 200P
    2026-12-18", "Assigned: +100 MSFT at 600", "Exercised: -100 QQQ at 480"."""
    label = contract_label(
        OccContract(event.underlying, "option", event.option_kind, event.strike, event.expiration)
    )
    held = f"**{label}** {event.quantity:+g}"
    close = (
        f" ({event.underlying} closed at {event.settlement_price:.2f})"
        if event.settlement_price is not None
        else ""
    )
    if event.kind == "expired":
        title = f"Expired worthless: {label}"
        body = f"{held} expired worthless at the close of {event.day.isoformat()}{close}."
    else:
        moved = f"{event.shares:+g} {event.underlying} at {event.price:g}"
        title = f"{event.kind.capitalize()}: {moved}"
        paid = "paid" if event.cash < 0 else "received"
        body = (
            f"{held} {event.kind} at the close of {event.day.isoformat()}{close}: "
            f"{moved}, ${abs(event.cash):,.2f} {paid}."
        )
    return _notification(
        notification_key("position-settled", position_id),
        f"position_{event.kind}",
        title,
        body,
        {
            "position_id": position_id,
            "symbol": event.symbol,
            "kind": event.kind,
            "quantity": event.quantity,
            "shares": event.shares,
            "price": event.price,
            "day": event.day.isoformat(),
        },
    )


def report_notification(workflow_id: str, report_id: int, report: Report) -> Notification:
    return _notification(
        notification_key("report", workflow_id),
        f"report_{report.kind}",
        report.title,
        report.markdown,
        {
            "kind": report.kind,
            "day": report.day.isoformat(),
            "report_id": report_id,
            "workflow_id": workflow_id,
        },
    )
