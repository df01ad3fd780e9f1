"""starter.py in the test process, the way its users meet bad input."""

from __future__ import annotations

import pytest

from starter import build_parser, run
from ttai.cli.common import CliError


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


async def cli(*argv: str) -> int:
    """`starter.py ARGV` as `run` runs it, but on the test's event loop; an
    expected failure prints its `error: ...` line to stdout (capsys reads it)."""
    args = build_parser().parse_args(list(argv))
    try:
        return await args.func(args)
    except CliError as err:
        print(f"error: {err}")
        return err.code
