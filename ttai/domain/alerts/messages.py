"""The notifications monitors send. Keys come from durable facts only."""

from __future__ import annotations

from ttai.domain.alerts.rules import Firing
from ttai.models.alerts import AlertRule
from ttai.models.notifications import Notification

_WORDS = {
    "price_above": "is above",
    "price_below": "is below",
    "crosses_up": "crossed up through",
    "crosses_down": "crossed down through",
    "pct_move": "moved at least {threshold}% from {reference}",
    "iv_rank_above": "IV rank is above",
    "iv_rank_below": "IV rank is below",
    "delta_at_least": "position |delta| reached",
    "dte_at_most": "position days to expiry at most",
}


def alert_notification(rule: AlertRule, firing: Firing, sequence: int) -> Notification:
    spec = rule.spec
    words = _WORDS[spec.condition]
    if spec.condition == "pct_move":
        what = words.format(threshold=f"{spec.threshold:g}", reference=spec.reference_price)
    else:
        what = f"{words} {spec.threshold:g}"
    title = f"Alert: {spec.symbol} {what}"
    body = f"**{firing.subject}**: observed {firing.observed:g}."
    if spec.note:
        body += f"\n\n{spec.note}"
    return Notification(
        idempotency_key=f"alert:{rule.alert_id}:{sequence}",
        kind="alert",
        title=title,
        body=body,
        payload={
            "alert_id": rule.alert_id,
            "sequence": sequence,
            "symbol": spec.symbol,
            "condition": spec.condition,
            "threshold": spec.threshold,
            "subject": firing.subject,
            "observed": firing.observed,
        },
    )


def position_notification(
    event: str, position_id: int, symbol: str, quantity: float
) -> Notification:
    """`event` is "opened" or "closed"; one row per position lifetime keys it."""
    return Notification(
        idempotency_key=f"position-{event}:{position_id}",
        kind=f"position_{event}",
        title=f"Position {event}: {symbol}",
        body=f"**{symbol}** quantity {quantity:g} {event}.",
        payload={"position_id": position_id, "symbol": symbol, "quantity": quantity},
    )
