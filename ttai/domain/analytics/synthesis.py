"""The original design's scoring, kept exactly: it is what traders know."""

from __future__ import annotations

from ttai.models.analysis import (
    ChartAnalysis,
    OptionsAnalysis,
    Recommendation,
    ResearchAnalysis,
    Synthesis,
)

_CHART_POINTS = {"bullish": 2, "neutral": 1}
_OPTIONS_POINTS = {"select": 2, "watchlist": 1}
_SENTIMENT_POINTS = {"positive": 1, "negative": -1}


def synthesize(
    chart: ChartAnalysis, options: OptionsAnalysis | None, research: ResearchAnalysis | None
) -> Synthesis:
    score = _CHART_POINTS.get(chart.recommendation, 0)
    if options is not None:
        score += _OPTIONS_POINTS.get(options.recommendation, 0)
    if research is not None:
        score += _SENTIMENT_POINTS.get(research.sentiment, 0)
    recommendation: Recommendation
    if score >= 4:
        recommendation = "strong_select"
    elif score >= 2:
        recommendation = "select"
    elif score >= 0:
        recommendation = "watchlist"
    else:
        recommendation = "reject"
    return Synthesis(score=score, recommendation=recommendation)
