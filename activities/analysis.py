"""The analysis pipeline's steps, and the whole pipeline for one symbol of a screen.

AnalysisWorkflow runs the steps one activity at a time (chart, options,
research, synthesis, save). A screen runs `analyse` + the save in one activity
per symbol (`screen_symbol`): the same step code, called in sequence.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, date, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import classified_errors
from activities.heartbeats import heartbeating, uncancellable
from ttai.broker.base import Broker
from ttai.db.analyses import AnalysisStore
from ttai.domain.analytics.csp import analyze_csp
from ttai.domain.analytics.ranking import screen_entry
from ttai.domain.analytics.research import analyze_research
from ttai.domain.analytics.synthesis import synthesize
from ttai.domain.analytics.technicals import analyze_chart
from ttai.domain.market_calendar import new_york_date
from ttai.models.analysis import (
    AnalysisResult,
    ChartAnalysis,
    OptionsAnalysis,
    OptionsRequest,
    ResearchAnalysis,
    ResearchRequest,
    SaveAnalysisRequest,
    SaveAnalysisResult,
    SymbolRequest,
    Synthesis,
    SynthesisRequest,
)
from ttai.models.common import Strategy
from ttai.models.market import MarketMetrics
from ttai.models.notifications import NotifyResult
from ttai.models.screen_steps import ScreenBatchInput, ScreenBatchResult, ScreenSymbolInput
from ttai.models.screener import MAX_REASON_LENGTH, ScreenEntry, ScreenFailure
from ttai.notify.messages import analysis_notification
from ttai.notify.outbox import Outbox
from ttai.telemetry.metrics import count

CANDLE_DAYS = 260  # SMA 200 plus room for swing lows


class AnalysisActivities:
    def __init__(self, broker: Broker, store: AnalysisStore, outbox: Outbox) -> None:
        self._broker = broker
        self._store = store
        self._outbox = outbox

    # -- the steps, as plain coroutines (the activities below and `analyse` share them)

    async def chart(self, symbol: str) -> ChartAnalysis:
        candles = await self._broker.get_daily_candles(symbol, CANDLE_DAYS)
        return analyze_chart(symbol, candles)

    async def _metrics(self, symbol: str) -> MarketMetrics:
        return (await self._broker.get_market_metrics([symbol]))[symbol]

    async def options(
        self, symbol: str, chart: ChartAnalysis, metrics: MarketMetrics | None = None
    ) -> OptionsAnalysis:
        # The dividend yield lowers the forward, hence the POP.
        metrics = metrics or await self._metrics(symbol)
        chain = await self._broker.get_option_chain(symbol)
        today = new_york_date(await self._broker.now())
        return analyze_csp(chain, chart, today, metrics.dividend_yield)

    async def research(
        self, symbol: str, expiration: date | None, metrics: MarketMetrics | None = None
    ) -> ResearchAnalysis:
        metrics = metrics or await self._metrics(symbol)
        today = new_york_date(await self._broker.now())
        return analyze_research(metrics, expiration, today)

    async def analyse(self, symbol: str, strategy: Strategy = "csp") -> AnalysisResult:
        """The whole pipeline, in AnalysisWorkflow's order: chart, then (unless the
        chart rejects) options, research and synthesis."""
        chart = await self.chart(symbol)
        options = research = None
        if chart.recommendation == "reject":
            # As the original: a chart reject ends the analysis.
            synthesis = Synthesis(score=0, recommendation="reject")
        else:
            # One metrics read serves both steps (the step activities read it each).
            metrics = await self._metrics(symbol)
            options = await self.options(symbol, chart, metrics)
            research = await self.research(
                symbol, options.best.expiration if options.best else None, metrics
            )
            synthesis = synthesize(chart, options, research)
        return AnalysisResult(
            symbol=symbol,
            strategy=strategy,
            recommendation=synthesis.recommendation,
            score=synthesis.score,
            chart=chart,
            options=options,
            research=research,
            completed_at=datetime.now(UTC),
        )

    async def screen_symbol_once(
        self,
        request: ScreenSymbolInput,
        while_analysing: AbstractAsyncContextManager[None] | None = None,
    ) -> ScreenEntry:
        """Analyse and save one symbol of a screen, at most once per (screen, symbol).

        The row's key is (`<screen>/<symbol>`, the screen's first run ID). A
        retry, or another worker after a crash, that finds the row returns it
        without reading the broker again. Once the save has started it runs to
        its end: a symbol whose analysis is written always reports it.
        """
        key = f"{request.screen_id}/{request.symbol}"
        saved = await self._store.find(key, request.screen_run_id)
        if saved is None:
            async with while_analysing or nullcontext():
                result = await self.analyse(request.symbol, request.strategy)
            row = await uncancellable(
                self._store.save(key, request.screen_run_id, result, request.screen_id)
            )
            if row.created:
                count("ttai_analyses_total", recommendation=result.recommendation)
            saved = result.model_copy(update={"analysis_id": row.analysis_id})
        return screen_entry(saved, key)

    # -- the activities ----------------------------------------------------------------

    @activity.defn(name="screen_symbol")
    async def screen_symbol(self, request: ScreenSymbolInput) -> ScreenEntry:
        """A screen's symbol: the whole pipeline and the save in one activity."""
        with classified_errors():
            return await self.screen_symbol_once(request, heartbeating())

    @activity.defn(name="screen_symbols")
    async def screen_symbols(self, request: ScreenBatchInput) -> ScreenBatchResult:
        """A screen's symbols, one after the other, each as `screen_symbol` does it.

        One symbol's failure stays its own: a permanent one (unknown symbol, bad
        data) is reported as failed, any other is handed back for the screen to
        retry alone. A retry of the whole activity (its worker died) resumes:
        the symbols already saved are found, not analysed again. Cancelled, it
        returns what finished and what it did not reach.
        """
        entries: list[ScreenEntry] = []
        failures: list[ScreenFailure] = []
        retry_alone: list[str] = []
        done = 0
        try:
            this = asyncio.current_task()
            async with heartbeating():
                for symbol in request.symbols:
                    if this is not None and this.cancelling():
                        break  # cancelled during a save, which was let finish
                    one = ScreenSymbolInput(
                        screen_id=request.screen_id,
                        screen_run_id=request.screen_run_id,
                        symbol=symbol,
                        strategy=request.strategy,
                    )
                    try:
                        with classified_errors():
                            entries.append(await self.screen_symbol_once(one))
                    except ApplicationError as err:
                        if err.non_retryable:
                            reason = err.message[:MAX_REASON_LENGTH] or err.type or "failed"
                            failures.append(
                                ScreenFailure(symbol=symbol, reason=reason, error_type=err.type)
                            )
                        else:
                            retry_alone.append(symbol)
                    except Exception as err:  # any other failure: retried alone
                        activity.logger.warning("%s: to be retried alone after %r", symbol, err)
                        retry_alone.append(symbol)
                    done += 1
        except asyncio.CancelledError:
            pass  # cancelled: what finished, and what was not reached
        return ScreenBatchResult(
            entries=entries,
            failures=failures,
            retry_alone=retry_alone,
            unfinished=request.symbols[done:],
        )

    @activity.defn(name="chart_analysis")
    async def chart_analysis(self, request: SymbolRequest) -> ChartAnalysis:
        with classified_errors():
            return await self.chart(request.symbol)

    @activity.defn(name="options_analysis")
    async def options_analysis(self, request: OptionsRequest) -> OptionsAnalysis:
        with classified_errors():
            return await self.options(request.symbol, request.chart)

    @activity.defn(name="research_analysis")
    async def research_analysis(self, request: ResearchRequest) -> ResearchAnalysis:
        with classified_errors():
            return await self.research(request.symbol, request.expiration)

    @activity.defn(name="synthesize_analysis")
    async def synthesize(self, request: SynthesisRequest) -> Synthesis:
        return synthesize(request.chart, request.options, request.research)

    @activity.defn(name="save_analysis")
    async def save_analysis(self, request: SaveAnalysisRequest) -> SaveAnalysisResult:
        saved = await self._store.save(
            request.workflow_id, request.run_id, request.result, request.screen_id
        )
        if saved.created:
            count("ttai_analyses_total", recommendation=request.result.recommendation)
        return saved

    @activity.defn(name="notify_analysis")
    async def notify_analysis(self, request: AnalysisResult) -> NotifyResult:
        info = activity.info()
        notification = analysis_notification(info.workflow_id, info.workflow_run_id, request)
        return await self._outbox.publish(notification)
