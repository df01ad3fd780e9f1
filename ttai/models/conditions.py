"""Alert conditions: the one table of what each condition is, what it reads and how it reads.

Everything else derives from `CONDITIONS`: the wire model's names, bounds and
JSON Schema (ttai/models/alerts.py), which monitor evaluates a rule (its
family), the wording of notifications, reports and the CLI help. How each
comparison fires is pure logic in `ttai.domain.alerts` (`fires` names it here).
The database stores the name and does not check it (migration 008). To add a
condition: one entry here, a test, `make schemas` (docs/architecture.md).

Conventions (docs/alerts.md):
- Levels are inclusive, as in the original: `price_above 250` fires at 250.00
  (`>=`), `price_below` at or below, the IV-rank rules the same.
- Crossings fire on the move through the level only: the previous check was
  strictly on the other side, this one is at or past the level.
- Position rules look at option positions only, one contract at a time: the
  per-contract |delta| (puts and calls, long or short, never scaled by the
  quantity) and the days to expiry. Shares (delta 1.0) never match, so a wheel
  trader's assigned stock does not fire `delta_at_least`.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Literal

Family = Literal["price", "iv_rank", "position"]
"""What a condition reads, hence which monitor evaluates it: the price monitor
(one batched quote call; IV rank from the market metrics) or the portfolio
monitor (the broker's positions)."""

Observes = Literal["price", "iv_rank", "abs_delta", "dte"]
"""The number compared with the threshold. Position measures (`abs_delta`,
`dte`) are taken per option position (ttai.domain.alerts)."""

Comparison = Literal["at_least", "at_most", "crossed_up", "crossed_down", "moved_pct"]
"""How the observed number is compared with the threshold (ttai.domain.alerts)."""


@dataclass(frozen=True)
class Condition:
    name: str
    family: Family
    observes: Observes
    threshold: str  # what the threshold is, for the CLI help and the schema
    fires: Comparison
    words: str  # how a rule reads after its symbol; {threshold} and {reference}
    high: float | None = None  # the largest threshold allowed (the smallest is 0)
    whole: bool = False  # the threshold is a whole number
    needs_reference: bool = False  # the rule carries a reference_price
    # Position rules name every matching position and report the value furthest
    # past the threshold: the largest |delta|, the fewest days.
    worst: Literal["max", "min"] = "max"


CONDITIONS: dict[str, Condition] = {
    c.name: c
    for c in (
        Condition(
            "price_above", "price", "price", "a price level", "at_least",
            "price at or above {threshold}",
        ),
        Condition(
            "price_below", "price", "price", "a price level", "at_most",
            "price at or below {threshold}",
        ),
        Condition(
            "crosses_up", "price", "price", "a price level", "crossed_up",
            "price crossed up through {threshold}",
        ),
        Condition(
            "crosses_down", "price", "price", "a price level", "crossed_down",
            "price crossed down through {threshold}",
        ),
        Condition(
            "pct_move", "price", "price", "a move in %, either way, from reference_price",
            "moved_pct", "price moved {threshold}% or more from {reference}",
            needs_reference=True,
        ),
        Condition(
            "iv_rank_above", "iv_rank", "iv_rank", "an IV rank, 0-100", "at_least",
            "IV rank at or above {threshold}", high=100,
        ),
        Condition(
            "iv_rank_below", "iv_rank", "iv_rank", "an IV rank, 0-100", "at_most",
            "IV rank at or below {threshold}", high=100,
        ),
        Condition(
            "delta_at_least", "position", "abs_delta",
            "an option's per-contract |delta|, 0-1", "at_least",
            "option |delta| at least {threshold}", high=1,
        ),
        Condition(
            "dte_at_most", "position", "dte", "whole days to an option's expiry", "at_most",
            "option expiring in {threshold} days or fewer", whole=True, worst="min",
        ),
    )
}  # fmt: skip


def names(family: Family | None = None) -> tuple[str, ...]:
    """Condition names in table order, all or one family's."""
    return tuple(n for n, c in CONDITIONS.items() if family is None or c.family == family)


def referenced() -> tuple[str, ...]:
    """The conditions whose rules carry a reference_price."""
    return tuple(n for n, c in CONDITIONS.items() if c.needs_reference)


def problem(name: str, threshold: float, reference: float | None) -> str | None:
    """Why a rule's numbers do not fit its condition, or None when they do."""
    condition = CONDITIONS.get(name)
    if condition is None:
        return f"unknown condition {name!r}: one of {', '.join(CONDITIONS)}"
    if condition.needs_reference and reference is None:
        return f"{name} needs reference_price"
    if not condition.needs_reference and reference is not None:
        return f"reference_price is only used by {', '.join(referenced())}"
    if threshold < 0 or (condition.high is not None and threshold > condition.high):
        high = "" if condition.high is None else f" and {condition.high:g}"
        return f"{name} threshold must be between 0{high} ({condition.threshold})"
    if condition.whole and not float(threshold).is_integer():
        return f"{name} threshold must be a whole number ({condition.threshold})"
    return None


def _number(value: float | str | None) -> str:
    return value if isinstance(value, str) else "?" if value is None else f"{value:g}"


def describe(name: str, threshold: float | str, reference: float | str | None = None) -> str:
    """How a rule reads after its symbol: 'price moved 5% or more from 200'."""
    return CONDITIONS[name].words.format(threshold=_number(threshold), reference=_number(reference))


def help_text(columns: int = 79) -> str:
    """Each condition and what fires it, for `starter.py alerts add --help`."""
    width = max(map(len, CONDITIONS)) + 2
    return "\n".join(
        textwrap.fill(
            f"{name:<{width}}{describe(name, 'THRESHOLD', 'REFERENCE')} (THRESHOLD: {c.threshold})",
            columns,
            subsequent_indent=" " * width,
            break_on_hyphens=False,
        )
        for name, c in CONDITIONS.items()
    )


def threshold_help() -> str:
    """What the threshold means for each condition, for the schema's description."""
    return "; ".join(f"{name}: {c.threshold}" for name, c in CONDITIONS.items())
