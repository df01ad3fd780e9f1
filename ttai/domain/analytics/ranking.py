"""Screen ranking, as the original: recommendation weight plus chart score / 10.

One rule for every ranking TTAI shows (a screen's top N, the weekly review's
top picks): a reject never ranks (`ranks`). A ranking with fewer candidates
than asked for is short, and says so (`shortfall`), rather than filling up
with rejects.

Pure and deterministic (it runs inside ScreenerWorkflow): equal scores are
ordered by the higher annualised return of the best put (none counts as
lowest), then by symbol, so a replay or a re-run ranks the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from ttai.models.analysis import AnalysisResult
from ttai.models.screener import RankedEntry, ScreenEntry

RECOMMENDATION_WEIGHT: dict[str, float] = {
    "strong_select": 4,
    "select": 3,
    "watchlist": 1,
    "reject": 0,
}


def rank_score(entry: ScreenEntry) -> float:
    # Rounded so float noise in chart scores cannot reorder equal-looking rows.
    return round(RECOMMENDATION_WEIGHT[entry.recommendation] + entry.chart_score / 10, 6)


def _order(entry: ScreenEntry) -> tuple[float, float, str]:
    annualized = entry.annualized_return if entry.annualized_return is not None else float("-inf")
    return (-rank_score(entry), -annualized, entry.symbol)


def ranks(recommendation: str) -> bool:
    """Whether an analysis with this recommendation may rank at all: not a reject."""
    return recommendation != "reject"


def rank(entries: Iterable[ScreenEntry], top_n: int, *, rejects: bool = False) -> list[RankedEntry]:
    """The best `top_n` entries that rank (`ranks`), best first, numbered from 1.

    `rejects=True` ranks rejects too: only screens started before the rule
    (ScreenerWorkflow's patch) replay that way.
    """
    ordered = sorted((e for e in entries if rejects or ranks(e.recommendation)), key=_order)[:top_n]
    return [
        RankedEntry(**entry.model_dump(), rank=position, rank_score=rank_score(entry))
        for position, entry in enumerate(ordered, start=1)
    ]


def shortfall(ranked: int, top_n: int) -> str | None:
    """What a ranking shorter than asked for says; None when it is full."""
    if ranked >= top_n:
        return None
    found = "no candidates" if ranked == 0 else f"only {ranked} candidate{'s' * (ranked > 1)}"
    return f"{found} for the top {top_n}: rejects never rank"


def screen_entry(result: AnalysisResult, workflow_id: str) -> ScreenEntry:
    """The key numbers of one analysis, small enough to carry 2,000 of across runs."""
    best = result.options.best if result.options else None
    return ScreenEntry(
        symbol=result.symbol,
        recommendation=result.recommendation,
        score=result.score,
        chart_score=result.chart.score,
        price=result.chart.price,
        trend=result.chart.trend,
        strike=best.strike if best else None,
        expiration=best.expiration if best else None,
        credit=best.credit if best else None,
        annualized_return=best.annualized_return if best else None,
        probability_of_profit=best.probability_of_profit if best else None,
        delta=best.delta if best else None,
        iv_rank=result.research.iv_rank if result.research else None,
        analysis_id=result.analysis_id,
        workflow_id=workflow_id,
    )
