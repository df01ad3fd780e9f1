"""The analysis steps, and a screen's whole analysis of one symbol.

AnalysisWorkflow runs the pipeline (ttai/domain/analytics/pipeline.py) one step
activity at a time: chart_analysis, options_analysis, research_analysis,
synthesize_analysis, then save and notify. A screen runs the same pipeline and
the save inside one activity per symbol (`screen_symbol`) or per batch
(`screen_symbols`), calling the steps in-process (`InProcessSteps`).
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
from ttai.domain.analytics import pipeline
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
from ttai.temporal.lanes import BULK
from ttai.temporal.steps import BATCH, BROKER, COMPUTE, DURABLE, SYMBOL, step

CANDLE_DAYS = 260  # SMA 200 plus room for swing lows


class BrokerReads:
    """What each step reads from the broker and computes from it."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def chart(self, symbol: str) -> ChartAnalysis:
        candles = await self._broker.get_daily_candles(symbol, CANDLE_DAYS)
        return analyze_chart(symbol, candles)

    async def metrics(self, symbol: str) -> MarketMetrics:
        return (await self._broker.get_market_metrics([symbol]))[symbol]

    async def options(
        self, symbol: str, chart: ChartAnalysis, metrics: MarketMetrics
    ) -> OptionsAnalysis:
        # The dividend yield lowers the forward, hence the POP.
        chain = await self._broker.get_option_chain(symbol)
        today = new_york_date(await self._broker.now())
        return analyze_csp(chain, chart, today, metrics.dividend_yield)

    async def research(
        self, symbol: str, expiration: date | None, metrics: MarketMetrics
    ) -> ResearchAnalysis:
        today = new_york_date(await self._broker.now())
        return analyze_research(metrics, expiration, today)


class InProcessSteps:
    """The pipeline's steps called in-process, for one symbol of a screen: one
    metrics read serves both the options and the research step."""

    def __init__(self, reads: BrokerReads) -> None:
        self._reads = reads
        self._metrics: MarketMetrics | None = None

    async def _metrics_of(self, symbol: str) -> MarketMetrics:
        if self._metrics is None:
            self._metrics = await self._reads.metrics(symbol)
        return self._metrics

    async def chart(self, symbol: str) -> ChartAnalysis:
        return await self._reads.chart(symbol)

    async def options(
        self, symbol: str, strategy: Strategy, chart: ChartAnalysis
    ) -> OptionsAnalysis:
        return await self._reads.options(symbol, chart, await self._metrics_of(symbol))

    async def research(self, symbol: str, expiration: date | None) -> ResearchAnalysis:
        return await self._reads.research(symbol, expiration, await self._metrics_of(symbol))

    async def synthesis(
        self, chart: ChartAnalysis, options: OptionsAnalysis, research: ResearchAnalysis
    ) -> Synthesis:
        return synthesize(chart, options, research)


class AnalysisActivities:
    def __init__(self, broker: Broker, store: AnalysisStore, outbox: Outbox) -> None:
        self._reads = BrokerReads(broker)
        self._store = store
        self._outbox = outbox

    async def analyze(self, symbol: str, strategy: Strategy = "csp") -> AnalysisResult:
        """The whole pipeline for one symbol, in this process."""
        steps = InProcessSteps(self._reads)
        return await pipeline.analyze(symbol, strategy, steps, now=lambda: datetime.now(UTC))

    async def screen_symbol_once(
        self,
        request: ScreenSymbolInput,
        while_analysing: AbstractAsyncContextManager[None] | None = None,
    ) -> ScreenEntry:
        """Analyze and save one symbol of a screen, at most once per (screen, symbol).

        The row's key is (`<screen>/<symbol>`, the screen's first run ID). A
        retry, or another worker after a crash, that finds the row returns it
        without reading the broker again. Once the save has started it runs to
        its end: a symbol whose analysis is written always reports it.
        """
        key = f"{request.screen_id}/{request.symbol}"
        saved = await self._store.find(key, request.screen_run_id)
        if saved is None:
            async with while_analysing or nullcontext():
                result = await self.analyze(request.symbol, request.strategy)
            row = await uncancellable(
                self._store.save(key, request.screen_run_id, result, request.screen_id)
            )
            if row.created:
                count("ttai_analyses_total", recommendation=result.recommendation)
            saved = result.model_copy(update={"analysis_id": row.analysis_id})
        return screen_entry(saved, key)

    # -- the activities ----------------------------------------------------------------

    @step(SYMBOL, lane=BULK)
    async def screen_symbol(self, request: ScreenSymbolInput) -> ScreenEntry:
        """A screen's symbol: the whole pipeline and the save in one activity."""
        with classified_errors():
            return await self.screen_symbol_once(request, heartbeating())

    @step(BATCH, lane=BULK)
    async def screen_symbols(self, request: ScreenBatchInput) -> ScreenBatchResult:
        """A screen's symbols, one after the other, each as `screen_symbol` does it.

        One symbol's failure stays its own: a permanent one (unknown symbol, bad
        data) is reported as failed, any other is handed back for the screen to
        retry alone. A retry of the whole activity (its worker died) resumes:
        the symbols already saved are found, not analyzed again. Cancelled, it
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

    @step(BROKER, lane=BULK)
    async def chart_analysis(self, request: SymbolRequest) -> ChartAnalysis:
        with classified_errors():
            return await self._reads.chart(request.symbol)

    @step(BROKER, lane=BULK)
    async def options_analysis(self, request: OptionsRequest) -> OptionsAnalysis:
        with classified_errors():
            metrics = await self._reads.metrics(request.symbol)
            return await self._reads.options(request.symbol, request.chart, metrics)

    @step(BROKER, lane=BULK)
    async def research_analysis(self, request: ResearchRequest) -> ResearchAnalysis:
        with classified_errors():
            metrics = await self._reads.metrics(request.symbol)
            return await self._reads.research(request.symbol, request.expiration, metrics)

    @step(COMPUTE)
    async def synthesize_analysis(self, request: SynthesisRequest) -> Synthesis:
        return synthesize(request.chart, request.options, request.research)

    @step(DURABLE)
    async def save_analysis(self, request: SaveAnalysisRequest) -> SaveAnalysisResult:
        saved = await self._store.save(
            request.workflow_id, request.run_id, request.result, request.screen_id
        )
        if saved.created:
            count("ttai_analyses_total", recommendation=request.result.recommendation)
        return saved

    @step(DURABLE)
    async def notify_analysis(self, request: AnalysisResult) -> NotifyResult:
        info = activity.info()
        notification = analysis_notification(info.workflow_id, info.workflow_run_id, request)
        return await self._outbox.publish(notification)
