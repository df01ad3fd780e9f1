"""Research view from market metrics: premium richness, event risk, liquidity.

A metric the broker did not send is unknown: it scores nothing and the
reasons say so ("IV rank unknown"), never a judgement made on a zero.
"""

from __future__ import annotations

from datetime import date

from ttai.models.analysis import ResearchAnalysis, Sentiment
from ttai.models.market import MarketMetrics

IV_RANK_RICH = 50
IV_RANK_MIN = 30
HIGH_BETA = 1.5
LOW_LIQUIDITY = 2


def analyze_research(
    metrics: MarketMetrics, expiration: date | None, today: date
) -> ResearchAnalysis:
    points: list[tuple[int, str]] = []
    rank = metrics.iv_rank
    if rank is None:
        # Unknown is not thin: no point either way, and said so.
        points.append((0, "IV rank unknown"))
    elif rank >= IV_RANK_RICH:
        points.append((1, f"IV rank {rank:.0f}: rich premium"))
    elif rank >= IV_RANK_MIN:
        points.append((0, f"IV rank {rank:.0f}: acceptable premium"))
    else:
        points.append((-1, f"IV rank {rank:.0f}: thin premium"))

    horizon = expiration
    earnings_before_expiry = bool(
        metrics.next_earnings is not None
        and horizon is not None
        and today <= metrics.next_earnings <= horizon
    )
    if earnings_before_expiry:
        points.append((-2, f"earnings on {metrics.next_earnings} before expiry {horizon}"))
    if metrics.liquidity_rating is None:
        points.append((0, "liquidity rating unknown"))
    elif metrics.liquidity_rating < LOW_LIQUIDITY:
        points.append((-1, f"liquidity rating {metrics.liquidity_rating}: thin market"))
    if metrics.beta is None:
        points.append((0, "beta unknown"))
    elif metrics.beta > HIGH_BETA:
        points.append((-1, f"beta {metrics.beta:.2f}: swings harder than the market"))

    total = sum(p for p, _ in points)
    sentiment: Sentiment = "positive" if total >= 1 else "negative" if total <= -1 else "neutral"
    return ResearchAnalysis(
        symbol=metrics.symbol,
        iv_rank=metrics.iv_rank,
        iv_percentile=metrics.iv_percentile,
        liquidity_rating=metrics.liquidity_rating,
        beta=metrics.beta,
        next_earnings=metrics.next_earnings,
        earnings_before_expiry=earnings_before_expiry,
        sentiment=sentiment,
        reasons=[reason for _, reason in points],
    )
