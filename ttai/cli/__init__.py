"""starter.py's commands, one module per command group.

Each module exposes `register(subparsers)`, adding its parsers with their
handler (`common.handles`): argument parsing and drawing only; every call to
Temporal goes through `ttai.ops`.
"""

from __future__ import annotations

import argparse

from ttai.cli import (
    alerts,
    analysis,
    broker,
    market,
    monitors,
    notifications,
    portfolio,
    reports,
    schedules,
    screen,
    tasks,
    watchlist,
)

COMMAND_GROUPS = (
    analysis,
    tasks,
    screen,
    watchlist,
    monitors,
    alerts,
    portfolio,
    market,
    reports,
    schedules,
    notifications,
    broker,
)


def register_all(subparsers: argparse._SubParsersAction) -> None:
    for group in COMMAND_GROUPS:
        group.register(subparsers)
