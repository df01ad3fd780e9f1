"""The ops layer's errors: one family, one line, classified from the root cause."""

from __future__ import annotations

import itertools
import subprocess
import sys
import typing

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, RetryState
from temporalio.service import RPCError, RPCStatusCode

from ttai.config import PROJECT_ROOT
from ttai.models.alerts import AddAlertInput
from ttai.ops.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OperationFailed,
    Unavailable,
    parse,
    translate,
    translated,
)
from ttai.temporal import root_cause


def chain(*errors: BaseException) -> BaseException:
    """errors[0] caused by errors[1] caused by ... (as Temporal decodes a failure)."""
    for outer, inner in itertools.pairwise(errors):
        outer.__cause__ = inner
    return errors[0]


def activity_error() -> ActivityError:
    return ActivityError(
        "Activity task failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="w",
        activity_type="check_symbols",
        activity_id="1",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )


def test_root_cause_is_the_innermost_error_and_survives_a_cycle() -> None:
    inner = ValueError("inner")
    outer = chain(RuntimeError("outer"), KeyError("middle"), inner)
    assert root_cause(outer) is inner
    assert root_cause(inner) is inner
    a, b = RuntimeError("a"), RuntimeError("b")
    a.__cause__, b.__cause__ = b, a
    assert root_cause(a) in (a, b)


@pytest.mark.parametrize(
    ("status", "cls", "text"),
    [
        (RPCStatusCode.NOT_FOUND, NotFound, "no workflow with ID 'x'"),
        (RPCStatusCode.UNAVAILABLE, Unavailable, "Temporal did not answer (down)"),
        (RPCStatusCode.DEADLINE_EXCEEDED, Unavailable, "Temporal did not answer (down)"),
        (RPCStatusCode.INVALID_ARGUMENT, InvalidInput, "x: Temporal refused the request (down)"),
        (RPCStatusCode.PERMISSION_DENIED, OperationFailed, "x: Temporal: down"),
    ],
)
def test_rpc_errors(status: RPCStatusCode, cls: type, text: str) -> None:
    err = translate(RPCError("down", status, b""), what="x", not_found="no workflow with ID 'x'")
    assert type(err) is cls and str(err) == text


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("UnknownSymbol", InvalidInput),
        ("InvalidInput", InvalidInput),
        ("WatchlistNotFound", NotFound),
        ("AlreadyDelivered", Conflict),
        ("BrokerUnavailable", Unavailable),
        ("ConnectionRefusedError", Unavailable),
        ("BrokerAuthError", OperationFailed),
    ],
)
def test_workflow_failures_are_classified_by_their_innermost_known_type(
    kind: str, cls: type
) -> None:
    failure = chain(
        WorkflowFailureError(cause=ApplicationError("x", type="Wrapper")),
        ApplicationError("wrapped", type="Wrapper"),
        activity_error(),
        ApplicationError("the\nreal   reason", type=kind),
        ApplicationError("python detail", type="LookupError"),
    )
    err = translate(failure, what="workflow w", failed="workflow w failed: ")
    assert type(err) is cls
    assert str(err) == "workflow w failed: python detail"


def test_update_refusal_and_cancellation_read_as_one_line() -> None:
    refused = chain(
        WorkflowUpdateFailedError(ApplicationError("x")),
        ApplicationError(
            "interval_seconds must be at least 5\nfor this monitor", type="ValueError"
        ),
    )
    err = translate(refused, what="monitor-price-alerts", failed="monitor-price-alerts refused: ")
    assert isinstance(err, InvalidInput)
    assert str(err) == (
        "monitor-price-alerts refused: interval_seconds must be at least 5 for this monitor"
    )
    cancelled = chain(WorkflowFailureError(cause=CancelledError()), CancelledError())
    err = translate(cancelled, what="workflow s")
    assert isinstance(err, Conflict) and str(err) == "workflow s was cancelled"


def test_other_errors_pass_through_and_cancellation_is_not_caught() -> None:
    assert translate(KeyError("bug"), what="x") is None
    with pytest.raises(KeyError), translated("x"):
        raise KeyError("bug")
    with pytest.raises(Unavailable, match="x: refused"), translated("x"):
        raise ConnectionRefusedError("refused")


def test_bad_input_is_one_line_naming_each_field() -> None:
    with pytest.raises(InvalidInput) as err:
        parse(
            AddAlertInput,
            {"rule": {"symbol": "aapl", "condition": "sideways", "threshold": float("inf")}},
        )
    text = str(err.value)
    assert "\n" not in text and text.startswith("invalid input: rule.symbol: invalid symbol")
    assert "rule.condition: unknown condition 'sideways'" in text and "rule.threshold" in text
    assert InvalidInput.exit_code == NotFound.exit_code == Conflict.exit_code == 2
    assert Unavailable.exit_code == OperationFailed.exit_code == 1


def test_importing_the_ops_layer_stays_cheap() -> None:
    """No Temporal client, pandas, numpy, Rich or broker SDK at import time: the MCP
    server imports every ops module before it answers `initialize`."""
    modules = "analysis tasks screens commands monitors reports market connection errors calls"
    code = (
        "import sys\n"
        + "".join(f"import ttai.ops.{m}\n" for m in modules.split())
        + "heavy = ('temporalio.client', 'temporalio.worker', 'pandas', 'numpy', 'rich',"
        " 'tastytrade', 'asyncpg', 'pandas_market_calendars')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_workflow_types_a_list_can_filter_on_are_the_registered_ones() -> None:
    from ttai.ops.tasks import WorkflowType
    from ttai.temporal import schemas
    from workflows.registry import ALL_WORKFLOWS

    registered = {schemas.definition(cls).name for cls in ALL_WORKFLOWS}
    assert set(typing.get_args(WorkflowType)) == registered
