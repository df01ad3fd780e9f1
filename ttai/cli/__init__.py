"""starter.py's commands, one module per concern.

Each module exposes `register(subparsers)`, adding its parsers with
`set_defaults(func=<async handler returning the exit code>)`.
"""

from __future__ import annotations

import argparse
import importlib

COMMAND_MODULES = [
    "ttai.cli.analysis",
    "ttai.cli.broker",
    "ttai.cli.monitors",
    "ttai.cli.notifications",
    "ttai.cli.schedules",
    "ttai.cli.screen",
]


def register_all(subparsers: argparse._SubParsersAction) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
