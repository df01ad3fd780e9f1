"""Alert rules: what a user asks to be told about, and what fired.

The conditions (names, families, threshold bounds, wording) come from one
table, `ttai.models.conditions`: price and IV-rank rules are evaluated
by PriceAlertMonitorWorkflow on one batched quote call, position rules by
PortfolioMonitorWorkflow on the option positions of the rule's underlying.
Everything a model can check is checked here, so a bad rule is rejected
before it enters history.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator

from ttai.models.common import Model, Symbol
from ttai.models.conditions import (
    CONDITIONS,
    names,
    problem,
    referenced,
    threshold_help,
)


def _known_condition(name: str) -> str:
    if name not in CONDITIONS:
        raise ValueError(problem(name, 0, None))
    return name


MIN_COOLDOWN_SECONDS = 300
"""A rearmed rule fires at most once per 5 minutes: a rule that holds on every
check (a price level of 0) must not message the user's phone every minute."""

# Bidirectional overrides and isolates: they reorder what a terminal or a
# phone shows (a note could display as something else than it says).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _plain_text(text: str) -> str:
    for char in text:
        if unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:
            raise ValueError(
                f"the note holds a control character (U+{ord(char):04X}): "
                "one line of plain text, please"
            )
    return text


ConditionName = Annotated[
    str,
    AfterValidator(_known_condition),
    WithJsonSchema({"type": "string", "enum": list(names())}),
]
"""A condition name from the table (looked up when a rule is validated)."""

AlertMode = Literal["once", "rearm"]
AlertStatus = Literal["active", "triggered", "expired", "removed"]


class AlertRuleSpec(Model):
    """A rule as a user writes it."""

    symbol: Symbol = Field(description="Underlying ticker; position rules match its positions.")
    condition: ConditionName
    threshold: float = Field(ge=0, description=threshold_help())
    reference_price: float | None = Field(
        default=None,
        gt=0,
        description=(
            f"{', '.join(referenced())} only: the price every move is measured from; "
            "a rearmed rule fires again only after the price has come back inside the band."
        ),
    )
    mode: AlertMode = Field(
        default="once", description="once: fire and stop. rearm: fire again after the cooldown."
    )
    cooldown_seconds: int = Field(
        default=3600,
        ge=MIN_COOLDOWN_SECONDS,
        le=30 * 86400,
        description="rearm: seconds before it may fire again (5 minutes at least).",
    )
    expires_at: datetime | None = Field(
        default=None, description="After this moment the rule is inactive (timezone-aware)."
    )
    note: Annotated[str, AfterValidator(_plain_text)] = Field(
        default="",
        max_length=200,
        description="The user's own words, shown with the alert as a quoted note "
        "(never as TTAI's message); one line, no control characters.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> AlertRuleSpec:
        unfit = problem(self.condition, self.threshold, self.reference_price)
        if unfit is not None:
            raise ValueError(unfit)
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
    last_observed: float | None = Field(default=None, description="What the last firing observed.")
    created_at: datetime
    awaiting_return: bool = Field(
        default=False,
        description="A rearmed move (a rule with a reference_price) that fired: it fires "
        "again only after a check has seen the price back inside its band.",
    )
    last_read_at: datetime | None = Field(
        default=None,
        description="When a check last read the number this rule compares (None: not yet; "
        "a position rule is read only while its symbol has option positions).",
    )
    last_reading: float | None = Field(
        default=None,
        description="What that check read; None when it was unknown (see last_reading_unknown).",
    )
    last_reading_unknown: bool = Field(
        default=False,
        description="The last check could not read the number (the broker sent none): "
        "the rule fired nothing on it.",
    )


class AlertTrigger(Model):
    """One firing of a rule, as committed together with its notification."""

    alert_id: int
    sequence: int = Field(description="1 for the first firing of the rule, then 2, 3 ...")
    symbol: str = Field(description="The ticker, or the position's broker symbol.")
    condition: ConditionName
    observed: float
    triggered_at: datetime
    notification_id: int


# --- the inputs and results of the rule steps (and of PriceAlertMonitorWorkflow's
# add_alert / list_alerts / remove_alert updates, kept for running monitors and apps
# that call them; TTAI's front ends use AlertsWorkflow) ----------------------------------

ADD_ALERT_UPDATE = "add_alert"
LIST_ALERTS_UPDATE = "list_alerts"
REMOVE_ALERT_UPDATE = "remove_alert"


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


# --- AlertsWorkflow: every read and write of the rules ---------------------------------

ALERTS_WORKFLOW = "AlertsWorkflow"


class AlertsCommand(Model):
    """One read or write of the alert rules: `add` a rule, `list` them, `remove` one."""

    action: Literal["add", "list", "remove"]
    rule: AlertRuleSpec | None = Field(default=None, description="add: the rule.")
    alert_id: int | None = Field(default=None, gt=0, description="remove: the rule's ID.")
    include_inactive: bool = Field(
        default=False, description="list: also the fired, expired and removed rules."
    )

    @model_validator(mode="after")
    def _fits_action(self) -> AlertsCommand:
        if (self.action == "add") != (self.rule is not None):
            raise ValueError("a rule goes with add, and only with add")
        if (self.action == "remove") != (self.alert_id is not None):
            raise ValueError("alert_id goes with remove, and only with remove")
        if self.include_inactive and self.action != "list":
            raise ValueError("include_inactive goes with list only")
        return self


class AlertsCommandResult(Model):
    added: AlertRule | None = Field(default=None, description="add: the stored rule.")
    alerts: list[AlertRule] | None = Field(default=None, description="list: the rules.")
    removed: RemoveAlertResult | None = Field(default=None, description="remove: the outcome.")
