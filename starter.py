"""Drive TTAI through Temporal: analyses, screens, monitors, alerts, reports, schedules.

    python starter.py analyze AAPL --wait
    python starter.py list --running

Everything here is also reachable with the `temporal` CLI; this adds
validation before anything reaches history, tables, and progress bars. The
commands (ttai/cli) parse and draw; the operations behind them (ttai/ops) are
the same ones the MCP server calls.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from ttai.cli import register_all
from ttai.cli.common import CliError, err_console, plain
from ttai.telemetry.logs import configure_logging, run_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="starter.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--task-queue", help="default: TTAI_TASK_QUEUE or 'ttai'")
    register_all(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(args.func(args))
    except CliError as err:  # every expected failure, ops errors included (cli/common.py)
        err_console.print(plain(f"error: {err}"), highlight=False)
        return err.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Warnings, an unexpected traceback or a SystemExit message: one redacted log line.
    configure_logging(os.environ.get("TTAI_LOG_LEVEL", "WARNING"))
    run_main(run)
