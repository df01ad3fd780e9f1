"""AnalysisWorkflow: chart -> options -> research -> synthesis -> save -> notify."""

from __future__ import annotations

from temporalio import workflow

from workflows.bounds import require_bounded_id
from workflows.policies import BROKER_STEP, COMPUTE_STEP, DURABLE_STEP, on_lane

with workflow.unsafe.imports_passed_through():
    from activities.analysis import AnalysisActivities
    from ttai.models.analysis import (
        AnalysisInput,
        AnalysisResult,
        AnalysisStage,
        OptionsRequest,
        ResearchRequest,
        SaveAnalysisRequest,
        SymbolRequest,
        Synthesis,
        SynthesisRequest,
    )
    from ttai.temporal import search_attributes
    from ttai.temporal.lanes import BULK


@workflow.defn(name="AnalysisWorkflow")
class AnalysisWorkflow:
    def __init__(self) -> None:
        self._stage = "starting"

    @workflow.query(name="stage")
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
        self._enter("chart")
        chart = await workflow.execute_activity_method(
            AnalysisActivities.chart_analysis,
            SymbolRequest(symbol=request.symbol),
            **BROKER_STEP,
            **on_lane(BULK),
        )
        options = research = None
        if chart.recommendation == "reject":
            # As the original: a chart reject ends the analysis, saved but not notified.
            synthesis = Synthesis(score=0, recommendation="reject")
        else:
            self._enter("options")
            options = await workflow.execute_activity_method(
                AnalysisActivities.options_analysis,
                OptionsRequest(symbol=request.symbol, strategy=request.strategy, chart=chart),
                **BROKER_STEP,
                **on_lane(BULK),
            )
            self._enter("research")
            research = await workflow.execute_activity_method(
                AnalysisActivities.research_analysis,
                ResearchRequest(
                    symbol=request.symbol,
                    expiration=options.best.expiration if options.best else None,
                ),
                **BROKER_STEP,
                **on_lane(BULK),
            )
            self._enter("synthesis")
            synthesis = await workflow.execute_local_activity_method(
                AnalysisActivities.synthesize,
                SynthesisRequest(chart=chart, options=options, research=research),
                **COMPUTE_STEP,
            )
        result = AnalysisResult(
            symbol=request.symbol,
            strategy=request.strategy,
            recommendation=synthesis.recommendation,
            score=synthesis.score,
            chart=chart,
            options=options,
            research=research,
            completed_at=workflow.now(),
        )
        self._enter("save")
        info = workflow.info()
        saved = await workflow.execute_activity_method(
            AnalysisActivities.save_analysis,
            SaveAnalysisRequest(
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                result=result,
                screen_id=request.screen_id,
            ),
            **DURABLE_STEP,
        )
        result = result.model_copy(update={"analysis_id": saved.analysis_id})
        workflow.upsert_search_attributes(
            [search_attributes.RECOMMENDATION.value_set(result.recommendation)]
        )
        if request.notify and chart.recommendation != "reject":
            self._enter("notify")
            await workflow.execute_activity_method(
                AnalysisActivities.notify_analysis, result, **DURABLE_STEP
            )
        self._enter("done")
        return result
