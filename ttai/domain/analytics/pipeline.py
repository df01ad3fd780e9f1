"""The analysis pipeline, defined once: chart, then (unless the chart rejects) options,
research and synthesis.

Two callers run it with their own `AnalysisSteps`: AnalysisWorkflow, each step an
activity (workflows/analysis.py), and a screen's analysis activity, the steps called
in-process (activities/analysis.py). Deterministic given its steps: it reads no
clock of its own (`now` is the caller's) and does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Protocol

from ttai.models.analysis import (
    AnalysisResult,
    ChartAnalysis,
    OptionsAnalysis,
    ResearchAnalysis,
    Synthesis,
)
from ttai.models.common import Strategy


class AnalysisSteps(Protocol):
    async def chart(self, symbol: str) -> ChartAnalysis: ...

    async def options(
        self, symbol: str, strategy: Strategy, chart: ChartAnalysis
    ) -> OptionsAnalysis: ...

    async def research(self, symbol: str, expiration: date | None) -> ResearchAnalysis: ...

    async def synthesis(
        self, chart: ChartAnalysis, options: OptionsAnalysis, research: ResearchAnalysis
    ) -> Synthesis: ...


def _no_stage(stage: str) -> None:
    pass


async def analyze(
    symbol: str,
    strategy: Strategy,
    steps: AnalysisSteps,
    *,
    now: Callable[[], datetime],
    enter: Callable[[str], None] = _no_stage,
) -> AnalysisResult:
    """The whole analysis of `symbol`; `enter(stage)` is told each step as it starts."""
    enter("chart")
    chart = await steps.chart(symbol)
    options = research = None
    if chart.recommendation == "reject":
        # As the original: a chart reject ends the analysis (saved, not notified).
        synthesis = Synthesis(score=0, recommendation="reject")
    else:
        enter("options")
        options = await steps.options(symbol, strategy, chart)
        enter("research")
        research = await steps.research(symbol, options.best.expiration if options.best else None)
        enter("synthesis")
        synthesis = await steps.synthesis(chart, options, research)
    return AnalysisResult(
        symbol=symbol,
        strategy=strategy,
        recommendation=synthesis.recommendation,
        score=synthesis.score,
        chart=chart,
        options=options,
        research=research,
        completed_at=now(),
    )
