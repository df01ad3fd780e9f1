"""The trading conventions of alert rules (issue 13 #1, #4, #5, #6).

Each test here failed on the code before the conventions were fixed:

- delta rules look at option positions only, per contract (a wheel trader's
  assigned stock, delta 1.0, never fires them);
- `price_above`/`price_below` and the IV-rank rules include the level (the
  original's `>=`/`<=`);
- `pct_move` fires exactly at its threshold (no floating-point edge);
- a move that merely lasts never fires again.

Issue 20 changed the last one (and each test below it failed on the code before):
- a rearmed `pct_move` is measured from the user's reference, and re-arms only
  once the price is back inside its band (hysteresis): a return to the
  reference fired "moved 5 % from 106" before;
- a reading the broker could not give (no price, no IV rank, no delta) fires
  nothing, and `list_alerts` shows that the last reading was unknown;
- option positions past their expiry fire no position rule (a `dte_at_most 3`
  rule fired with observed -17).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from rich.console import Console
from temporalio.testing import ActivityEnvironment

from activities.alerts import AlertActivities
from tests.helpers.monitor_fakes import RecordingChannel, ScriptedBroker, short_put
from tests.helpers.portfolio import shares
from ttai.cli.alerts import alerts_grid
from ttai.db.alerts import AlertStore
from ttai.db.reports import ReportStore
from ttai.domain.alerts import evaluate_position_rules, evaluate_price_rules, position_readings
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


# --- #6 (issue 20): a rearmed pct_move re-arms inside its band ------------------------------


def fake_check(
    db_pool: asyncpg.Pool, prices: dict[str, float | None], ivs: dict[str, float | None]
) -> tuple[AlertStore, RecordingChannel, Any]:
    """A price check against a scripted broker: `check(n, price)` runs check n
    (15 minutes apart) at that price (None: no price) and returns the firings' sequences."""
    clock = {"now": NOW}
    broker = ScriptedBroker(
        {s: (lambda _, s=s: prices[s]) for s in prices},
        iv_ranks={s: (lambda _, s=s: ivs[s]) for s in ivs},
        clock=lambda: clock["now"],
    )
    channel = RecordingChannel()
    store = AlertStore(db_pool)
    activities = AlertActivities(broker, store, Outbox(db_pool, [channel]))
    env = ActivityEnvironment()

    async def check(n: int, price: float | None = None, symbol: str = "AAPL") -> list[int]:
        prices[symbol] = price
        clock["now"] = NOW + timedelta(minutes=15 * n)
        request = CheckInput(check_key=f"wf:run:{n}", as_of=clock["now"])
        result = await env.run(activities.check_price_alerts, request)
        return [t.sequence for t in result.triggers]

    return store, channel, check


async def test_a_rearmed_move_is_measured_from_the_reference_and_rearms_inside_the_band(
    db_pool: asyncpg.Pool,
) -> None:
    store, channel, check = fake_check(db_pool, {"AAPL": 100.0}, {})
    created = await store.create(
        "req-1",
        AlertRuleSpec(
            symbol="AAPL", condition="pct_move", threshold=5, reference_price=100,
            mode="rearm", cooldown_seconds=600,
        ),
    )  # fmt: skip
    assert await check(0, 106.0) == [1]  # +6 % from 100
    assert await check(1, 106.0) == []  # the same move, a cooldown later: not again
    assert await check(2, 112.0) == []  # grown, still the same move away from 100
    assert (await store.rules())[0].awaiting_return
    # Back to the reference: it fired here before ("moved 5 % from 106"); now it re-arms.
    assert await check(3, 100.0) == []
    assert not (await store.rules())[0].awaiting_return
    assert await check(4, 104.99) == []  # inside the band
    assert await check(5, 94.9) == [2]  # a new move: -5.1 % from 100
    assert await check(5, 94.9) == [2]  # the check retried: the same trigger, nothing new
    assert await check(6, 100.0) == []
    assert await check(7, 105.0) == [3]  # exactly 5 % from 100
    keys = [n.idempotency_key for n in channel.sent]
    assert keys == [f"alert:{created.alert_id}:{s}" for s in (1, 2, 3)]
    assert all("from 100" in n.title for n in channel.sent)
    (stored,) = await store.rules()
    assert stored.spec.reference_price == 100 and stored.trigger_count == 3
    assert stored.awaiting_return and stored.last_observed == 105.0
    reports = ReportStore(db_pool)
    fired = await reports.alerts_triggered(NOW, NOW + timedelta(days=1))
    assert [line.description for line in fired] == ["price moved 5% or more from 100"] * 3


async def test_a_return_during_the_cooldown_rearms_after_it(db_pool: asyncpg.Pool) -> None:
    store, _, check = fake_check(db_pool, {"AAPL": 100.0}, {})
    spec = AlertRuleSpec(
        symbol="AAPL", condition="pct_move", threshold=5, reference_price=100,
        mode="rearm", cooldown_seconds=1200,
    )  # fmt: skip
    await store.create("req-1", spec)
    assert await check(0, 106.0) == [1]
    assert await check(1, 101.0) == []  # inside the band, within the 20-minute cooldown
    assert await check(2, 106.0) == [2]  # past the cooldown: the return counted


async def test_a_once_move_is_untouched_by_the_band(db_pool: asyncpg.Pool) -> None:
    store, _, check = fake_check(db_pool, {"AAPL": 100.0}, {})
    spec = AlertRuleSpec(symbol="AAPL", condition="pct_move", threshold=5, reference_price=100)
    await store.create("req-1", spec)
    assert await check(0, 106.0) == [1]
    (stored,) = await store.rules(include_inactive=True)
    assert stored.status == "triggered" and not stored.awaiting_return


# --- issue 20: unknown readings fire nothing and say so ---------------------------------


async def test_an_unknown_reading_fires_nothing_and_list_alerts_says_so(
    db_pool: asyncpg.Pool,
) -> None:
    ivs: dict[str, float | None] = {"TSLA": None}
    store, channel, check = fake_check(db_pool, {"AAPL": 100.0, "TSLA": 300.0}, ivs)
    await store.create(
        "req-1", AlertRuleSpec(symbol="TSLA", condition="iv_rank_below", threshold=20)
    )
    await store.create(
        "req-2", AlertRuleSpec(symbol="AAPL", condition="price_below", threshold=150)
    )
    assert await check(0, None) == []  # AAPL has no price, TSLA no IV rank: both unknown
    listed = await store.rules()
    assert [(r.last_reading, r.last_reading_unknown) for r in listed] == [
        (None, True), (None, True),
    ]  # fmt: skip
    assert all(r.last_read_at == NOW for r in listed)
    console = Console(width=200, record=True)
    console.print(alerts_grid(listed))
    rows = [line for line in console.export_text().splitlines() if "TSLA" in line or "AAPL" in line]
    assert len(rows) == 2 and all("unknown" in line for line in rows)
    # Armed rules in the morning briefing say it too.
    armed = await ReportStore(db_pool).armed_alerts(NOW)
    assert all(a.description.endswith("(last reading unknown)") for a in armed)
    # Once known, the readings are numbers and the rules fire as usual.
    ivs["TSLA"] = 12.5
    assert await check(1, 140.0) == [1, 1]
    listed = await store.rules(include_inactive=True)
    assert [(r.last_reading, r.last_reading_unknown) for r in listed] == [
        (12.5, False), (140.0, False),
    ]  # fmt: skip
    assert len(channel.sent) == 1  # both fired in one check: one combined notification


def test_unknown_values_fire_no_rule() -> None:
    r = rule(condition="iv_rank_below", threshold=20)
    assert evaluate_price_rules([r], {"AAPL": 100.0}, {}, {"AAPL": None}, NOW) == []
    p = rule(condition="price_below", threshold=150)
    assert evaluate_price_rules([p], {"AAPL": None}, {}, {}, NOW) == []
    d = rule(condition="delta_at_least", threshold=0.5)
    unknown = short_put(delta=None)
    assert evaluate_position_rules([d], [STOCK, unknown], NOW) == []
    assert position_readings([d], [STOCK, unknown], NOW) == {1: None}
    assert position_readings([d], [STOCK], NOW) == {}  # no option to read: no reading


def test_an_option_past_its_expiry_fires_no_position_rule() -> None:
    """Issue 20: `dte_at_most 3` fired with observed -17 on an expired put."""
    r = rule(condition="dte_at_most", threshold=3)
    expired = short_put(delta=-1.0).model_copy(update={"expiration": date(2026, 11, 8)})
    assert evaluate_position_rules([r], [expired], NOW) == []
    assert (
        evaluate_position_rules([rule(condition="delta_at_least", threshold=0.5)], [expired], NOW)
        == []
    )
    today = short_put(delta=-0.3).model_copy(update={"expiration": date(2026, 11, 25)})
    (firing,) = evaluate_position_rules([r], [expired, today], NOW)
    assert firing.observed == 0  # expiry day itself still counts
