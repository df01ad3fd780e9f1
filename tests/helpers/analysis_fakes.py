"""Fake analysis activities with the real names, for workflow tests.

The real AnalysisActivities with fake steps: chart, options and research
return fixed, plausible models, saves go to a dict, notifications to a list,
and every call is counted, so tests can assert what the workflow did (which
steps, how often, with what). The pipeline, the save-once screen activities
and their error handling are the real code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any, cast

from temporalio.exceptions import ApplicationError

from activities.analysis import AnalysisActivities, BrokerReads
from ttai.models.analysis import (
    AnalysisResult,
    ChartAnalysis,
    OptionsAnalysis,
    PutCandidate,
    ResearchAnalysis,
    SaveAnalysisResult,
    Synthesis,
    SynthesisRequest,
)
from ttai.models.market import MarketMetrics
from ttai.models.notifications import NotifyResult
from ttai.models.screen_steps import ScreenBatchInput, ScreenBatchResult, ScreenSymbolInput
from ttai.models.screener import ScreenEntry
from ttai.temporal.steps import same_step_as, steps_of

AS_OF = date(2026, 11, 25)


def fake_chart(symbol: str, recommendation: str = "bullish", score: float = 8) -> ChartAnalysis:
    return ChartAnalysis(
        symbol=symbol, as_of=AS_OF, price=100, sma_20=99, sma_50=97, sma_200=90, rsi_14=45,
        atr_14=2, trend="uptrend", support=93, score=score, recommendation=recommendation,
        reasons=["fake"],
    )  # fmt: skip


def fake_options(symbol: str) -> OptionsAnalysis:
    best = PutCandidate(
        occ_symbol=f"{symbol:<6}270101P00092000", strike=92, expiration=date(2027, 1, 1),
        days_to_expiry=37, credit=1.45, delta=-0.25, implied_volatility=0.3,
        annualized_return=0.158, probability_of_profit=0.8, bid_ask_spread=0.1,
        spread_pct=0.07, open_interest=300, below_support=True,
    )  # fmt: skip
    return OptionsAnalysis(
        symbol=symbol, strategy="csp", underlying_price=100, candidates_considered=3,
        best=best, recommendation="select", reasons=["fake"],
    )  # fmt: skip


def fake_research(symbol: str) -> ResearchAnalysis:
    return ResearchAnalysis(
        symbol=symbol, iv_rank=55, iv_percentile=60, liquidity_rating=4, beta=1.0,
        next_earnings=None, earnings_before_expiry=False, sentiment="positive", reasons=["fake"],
    )  # fmt: skip


class FakeReads(BrokerReads):
    """The broker reads of the steps, faked and counted on `owner`."""

    def __init__(self, owner: FakeAnalysisActivities) -> None:
        self._owner = owner

    async def chart(self, symbol: str) -> ChartAnalysis:
        owner = self._owner
        owner.calls["chart_analysis"] += 1
        if symbol in owner.unknown:
            raise ApplicationError(
                f"unknown symbol: {symbol}", type="UnknownSymbol", non_retryable=True
            )
        if owner.flaky > 0:
            owner.flaky -= 1
            raise ApplicationError("broker unavailable: 503", type="BrokerUnavailable")
        recommendation = owner.charts.get(symbol, "bullish")
        return fake_chart(symbol, recommendation, 2 if recommendation == "reject" else 8)

    async def metrics(self, symbol: str) -> MarketMetrics:
        return MarketMetrics(
            symbol=symbol, iv_rank=55, iv_percentile=60, implied_volatility=0.3,
            liquidity_rating=4, beta=1.0,
        )  # fmt: skip

    async def options(
        self, symbol: str, chart: ChartAnalysis, metrics: MarketMetrics
    ) -> OptionsAnalysis:
        self._owner.calls["options_analysis"] += 1
        return fake_options(symbol)

    async def research(
        self, symbol: str, expiration: date | None, metrics: MarketMetrics
    ) -> ResearchAnalysis:
        self._owner.calls["research_analysis"] += 1
        return fake_research(symbol)


class FakeAnalysisActivities(AnalysisActivities):
    """`charts` maps a symbol to its chart recommendation; `unknown` symbols fail
    as the broker would; `flaky` counts transient failures to raise first.

    `calls` counts each step under its activity's name, whether the step ran
    as that activity or inside a screen's `screen_symbol(s)`; the fake is its
    own AnalysisStore (`find`, `save`, over `saved`)."""

    def __init__(
        self,
        charts: dict[str, str] | None = None,
        unknown: frozenset[str] = frozenset(),
        flaky: int = 0,
    ) -> None:
        # No broker (its reads are faked) and no outbox (notify_analysis is replaced).
        super().__init__(broker=cast(Any, None), store=cast(Any, self), outbox=cast(Any, None))
        self._reads = FakeReads(self)
        self.charts = charts or {}
        self.unknown = unknown
        self.flaky = flaky
        self.calls: Counter[str] = Counter()
        self.saved: dict[tuple[str, str], AnalysisResult] = {}
        self.notified: list[str] = []

    def _call(self, name: str) -> None:
        self.calls[name] += 1

    # -- the store ---------------------------------------------------------------------

    async def find(self, workflow_id: str, run_id: str) -> AnalysisResult | None:
        key = (workflow_id, run_id)
        if key not in self.saved:
            return None
        return self.saved[key].model_copy(update={"analysis_id": list(self.saved).index(key) + 1})

    async def save(
        self, workflow_id: str, run_id: str, result: AnalysisResult, screen_id: str | None
    ) -> SaveAnalysisResult:
        self._call("save_analysis")
        key = (workflow_id, run_id)
        created = key not in self.saved
        self.saved.setdefault(key, result)
        return SaveAnalysisResult(analysis_id=list(self.saved).index(key) + 1, created=created)

    # -- the activities that are counted as themselves ---------------------------------

    @same_step_as(AnalysisActivities.synthesize_analysis)
    async def synthesize_analysis(self, request: SynthesisRequest) -> Synthesis:
        self._call("synthesize_analysis")
        return await super().synthesize_analysis(request)

    @same_step_as(AnalysisActivities.notify_analysis)
    async def notify_analysis(self, request: AnalysisResult) -> NotifyResult:
        self._call("notify_analysis")
        self.notified.append(request.symbol)
        return NotifyResult(notification_id=len(self.notified), delivered=True, duplicate=False)

    @same_step_as(AnalysisActivities.screen_symbol)
    async def screen_symbol(self, request: ScreenSymbolInput) -> ScreenEntry:
        self._call("screen_symbol")
        return await super().screen_symbol(request)

    @same_step_as(AnalysisActivities.screen_symbols)
    async def screen_symbols(self, request: ScreenBatchInput) -> ScreenBatchResult:
        self._call("screen_symbols")
        return await super().screen_symbols(request)

    def all(self) -> list[Callable[..., Any]]:
        return steps_of(self)
