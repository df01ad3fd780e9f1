"""The pure report builders and their Markdown, at the edges of each rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.helpers.reports_portfolio import BALANCES, analysis, metrics
from tests.helpers.times import new_york
from ttai.domain.reports import content, markdown
from ttai.models.market import Position
from ttai.models.reports import AlertLine

DAY = date(2026, 12, 1)


def put(
    symbol: str, quantity: float, delta: float | None, expires_in: int, kind: str = "put"
) -> Position:
    return Position(
        account="A", symbol=symbol, underlying="XYZ", instrument="option", quantity=quantity,
        average_open_price=1.0, multiplier=100, mark=1.0, prev_close=1.0, option_kind=kind,
        strike=50, expiration=DAY + timedelta(days=expires_in), delta=delta,
    )  # fmt: skip


def test_briefing_rules_at_their_boundaries() -> None:
    positions = [
        put("AT_THRESHOLD", -1, -0.40, 30),
        put("BELOW", -1, -0.39, 30),
        put("LONG_PUT", 1, -0.60, 30),
        put("SHORT_CALL", -1, 0.60, 30, kind="call"),
        put("NO_DELTA", -1, None, 30),
        put("SEVEN_DAYS", -1, -0.1, 7),
        put("EIGHT_DAYS", -1, -0.1, 8),
        put("TODAY", -1, -0.1, 0),
        put("EXPIRED", -1, -0.1, -1),
    ]
    earnings = {
        "AAA": metrics("AAA", DAY + timedelta(days=7)),
        "BBB": metrics("BBB", DAY + timedelta(days=8)),
        "CCC": metrics("CCC", DAY - timedelta(days=1)),
        "DDD": metrics("DDD", DAY),
    }
    briefing = content.morning_briefing(positions, earnings, [], DAY)
    assert [p.symbol for p in briefing.near_the_money_puts] == ["AT_THRESHOLD"]
    assert sorted(p.symbol for p in briefing.expiring) == ["SEVEN_DAYS", "TODAY"]
    assert [(e.underlying, e.days_away) for e in briefing.earnings] == [("DDD", 0), ("AAA", 7)]
    assert len(briefing.positions) == len(positions)


def test_end_of_day_without_a_previous_snapshot_has_no_change() -> None:
    summary = content.end_of_day([], BALANCES, None, [], [], early_close=False)
    assert summary.net_liquidating_value == 75_000
    assert summary.nlv_change is None and summary.total_day_pnl == 0


def test_top_picks_best_per_symbol_no_rejects_ties_by_score_then_symbol() -> None:
    at = new_york(DAY, 12)
    picks = content.top_picks(
        [
            analysis("BBB", "select", 9, at),
            analysis("AAA", "select", 9, at),
            analysis("AAA", "watchlist", 12, at),  # AAA's select is better
            analysis("CCC", "reject", 0, at),
            analysis("DDD", "strong_select", 10, at),
            analysis("EEE", "select", 10, at),
        ],
        n=3,
    )
    assert [(p.symbol, p.recommendation) for p in picks] == [
        ("DDD", "strong_select"), ("EEE", "select"), ("AAA", "select"),
    ]  # fmt: skip


def test_weekly_review_without_a_start_snapshot_estimates_nothing() -> None:
    review = content.weekly_review(DAY, DAY, [], [], [], [], BALANCES, None, None)
    assert review.nlv_change is None and review.realized_estimate is None
    assert review.unrealized_pnl == 0 and review.recommendations == {}


@pytest.mark.parametrize(
    ("value", "text"),
    [(1234.5, "+$1,234.50"), (-0.5, "-$0.50"), (0, "$0.00"), (-1_000_000, "-$1,000,000.00")],
)
def test_signed_money(value: float, text: str) -> None:
    assert markdown.signed(value) == text


def test_markdown_sections_cap_long_lists() -> None:
    alerts = [AlertLine(alert_id=str(i), symbol="XYZ", description=f"rule {i}") for i in range(15)]
    briefing = content.morning_briefing([], {}, alerts, DAY)
    text = markdown.render_morning_briefing(briefing)
    assert "- XYZ: rule 11" in text and "- XYZ: rule 12" not in text
    assert "- … and 3 more" in text
    assert "**Open positions: 0**" in text
    assert "**Expiring within 7 days**\n- none" in text


def test_end_of_day_markdown_reads_on_a_phone() -> None:
    positions = [
        Position(
            account="A", symbol="AAPL", underlying="AAPL", instrument="equity", quantity=10,
            average_open_price=100, mark=101, prev_close=103,
        )
    ]  # fmt: skip
    summary = content.end_of_day(positions, BALANCES, 75_500, [], [], early_close=True)
    text = markdown.render_end_of_day(summary)
    assert text.splitlines()[:3] == [
        "**Net liquidating value: $75,000.00** (-$500.00 since the last close)",
        "**Day P&L: -$20.00**",
        "_Early close today (13:00 ET)._",
    ]
    assert "- AAPL +10: -$20.00" in text
    assert max(len(line) for line in text.splitlines()) < 80
