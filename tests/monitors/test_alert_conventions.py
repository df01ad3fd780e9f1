"""The trading conventions of alert rules (issue 13 #1, #4, #5, #6).

Each test here failed on the code before the conventions were fixed:

- delta rules look at option positions only, per contract (a wheel trader's
  assigned stock, delta 1.0, never fires them);
- `price_above`/`price_below` and the IV-rank rules include the level (the
  original's `>=`/`<=`);
- `pct_move` fires exactly at its threshold (no floating-point edge);
- a rearmed `pct_move` measures its next move from the price it last fired at,
  so a move that merely lasts never fires again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.alerts import AlertActivities
from tests.helpers.monitor_fakes import RecordingChannel, ScriptedBroker, short_put
from tests.helpers.portfolio import shares
from ttai.db.alerts import AlertStore
from ttai.db.reports import ReportStore
from ttai.domain.alerts import evaluate_position_rules, evaluate_price_rules, measured_from
from ttai.models.alerts import AlertRule, AlertRuleSpec
from ttai.models.monitors import CheckInput
from ttai.notify.outbox import Outbox

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # Wednesday 11:00 ET


def rule(**spec: object) -> AlertRule:
    return AlertRule(
        alert_id=1,
        spec=AlertRuleSpec.model_validate({"symbol": "AAPL", **spec}),
        status="active",
        created_at=NOW - timedelta(days=1),
    )


def fires(r: AlertRule, price: float, iv: float | None = None) -> bool:
    ivs = {} if iv is None else {"AAPL": iv}
    return bool(evaluate_price_rules([r], {"AAPL": price}, {}, ivs, NOW))


# --- #1: delta rules are about option contracts --------------------------------------------

STOCK = shares("AAPL", 100, 180, delta=1.0)  # delta: what the tastytrade adapter reports


def test_the_wheel_delta_rule_ignores_the_assigned_stock() -> None:
    """AAPL stock + a short put at -0.20: `delta_at_least 0.5` waits for the put."""
    r = rule(condition="delta_at_least", threshold=0.5)
    assert evaluate_position_rules([r], [STOCK, short_put(delta=-0.20)], NOW) == []
    assert evaluate_position_rules([r], [STOCK, short_put(delta=-0.49)], NOW) == []
    (firing,) = evaluate_position_rules([r], [STOCK, short_put(delta=-0.50)], NOW)
    assert firing.subject == "AAPL  261218P00175000"
    assert firing.observed == 0.5  # the contract's |delta|, not the stock's 1.0


def test_delta_is_per_contract_not_scaled_by_quantity() -> None:
    ten = short_put(delta=-0.30, quantity=-10)
    assert (
        evaluate_position_rules([rule(condition="delta_at_least", threshold=0.5)], [ten], NOW) == []
    )


# --- #4: the levels are inclusive, as in the original ------------------------------------------


@pytest.mark.parametrize(
    ("condition", "threshold", "price", "iv", "expected"),
    [
        ("price_above", 100, 100.0, None, True),  # at the level: fires (original: >=)
        ("price_above", 100, 99.99, None, False),
        ("price_below", 100, 100.0, None, True),  # original: <=
        ("price_below", 100, 100.01, None, False),
        ("iv_rank_above", 60, 1.0, 60.0, True),
        ("iv_rank_above", 60, 1.0, 59.9, False),
        ("iv_rank_below", 20, 1.0, 20.0, True),
        ("iv_rank_below", 20, 1.0, 20.1, False),
    ],
)
def test_levels_are_inclusive(
    condition: str, threshold: float, price: float, iv: float | None, expected: bool
) -> None:
    assert fires(rule(condition=condition, threshold=threshold), price, iv) is expected


# --- #5: pct_move exactly at its threshold -----------------------------------------------------

REFERENCES = (10, 20, 25, 40, 50, 100, 150, 200, 400)
PERCENTS = range(1, 11)


def exact_moves() -> list[tuple[int, int, str]]:
    """9 references x 10 thresholds x up/down: 180 prices exactly at the threshold,
    each a whole number of cents (as a quote would carry it)."""
    cases = []
    for reference in REFERENCES:
        for percent in PERCENTS:
            for sign in (1, -1):
                price = Decimal(reference) * (1 + sign * Decimal(percent) / 100)
                assert price == price.quantize(Decimal("0.01"))
                cases.append((reference, percent, str(price)))
    return cases


def test_every_exact_threshold_move_fires() -> None:
    cases = exact_moves()
    assert len(cases) == 180
    missed = [
        (reference, percent, price)
        for reference, percent, price in cases
        if not fires(
            rule(condition="pct_move", threshold=percent, reference_price=reference), float(price)
        )
    ]
    assert missed == []


@pytest.mark.parametrize(("reference", "percent", "price"), exact_moves()[::9])
def test_a_cent_inside_the_band_does_not_fire(reference: int, percent: int, price: str) -> None:
    inside = Decimal(price) + (Decimal("-0.01") if Decimal(price) > reference else Decimal("0.01"))
    r = rule(condition="pct_move", threshold=percent, reference_price=reference)
    assert not fires(r, float(inside))


# --- #6: a rearmed pct_move measures from where it last fired ---------------------------------


def test_only_a_rearmed_move_is_measured_from_its_last_firing() -> None:
    assert measured_from("pct_move", 200, "rearm", 0, None) == 200
    assert measured_from("pct_move", 200, "rearm", 1, 210) == 210
    assert measured_from("pct_move", 200, "once", 1, 210) == 200  # as it fired, for the record
    assert measured_from("price_above", None, "rearm", 3, 251) is None


async def test_a_rearmed_move_fires_once_per_move_not_every_cooldown(
    db_pool: asyncpg.Pool,
) -> None:
    price = {"AAPL": 210.0}
    clock = {"now": NOW}
    broker = ScriptedBroker({"AAPL": lambda _: price["AAPL"]}, clock=lambda: clock["now"])
    channel = RecordingChannel()
    store = AlertStore(db_pool)
    activities = AlertActivities(broker, store, Outbox(db_pool, [channel]))
    created = await store.create(
        "req-1",
        AlertRuleSpec(
            symbol="AAPL",
            condition="pct_move",
            threshold=5,
            reference_price=200,
            mode="rearm",
            cooldown_seconds=600,
        ),
    )
    env = ActivityEnvironment()

    async def check(n: int, at_price: float) -> list[int]:
        price["AAPL"] = at_price
        clock["now"] = NOW + timedelta(minutes=15 * n)
        request = CheckInput(check_key=f"wf:run:{n}", as_of=clock["now"])
        result = await env.run(activities.check_price_alerts, request)
        return [t.sequence for t in result.triggers]

    assert await check(0, 210.0) == [1]  # +5 % from 200
    assert await check(1, 210.0) == []  # the same move, a cooldown later: not again
    assert await check(2, 212.0) == []  # +0.95 % from 210
    assert await check(3, 220.5) == [2]  # +5 % from 210, where it last fired
    assert await check(3, 220.5) == [2]  # the check retried: the same trigger, nothing new
    assert await check(4, 209.48) == []  # -4.998 % from 220.5
    assert await check(5, 209.475) == [3]  # -5 % from 220.5, exactly
    keys = [n.idempotency_key for n in channel.sent]
    assert keys == [f"alert:{created.alert_id}:{s}" for s in (1, 2, 3)]
    assert "from 210" in channel.sent[1].title and "from 220.5" in channel.sent[2].title
    (stored,) = await store.rules()
    assert stored.spec.reference_price == 200  # the user's reference is kept as written
    assert stored.trigger_count == 3 and stored.last_observed == 209.475
    # The reports word each firing with the price it was measured from.
    reports = ReportStore(db_pool)
    fired = await reports.alerts_triggered(NOW, NOW + timedelta(days=1))
    assert [line.description for line in fired] == [
        f"price moved 5% or more from {reference}" for reference in ("200", "210", "220.5")
    ]
    (armed,) = await reports.armed_alerts(clock["now"])
    assert armed.description == "price moved 5% or more from 209.475"
