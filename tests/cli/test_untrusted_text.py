"""Text others control is shown literally, and settings never print their secrets.

Error messages, workflow IDs, failure reasons and schedule notes can hold
anything (Rich markup included): tables show them as written, never style
them, drop parts of them or crash on them; their control characters are
shown as U+FFFD and never reach the terminal (issue 22).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import pytest
from rich.console import Console

from tests.helpers.ops_stack import OpsStack
from tests.helpers.terminal import in_terminal, starter
from tests.helpers.waiting import eventually
from ttai.cli import monitors as monitors_cli
from ttai.cli import tasks as tasks_cli
from ttai.cli.common import plain, print_json
from ttai.cli.screen import screen_table
from ttai.cli.tables import Grid, details, printable
from ttai.config import Settings
from ttai.models.analysis import AnalysisInput
from ttai.models.monitors import MonitorState, MonitorStatus
from ttai.models.screener import ScreenFailure, ScreenResult
from ttai.ops import tasks
from ttai.ops.monitors import MonitorInfo, MonitorsStatus
from ttai.ops.tasks import TaskList, TaskSummary

MARKUP = "[bold]x[/] then [/] and [red]red"
NOW = datetime(2026, 11, 30, 15, tzinfo=UTC)


def test_settings_repr_hides_database_and_notify_urls() -> None:
    settings = Settings(
        database_url="postgresql://ttai:hunter22@db:5432/ttai",
        notify_urls=["tgram://123456789:AAHdqTcvCH1vGWJxf/-100", "json://u:pw9@hooks.example/x"],
    )
    for text in (repr(settings), str(settings), f"{settings!r}"):
        for secret in ("hunter22", "AAHdqTcvCH1vGWJxf", "pw9", "tgram://", "postgresql://"):
            assert secret not in text, text
        assert "task_queue='ttai'" in text  # the rest is still there
    assert settings.database_url == "postgresql://ttai:hunter22@db:5432/ttai"  # still usable


def _status(error: str) -> MonitorStatus:
    state = MonitorState(
        interval_seconds=30, iterations=3, errors=1, last_error=error, last_error_at=NOW
    )
    return MonitorStatus(
        workflow_type="PriceAlertMonitorWorkflow",
        state=state,
        market_open=True,
        next_run_at=None,
        run_iterations=3,
        history_length=40,
    )


@pytest.mark.parametrize("error", [MARKUP, "[/]", "unknown tag [/bold] here", "[link=x]y"])
def test_monitor_status_shows_error_text_literally(
    error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = MonitorsStatus(
        monitors=[
            MonitorInfo(
                name="price-alerts",
                workflow_id="monitor-price-alerts",
                workflow_type="PriceAlertMonitorWorkflow",
                running=True,
                status=_status(error),
            )
        ]
    )
    Console(width=300, force_terminal=False).print(monitors_cli.status_grid(report))
    out = capsys.readouterr().out
    assert f"error: {error}" in out, out


def test_screen_table_shows_ids_and_reasons_literally(capsys: pytest.CaptureFixture[str]) -> None:
    result = ScreenResult(
        screen_id="screen-[bold]1[/]",
        strategy="csp",
        watchlist=None,
        status="completed",
        total=1,
        analyzed=0,
        rejected=0,
        failed=1,
        top=[],
        failures=[ScreenFailure(symbol="AAPL", reason=MARKUP)],
        started_at=NOW,
        finished_at=NOW,
    )
    console = Console(width=300, force_terminal=False)
    console.print(screen_table(result))
    out = capsys.readouterr().out
    assert "screen-[bold]1[/]" in out and MARKUP in out, out


async def test_workflow_list_shows_ids_literally(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = TaskList(
        query="TaskQueue = 'ttai'",
        tasks=[
            TaskSummary(
                workflow_id="analysis-[/]-[bold]z",
                run_id="r",
                workflow_type="AnalysisWorkflow",
                status="completed",
                started_at=NOW,
                closed_at=NOW,
            )
        ],
    )

    async def fake_list(conn: object, task_filter: object) -> TaskList:
        return listed

    monkeypatch.setattr(tasks_cli, "list_tasks", fake_list)
    monkeypatch.setenv("COLUMNS", "300")
    args = argparse.Namespace(
        running=False, finished=False, type=None, symbol=None, recommendation=None, limit=5,
        json=False,
    )  # fmt: skip
    assert await tasks_cli.list_command(args) == 0
    assert "analysis-[/]-[bold]z" in capsys.readouterr().out


# What others may put in a workflow ID, a failure, a note or a nickname: move the
# cursor and overwrite the screen, retitle the window, start a C1 sequence.
ESCAPES = "x-\x1b[1;1HOVERWRITE-\x1b]2;PWNED\x07-\x9b31m-\u202eevil"


def test_control_characters_never_reach_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 22: escape sequences in text others control were printed unchanged."""
    console = Console(width=300, force_terminal=False)  # styles off: any escape is the data's
    grid = Grid("id", "note", title=ESCAPES)
    grid.add_row(ESCAPES, ESCAPES)
    console.print(grid)
    console.print(details([("note", ESCAPES)], title=ESCAPES))
    console.print(plain(ESCAPES))
    out = capsys.readouterr().out
    for control in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert control not in out, repr(out)
    assert "\ufffd[1;1HOVERWRITE" in out  # shown, as data
    assert printable("tab\tand\nnewline stay") == "tab\tand\nnewline stay"


def test_json_output_escapes_every_control_character(capsys: pytest.CaptureFixture[str]) -> None:
    print_json({"workflow_id": ESCAPES})
    out = capsys.readouterr().out
    assert all(control not in out for control in ("\x1b", "\x07", "\x9b"))
    assert json.loads(out)["workflow_id"] == ESCAPES  # the data itself, intact


async def test_a_workflow_id_cannot_drive_a_real_terminal(ops_stack: OpsStack) -> None:
    """Another app on the queue names a workflow with escapes; `list` shows it in tmux."""
    await ops_stack.client.start_workflow(
        "AnalysisWorkflow",
        AnalysisInput(symbol="AAPL", notify=False),
        id=ESCAPES,
        task_queue=ops_stack.task_queue,
    )

    async def listed() -> bool:
        found = await tasks.list_tasks(ops_stack.conn)
        return ESCAPES in [task.workflow_id for task in found.tasks]

    await eventually(listed, what="the workflow in visibility")
    env = {"TEMPORAL_ADDRESS": ops_stack.address, "TTAI_TASK_QUEUE": ops_stack.task_queue}
    shown = await in_terminal(starter("list"), env)
    first = shown.splitlines()[0]
    assert not first.startswith("OVERWRITE"), shown  # the cursor was never moved
    assert "\ufffd[1;1HOVERWRITE" in shown, shown
