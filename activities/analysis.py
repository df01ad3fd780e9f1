"""The analysis pipeline's steps. Each is small and idempotent."""

from __future__ import annotations

from temporalio import activity

from activities.errors import classified_errors
from ttai import telemetry
from ttai.broker import Broker
from ttai.db.analyses import AnalysisStore
from ttai.domain.analytics.csp import analyze_csp
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
from ttai.models.notifications import NotifyResult
from ttai.notify.messages import analysis_notification
from ttai.notify.outbox import Outbox

CANDLE_DAYS = 260  # SMA 200 plus room for swing lows


class AnalysisActivities:
    def __init__(self, broker: Broker, store: AnalysisStore, outbox: Outbox) -> None:
        self._broker = broker
        self._store = store
        self._outbox = outbox

    @activity.defn(name="chart_analysis")
    async def chart_analysis(self, request: SymbolRequest) -> ChartAnalysis:
        with classified_errors():
            candles = await self._broker.get_daily_candles(request.symbol, CANDLE_DAYS)
            return analyze_chart(request.symbol, candles)

    @activity.defn(name="options_analysis")
    async def options_analysis(self, request: OptionsRequest) -> OptionsAnalysis:
        with classified_errors():
            # The dividend yield lowers the forward, hence the POP.
            metrics = await self._broker.get_market_metrics([request.symbol])
            chain = await self._broker.get_option_chain(request.symbol)
            today = new_york_date(await self._broker.now())
            return analyze_csp(chain, request.chart, today, metrics[request.symbol].dividend_yield)

    @activity.defn(name="research_analysis")
    async def research_analysis(self, request: ResearchRequest) -> ResearchAnalysis:
        with classified_errors():
            metrics = await self._broker.get_market_metrics([request.symbol])
            today = new_york_date(await self._broker.now())
            return analyze_research(metrics[request.symbol], request.expiration, today)

    @activity.defn(name="synthesize_analysis")
    async def synthesize(self, request: SynthesisRequest) -> Synthesis:
        return synthesize(request.chart, request.options, request.research)

    @activity.defn(name="save_analysis")
    async def save_analysis(self, request: SaveAnalysisRequest) -> SaveAnalysisResult:
        saved = await self._store.save(
            request.workflow_id, request.run_id, request.result, request.screen_id
        )
        if saved.created:
            telemetry.count("ttai_analyses_total", recommendation=request.result.recommendation)
        return saved

    @activity.defn(name="notify_analysis")
    async def notify_analysis(self, request: AnalysisResult) -> NotifyResult:
        info = activity.info()
        notification = analysis_notification(info.workflow_id, info.workflow_run_id, request)
        return await self._outbox.publish(notification)
