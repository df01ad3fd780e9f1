"""Every number finite, every ID and key bounded, carried-over state checked.

Non-finite floats would be written as `null` by the converter and fail the
next step for good; over-long workflow IDs would overflow the 300-character
idempotency keys built from them; MonitorInput.state arrives from
continue-as-new or from anyone with the `temporal` CLI, so it is validated
like user input.
"""

from __future__ import annotations

import inspect
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

import ttai.models
from starter import run
from tests.helpers.analysis_fakes import FakeAnalysisActivities
from ttai.models import alerts, analysis, monitors, notifications, reports, screener
from ttai.models.alerts import AddAlertInput, AlertRuleSpec
from ttai.models.analysis import AnalysisInput
from ttai.models.common import (
    MAX_SCREEN_ID_LENGTH,
    MAX_SYMBOL_LENGTH,
    MAX_WORKFLOW_ID_LENGTH,
    Model,
)
from ttai.models.monitors import CheckInput, MonitorInput, MonitorState
from ttai.models.reports import SaveReportRequest
from ttai.models.screener import ScreenRecord
from ttai.temporal.client import data_converter
from worker import build_worker

pytestmark = pytest.mark.usefixtures("without_search_attribute_upserts")

MODULES = [alerts, analysis, monitors, notifications, reports, screener]
NOW = datetime(2026, 11, 30, 15, tzinfo=UTC)
RUN_ID_LENGTH = 36  # Temporal run IDs are UUIDs


def test_every_model_refuses_non_finite_numbers() -> None:
    models = [
        obj
        for module in MODULES
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Model)
    ]
    assert len(models) > 40
    for model in models:
        assert model.model_config.get("allow_inf_nan") is False, model.__name__
    assert ttai.models  # the package the modules come from


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan"), "Infinity", 1e999])
def test_non_finite_numbers_fail_at_every_depth(bad: Any) -> None:
    rule = {"symbol": "AAPL", "condition": "crosses_up", "threshold": 10}
    with pytest.raises(ValidationError, match="finite"):
        AddAlertInput.model_validate({"rule": {**rule, "threshold": bad}})
    with pytest.raises(ValidationError, match="finite"):
        AlertRuleSpec.model_validate(
            {**rule, "condition": "pct_move", "threshold": 5, "reference_price": bad}
        )
    with pytest.raises(ValidationError, match="finite"):
        CheckInput(check_key="k", as_of=NOW, previous_prices={"AAPL": bad})
    with pytest.raises(ValidationError, match="finite"):
        MonitorInput.model_validate(
            {"state": {"interval_seconds": 30, "last_prices": {"AAPL": bad}}}
        )


def test_non_finite_json_from_another_client_is_refused() -> None:
    """Raw JSON as the `temporal` CLI would send it: 1e999 parses as infinity."""
    payload = Payload(
        metadata={"encoding": b"json/plain"},
        data=b'{"rule": {"symbol": "AAPL", "condition": "crosses_up", "threshold": 1e999}}',
    )
    with pytest.raises(ValidationError, match="finite"):
        data_converter().payload_converter.from_payloads([payload], [AddAlertInput])


def test_alerts_add_inf_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing listens: fails before
    for value in ("inf", "nan", "1e999", "Infinity"):
        assert run(["alerts", "add", "AAPL", "crosses_up", value]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("error: invalid input: rule.threshold")
        assert "finite number" in lines[0]


def test_ids_and_keys_are_bounded() -> None:
    # The longest keys built from workflow IDs still fit the outbox's 300 characters.
    assert len("analysis:") + MAX_WORKFLOW_ID_LENGTH + 1 + RUN_ID_LENGTH <= 300
    assert len("screen:") + MAX_SCREEN_ID_LENGTH + 1 + RUN_ID_LENGTH <= 300
    # A screen's children are `<screen ID>/<symbol>` and must be valid workflow IDs.
    assert MAX_SCREEN_ID_LENGTH + 1 + MAX_SYMBOL_LENGTH <= MAX_WORKFLOW_ID_LENGTH
    long_id = "x" * (MAX_WORKFLOW_ID_LENGTH + 1)
    for build in (
        lambda: AnalysisInput(symbol="AAPL", screen_id=long_id),
        lambda: AnalysisInput(symbol="AAPL", screen_id=""),
        lambda: AnalysisInput(symbol="AAPL", screen_id="screen-1\nforged log line"),
        lambda: SaveReportRequest.model_validate({"workflow_id": long_id, "report": {}}),
        lambda: ScreenRecord.model_validate(
            {"workflow_id": long_id, "run_id": str(uuid.uuid4()), "result": {}}
        ),
        lambda: CheckInput(check_key="k" * 400, as_of=NOW),
        lambda: AlertRuleSpec(symbol="AAPL", condition="price_above", threshold=1, note="n" * 201),
    ):
        with pytest.raises(ValidationError):
            build()
    assert AnalysisInput(symbol="AAPL", screen_id="s" * MAX_SCREEN_ID_LENGTH).screen_id


async def test_over_long_workflow_id_fails_at_start_before_any_step(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeAnalysisActivities()
    client = time_skipping_env.client
    async with build_worker(client, None, task_queue, activities=fakes.all()):
        with pytest.raises(WorkflowFailureError) as failure:
            await client.execute_workflow(
                "AnalysisWorkflow",
                AnalysisInput(symbol="AAPL"),
                id="a" * (MAX_WORKFLOW_ID_LENGTH + 1),
                task_queue=task_queue,
                execution_timeout=timedelta(minutes=1),
            )
        with pytest.raises(WorkflowFailureError) as control:
            await client.execute_workflow(
                "AnalysisWorkflow",
                AnalysisInput(symbol="AAPL"),
                id="analysis-AAPL\nforged",
                task_queue=task_queue,
                execution_timeout=timedelta(minutes=1),
            )
        assert "control characters" in str(control.value.cause)
        # The longest allowed ID still works end to end.
        await client.execute_workflow(
            "AnalysisWorkflow",
            AnalysisInput(symbol="AAPL"),
            id="b" * MAX_WORKFLOW_ID_LENGTH,
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=1),
        )
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidInput"
    assert f"at most {MAX_WORKFLOW_ID_LENGTH}" in cause.message
    assert fakes.calls["chart_analysis"] == 1  # only the run with the valid ID


def _state(**changes: Any) -> dict[str, Any]:
    return {"state": {"interval_seconds": 30, **changes}}


def _window(open_: datetime, hours: float) -> dict[str, str]:
    return {"open": open_.isoformat(), "close": (open_ + timedelta(hours=hours)).isoformat()}


@pytest.mark.parametrize(
    "bad",
    [
        _state(iterations=-1),
        _state(errors=-5),
        _state(triggers=-1),
        _state(runs=0),
        _state(
            last_prices={f"S{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}": 1.0 for i in range(2)}
            | {"aapl": 1.0}
        ),
        _state(last_prices={"AAPL": -1.0}),
        _state(
            last_prices={
                f"{a}{b}{c}": 1.0 for a in "ABCDEFGHIJ" for b in "ABCDEFGHIJ" for c in "ABCDEFGHIJK"
            }
        ),  # 1100 symbols
        _state(sessions=[_window(NOW, 0)]),  # open == close
        _state(sessions=[_window(NOW, -6.5)]),  # close before open
        _state(sessions=[_window(NOW, 30)]),  # a 30-hour session
        _state(sessions=[_window(NOW + timedelta(days=1), 6.5), _window(NOW, 6.5)]),  # unsorted
        _state(sessions=[_window(NOW, 6.5), _window(NOW, 6.5)]),  # duplicate
        _state(sessions=[_window(NOW, 6.5), _window(NOW + timedelta(hours=3), 6.5)]),  # overlap
        _state(sessions=[_window(NOW + timedelta(days=d), 6.5) for d in range(100)]),
        _state(sessions=[{"open": "2026-11-30T14:30:00", "close": "2026-11-30T21:00:00"}]),
        _state(last_error="e" * 10_000),
        _state(last_summary="s" * 10_000),
    ],
)
def test_monitor_state_is_validated_like_user_input(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MonitorInput.model_validate(bad)


def test_plausible_monitor_state_passes() -> None:
    good = MonitorInput.model_validate(
        _state(
            iterations=10,
            errors=1,
            runs=3,
            last_prices={"AAPL": 101.5, "BRK.B": 450.0},
            sessions=[_window(NOW + timedelta(days=d), 6.5) for d in range(21)],
        )
    )
    assert good.state is not None and len(good.state.sessions) == 21
    assert MonitorState(interval_seconds=30).iterations == 0


async def test_active_alert_rules_are_capped(db_pool: Any) -> None:
    """The price monitor carries one price per rule symbol: rules are bounded too."""
    from ttai.db.alerts import MAX_ACTIVE_ALERTS, AlertStore, TooManyAlerts

    await db_pool.execute(
        """
        INSERT INTO alert_rules (request_id, symbol, condition, threshold)
        SELECT 'bulk:' || i, 'AAPL', 'price_above', i FROM generate_series(1, $1) AS i
        """,
        MAX_ACTIVE_ALERTS,
    )
    store = AlertStore(db_pool)
    spec = AlertRuleSpec(symbol="MSFT", condition="price_above", threshold=1)
    with pytest.raises(TooManyAlerts, match=f"at most {MAX_ACTIVE_ALERTS}"):
        await store.create("one-too-many", spec)
    await store.remove(1)
    assert (await store.create("fits-now", spec)).spec.symbol == "MSFT"
    assert (await store.create("fits-now", spec)).spec.symbol == "MSFT"  # a retry: no-op


def test_over_long_id_option_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing listens: fails before
    too_long = "x" * (MAX_WORKFLOW_ID_LENGTH + 1)
    for argv in (["analyze", "AAPL", "--id", too_long], ["screen", "AAPL", "--id", too_long]):
        assert run(argv) == 2
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("error: invalid workflow ID: 1-")


@pytest.mark.parametrize(
    "bad",
    [
        {"high": 99.0},  # below the close
        {"high": 100.5, "open": 101.0},  # below the open
        {"low": 100.5},  # above the open
        {"low": 99.5, "close": 99.0},  # above the close
        {"open": 0.0, "low": 0.0},
        {"close": -1.0, "low": -2.0},
        {"volume": -1},
    ],
)
def test_a_candle_is_bounded_by_its_high_and_low(bad: dict[str, Any]) -> None:
    from datetime import date

    from ttai.models.market import Candle

    fields: dict[str, Any] = {
        "day": date(2026, 12, 1), "open": 100.0, "high": 102.0, "low": 98.0, "close": 100.0,
        "volume": 10,
    }  # fmt: skip
    assert Candle(**fields).high == 102.0
    with pytest.raises(ValidationError):
        Candle(**(fields | bad))


@pytest.mark.parametrize(
    "note",
    ["\x1b]8;;http://evil.example\x07click\x1b]8;;\x07", "two\nlines", "c1 \x9b31m", "a\u202eb"],
)
def test_a_note_is_one_line_of_plain_text(note: str) -> None:
    """Issue 22: a note's escape sequences reached the terminal of whoever listed the rules."""
    with pytest.raises(ValidationError, match="control character"):
        AlertRuleSpec(symbol="AAPL", condition="price_above", threshold=1, note=note)
    assert AlertRuleSpec(symbol="AAPL", condition="price_above", threshold=1, note="ok: €, ü")


def test_a_rearmed_rule_waits_at_least_five_minutes() -> None:
    """Issue 22: `price_above 0`, rearm, cooldown 0 fired on every check."""
    for cooldown in (0, 60, 299):
        with pytest.raises(ValidationError, match="greater than or equal to 300"):
            AlertRuleSpec(
                symbol="AAPL",
                condition="price_above",
                threshold=0,
                mode="rearm",
                cooldown_seconds=cooldown,
            )
    assert alerts.MIN_COOLDOWN_SECONDS == 300
