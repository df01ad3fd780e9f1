"""starter.py in the test process, the way its users meet bad input."""

from __future__ import annotations

import pytest

from starter import run


def refused_offline(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """The one error line `starter.py ARGV` prints, with nothing listening at
    TEMPORAL_ADDRESS: it must refuse before connecting, with exit code 2."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    assert run(argv) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: "), line
    return line
