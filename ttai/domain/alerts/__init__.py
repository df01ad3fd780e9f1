"""Alert rule evaluation: pure functions over rules, prices and positions."""

from ttai.domain.alerts.rules import (
    Firing,
    evaluate_position_rules,
    evaluate_price_rules,
    is_armed,
    is_expired,
)

__all__ = [
    "Firing",
    "evaluate_position_rules",
    "evaluate_price_rules",
    "is_armed",
    "is_expired",
]
