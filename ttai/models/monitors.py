"""The monitors: their fixed IDs and steering names, inputs, state and results.

Four long-running loops share one shape (workflows/monitors.py): the portfolio
monitor (position rules), the price monitor (price and IV-rank rules), the
position sync, and the outbox monitor (retries of refused deliveries).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, NonNegativeFloat, model_validator

from ttai.models.alerts import AlertRuleSpec, AlertTrigger
from ttai.models.common import Key, Model, Symbol

MonitorName = Literal["portfolio", "price-alerts", "position-sync", "outbox"]

MONITOR_IDS: dict[MonitorName, str] = {
    "portfolio": "monitor-portfolio",
    "price-alerts": "monitor-price-alerts",
    "position-sync": "monitor-position-sync",
    "outbox": "monitor-outbox",
}
"""Each monitor's fixed workflow ID (part of the public contract)."""

MONITOR_TYPES: dict[str, str] = {
    "monitor-portfolio": "PortfolioMonitorWorkflow",
    "monitor-price-alerts": "PriceAlertMonitorWorkflow",
    "monitor-position-sync": "PositionSyncWorkflow",
    "monitor-outbox": "OutboxMonitorWorkflow",
}

# Steering, the same for every monitor: signals and an update take an optional
# input (send `{}`), the status query none.
PAUSE_SIGNAL = "pause"
RESUME_SIGNAL = "resume"
CHECK_NOW_SIGNAL = "check_now"
SET_INTERVAL_UPDATE = "set_interval"
STATUS_QUERY = "status"

MarketHours = Literal["regular", "extended", "always"]
"""When price/portfolio checks run: NYSE regular session, extended (04:00 ET to 4 h
after the close), or always (tests, benchmarks, 24 h markets)."""

MAX_INTERVAL_SECONDS = 86400

MAX_TRACKED_PRICES = 1000
"""Most symbols whose previous price a price monitor carries (and checks per run)."""

MAX_SESSIONS = 60
"""Most market windows carried (the calendar is fetched 21 days at a time; at most 60)."""

MAX_SESSION_LENGTH = timedelta(hours=24)
MAX_STATUS_TEXT = 500


class SessionWindow(Model):
    """One trading window [open, close) in UTC: a real session is shorter than a day."""

    open: AwareDatetime
    close: AwareDatetime

    @model_validator(mode="after")
    def _plausible(self) -> SessionWindow:
        if not self.open < self.close:
            raise ValueError("a market session must open before it closes")
        if self.close - self.open > MAX_SESSION_LENGTH:
            raise ValueError("a market session is at most 24 hours long")
        return self


def _in_order(windows: list[SessionWindow]) -> list[SessionWindow]:
    for earlier, later in pairwise(windows):
        if later.open < earlier.close:
            raise ValueError("market sessions must be sorted and must not overlap")
    return windows


Sessions = Annotated[list[SessionWindow], Field(max_length=MAX_SESSIONS), AfterValidator(_in_order)]
"""Market windows in order, none overlapping, at most MAX_SESSIONS."""

PriceMap = Annotated[dict[Symbol, NonNegativeFloat], Field(max_length=MAX_TRACKED_PRICES)]
"""Last prices by symbol: valid symbols, finite non-negative prices, bounded size."""


class MonitorState(Model):
    """Everything a monitor carries from one run to the next across continue-as-new."""

    interval_seconds: int = Field(ge=1, le=MAX_INTERVAL_SECONDS)
    paused: bool = False
    iterations: int = Field(default=0, ge=0, description="Checks attempted, over all runs.")
    errors: int = Field(default=0, ge=0, description="Checks that failed after their retries.")
    triggers: int = Field(
        default=0, ge=0, description="Alerts and notifications fired, over all runs."
    )
    runs: int = Field(default=1, ge=1, description="1 + continue-as-new count.")
    last_run_at: datetime | None = None
    next_due_at: datetime | None = Field(
        default=None, description="When the next check is due (market hours permitting)."
    )
    last_error: str | None = Field(default=None, max_length=MAX_STATUS_TEXT)
    last_error_at: datetime | None = None
    last_summary: str = Field(default="", max_length=MAX_STATUS_TEXT)
    check_requested: bool = Field(
        default=False, description="A check_now that arrived while the run was handing over."
    )
    last_prices: PriceMap = Field(
        default_factory=dict, description="Price monitor: previous prices, for crossings."
    )
    sessions: Sessions = Field(
        default_factory=list,
        description=(
            "Upcoming market windows, from the market_sessions activity: kept in history, "
            "so a replay never depends on the calendar library's version."
        ),
    )


class MonitorInput(Model):
    interval_seconds: int | None = Field(
        default=None, ge=1, le=MAX_INTERVAL_SECONDS, description="Default: the monitor's own."
    )
    off_hours_interval_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_INTERVAL_SECONDS,
        description="Position sync only: its pace while the market is closed.",
    )
    hours: MarketHours = "regular"
    max_iterations_per_run: int = Field(
        default=200, ge=1, le=1000, description="Continue-as-new after this many checks."
    )
    state: MonitorState | None = Field(default=None, description="Set by continue-as-new.")


class MonitorResult(Model):
    """Returned when the monitor is stopped (cancelled): its final state."""

    state: MonitorState
    stopped_at: datetime


class SteeringSignal(Model):
    """Input of the pause / resume / check_now signals (send `{}`)."""

    reason: str = Field(default="", max_length=200)


class SetIntervalInput(Model):
    interval_seconds: int = Field(ge=1, le=MAX_INTERVAL_SECONDS)


class StatusQuery(Model):
    """Input of the status query (send `{}`)."""


class MonitorStatus(Model):
    workflow_type: str
    state: MonitorState
    market_open: bool
    hours: MarketHours | None = Field(
        default=None,
        description="The market hours it checks in (its start input); `state.sessions` "
        "are NYSE sessions in these hours. None from a worker older than this field.",
    )
    next_run_at: datetime | None = Field(description="None while paused.")
    run_iterations: int = Field(description="Checks in this run (before continue-as-new).")
    history_length: int


# --- activities ----------------------------------------------------------------------------


class CheckInput(Model):
    check_key: Key = Field(
        description="workflow ID:run ID:iteration; a retried check records nothing twice."
    )
    as_of: datetime = Field(description="Workflow time of the check: expiry, cooldown, keys.")
    previous_prices: PriceMap = Field(default_factory=dict)


class PriceCheckResult(Model):
    prices: PriceMap
    rules_evaluated: int
    triggers: list[AlertTrigger]
    delivered: int = Field(description="This check's notifications delivered at once.")
    delivery_error: str | None = None


class PortfolioCheckResult(Model):
    positions: int
    rules_evaluated: int
    triggers: list[AlertTrigger]
    delivered: int = Field(description="This check's notifications delivered at once.")
    delivery_error: str | None = None


class SyncResult(Model):
    open_positions: int
    opened: list[str]
    changed: list[str]
    closed: list[str]
    settled: list[str] = Field(
        default_factory=list,
        description="Of the closed: the options that expired or were assigned or exercised "
        "(each notified as such, not as closed).",
    )
    delivered: int = Field(description="Opened/closed notifications delivered at once.")
    delivery_error: str | None = None


class DeliveryResult(Model):
    """The outbox monitor's check: one attempt at every due notification."""

    delivered: int
    failed: int = Field(description="Refused by a channel; retried after a backoff.")
    dead: int = Field(description="Out of attempts: only `notifications retry` sends them.")
    error: str | None = Field(default=None, max_length=MAX_STATUS_TEXT)


class SymbolsInput(Model):
    symbols: list[str] = Field(min_length=1, max_length=100)


class SymbolsResult(Model):
    known: list[str]


class CreateAlertInput(Model):
    request_id: Key = Field(description="workflow ID:update ID: a retried insert is a no-op.")
    spec: AlertRuleSpec


class SessionsInput(Model):
    start: date
    days: int = Field(ge=1, le=60)
    hours: Literal["regular", "extended"]


class SessionsResult(Model):
    windows: Sessions
