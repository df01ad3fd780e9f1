"""AnalysisWorkflow: the analysis pipeline with each step an activity, then save and notify."""

from __future__ import annotations

from datetime import date

from temporalio import workflow

from workflows.bounds import require_bounded_id

with workflow.unsafe.imports_passed_through():
    from activities.analysis import AnalysisActivities
    from ttai.domain.analytics import pipeline
    from ttai.models.analysis import (
        ANALYSIS_WORKFLOW,
        STAGE_QUERY,
        AnalysisInput,
        AnalysisResult,
        AnalysisStage,
        ChartAnalysis,
        OptionsAnalysis,
        OptionsRequest,
        ResearchAnalysis,
        ResearchRequest,
        SaveAnalysisRequest,
        SymbolRequest,
        Synthesis,
        SynthesisRequest,
    )
    from ttai.models.common import Strategy
    from ttai.temporal import search_attributes
    from ttai.temporal.steps import run_step


class ActivitySteps:
    """The pipeline's steps as activities (chart, options and research on the bulk
    broker lane, synthesis a local activity): each one recorded in history."""

    async def chart(self, symbol: str) -> ChartAnalysis:
        return await run_step(AnalysisActivities.chart_analysis, SymbolRequest(symbol=symbol))

    async def options(
        self, symbol: str, strategy: Strategy, chart: ChartAnalysis
    ) -> OptionsAnalysis:
        request = OptionsRequest(symbol=symbol, strategy=strategy, chart=chart)
        return await run_step(AnalysisActivities.options_analysis, request)

    async def research(self, symbol: str, expiration: date | None) -> ResearchAnalysis:
        request = ResearchRequest(symbol=symbol, expiration=expiration)
        return await run_step(AnalysisActivities.research_analysis, request)

    async def synthesis(
        self, chart: ChartAnalysis, options: OptionsAnalysis, research: ResearchAnalysis
    ) -> Synthesis:
        request = SynthesisRequest(chart=chart, options=options, research=research)
        return await run_step(AnalysisActivities.synthesize_analysis, request)


@workflow.defn(name=ANALYSIS_WORKFLOW)
class AnalysisWorkflow:
    def __init__(self) -> None:
        self._stage = "starting"

    @workflow.query(name=STAGE_QUERY)
    def stage(self) -> AnalysisStage:
        return AnalysisStage(stage=self._stage)

    def _enter(self, stage: str) -> None:
        self._stage = stage
        workflow.set_current_details(f"stage: {stage}")

    @workflow.run
    async def run(self, request: AnalysisInput) -> AnalysisResult:
        require_bounded_id()  # `analysis:<ID>:<run ID>` keys its notification
        workflow.upsert_search_attributes(
            [
                search_attributes.SYMBOL.value_set(request.symbol),
                search_attributes.STRATEGY.value_set(request.strategy),
            ]
        )
        result = await pipeline.analyze(
            request.symbol, request.strategy, ActivitySteps(), now=workflow.now, enter=self._enter
        )
        self._enter("save")
        info = workflow.info()
        saved = await run_step(
            AnalysisActivities.save_analysis,
            SaveAnalysisRequest(
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                result=result,
                screen_id=request.screen_id,
            ),
        )
        result = result.model_copy(update={"analysis_id": saved.analysis_id})
        workflow.upsert_search_attributes(
            [search_attributes.RECOMMENDATION.value_set(result.recommendation)]
        )
        if request.notify and result.chart.recommendation != "reject":
            self._enter("notify")
            await run_step(AnalysisActivities.notify_analysis, result)
        self._enter("done")
        return result
