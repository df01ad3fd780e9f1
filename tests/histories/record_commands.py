"""Re-record AlertsWorkflow's replay histories (on purpose, after a deliberate change).

    .venv/bin/python -m tests.histories.record_commands

Runs each case on a throw-away dev server with the real workflow code and fake
rule steps (a broker that lists AAPL only, rules kept in a dict), and writes
tests/histories/AlertsWorkflow-<case>.json for tests/replay/test_replay.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.exceptions import ApplicationError

from activities.alerts import AlertActivities
from tests.helpers.histories import record_cases
from ttai.models.alerts import (
    AlertList,
    AlertRule,
    AlertRuleSpec,
    AlertsCommand,
    ListAlertsInput,
    RemoveAlertInput,
    RemoveAlertResult,
)
from ttai.models.monitors import CreateAlertInput, SymbolsInput, SymbolsResult
from ttai.temporal.steps import same_step_as

TASK_QUEUE = "record-commands"
AT = datetime(2026, 11, 30, 15, tzinfo=UTC)
RULE = AlertRuleSpec(symbol="AAPL", condition="price_above", threshold=250)
RULES: dict[int, AlertRule] = {}


@same_step_as(AlertActivities.check_symbols)
async def fake_check_symbols(request: SymbolsInput) -> SymbolsResult:
    if set(request.symbols) - {"AAPL"}:
        raise ApplicationError("unknown symbol: ZZZZ", type="UnknownSymbol", non_retryable=True)
    return SymbolsResult(known=request.symbols)


@same_step_as(AlertActivities.create_alert)
async def fake_create_alert(request: CreateAlertInput) -> AlertRule:
    rule = AlertRule(alert_id=len(RULES) + 1, spec=request.spec, status="active", created_at=AT)
    RULES[rule.alert_id] = rule
    return rule


@same_step_as(AlertActivities.list_alerts)
async def fake_list_alerts(request: ListAlertsInput) -> AlertList:
    return AlertList(alerts=list(RULES.values()))


@same_step_as(AlertActivities.remove_alert)
async def fake_remove_alert(request: RemoveAlertInput) -> RemoveAlertResult:
    return RemoveAlertResult(
        alert_id=request.alert_id, removed=RULES.pop(request.alert_id, None) is not None
    )


if __name__ == "__main__":
    unknown = RULE.model_copy(update={"symbol": "ZZZZ"})
    record_cases(
        TASK_QUEUE,
        [fake_check_symbols, fake_create_alert, fake_list_alerts, fake_remove_alert],
        {
            "AlertsWorkflow-add": ("AlertsWorkflow", AlertsCommand(action="add", rule=RULE)),
            "AlertsWorkflow-add-unknown-symbol": (
                "AlertsWorkflow",
                AlertsCommand(action="add", rule=unknown),
            ),
            "AlertsWorkflow-list": ("AlertsWorkflow", AlertsCommand(action="list")),
            "AlertsWorkflow-remove": ("AlertsWorkflow", AlertsCommand(action="remove", alert_id=1)),
        },
    )
