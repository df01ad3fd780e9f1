"""Alert rule models and their pure evaluation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from tests.helpers.monitor_fakes import short_put
from ttai.domain.alerts import evaluate_position_rules, evaluate_price_rules, is_armed
from ttai.models.alerts import AlertRule, AlertRuleSpec

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # Wednesday 11:00 ET


def rule(alert_id: int = 1, **spec: object) -> AlertRule:
    status = spec.pop("status", "active")
    last = spec.pop("last_triggered_at", None)
    return AlertRule(
        alert_id=alert_id,
        spec=AlertRuleSpec.model_validate({"symbol": "AAPL", **spec}),
        status=status,
        last_triggered_at=last,
        created_at=NOW - timedelta(days=1),
    )


def fired(r: AlertRule, price: float, previous: float | None = None, iv: float | None = None):
    return evaluate_price_rules(
        [r],
        {"AAPL": price},
        {} if previous is None else {"AAPL": previous},
        {} if iv is None else {"AAPL": iv},
        NOW,
    )


@pytest.mark.parametrize(
    ("condition", "threshold", "price", "previous", "fires"),
    [
        ("price_above", 100, 100.5, None, True),
        ("price_above", 100, 100.0, None, True),  # the level included (the original's >=)
        ("price_above", 100, 99.99, None, False),
        ("price_below", 100, 99.5, None, True),
        ("price_below", 100, 100.5, None, False),
        ("crosses_up", 100, 101, 99, True),
        ("crosses_up", 100, 100, 99.9, True),  # reaching the level is crossing it
        ("crosses_up", 100, 102, 101, False),  # staying above does not fire again
        ("crosses_up", 100, 101, None, False),  # no previous price, no crossing
        ("crosses_up", 100, 99, 101, False),  # the wrong direction
        ("crosses_down", 100, 99, 101, True),
        ("crosses_down", 100, 98, 99, False),
    ],
)
def test_price_conditions(
    condition: str, threshold: float, price: float, previous: float | None, fires: bool
) -> None:
    r = rule(condition=condition, threshold=threshold)
    assert bool(fired(r, price, previous)) is fires


def test_pct_move_both_directions() -> None:
    r = rule(condition="pct_move", threshold=5, reference_price=200)
    assert fired(r, 210)  # +5 %
    assert fired(r, 189)  # -5.5 %
    assert not fired(r, 205)


def test_iv_rank_rules_use_iv_not_price() -> None:
    above = rule(condition="iv_rank_above", threshold=50)
    assert fired(above, 10, iv=60)[0].observed == 60
    assert not fired(above, 1000, iv=40)
    assert not fired(above, 1000)  # no IV data: skipped
    assert fired(rule(condition="iv_rank_below", threshold=20), 10, iv=15)


def test_symbol_without_quote_is_skipped() -> None:
    r = rule(condition="price_above", threshold=1)
    assert evaluate_price_rules([r], {"MSFT": 500}, {}, {}, NOW) == []


def test_once_rule_stops_and_rearm_waits_for_cooldown() -> None:
    assert not is_armed(rule(condition="price_above", threshold=1, status="triggered"), NOW)
    rearm = {"condition": "price_above", "threshold": 1, "mode": "rearm", "cooldown_seconds": 600}
    cooling = rule(**rearm, last_triggered_at=NOW - timedelta(seconds=599))
    cooled = rule(**rearm, last_triggered_at=NOW - timedelta(seconds=600))
    assert not fired(cooling, 5)
    assert fired(cooled, 5)


def test_expired_rule_is_inactive() -> None:
    r = rule(condition="price_above", threshold=1, expires_at=NOW)
    assert not is_armed(r, NOW)
    assert is_armed(r, NOW - timedelta(seconds=1))


def test_position_rules() -> None:
    positions = [
        short_put("AAPL1", delta=-0.25, expiration=date(2026, 12, 18)),
        short_put("AAPL2", delta=-0.45, expiration=date(2026, 11, 30)),
        short_put("MSFT1", delta=-0.9, expiration=date(2026, 11, 26)).model_copy(
            update={"underlying": "MSFT"}
        ),
    ]
    delta = rule(1, condition="delta_at_least", threshold=0.4)
    dte = rule(2, condition="dte_at_most", threshold=5)
    far = rule(3, condition="dte_at_most", threshold=2)
    firings = {f.alert_id: f for f in evaluate_position_rules([delta, dte, far], positions, NOW)}
    assert set(firings) == {1, 2}
    assert firings[1].subject == "AAPL2" and firings[1].observed == pytest.approx(0.45)
    # 25 Nov (New York) to 30 Nov is 5 days; the MSFT position is not an AAPL one.
    assert firings[2].subject == "AAPL2" and firings[2].observed == 5


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"condition": "price_sideways", "threshold": 1}, "condition"),
        ({"condition": "price_above", "threshold": -1}, "greater than or equal to 0"),
        ({"condition": "pct_move", "threshold": 5}, "pct_move needs reference_price"),
        ({"condition": "iv_rank_above", "threshold": 150}, "0-100"),
        ({"condition": "delta_at_least", "threshold": 2}, "between 0 and 1"),
        ({"condition": "dte_at_most", "threshold": 2.5}, "whole number"),
        ({"condition": "price_above", "threshold": 1, "symbol": "aapl"}, "invalid symbol"),
        ({"condition": "price_above", "threshold": 1, "mode": "sometimes"}, "mode"),
        (
            {"condition": "price_above", "threshold": 1, "expires_at": "2026-12-01T10:00:00"},
            "timezone",
        ),
    ],
)
def test_bad_rules_are_rejected(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertRuleSpec.model_validate({"symbol": "AAPL", **spec})
