"""Inputs and results of AnalysisWorkflow and its activities."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from ttai.models.common import Model, RunId, ScreenId, Strategy, Symbol, WorkflowId

ChartRecommendation = Literal["bullish", "neutral", "bearish", "reject"]
OptionsRecommendation = Literal["select", "watchlist", "reject"]
Sentiment = Literal["positive", "neutral", "negative"]
Recommendation = Literal["strong_select", "select", "watchlist", "reject"]

ANALYSIS_WORKFLOW = "AnalysisWorkflow"
STAGE_QUERY = "stage"
"""AnalysisWorkflow's query: which step a running analysis is in (AnalysisStage)."""


class AnalysisInput(Model):
    symbol: Symbol
    strategy: Strategy = "csp"
    notify: bool = True
    screen_id: ScreenId | None = Field(
        default=None, description="Set by ScreenerWorkflow; stored with the saved analysis."
    )


class AnalysisStage(Model):
    """The `stage` query: which step a running analysis is in."""

    stage: str


class SymbolRequest(Model):
    symbol: Symbol


class ChartAnalysis(Model):
    symbol: Symbol
    as_of: date
    price: float
    sma_20: float
    sma_50: float
    sma_200: float
    rsi_14: float
    atr_14: float
    trend: Literal["uptrend", "downtrend", "sideways"]
    support: float | None = Field(description="Nearest swing low below the price.")
    score: float = Field(ge=0, le=10)
    recommendation: ChartRecommendation
    reasons: list[str]


class OptionsRequest(Model):
    symbol: Symbol
    strategy: Strategy = "csp"
    chart: ChartAnalysis


class PutCandidate(Model):
    occ_symbol: str
    strike: float
    expiration: date
    days_to_expiry: int
    credit: float = Field(description="Mid price per share.")
    delta: float
    implied_volatility: float
    annualized_return: float = Field(description="credit / (strike - credit) * 365 / DTE")
    probability_of_profit: float = Field(description="P(S_T >= strike - credit)")
    bid_ask_spread: float
    spread_pct: float = Field(description="(ask - bid) / mid")
    open_interest: int | None = Field(description="None when unknown (counted as illiquid).")
    below_support: bool


class OptionsAnalysis(Model):
    symbol: Symbol
    strategy: Strategy
    underlying_price: float
    candidates_considered: int
    best: PutCandidate | None
    recommendation: OptionsRecommendation
    reasons: list[str]


class ResearchRequest(Model):
    symbol: Symbol
    expiration: date | None = Field(
        default=None, description="The candidate's expiry: earnings before it count against."
    )


class ResearchAnalysis(Model):
    symbol: Symbol
    iv_rank: float | None = Field(description="None when unknown.")
    iv_percentile: float | None = Field(description="None when unknown.")
    liquidity_rating: int | None = Field(description="None when unknown.")
    beta: float | None = Field(description="None when unknown.")
    next_earnings: date | None
    earnings_before_expiry: bool
    sentiment: Sentiment
    reasons: list[str]


class SynthesisRequest(Model):
    chart: ChartAnalysis
    options: OptionsAnalysis | None = None
    research: ResearchAnalysis | None = None


class Synthesis(Model):
    score: int
    recommendation: Recommendation


class AnalysisResult(Model):
    symbol: Symbol
    strategy: Strategy
    recommendation: Recommendation
    score: int = Field(description="The synthesis score behind the recommendation.")
    chart: ChartAnalysis
    options: OptionsAnalysis | None = None
    research: ResearchAnalysis | None = None
    completed_at: datetime
    analysis_id: int | None = Field(default=None, description="Row ID in `analyses`.")


class SaveAnalysisRequest(Model):
    workflow_id: WorkflowId
    run_id: RunId
    result: AnalysisResult
    screen_id: ScreenId | None = None


class SaveAnalysisResult(Model):
    analysis_id: int
    created: bool = Field(description="False when a retry or replay found the row already saved.")
