"""Screen ranking: the original's weights, deterministic tie-breaking."""

from __future__ import annotations

import random
from typing import Any

from tests.helpers.analysis_fakes import fake_chart, fake_options, fake_research
from ttai.domain.analytics.ranking import rank, ranks, screen_entry, shortfall
from ttai.models.analysis import AnalysisResult
from ttai.models.screener import ScreenEntry


def entry(symbol: str, recommendation: str, chart_score: float, **extra: Any) -> ScreenEntry:
    return ScreenEntry(
        symbol=symbol,
        recommendation=recommendation,
        score=0,
        chart_score=chart_score,
        price=100,
        trend="sideways",
        workflow_id=f"screen/{symbol}",
        **extra,
    )


def test_recommendation_outweighs_chart_score() -> None:
    ranked = rank(
        [
            entry("WL", "watchlist", 10),  # 1 + 1.0 = 2.0
            entry("SEL", "select", 0),  # 3 + 0.0 = 3.0
            entry("REJ", "reject", 9.9),  # 0 + 0.99
            entry("STR", "strong_select", 1),  # 4 + 0.1
            entry("SELB", "select", 7.5),  # 3 + 0.75
        ],
        top_n=10,
    )
    assert [r.symbol for r in ranked] == ["STR", "SELB", "SEL", "WL"]
    assert [r.rank for r in ranked] == [1, 2, 3, 4]
    assert [r.rank_score for r in ranked] == [4.1, 3.75, 3.0, 2.0]


def test_rejects_never_rank_and_a_short_top_says_so() -> None:
    # Issue 20: "5 CCC reject 0.25" was in a screen's top 5.
    entries = [
        entry("AAA", "select", 6),
        entry("BBB", "watchlist", 2),
        entry("CCC", "reject", 2.5),
        entry("DDD", "watchlist", 1, annualized_return=0.3),
        entry("EEE", "reject", 9.9),
    ]
    top = rank(entries, 5)
    assert [(r.rank, r.symbol) for r in top] == [(1, "AAA"), (2, "BBB"), (3, "DDD")]
    assert shortfall(len(top), 5) == "only 3 candidates for the top 5: rejects never rank"
    assert shortfall(1, 5) == "only 1 candidate for the top 5: rejects never rank"
    assert shortfall(0, 5) == "no candidates for the top 5: rejects never rank"
    assert shortfall(len(rank(entries, 2)), 2) is None
    # Screens started before the rule replay with their rejects ranked.
    assert [r.symbol for r in rank(entries, 5, rejects=True)][-1] == "CCC"
    assert not ranks("reject") and all(ranks(r) for r in ("strong_select", "select", "watchlist"))


def test_ties_by_annualised_return_then_symbol() -> None:
    entries = [
        entry("CCC", "select", 8, annualized_return=0.20),
        entry("BBB", "select", 8, annualized_return=0.30),
        entry("AAA", "select", 8),  # no put: below any return
        entry("DDD", "select", 8, annualized_return=0.20),
        entry("ABC", "select", 8),
    ]
    expected = ["BBB", "CCC", "DDD", "AAA", "ABC"]
    assert [r.symbol for r in rank(entries, 10)] == expected
    # Input order never matters.
    for seed in range(5):
        shuffled = entries[:]
        random.Random(seed).shuffle(shuffled)
        assert [r.symbol for r in rank(shuffled, 10)] == expected


def test_top_n_cuts_and_empty_input() -> None:
    entries = [entry(s, "watchlist", i) for i, s in enumerate(["A", "B", "C", "D"])]
    assert [r.symbol for r in rank(entries, 2)] == ["D", "C"]
    assert rank([], 5) == []


def test_screen_entry_keeps_the_key_numbers() -> None:
    options = fake_options("KO")
    result = AnalysisResult(
        symbol="KO",
        strategy="csp",
        recommendation="select",
        score=4,
        chart=fake_chart("KO", score=7),
        options=options,
        research=fake_research("KO"),
        completed_at="2026-11-25T16:00:00Z",
        analysis_id=42,
    )
    e = screen_entry(result, "screen-1/KO")
    assert options.best is not None
    assert (e.symbol, e.recommendation, e.score, e.chart_score) == ("KO", "select", 4, 7)
    assert (e.strike, e.annualized_return, e.expiration) == (
        options.best.strike,
        options.best.annualized_return,
        options.best.expiration,
    )
    assert (e.iv_rank, e.analysis_id, e.workflow_id) == (55, 42, "screen-1/KO")

    rejected = result.model_copy(update={"options": None, "research": None})
    e = screen_entry(rejected, "screen-1/KO")
    assert e.strike is None and e.annualized_return is None and e.iv_rank is None
