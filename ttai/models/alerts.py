"""Alert rules: what a user asks to be told about, and what fired.

Price rules (`price_*`, `crosses_*`, `pct_move`, `iv_rank_*`) are evaluated by
PriceAlertMonitorWorkflow on one batched quote call; position rules
(`delta_at_least`, `dte_at_most`) by PortfolioMonitorWorkflow on the positions
of the rule's underlying. Everything a model can check is checked here, so a
bad rule is rejected before it enters history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from ttai.models.common import Model, Symbol

Condition = Literal[
    "price_above",
    "price_below",
    "crosses_up",
    "crosses_down",
    "pct_move",
    "iv_rank_above",
    "iv_rank_below",
    "delta_at_least",
    "dte_at_most",
]
PRICE_CONDITIONS: frozenset[str] = frozenset(
    {"price_above", "price_below", "crosses_up", "crosses_down", "pct_move"}
)
IV_CONDITIONS: frozenset[str] = frozenset({"iv_rank_above", "iv_rank_below"})
POSITION_CONDITIONS: frozenset[str] = frozenset({"delta_at_least", "dte_at_most"})

AlertMode = Literal["once", "rearm"]
AlertStatus = Literal["active", "triggered", "expired", "removed"]


class AlertRuleSpec(Model):
    """A rule as a user writes it."""

    symbol: Symbol = Field(description="Underlying ticker; position rules match its positions.")
    condition: Condition
    threshold: float = Field(
        ge=0,
        description=(
            "Price level; % for pct_move; 0-100 for IV rank; absolute per-contract delta "
            "(0-1) for delta_at_least; days for dte_at_most."
        ),
    )
    reference_price: float | None = Field(
        default=None, gt=0, description="pct_move only: the price the move is measured from."
    )
    mode: AlertMode = Field(
        default="once", description="once: fire and stop. rearm: fire again after the cooldown."
    )
    cooldown_seconds: int = Field(default=3600, ge=0, le=30 * 86400)
    expires_at: datetime | None = Field(
        default=None, description="After this moment the rule is inactive (timezone-aware)."
    )
    note: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> AlertRuleSpec:
        if self.condition == "pct_move" and self.reference_price is None:
            raise ValueError("pct_move needs reference_price")
        if self.condition != "pct_move" and self.reference_price is not None:
            raise ValueError("reference_price is only used by pct_move")
        if self.condition in IV_CONDITIONS and self.threshold > 100:
            raise ValueError("IV rank thresholds are 0-100")
        if self.condition == "delta_at_least" and self.threshold > 1:
            raise ValueError("delta_at_least threshold is an absolute delta between 0 and 1")
        if self.condition == "dte_at_most" and not self.threshold.is_integer():
            raise ValueError("dte_at_most threshold is a whole number of days")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a timezone (e.g. 2026-12-01T21:00:00Z)")
        return self


class AlertRule(Model):
    """A stored rule and where it stands."""

    alert_id: int
    spec: AlertRuleSpec
    status: AlertStatus
    trigger_count: int = 0
    last_triggered_at: datetime | None = None
    created_at: datetime


class AlertTrigger(Model):
    """One firing of a rule, as committed together with its notification."""

    alert_id: int
    sequence: int = Field(description="1 for the first firing of the rule, then 2, 3 ...")
    symbol: str = Field(description="The ticker, or the position's broker symbol.")
    condition: Condition
    observed: float
    triggered_at: datetime
    notification_id: int


# --- updates on PriceAlertMonitorWorkflow -------------------------------------------------


class AddAlertInput(Model):
    rule: AlertRuleSpec


class RemoveAlertInput(Model):
    alert_id: int = Field(gt=0)


class RemoveAlertResult(Model):
    alert_id: int
    removed: bool = Field(description="False when it had been removed already.")


class ListAlertsInput(Model):
    include_inactive: bool = False


class AlertList(Model):
    alerts: list[AlertRule]
