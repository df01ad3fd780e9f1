"""Which rules fire, given what the market and the account look like now.

No I/O and no clock: the caller passes `now`, so the same inputs always give
the same firings (the check activity may be retried).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ttai.domain import market_calendar
from ttai.models.alerts import IV_CONDITIONS, POSITION_CONDITIONS, PRICE_CONDITIONS, AlertRule
from ttai.models.market import Position


@dataclass(frozen=True)
class Firing:
    alert_id: int
    subject: str  # the ticker, or the positions' broker symbols
    observed: float


def is_expired(rule: AlertRule, now: datetime) -> bool:
    return rule.spec.expires_at is not None and now >= rule.spec.expires_at


def is_armed(rule: AlertRule, now: datetime) -> bool:
    """Active, not expired and, for a rearmed rule, past its cooldown."""
    if rule.status != "active" or is_expired(rule, now):
        return False
    if rule.last_triggered_at is None:
        return True
    return now >= rule.last_triggered_at + timedelta(seconds=rule.spec.cooldown_seconds)


def price_condition_met(rule: AlertRule, price: float, previous: float | None) -> bool:
    spec = rule.spec
    level = spec.threshold
    match spec.condition:
        case "price_above":
            return price > level
        case "price_below":
            return price < level
        case "crosses_up":
            # Only the move through the level counts, not staying above it.
            return previous is not None and previous < level <= price
        case "crosses_down":
            return previous is not None and previous > level >= price
        case "pct_move":
            assert spec.reference_price is not None  # guaranteed by AlertRuleSpec
            return abs(price - spec.reference_price) / spec.reference_price * 100 >= level
    raise ValueError(f"not a price condition: {spec.condition}")


def iv_condition_met(rule: AlertRule, iv_rank: float) -> bool:
    if rule.spec.condition == "iv_rank_above":
        return iv_rank > rule.spec.threshold
    if rule.spec.condition == "iv_rank_below":
        return iv_rank < rule.spec.threshold
    raise ValueError(f"not an IV condition: {rule.spec.condition}")


def evaluate_price_rules(
    rules: Iterable[AlertRule],
    prices: Mapping[str, float],
    previous_prices: Mapping[str, float],
    iv_ranks: Mapping[str, float],
    now: datetime,
) -> list[Firing]:
    """Price and IV-rank rules that fire now. Symbols without data are skipped."""
    firings = []
    for rule in rules:
        symbol, condition = rule.spec.symbol, rule.spec.condition
        if not is_armed(rule, now):
            continue
        if condition in PRICE_CONDITIONS and symbol in prices:
            price = prices[symbol]
            if price_condition_met(rule, price, previous_prices.get(symbol)):
                firings.append(Firing(rule.alert_id, symbol, price))
        elif (
            condition in IV_CONDITIONS
            and symbol in iv_ranks
            and iv_condition_met(rule, iv_ranks[symbol])
        ):
            firings.append(Firing(rule.alert_id, symbol, iv_ranks[symbol]))
    return firings


def days_to_expiry(position: Position, now: datetime) -> int | None:
    if position.expiration is None:
        return None
    return market_calendar.days_to_expiry(position.expiration, market_calendar.new_york_date(now))


def _position_value(rule: AlertRule, position: Position, now: datetime) -> float | None:
    """The value the rule compares, or None when the rule does not apply to it."""
    if rule.spec.condition == "delta_at_least":
        return None if position.delta is None else abs(position.delta)
    dte = days_to_expiry(position, now)
    return None if dte is None else float(dte)


def evaluate_position_rules(
    rules: Iterable[AlertRule], positions: Iterable[Position], now: datetime
) -> list[Firing]:
    """Position rules that fire now: one firing per rule, naming every matching position."""
    held = list(positions)
    firings = []
    for rule in rules:
        if rule.spec.condition not in POSITION_CONDITIONS or not is_armed(rule, now):
            continue
        matches: list[tuple[float, str]] = []
        for position in held:
            if position.underlying != rule.spec.symbol:
                continue
            value = _position_value(rule, position, now)
            if value is None:
                continue
            at_least = rule.spec.condition == "delta_at_least"
            if (value >= rule.spec.threshold) if at_least else (value <= rule.spec.threshold):
                matches.append((value, position.symbol))
        if matches:
            # Report the worst one: the largest delta, the nearest expiry.
            worst = max(matches)[0] if rule.spec.condition == "delta_at_least" else min(matches)[0]
            subject = ", ".join(sorted(symbol for _, symbol in matches))
            firings.append(Firing(rule.alert_id, subject, worst))
    return firings
