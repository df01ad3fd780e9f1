"""Text others control is shown literally, and settings never print their secrets.

Error messages, workflow IDs, failure reasons and schedule notes can hold
anything (Rich markup included): tables show them as written, never style
them, drop parts of them or crash on them.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from ttai.cli import analysis as analysis_cli
from ttai.cli import monitors as monitors_cli
from ttai.cli.screen import screen_table
from ttai.config import Settings
from ttai.models.monitors import MonitorState, MonitorStatus
from ttai.models.screener import ScreenFailure, ScreenResult

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


class FakeHandle:
    def __init__(self, status: MonitorStatus) -> None:
        self.status = status

    async def query(self, name: str, result_type: Any = None) -> MonitorStatus:
        return self.status


class FakeClient:
    def __init__(self, status: MonitorStatus) -> None:
        self.status = status

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self.status)


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
async def test_monitor_status_shows_error_text_literally(
    error: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def fake_client(args: argparse.Namespace) -> FakeClient:
        return FakeClient(_status(error))

    monkeypatch.setattr(monitors_cli, "client_from", fake_client)
    monkeypatch.setenv("COLUMNS", "300")
    args = argparse.Namespace(name="price-alerts", json=False)
    assert await monitors_cli.status_command(args) == 0
    out = capsys.readouterr().out
    assert f"error: {error}" in out, out


def test_screen_table_shows_ids_and_reasons_literally(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    result = ScreenResult(
        screen_id="screen-[bold]1[/]",
        strategy="csp",
        watchlist=None,
        status="completed",
        total=1,
        analysed=0,
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
    row = SimpleNamespace(
        id="analysis-[/]-[bold]z",
        workflow_type="AnalysisWorkflow",
        status=None,
        start_time=NOW,
        typed_search_attributes=[],
    )

    class Listing:
        def list_workflows(self, query: str, limit: int) -> Any:
            async def rows() -> Any:
                yield row

            return rows()

    async def fake_client(args: argparse.Namespace) -> Listing:
        return Listing()

    monkeypatch.setattr(analysis_cli, "client_from", fake_client)
    monkeypatch.setenv("COLUMNS", "300")
    args = argparse.Namespace(running=False, type=None, symbol=None, limit=5, json=False)
    assert await analysis_cli.list_command(args) == 0
    assert "analysis-[/]-[bold]z" in capsys.readouterr().out
