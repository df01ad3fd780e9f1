"""Inputs and results of ScreenerWorkflow, WatchlistWorkflow and their activities.

The messages of the per-symbol analysis activities are in `screen_steps`."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, Field, StringConstraints, model_validator

from ttai.models.analysis import Recommendation
from ttai.models.common import Model, RunId, ScreenId, Strategy, Symbol, WorkflowId

MAX_SCREEN_SYMBOLS = 2000
"""Largest screen (after duplicates are dropped). The workflow carries one compact
entry per finished symbol across continue-as-new; at this cap that state stays
far below Temporal's 2 MB payload limit, and a screen still ends in minutes."""

MAX_CONCURRENT_LIMIT = 50
"""Upper bound for `max_concurrent`: each slot is a running child workflow whose
broker reads hit the broker's rate limits at the same time."""

MAX_TOP_N = 100
MAX_REASON_LENGTH = 300

WatchlistName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$"),
]
"""Lower-case letters, digits, '-' and '_', at most 40 characters."""


def unique_symbols(symbols: list[str]) -> list[str]:
    """First occurrence of each symbol, in input order."""
    return list(dict.fromkeys(symbols))


def check_screenable(watchlist: str, symbols: list[str]) -> None:
    """A watchlist a screen can take: not empty, at most MAX_SCREEN_SYMBOLS (ValueError if not)."""
    if not symbols:
        raise ValueError(f"watchlist {watchlist!r} is empty")
    if len(symbols) > MAX_SCREEN_SYMBOLS:
        raise ValueError(
            f"watchlist {watchlist!r} has {len(symbols)} symbols; "
            f"a screen takes at most {MAX_SCREEN_SYMBOLS}"
        )


SymbolSet = Annotated[list[Symbol], AfterValidator(unique_symbols)]
"""A symbol list with duplicates dropped (each is analyzed once)."""


SCREENER_WORKFLOW = "ScreenerWorkflow"
PROGRESS_QUERY = "progress"
"""ScreenerWorkflow's queries: `progress` (ScreenProgress), `result_so_far` (ScreenResult)."""
RESULT_SO_FAR_QUERY = "result_so_far"
WATCHLIST_WORKFLOW = "WatchlistWorkflow"


class ScreenEntry(Model):
    """One analyzed symbol's key numbers: all a ranked table needs."""

    symbol: Symbol
    recommendation: Recommendation
    score: int = Field(description="The analysis' synthesis score.")
    chart_score: float
    price: float
    trend: str
    strike: float | None = None
    expiration: date | None = None
    credit: float | None = None
    annualized_return: float | None = None
    probability_of_profit: float | None = None
    delta: float | None = None
    iv_rank: float | None = None
    analysis_id: int | None = None
    workflow_id: WorkflowId = Field(
        description="The analysis' key, `<screen ID>/<symbol>`: the `workflow_id` of its row in "
        "`analyses`, and the ID of its AnalysisWorkflow when the screen ran one per symbol."
    )


class RankedEntry(ScreenEntry):
    rank: int = Field(ge=1)
    rank_score: float = Field(description="Recommendation weight + chart score / 10.")


class ScreenFailure(Model):
    symbol: Symbol
    reason: str = Field(max_length=MAX_REASON_LENGTH)
    error_type: str | None = None


class ScreenState(Model):
    """What one run of a screen hands the next when it continues as new.

    Validated like user input (it arrives as raw JSON like any input): at most
    MAX_SCREEN_SYMBOLS symbols, no duplicates, every finished symbol one of
    them and finished once (analyzed or failed, not both).
    """

    symbols: list[Symbol] = Field(description="The resolved, de-duplicated symbols.")
    entries: list[ScreenEntry] = Field(default_factory=list)
    failures: list[ScreenFailure] = Field(default_factory=list)
    started_at: datetime
    runs: int = Field(default=1, ge=1, description="Runs so far, this one included.")

    @model_validator(mode="after")
    def _consistent(self) -> ScreenState:
        if not self.symbols:
            raise ValueError("resume: no symbols")
        if len(self.symbols) > MAX_SCREEN_SYMBOLS:
            raise ValueError(
                f"resume: {len(self.symbols)} symbols; a screen takes at most {MAX_SCREEN_SYMBOLS}"
            )
        reject_duplicates("symbols", self.symbols, "resume: ")
        analyzed = [e.symbol for e in self.entries]
        failed = [f.symbol for f in self.failures]
        reject_duplicates("entries", analyzed, "resume: ")
        reject_duplicates("failures", failed, "resume: ")
        both = set(analyzed) & set(failed)
        if both:
            raise ValueError(f"resume: {sorted(both)[:5]} both analyzed and failed")
        unknown = (set(analyzed) | set(failed)) - set(self.symbols)
        if unknown:
            raise ValueError(f"resume: {sorted(unknown)[:5]} finished but not in the screen")
        return self


def reject_duplicates(what: str, symbols: list[str], prefix: str = "") -> None:
    """ValueError naming (up to five of) the symbols listed more than once."""
    twice = sorted(s for s, n in Counter(symbols).items() if n > 1)
    if twice:
        raise ValueError(f"{prefix}duplicate {what} {twice[:5]}")


class ScreenInput(Model):
    """Start a screen over `symbols` or the symbols of `watchlist` (exactly one)."""

    symbols: SymbolSet | None = Field(
        default=None,
        description=f"Duplicates are analyzed once; at most {MAX_SCREEN_SYMBOLS} symbols.",
    )
    watchlist: WatchlistName | None = None
    strategy: Strategy = "csp"
    max_concurrent: int = Field(default=5, ge=1, le=MAX_CONCURRENT_LIMIT)
    top_n: int = Field(default=10, ge=1, le=MAX_TOP_N)
    notify: bool = Field(default=False, description="One summary notification at the end.")
    per_symbol_workflows: bool = Field(
        default=False,
        description="Analyze each symbol in a child AnalysisWorkflow (one Web UI row per symbol) "
        "instead of in activities. About ten times slower (bench/screener.py).",
    )
    resume: ScreenState | None = Field(
        default=None, description="Set by the workflow when it continues as new; leave empty."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ScreenInput:
        if (self.symbols is None) == (self.watchlist is None):
            raise ValueError("give either symbols or a watchlist, not both and not neither")
        if self.symbols is not None:
            if not self.symbols:
                raise ValueError("the symbol list is empty")
            if len(self.symbols) > MAX_SCREEN_SYMBOLS:
                raise ValueError(
                    f"{len(self.symbols)} symbols: a screen takes at most {MAX_SCREEN_SYMBOLS}"
                )
        if (
            self.resume is not None
            and self.symbols is not None
            and self.resume.symbols != self.symbols
        ):
            raise ValueError("resume: its symbols are not the screen's symbols")
        return self


ScreenStatus = Literal["resolving", "running", "saving", "completed", "cancelled"]
ScreenResultStatus = Literal["running", "completed", "cancelled"]


class ScreenProgress(Model):
    status: ScreenStatus
    total: int = Field(description="Symbols in the screen (0 while a watchlist is resolved).")
    done: int = Field(description="Finished symbols, failed ones included.")
    failed: int
    running: int = Field(description="Analyses in flight right now.")
    elapsed_seconds: float = Field(description="Since the screen started, as of its last step.")
    started_at: datetime
    runs: int = Field(description="Workflow runs so far (continue-as-new).")


class ScreenResult(Model):
    screen_id: ScreenId
    strategy: Strategy
    watchlist: str | None
    status: ScreenResultStatus = Field(description="running only in the result_so_far query.")
    total: int
    analyzed: int = Field(
        description="Symbols with a finished analysis (rejects included).",
        # Results saved and recorded before the one spelling say "analysed".
        validation_alias=AliasChoices("analyzed", "analysed"),
    )
    rejected: int = Field(description="Analyzed symbols whose recommendation is reject.")
    failed: int
    top: list[RankedEntry] = Field(description="The best analyses, best first; rejects never rank.")
    top_n: int | None = Field(
        default=None,
        description="How many the top was asked for (None before rejects stopped ranking).",
    )
    note: str | None = Field(
        default=None,
        description='Set when the top is shorter than asked for, e.g. "only 3 candidates for '
        'the top 10: rejects never rank".',
    )
    failures: list[ScreenFailure]
    started_at: datetime
    finished_at: datetime


class WatchlistRequest(Model):
    name: WatchlistName


class WatchlistSymbols(Model):
    name: WatchlistName
    symbols: list[Symbol]


class ScreenRecord(Model):
    """A finished (or cancelled) screen, to save and to announce."""

    workflow_id: ScreenId
    run_id: RunId = Field(description="The first run of the screen: stable across continue-as-new.")
    result: ScreenResult


class SaveScreenResult(Model):
    screen_row_id: int
    created: bool


class WatchlistCommand(Model):
    """list | show NAME | add NAME SYMBOLS... | remove NAME [SYMBOLS...] (none: delete it)."""

    action: Literal["list", "show", "add", "remove"]
    name: WatchlistName | None = None
    symbols: SymbolSet = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> WatchlistCommand:
        if self.action == "list":
            if self.name is not None or self.symbols:
                raise ValueError("list takes no watchlist name or symbols")
            return self
        if self.name is None:
            raise ValueError(f"{self.action} needs a watchlist name")
        if self.action == "show" and self.symbols:
            raise ValueError("show takes no symbols")
        if self.action == "add" and not self.symbols:
            raise ValueError("add needs at least one symbol")
        if len(self.symbols) > MAX_SCREEN_SYMBOLS:
            raise ValueError(f"a watchlist holds at most {MAX_SCREEN_SYMBOLS} symbols")
        return self


class WatchlistInfo(Model):
    name: WatchlistName
    size: int
    updated_at: datetime


class WatchlistCommandResult(Model):
    watchlists: list[WatchlistInfo] = Field(
        default_factory=list, description="For list: every watchlist."
    )
    symbols: list[Symbol] = Field(
        default_factory=list, description="For show/add/remove: the watchlist's symbols after."
    )
    changed: int = Field(default=0, description="Symbols added or removed.")
    deleted: bool = False
