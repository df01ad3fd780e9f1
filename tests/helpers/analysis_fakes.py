"""Fake analysis activities with the real names, for workflow tests.

They return fixed, plausible models and record every call, so tests can
assert what the workflow did (which steps, how often, with what).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeats import heartbeating
from ttai.domain.analytics.ranking import screen_entry
from ttai.domain.analytics.synthesis import synthesize
from ttai.models.analysis import (
    AnalysisResult,
    ChartAnalysis,
    OptionsAnalysis,
    OptionsRequest,
    PutCandidate,
    ResearchAnalysis,
    ResearchRequest,
    SaveAnalysisRequest,
    SaveAnalysisResult,
    SymbolRequest,
    Synthesis,
    SynthesisRequest,
)
from ttai.models.notifications import NotifyResult
from ttai.models.screen_steps import ScreenBatchInput, ScreenBatchResult, ScreenSymbolInput
from ttai.models.screener import ScreenEntry, ScreenFailure

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


class FakeAnalysisActivities:
    """`charts` maps a symbol to its chart recommendation; `unknown` symbols fail
    as the broker would; `flaky` counts transient failures to raise first."""

    def __init__(
        self,
        charts: dict[str, str] | None = None,
        unknown: frozenset[str] = frozenset(),
        flaky: int = 0,
    ) -> None:
        self.charts = charts or {}
        self.unknown = unknown
        self.flaky = flaky
        self.calls: Counter[str] = Counter()
        self.saved: dict[tuple[str, str], AnalysisResult] = {}
        self.notified: list[str] = []

    def _call(self, name: str) -> None:
        self.calls[name] += 1

    @activity.defn(name="chart_analysis")
    async def chart_analysis(self, request: SymbolRequest) -> ChartAnalysis:
        self._call("chart_analysis")
        if request.symbol in self.unknown:
            raise ApplicationError(
                f"unknown symbol: {request.symbol}", type="UnknownSymbol", non_retryable=True
            )
        if self.flaky > 0:
            self.flaky -= 1
            raise ApplicationError("broker unavailable: 503", type="BrokerUnavailable")
        recommendation = self.charts.get(request.symbol, "bullish")
        return fake_chart(request.symbol, recommendation, 2 if recommendation == "reject" else 8)

    @activity.defn(name="options_analysis")
    async def options_analysis(self, request: OptionsRequest) -> OptionsAnalysis:
        self._call("options_analysis")
        return fake_options(request.symbol)

    @activity.defn(name="research_analysis")
    async def research_analysis(self, request: ResearchRequest) -> ResearchAnalysis:
        self._call("research_analysis")
        return fake_research(request.symbol)

    @activity.defn(name="synthesize_analysis")
    async def synthesize(self, request: SynthesisRequest) -> Synthesis:
        self._call("synthesize_analysis")
        return synthesize(request.chart, request.options, request.research)

    @activity.defn(name="save_analysis")
    async def save_analysis(self, request: SaveAnalysisRequest) -> SaveAnalysisResult:
        self._call("save_analysis")
        key = (request.workflow_id, request.run_id)
        created = key not in self.saved
        self.saved.setdefault(key, request.result)
        return SaveAnalysisResult(analysis_id=list(self.saved).index(key) + 1, created=created)

    @activity.defn(name="notify_analysis")
    async def notify_analysis(self, request: AnalysisResult) -> NotifyResult:
        self._call("notify_analysis")
        self.notified.append(request.symbol)
        return NotifyResult(notification_id=len(self.notified), delivered=True, duplicate=False)

    @activity.defn(name="screen_symbol")
    async def screen_symbol(self, request: ScreenSymbolInput) -> ScreenEntry:
        """A screen's symbol as the real activity runs it: the steps above in
        AnalysisWorkflow's order, one save per (screen, symbol), heartbeats
        once it runs long (so a blocked step can be cancelled)."""
        self._call("screen_symbol")
        return await self._screen_one(request)

    @activity.defn(name="screen_symbols")
    async def screen_symbols(self, request: ScreenBatchInput) -> ScreenBatchResult:
        """Symbols one after the other as the real batch activity does: permanent
        failures reported, others handed back, cancelled: what finished."""
        self._call("screen_symbols")
        entries: list[ScreenEntry] = []
        failures: list[ScreenFailure] = []
        retry_alone: list[str] = []
        done = 0
        try:
            for symbol in request.symbols:
                one = ScreenSymbolInput(
                    screen_id=request.screen_id,
                    screen_run_id=request.screen_run_id,
                    symbol=symbol,
                    strategy=request.strategy,
                )
                try:
                    entries.append(await self._screen_one(one))
                except ApplicationError as err:
                    if err.non_retryable:
                        failures.append(
                            ScreenFailure(symbol=symbol, reason=err.message, error_type=err.type)
                        )
                    else:
                        retry_alone.append(symbol)
                done += 1
        except asyncio.CancelledError:
            pass
        return ScreenBatchResult(
            entries=entries,
            failures=failures,
            retry_alone=retry_alone,
            unfinished=request.symbols[done:],
        )

    async def _screen_one(self, request: ScreenSymbolInput) -> ScreenEntry:
        key = (f"{request.screen_id}/{request.symbol}", request.screen_run_id)
        if key not in self.saved:
            async with heartbeating():
                chart = await self.chart_analysis(SymbolRequest(symbol=request.symbol))
                options = research = None
                if chart.recommendation == "reject":
                    synthesis = Synthesis(score=0, recommendation="reject")
                else:
                    options = await self.options_analysis(
                        OptionsRequest(symbol=request.symbol, chart=chart)
                    )
                    research = await self.research_analysis(ResearchRequest(symbol=request.symbol))
                    synthesis = await self.synthesize(
                        SynthesisRequest(chart=chart, options=options, research=research)
                    )
            result = AnalysisResult(
                symbol=request.symbol, strategy=request.strategy,
                recommendation=synthesis.recommendation, score=synthesis.score, chart=chart,
                options=options, research=research, completed_at=datetime(2026, 11, 25, tzinfo=UTC),
            )  # fmt: skip
            await self.save_analysis(
                SaveAnalysisRequest(
                    workflow_id=key[0], run_id=key[1], result=result, screen_id=request.screen_id
                )
            )
        analysis_id = list(self.saved).index(key) + 1
        saved = self.saved[key].model_copy(update={"analysis_id": analysis_id})
        return screen_entry(saved, key[0])

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.screen_symbols,
            self.screen_symbol,
            self.chart_analysis,
            self.options_analysis,
            self.research_analysis,
            self.synthesize,
            self.save_analysis,
            self.notify_analysis,
        ]
