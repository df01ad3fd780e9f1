"""The messages between ScreenerWorkflow and the activities that analyze its symbols.

`screen_symbol` takes one symbol, `screen_symbols` a batch analyzed one after
the other; each saves a symbol's analysis once per (screen, symbol), keyed by
the screen's first run ID. `screen_plan` tells the workflow how large a batch
this deployment's bulk broker lane allows (workflows/screener.py).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ttai.models.common import Model, RunId, ScreenId, Strategy, Symbol
from ttai.models.screener import ScreenEntry, ScreenFailure, reject_duplicates

MAX_SYMBOLS_PER_ACTIVITY = 20
"""Most symbols one `screen_symbols` activity analyses (one after the other)."""


class ScreenSymbolInput(Model):
    """One symbol of a screen, for the `screen_symbol` activity: the whole analysis
    pipeline and the save, once per (screen, symbol)."""

    screen_id: ScreenId
    screen_run_id: RunId = Field(
        description="The screen's first run ID: with screen_id and symbol, the saved row's key."
    )
    symbol: Symbol
    strategy: Strategy = "csp"


class ScreenBatchInput(Model):
    """Symbols of a screen for the `screen_symbols` activity: analyzed one after
    the other, each saved once per (screen, symbol)."""

    screen_id: ScreenId
    screen_run_id: RunId = Field(
        description="The screen's first run ID: with screen_id and symbol, a saved row's key."
    )
    symbols: list[Symbol] = Field(min_length=1, max_length=MAX_SYMBOLS_PER_ACTIVITY)
    strategy: Strategy = "csp"

    @model_validator(mode="after")
    def _unique(self) -> ScreenBatchInput:
        reject_duplicates("symbols", self.symbols)
        return self


class ScreenBatchResult(Model):
    entries: list[ScreenEntry] = Field(default_factory=list)
    failures: list[ScreenFailure] = Field(
        default_factory=list, description="Symbols that failed for good (unknown, bad data)."
    )
    retry_alone: list[Symbol] = Field(
        default_factory=list,
        description="Symbols that failed in a way a retry may fix; the screen runs each alone "
        "(`screen_symbol`, with its retry policy).",
    )
    unfinished: list[Symbol] = Field(
        default_factory=list, description="Left when the activity was cancelled."
    )


class ScreenPlanRequest(Model):
    """The `screen_plan` step: how this deployment runs a screen's symbols."""


class ScreenPlan(Model):
    symbols_per_activity: int = Field(
        ge=1,
        le=MAX_SYMBOLS_PER_ACTIVITY,
        description="At most this many symbols per analysis activity: 1 when the bulk broker "
        "lane has a rate budget (so it counts symbols), more when it has none.",
    )
