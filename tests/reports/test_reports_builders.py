"""The pure report builders and their Markdown, at the edges of each rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.helpers.reports_portfolio import BALANCES, analysis, metrics
from tests.helpers.times import new_york
from ttai.domain.reports import content, markdown
from ttai.models.market import Fill, Position
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
    summary = content.end_of_day([], [], {}, BALANCES, None, [], [], early_close=False)
    assert summary.net_liquidating_value == 75_000
    assert summary.nlv_change is None and summary.total_day_pnl == 0


def fill(symbol: str, quantity: float, price: float, hour: int = 15) -> Fill:
    option = len(symbol) > 6
    return Fill(
        account="A", symbol=symbol, underlying=symbol[:6].strip(),
        instrument="option" if option else "equity", quantity=quantity, price=price,
        multiplier=100 if option else 1, executed_at=new_york(DAY, hour),
    )  # fmt: skip


def held(symbol: str, quantity: float, mark: float, prev_close: float) -> Position:
    option = len(symbol) > 6
    return Position(
        account="A", symbol=symbol, underlying=symbol[:6].strip(),
        instrument="option" if option else "equity", quantity=quantity,
        average_open_price=mark, multiplier=100 if option else 1, mark=mark,
        prev_close=prev_close,
    )  # fmt: skip


def test_day_pnl_of_a_day_with_an_opening_and_a_closing_trade() -> None:
    """The issue's example: a short put sold today at 4.00 and marked 3.125 made
    +87.50, not the +153.09 measured from the contract's previous close."""
    sold_today = "XYZ   261218P00095000"
    bought_back = "XYZ   261218P00090000"
    positions = [
        held(sold_today, -1, mark=3.125, prev_close=4.6559),
        held("AAPL", 100, mark=160.0, prev_close=158.0),  # untouched
        held("MSFT", 150, mark=11.0, prev_close=10.0),  # 100 held overnight, 50 added
    ]
    fills = [
        fill(sold_today, -1, 4.00),
        fill("KO", -200, 69.10, hour=11),  # all 200 held overnight, sold
        fill(bought_back, 1, 1.80, hour=10),  # a short put held overnight, bought back
        fill("MSFT", 50, 10.50),
        fill("PFE", 10, 5.00, hour=10),  # opened and closed today
        fill("PFE", -10, 5.50, hour=14),
    ]
    previous_closes = {"KO": 68.00, bought_back: 2.50, "AAPL": 1.0}  # AAPL's broker close wins
    summary = content.end_of_day(
        positions, fills, previous_closes, BALANCES, None, [], [], early_close=False
    )
    lines = {p.symbol: p for p in summary.positions}
    assert {s: p.day_pnl for s, p in lines.items()} == {
        sold_today: 87.50,  # (4.00 - 3.125) x 1 x 100
        "AAPL": 200.0,  # (160 - 158) x 100
        "KO": 220.0,  # (69.10 - 68.00) x 200
        bought_back: 70.0,  # (2.50 - 1.80) x 100
        "MSFT": 125.0,  # 100 x (11 - 10) + 50 x (11 - 10.50)
        "PFE": 5.0,  # 10 x (5.50 - 5.00)
    }
    assert summary.total_day_pnl == 707.50
    assert (lines["KO"].quantity, lines["KO"].traded, lines["KO"].prev_close) == (0, -200, 68.0)
    assert lines["KO"].mark == 69.10  # a closed position shows its closing price
    assert lines[bought_back].label == "XYZ 90P 2026-12-18"
    text = markdown.render_end_of_day(summary)
    assert "- XYZ 95P 2026-12-18 -1 (opened today): +$87.50" in text
    assert "- KO closed (sold 200): +$220.00" in text
    assert "- MSFT +150 (+50 today): +$125.00" in text
    assert "- PFE closed (bought 10, sold 10): +$5.00" in text


def test_day_pnl_without_a_previous_close_is_unknown_not_zero() -> None:
    closed = "XYZ   261218P00090000"
    summary = content.end_of_day(
        [held("KO", 10, mark=61.0, prev_close=0.0)],
        [fill(closed, 1, 1.80)],
        {},
        BALANCES, None, [], [], early_close=False,
    )  # fmt: skip
    lines = {p.symbol: p for p in summary.positions}
    assert lines["KO"].day_pnl is None  # held overnight, the broker sent no close
    assert lines[closed].day_pnl is None  # closed today, no close known
    assert summary.total_day_pnl == 0
    assert "- XYZ 90P 2026-12-18 closed (bought 1): no previous close" in (
        markdown.render_end_of_day(summary)
    )


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
    summary = content.end_of_day(positions, [], {}, BALANCES, 75_500, [], [], early_close=True)
    text = markdown.render_end_of_day(summary)
    assert text.splitlines()[:3] == [
        "**Net liquidating value: $75,000.00** (-$500.00 since the last close)",
        "**Day P&L: -$20.00**",
        "_Early close today (13:00 ET)._",
    ]
    assert "- AAPL +10: -$20.00" in text
    assert max(len(line) for line in text.splitlines()) < 80
