"""What every starter.py command shares: the client, output, one-line errors."""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.text import Text
from temporalio.client import Client

from ttai.config import Settings
from ttai.models.common import MAX_WORKFLOW_ID_LENGTH
from ttai.temporal.client import connect

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[argparse.Namespace], Awaitable[int]]

console = Console()
# One error, one line: never wrapped at the terminal width.
err_console = Console(stderr=True, soft_wrap=True)


class CliError(Exception):
    """An expected failure: printed as one line, exit code 2 (or `code`)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "task_queue", None):
        settings = settings.model_copy(update={"task_queue": args.task_queue})
    return settings


async def client_from(args: argparse.Namespace) -> Client:
    settings = settings_from(args)
    try:
        return await connect(settings)
    except RuntimeError as err:
        raise CliError(
            f"cannot reach Temporal at {settings.temporal_address}: {err}. "
            "Is the stack up (make run) or TEMPORAL_ADDRESS right?"
        ) from err


def validation_message(err: ValidationError) -> str:
    """pydantic's error list as one line: 'symbol: invalid symbol ...; top_n: ...'."""
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "input"
        parts.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_model(model: type[M], data: dict[str, Any]) -> M:
    """Validate at the edge, before anything reaches Temporal's history."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise CliError(f"invalid input: {validation_message(err)}") from err


def workflow_id_arg(value: str | None, limit: int = MAX_WORKFLOW_ID_LENGTH) -> str | None:
    """A `--id` option, checked before it reaches Temporal (the workflow checks again)."""
    if value is None:
        return None
    if not value or len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise CliError(f"invalid --id: 1-{limit} characters, no control characters")
    return value


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    console.print_json(json.dumps(value, default=str))


def plain(value: object) -> Text:
    """Text shown exactly as written: Rich markup in it (`[bold]`, `[/]`) is not parsed.

    For every table cell, title or message holding text others control: error
    messages, workflow IDs, notes, notification titles.
    """
    return Text("" if value is None else str(value))


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
