"""Put selection and research rules on hand-built data."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest

from ttai.domain.analytics.csp import RISK_FREE_RATE, analyze_csp, annualized_return
from ttai.domain.analytics.research import analyze_research
from ttai.models.analysis import ChartAnalysis
from ttai.models.market import MarketMetrics, OptionChain, OptionQuote

TODAY = date(2026, 11, 25)
EXPIRY = date(2027, 1, 1)  # 37 days


def put(strike: float, delta: float, bid: float, ask: float, oi: int, expiry=EXPIRY) -> OptionQuote:
    return OptionQuote(
        occ_symbol=f"XYZ   {expiry:%y%m%d}P{int(strike * 1000):08d}", underlying="XYZ",
        expiration=expiry, strike=strike, kind="put", bid=bid, ask=ask, open_interest=oi,
        volume=10, implied_volatility=0.30, delta=delta, gamma=0.01, theta=-0.05, vega=0.1,
    )  # fmt: skip


def chart(support: float | None) -> ChartAnalysis:
    return ChartAnalysis(
        symbol="XYZ", as_of=TODAY, price=100, sma_20=99, sma_50=97, sma_200=90, rsi_14=45,
        atr_14=2, trend="uptrend", support=support, score=8, recommendation="bullish", reasons=[],
    )  # fmt: skip


def chain(*options: OptionQuote) -> OptionChain:
    return OptionChain(
        underlying="XYZ", underlying_price=100.0,
        as_of=datetime(2026, 11, 25, 15, tzinfo=UTC), options=list(options),
    )  # fmt: skip


def lognormal_probability_above(spot: float, level: float, years: float, vol: float) -> float:
    z = (math.log(level / spot) - (RISK_FREE_RATE - vol**2 / 2) * years) / (vol * math.sqrt(years))
    return 0.5 * math.erfc(z / math.sqrt(2))


def test_annualized_return_hand_worked() -> None:
    # 2.00 credit on a 100 strike for 36.5 days: 2/98 * 10 = 20.41 %
    assert annualized_return(2.0, 100.0, 36.5) == pytest.approx(0.204082, rel=1e-5)


def test_picks_liquid_put_below_support_with_best_return() -> None:
    result = analyze_csp(
        chain(
            put(90, -0.22, 1.00, 1.10, 500),
            put(92, -0.25, 1.40, 1.50, 300),
            put(95, -0.28, 1.90, 2.00, 50),  # best return, but thin open interest
            put(85, -0.15, 0.50, 0.60, 900),  # delta out of range
            put(92, -0.25, 3.00, 3.10, 900, expiry=date(2027, 2, 19)),  # 86 DTE
        ),
        chart(support=93.0),
        TODAY,
    )
    assert result.candidates_considered == 3
    best = result.best
    assert best is not None and best.strike == 92 and best.days_to_expiry == 37
    assert best.credit == pytest.approx(1.45)
    assert best.annualized_return == pytest.approx(1.45 / 90.55 * 365 / 37, rel=1e-5)
    assert best.probability_of_profit == pytest.approx(
        lognormal_probability_above(100.0, 90.55, 37 / 365, 0.30), abs=1e-6
    )
    assert best.below_support
    assert result.recommendation == "select"


def test_illiquid_best_is_only_watchlist_and_no_candidates_reject() -> None:
    thin = analyze_csp(chain(put(95, -0.28, 1.50, 2.00, 20)), chart(None), TODAY)
    assert thin.recommendation == "watchlist"
    assert any("illiquid" in r for r in thin.reasons)
    none = analyze_csp(chain(put(80, -0.05, 0.1, 0.2, 900)), chart(None), TODAY)
    assert none.recommendation == "reject" and none.best is None


def metrics(**overrides: object) -> MarketMetrics:
    values = dict(
        symbol="XYZ", iv_rank=55.0, iv_percentile=60.0, implied_volatility=0.3,
        liquidity_rating=4, beta=1.0, next_earnings=date(2027, 2, 1),
    )  # fmt: skip
    values.update(overrides)
    return MarketMetrics(**values)


def test_research_sentiment() -> None:
    assert analyze_research(metrics(), EXPIRY, TODAY).sentiment == "positive"
    assert analyze_research(metrics(iv_rank=35.0), EXPIRY, TODAY).sentiment == "neutral"
    earnings = analyze_research(metrics(next_earnings=date(2026, 12, 10)), EXPIRY, TODAY)
    assert earnings.earnings_before_expiry and earnings.sentiment == "negative"
    risky = analyze_research(metrics(iv_rank=20.0, beta=2.1), EXPIRY, TODAY)
    assert risky.sentiment == "negative" and len(risky.reasons) == 2
