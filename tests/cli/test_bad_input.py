"""Every value a model knows the choices of is refused as one line, exit 2, before
connecting (argparse's own multi-line usage error is for a missing argument only)."""

from __future__ import annotations

import pytest

from tests.helpers.cli import refused_offline


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "AAPL", "--strategy", "straddle"], "strategy: Input should be 'csp'"),
        (["screen", "AAPL", "--strategy", "straddle"], "strategy: Input should be 'csp'"),
        (["list", "--type", "NoSuchWorkflow"], "workflow_type: Input should be"),
        (["list", "--recommendation", "buy"], "recommendation: Input should be"),
        (["list", "--limit", "0"], "limit: Input should be greater than or equal to 1"),
        (["monitors", "start", "--hours", "never"], "hours: Input should be 'regular'"),
        (["alerts", "add", "AAPL", "price_above", "1", "--mode", "twice"], "rule.mode:"),
        (["reports", "run", "daily"], "kind: Input should be 'morning_briefing'"),
        (["reports", "latest", "daily"], "kinds.0: Input should be 'morning_briefing'"),
        (["reports", "run", "end_of_day", "--as-of", "2026-11-30T12:00"], "as_of:"),
        (["schedules", "describe", "nope"], "unknown schedule 'nope'"),
        (["monitors", "interval", "all", "60"], "unknown monitor 'all'"),
    ],
)
def test_bad_values_are_one_line_before_connecting(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert message in refused_offline(argv, capsys, monkeypatch)
