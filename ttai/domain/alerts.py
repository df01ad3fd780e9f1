"""When alert rules fire, given what the market and the account look like now.

What each condition is comes from the table in `ttai.models.conditions`; this
module says how each comparison fires and feeds it: the price, IV rank or option
positions a rule reads, its reference, and whether the rule is armed at all.

No I/O and no clock: the caller passes `now`, so the same inputs always give
the same firings (the check activity may be retried). Each firing carries the
sequence it would be (the rule's trigger count + 1, as read): the store
records it only while the rule still has that count, so a retried or
concurrent check never records a firing twice.

A move in percent (`moved_pct`) compares exact decimals: a price and a
reference are the decimals they print as (10.1, not 10.0999999999999996), so
10 -> 10.10 is exactly 1 %. It is always measured from the user's reference.
A rearmed move re-arms only once a check sees the price back inside the band
(hysteresis, `HYSTERESIS`): the rule then waits (`AlertRule.awaiting_return`),
so a move that lasts, or grows, fires once, and a return to the reference
fires nothing.

A reading that is unknown (no price, no IV rank, no delta from the broker)
fires nothing: `readings` reports it as None, and the store keeps it as the
rule's last reading, so `list_alerts` can say it was unknown. Option positions
past their expiry are settled or about to be, and no position rule reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from ttai.domain import market_calendar
from ttai.models.alerts import AlertRule
from ttai.models.conditions import CONDITIONS, Comparison, Condition
from ttai.models.market import Position


@dataclass(frozen=True)
class Reading:
    """What one check observed for one rule, with the rule's numbers."""

    value: float
    threshold: float
    previous: float | None = None  # the previous check's price, for crossings
    reference: float | None = None  # the price a move is measured from


def exact(x: float) -> Fraction:
    """The decimal a float prints as (its shortest repr), as an exact fraction."""
    return Fraction(repr(float(x)))


def at_least(r: Reading) -> bool:
    return r.value >= r.threshold


def at_most(r: Reading) -> bool:
    return r.value <= r.threshold


def crossed_up(r: Reading) -> bool:
    return r.previous is not None and r.previous < r.threshold <= r.value


def crossed_down(r: Reading) -> bool:
    return r.previous is not None and r.previous > r.threshold >= r.value


def moved_pct(r: Reading) -> bool:
    # |price - reference| / reference * 100 >= threshold, without dividing or rounding.
    if r.reference is None:
        return False
    reference = exact(r.reference)
    return abs(exact(r.value) - reference) * 100 >= exact(r.threshold) * reference


COMPARISONS: dict[Comparison, Callable[[Reading], bool]] = {
    "at_least": at_least,
    "at_most": at_most,
    "crossed_up": crossed_up,
    "crossed_down": crossed_down,
    "moved_pct": moved_pct,
}

WORST: dict[str, Callable[[Iterable[float]], float]] = {"max": max, "min": min}


HYSTERESIS: frozenset[Comparison] = frozenset({"moved_pct"})
"""Comparisons whose rearmed rules, once fired, wait for a reading back on the
quiet side (inside the band) before they may fire again."""


def waits_for_return(rule: AlertRule) -> bool:
    """Whether this rule, when it fires, must see a quiet reading before the next firing."""
    return rule.spec.mode == "rearm" and CONDITIONS[rule.spec.condition].fires in HYSTERESIS


@dataclass(frozen=True)
class Firing:
    alert_id: int
    sequence: int  # 1 for a rule's first firing, then 2, 3 ...
    subject: str  # the ticker, or the option positions' broker symbols
    observed: float
    awaits_return: bool = False  # the rule waits for a quiet reading after this firing


def is_expired(rule: AlertRule, now: datetime) -> bool:
    return rule.spec.expires_at is not None and now >= rule.spec.expires_at


def is_armed(rule: AlertRule, now: datetime) -> bool:
    """Active, not expired and, for a rearmed rule, past its cooldown and not
    waiting for the price to come back inside its band."""
    if rule.status != "active" or is_expired(rule, now) or rule.awaiting_return:
        return False
    if rule.last_triggered_at is None:
        return True
    return now >= rule.last_triggered_at + timedelta(seconds=rule.spec.cooldown_seconds)


def reference(rule: AlertRule) -> float | None:
    """The price the rule's moves are measured from: the user's, always."""
    return rule.spec.reference_price if CONDITIONS[rule.spec.condition].needs_reference else None


def _fires(rule: AlertRule, value: float, previous: float | None = None) -> bool:
    reading = Reading(value, rule.spec.threshold, previous, reference(rule))
    return COMPARISONS[CONDITIONS[rule.spec.condition].fires](reading)


def _firing(rule: AlertRule, subject: str, observed: float) -> Firing:
    return Firing(rule.alert_id, rule.trigger_count + 1, subject, observed, waits_for_return(rule))


def _market_values(
    rule: AlertRule,
    prices: Mapping[str, float | None],
    iv_ranks: Mapping[str, float | None],
) -> Mapping[str, float | None]:
    return prices if CONDITIONS[rule.spec.condition].family == "price" else iv_ranks


def evaluate_price_rules(
    rules: Iterable[AlertRule],
    prices: Mapping[str, float | None],
    previous_prices: Mapping[str, float],
    iv_ranks: Mapping[str, float | None],
    now: datetime,
) -> list[Firing]:
    """Price and IV-rank rules that fire now. Symbols without data (or with an
    unknown value, None) fire nothing."""
    firings = []
    for rule in rules:
        symbol, family = rule.spec.symbol, CONDITIONS[rule.spec.condition].family
        if family == "position" or not is_armed(rule, now):
            continue
        values, previous = (prices, previous_prices) if family == "price" else (iv_ranks, {})
        value = values.get(symbol)
        if value is not None and _fires(rule, value, previous.get(symbol)):
            firings.append(_firing(rule, symbol, value))
    return firings


def price_readings(
    rules: Iterable[AlertRule],
    prices: Mapping[str, float | None],
    iv_ranks: Mapping[str, float | None],
) -> dict[int, float | None]:
    """What one check read for each price and IV-rank rule: its number, or None when unknown."""
    return {
        rule.alert_id: _market_values(rule, prices, iv_ranks).get(rule.spec.symbol)
        for rule in rules
        if CONDITIONS[rule.spec.condition].family != "position"
    }


def back_in_band(
    rules: Iterable[AlertRule],
    prices: Mapping[str, float | None],
    iv_ranks: Mapping[str, float | None],
) -> list[int]:
    """Rules waiting for a quiet reading that got one now (a known value that
    would not fire): they are armed again (cooldown permitting)."""
    back = []
    for rule in rules:
        if not rule.awaiting_return or CONDITIONS[rule.spec.condition].family == "position":
            continue
        value = _market_values(rule, prices, iv_ranks).get(rule.spec.symbol)
        if value is not None and not _fires(rule, value):
            back.append(rule.alert_id)
    return back


# What a position rule reads from one option position (None: nothing to compare).
_MEASURES: dict[str, Callable[[Position, date], float | None]] = {
    "abs_delta": lambda p, today: None if p.delta is None else abs(p.delta),
    "dte": lambda p, today: (
        None if p.expiration is None else market_calendar.days_to_expiry(p.expiration, today)
    ),
}


def _measures(
    rule: AlertRule, condition: Condition, options: Iterable[Position], today: date
) -> list[tuple[float | None, str]]:
    """What the rule reads from each option position of its underlying (None: unknown)."""
    return [
        (_MEASURES[condition.observes](p, today), p.symbol)
        for p in options
        if p.underlying == rule.spec.symbol
    ]


def _live_options(positions: Iterable[Position], today: date) -> list[Position]:
    """Option positions not past their expiry (those are settled, or about to be)."""
    return [
        p
        for p in positions
        if p.instrument == "option"
        and (p.expiration is None or market_calendar.days_to_expiry(p.expiration, today) >= 0)
    ]


def position_readings(
    rules: Iterable[AlertRule], positions: Iterable[Position], now: datetime
) -> dict[int, float | None]:
    """What one check read for each position rule with option positions to read:
    the value furthest past its threshold among the known ones, None when none
    is known. A rule without such positions has no reading."""
    today = market_calendar.new_york_date(now)
    options = _live_options(positions, today)
    found: dict[int, float | None] = {}
    for rule in rules:
        condition = CONDITIONS[rule.spec.condition]
        if condition.family != "position":
            continue
        measured = _measures(rule, condition, options, today)
        if measured:
            known = [v for v, _ in measured if v is not None]
            found[rule.alert_id] = WORST[condition.worst](known) if known else None
    return found


def evaluate_position_rules(
    rules: Iterable[AlertRule], positions: Iterable[Position], now: datetime
) -> list[Firing]:
    """Position rules that fire now: one firing per rule, naming every matching
    option position of its underlying. Shares never match (ttai.models.conditions),
    nor options past their expiry, nor an unknown measure."""
    today = market_calendar.new_york_date(now)
    options = _live_options(positions, today)
    firings = []
    for rule in rules:
        condition = CONDITIONS[rule.spec.condition]
        if condition.family != "position" or not is_armed(rule, now):
            continue
        matches = [
            (value, symbol)
            for value, symbol in _measures(rule, condition, options, today)
            if value is not None and _fires(rule, value)
        ]
        if matches:
            subject = ", ".join(sorted(symbol for _, symbol in matches))
            firings.append(_firing(rule, subject, WORST[condition.worst](v for v, _ in matches)))
    return firings
