"""What every starter.py command shares: the connection, output, the one error wrapper.

A command module only parses arguments, calls `ttai.ops`, and draws. Every
handler is registered with `handles(parser, func)`, which turns the ops
layer's errors (`OpsError`) into a `CliError`: one line on stderr and the
error's exit code (2 for a request to fix, 1 for something down or failed).
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel
from rich.console import Console
from rich.text import Text

from ttai.cli.tables import printable
from ttai.ops.connection import Connection
from ttai.ops.errors import OpsError

Handler = Callable[[argparse.Namespace], Awaitable[int]]

console = Console()
# One error, one line: never wrapped at the terminal width.
err_console = Console(stderr=True, soft_wrap=True)


class CliError(Exception):
    """An expected failure: printed as one line, exit code 2 (or `code`)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def handles(parser: argparse.ArgumentParser, func: Handler, **defaults: Any) -> None:
    """Register `func` as the parser's handler, behind the one error wrapper."""

    @functools.wraps(func)
    async def one_line_errors(args: argparse.Namespace) -> int:
        try:
            return await func(args)
        except OpsError as err:
            raise CliError(str(err), err.exit_code) from None

    parser.set_defaults(func=one_line_errors, **defaults)


def connection(args: argparse.Namespace) -> Connection:
    """Settings from the environment and `--task-queue`; connects on first use."""
    return Connection.from_env(task_queue=getattr(args, "task_queue", None))


def choices(literal: Any) -> list[str]:
    """The values of a `Literal[...]` type: what a command offers comes from the models."""
    return [str(value) for value in get_args(literal)]


def one_of(literal: Any, default: object = None) -> str:
    """Help listing a Literal's values. The value itself is checked by the model, not by
    argparse `choices`, so a wrong one is the same one-line error as any bad input."""
    text = f"one of {', '.join(choices(literal))}"
    return text if default is None else f"{text} (default: {default})"


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    # ensure_ascii: C1 controls (and DEL) are escaped too, not only C0.
    console.print_json(json.dumps(value, default=str), ensure_ascii=True)


def plain(value: object) -> Text:
    """Text shown exactly as written: Rich markup in it (`[bold]`, `[/]`) is not parsed,
    control characters are shown as U+FFFD (`printable`).

    For every table cell, title or message holding text others control: error
    messages, workflow IDs, notes, notification titles.
    """
    return Text("" if value is None else printable(str(value)))


def say(message: object) -> None:
    """One line of output, shown literally."""
    console.print(plain(message))


def local_time(value: datetime | None) -> str:
    """A time in this machine's zone, to the second; '-' for none."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
