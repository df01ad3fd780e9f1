"""One unwrapper for every failure message (starter.py, the CLI, the monitors)."""

from __future__ import annotations

from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError

from ttai.temporal import root_cause


def activity_failure(cause: BaseException) -> ActivityError:
    err = ActivityError(
        "Activity task failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="check_symbols",
        activity_id="1",
        retry_state=None,
    )
    err.__cause__ = cause
    return err


def test_the_innermost_cause_says_why() -> None:
    why = ApplicationError("unknown symbol: ZZZZ", type="UnknownSymbol", non_retryable=True)
    wrapper = ApplicationError("alert rejected: unknown symbol: ZZZZ", type="InvalidAlert")
    wrapper.__cause__ = activity_failure(why)
    assert root_cause(WorkflowUpdateFailedError(wrapper)) is why
    assert root_cause(WorkflowFailureError(cause=activity_failure(why))) is why


def test_an_error_without_a_cause_is_its_own_root() -> None:
    err = ValueError("bad")
    assert root_cause(err) is err


def test_a_cycle_ends() -> None:
    a, b = ValueError("a"), ValueError("b")
    a.__cause__, b.__cause__ = b, a
    assert root_cause(a) is b
