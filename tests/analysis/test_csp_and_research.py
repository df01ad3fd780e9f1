"""Put selection and research rules on hand-built data."""

from __future__ import annotations

import math
import warnings
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from activities.analysis import AnalysisActivities
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.market import SimulatedMarket
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.domain.analytics.csp import RISK_FREE_RATE, analyze_csp, annualized_return
from ttai.domain.analytics.research import analyze_research
from ttai.models.analysis import ChartAnalysis, OptionsRequest, ResearchRequest, SymbolRequest
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


def digital_reference(spot: float, level: float, years: float, vol: float, q: float) -> float:
    """P(S_T >= level) = -e^(rT) dC/dK at K = level, from py_vollib's BSM call prices."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # py_vollib -> vollib rename
        from py_vollib.black_scholes_merton import black_scholes_merton as bsm
    h = 1e-3
    up = bsm("c", spot, level + h, years, RISK_FREE_RATE, vol, q)
    down = bsm("c", spot, level - h, years, RISK_FREE_RATE, vol, q)
    return -math.exp(RISK_FREE_RATE * years) * (up - down) / (2 * h)


@pytest.mark.parametrize("q", [0.0, 0.015, 0.03, 0.06])
def test_pop_includes_the_dividend_yield(q: float) -> None:
    result = analyze_csp(
        chain(put(92, -0.25, 1.40, 1.50, 300)), chart(93.0), TODAY, dividend_yield=q
    )
    assert result.best is not None
    expected = digital_reference(100.0, 92 - 1.45, 37 / 365, 0.30, q)
    assert result.best.probability_of_profit == pytest.approx(expected, abs=2e-6)


BORDERLINE = put(97, -0.30, 2.02, 2.12, 500)  # breakeven 94.93, 37 DTE, IV 30 %


def test_a_dividend_yield_pushes_a_borderline_put_below_the_70_percent_cut() -> None:
    without = analyze_csp(chain(BORDERLINE), chart(None), TODAY)
    assert without.best is not None
    assert without.best.probability_of_profit == pytest.approx(0.7052, abs=1e-4)
    assert without.recommendation == "select"
    with_dividend = analyze_csp(chain(BORDERLINE), chart(None), TODAY, dividend_yield=0.03)
    assert with_dividend.best is not None
    # About one point lower at a 3 % yield: the forward is lower by q x T.
    assert with_dividend.best.probability_of_profit == pytest.approx(0.6941, abs=1e-4)
    assert with_dividend.recommendation == "watchlist"
    assert "POP 69% below 70%" in with_dividend.reasons


async def test_options_step_prices_pop_with_the_brokers_dividend_yield() -> None:
    at = datetime(2026, 11, 25, 15, tzinfo=UTC)
    broker = DatedBroker(at, chain(BORDERLINE), metrics(dividend_yield=0.03))
    steps = AnalysisActivities(broker, None, None)  # type: ignore[arg-type]
    options = await steps.options_analysis(OptionsRequest(symbol="XYZ", chart=chart(None)))
    assert options.best is not None
    assert options.best.probability_of_profit == pytest.approx(
        digital_reference(100.0, 97 - 2.07, 37 / 365, 0.30, 0.03), abs=2e-6
    )
    assert options.recommendation == "watchlist"


def test_illiquid_best_is_only_watchlist_and_no_candidates_reject() -> None:
    thin = analyze_csp(chain(put(95, -0.28, 1.50, 2.00, 20)), chart(None), TODAY)
    assert thin.recommendation == "watchlist"
    assert any("illiquid" in r for r in thin.reasons)
    none = analyze_csp(chain(put(80, -0.05, 0.1, 0.2, 900)), chart(None), TODAY)
    assert none.recommendation == "reject" and none.best is None


def test_a_put_without_iv_or_delta_is_never_scored() -> None:
    """Issue 20: an IV of 0 (missing) made a POP of 100 % and a "select"."""
    no_iv = put(92, -0.25, 1.40, 1.50, 300).model_copy(update={"implied_volatility": None})
    no_delta = put(93, -0.25, 1.60, 1.70, 300).model_copy(update={"delta": None})
    rejected = analyze_csp(chain(no_iv, no_delta), chart(None), TODAY)
    assert (rejected.recommendation, rejected.best, rejected.candidates_considered) == (
        "reject", None, 0,
    )  # fmt: skip
    assert rejected.reasons[1:] == [
        "1 put not scored: IV unknown",
        "1 put not scored: delta unknown",
    ]
    # Beside a scored put, the unknown ones are never picked, and the reasons say so.
    known = put(90, -0.22, 1.00, 1.10, 500)
    picked = analyze_csp(chain(no_iv, known, no_delta), chart(None), TODAY)
    assert picked.best is not None and picked.best.strike == 90
    assert picked.candidates_considered == 1
    assert "1 put not scored: IV unknown" in picked.reasons
    # An open interest nobody sent is unknown: illiquid, and said so.
    thin = analyze_csp(chain(known.model_copy(update={"open_interest": None})), chart(None), TODAY)
    assert thin.recommendation == "watchlist"
    assert any(r.startswith("illiquid: open interest unknown") for r in thin.reasons)


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


def test_research_says_what_is_unknown() -> None:
    """Issue 20: a missing IV rank read as 0 gave "IV rank 0: thin premium"."""
    unknown = analyze_research(
        metrics(iv_rank=None, iv_percentile=None, liquidity_rating=None, beta=None),
        EXPIRY,
        TODAY,
    )
    assert unknown.reasons == ["IV rank unknown", "liquidity rating unknown", "beta unknown"]
    assert unknown.sentiment == "neutral"  # unknown is neither rich nor thin
    assert (unknown.iv_rank, unknown.iv_percentile, unknown.beta) == (None, None, None)


# -- "today" is the New York date (issue 13 #2) ---------------------------------

NY = ZoneInfo("America/New_York")
# Wednesday 14 Oct 2026 (EDT, UTC-4): from 20:00 New York time the UTC date is
# already the 15th.
OCT_14 = date(2026, 10, 14)
NOV_13 = date(2026, 11, 13)  # 30 days after 14 Oct, 29 after 15 Oct


class DatedBroker:
    """The two reads the options and research steps make, on a fixed clock."""

    name = "fake"

    def __init__(self, at: datetime, chain: OptionChain, metrics: MarketMetrics) -> None:
        self.at, self.chain, self.metrics = at, chain, metrics

    async def get_option_chain(self, symbol: str) -> OptionChain:
        return self.chain

    async def get_market_metrics(self, symbols: list[str]) -> dict[str, MarketMetrics]:
        return {s: self.metrics for s in symbols}

    async def now(self) -> datetime:
        return self.at.astimezone(UTC)  # brokers answer in UTC


@pytest.mark.parametrize("hour, minute", [(9, 30), (15, 0), (20, 0), (21, 30), (23, 59)])
async def test_options_and_research_steps_count_days_from_the_new_york_date(
    hour: int, minute: int
) -> None:
    at = datetime.combine(OCT_14, time(hour, minute), NY)
    broker = DatedBroker(
        at,
        chain(put(92, -0.25, 1.40, 1.50, 300, expiry=NOV_13)),
        # Reports today (after the close): still "before expiry" all day in New York.
        metrics(next_earnings=OCT_14),
    )
    steps = AnalysisActivities(broker, None, None)  # type: ignore[arg-type]
    options = await steps.options_analysis(OptionsRequest(symbol="XYZ", chart=chart(93.0)))
    assert options.best is not None, options.reasons
    assert options.best.days_to_expiry == 30  # not 29 once UTC has passed midnight
    research = await steps.research_analysis(ResearchRequest(symbol="XYZ", expiration=NOV_13))
    assert research.earnings_before_expiry


async def test_simulated_analysis_after_the_close_keeps_the_sessions_dte() -> None:
    """The issue's example: at 21:30 EDT the options step saw 30 DTE instead of 31."""
    results = []
    for hour in (16, 21):
        at = datetime.combine(OCT_14, time(hour, 30), NY)
        market = SimulatedMarket(seed=7, clock=lambda at=at: at.astimezone(UTC))
        broker = SimulatedBroker(market, InMemoryPaperAccount())
        steps = AnalysisActivities(broker, None, None)  # type: ignore[arg-type]
        chart_result = await steps.chart_analysis(SymbolRequest(symbol="AAPL"))
        options = await steps.options_analysis(OptionsRequest(symbol="AAPL", chart=chart_result))
        results.append(options)
    before, after = results
    assert before.best is not None and after.best is not None
    assert after.best.occ_symbol == before.best.occ_symbol
    assert after.best.days_to_expiry == before.best.days_to_expiry
