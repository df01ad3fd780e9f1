"""The original design's synthesis rule over its whole table."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from ttai.domain.analytics.synthesis import synthesize
from ttai.models.analysis import ChartAnalysis, OptionsAnalysis, ResearchAnalysis


def chart(recommendation: str) -> ChartAnalysis:
    return ChartAnalysis(
        symbol="AAPL", as_of=date(2026, 11, 25), price=100, sma_20=1, sma_50=1, sma_200=1,
        rsi_14=50, atr_14=1, trend="sideways", support=None, score=5,
        recommendation=recommendation, reasons=[],
    )  # fmt: skip


def options(recommendation: str | None) -> OptionsAnalysis | None:
    if recommendation is None:
        return None
    return OptionsAnalysis(
        symbol="AAPL", strategy="csp", underlying_price=100, candidates_considered=0,
        best=None, recommendation=recommendation, reasons=[],
    )  # fmt: skip


def research(sentiment: str | None) -> ResearchAnalysis | None:
    if sentiment is None:
        return None
    return ResearchAnalysis(
        symbol="AAPL", iv_rank=40, iv_percentile=40, liquidity_rating=3, beta=1,
        next_earnings=None, earnings_before_expiry=False, sentiment=sentiment, reasons=[],
    )  # fmt: skip


# Rows: options (select, watchlist, reject, none); columns: sentiment
# (positive, neutral, negative, none). S = strong_select, s = select,
# w = watchlist, r = reject. Worked by hand from the original's points:
# chart bullish 2 / neutral 1; options select 2 / watchlist 1; sentiment +1 / -1;
# >= 4 strong_select, >= 2 select, >= 0 watchlist, else reject.
TABLE = {
    "bullish": ["SSsS", "Ssss", "ssws", "ssws"],
    "neutral": ["Ssss", "ssws", "swww", "swww"],
    "bearish": ["ssws", "swww", "wwrw", "wwrw"],
    "reject": ["ssws", "swww", "wwrw", "wwrw"],
}
LETTERS = {"S": "strong_select", "s": "select", "w": "watchlist", "r": "reject"}
OPTIONS = ["select", "watchlist", "reject", None]
SENTIMENTS = ["positive", "neutral", "negative", None]


@pytest.mark.parametrize(
    ("chart_rec", "options_rec", "sentiment"),
    list(itertools.product(TABLE, OPTIONS, SENTIMENTS)),
)
def test_synthesis_table(chart_rec: str, options_rec: str | None, sentiment: str | None) -> None:
    row = TABLE[chart_rec][OPTIONS.index(options_rec)]
    expected = LETTERS[row[SENTIMENTS.index(sentiment)]]
    got = synthesize(chart(chart_rec), options(options_rec), research(sentiment))
    assert got.recommendation == expected
