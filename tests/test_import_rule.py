"""The import rule between the layers, checked over every Python file in the repo.

    root scripts (worker.py, starter.py, ...) -> workflows/, activities/ -> ttai/

- `ttai/` never imports `workflows`, `activities` or a root script;
- `workflows/` and `activities/` never import a root script, and activities
  never import workflows (workflows name activities, not the other way);
- `workflows/` never imports the stores, the broker, the outbox or the local
  stack (`ttai.db`, `ttai.broker`, `ttai.notify`, `ttai.servers`): workflows
  orchestrate, activities do the I/O;
- `ttai/models` (the wire contract) imports only pydantic, the standard
  library and `ttai.models`, with one exception: the alert-condition table
  `ttai.domain.alerts.conditions`, which owns the condition names and bounds
  the wire model validates (issue 10, "one owner per concept"). That module
  (and the packages above it, which run when it is imported) may import
  only the standard library, so the exception brings nothing else along;
- `ttai/ops` (the operations front ends share) is a Temporal client: it never
  imports the stores, the broker, the outbox or the local stack;
- `ttai/cli` never imports `temporalio`: every call to Temporal goes through
  `ttai/ops`, so no client logic exists twice.

Every import counts: top-level, inside functions, inside the sandbox's
`imports_passed_through()` blocks, and `importlib.import_module("...")` with
a literal name. tests/ and bench/ may import anything.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ttai.config import PROJECT_ROOT

SKIPPED_DIRS = {".venv", "state", ".git", "__pycache__", ".ruff_cache", ".pytest_cache"}
ROOT_SCRIPTS = frozenset(p.stem for p in PROJECT_ROOT.glob("*.py"))
WORKFLOW_FORBIDDEN = ("ttai.db", "ttai.broker", "ttai.notify", "ttai.servers")
# Besides the standard library: what the wire contract may be built from.
MODEL_ALLOWED = ("pydantic", "pydantic_core", "annotated_types", "typing_extensions", "ttai.models")
# Besides the layer rule above, per ttai/ package.
PACKAGE_FORBIDDEN = {"ops": WORKFLOW_FORBIDDEN, "cli": ("temporalio",)}
# Modules outside ttai/models that the models may import: each stdlib-only, with its reason.
MODEL_EXCEPTIONS = {
    "ttai.domain.alerts.conditions": (
        "the alert-condition table: AlertRuleSpec takes its names, bounds and wording from it"
    ),
}
STDLIB_ONLY = frozenset(
    {*MODEL_EXCEPTIONS, "ttai", "ttai.domain", "ttai.domain.alerts"}  # + the packages run first
)


def python_files() -> Iterator[Path]:
    for path in sorted(PROJECT_ROOT.rglob("*.py")):
        if not SKIPPED_DIRS.intersection(path.relative_to(PROJECT_ROOT).parts):
            yield path


def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(rel: Path, source: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in the file."""
    package = module_name(rel).split(".")
    if rel.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(source, filename=str(rel))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield node.lineno, module
            # `from ttai import db` imports ttai.db
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _within(module: str, packages: tuple[str, ...] | frozenset[str]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def violations(rel: Path, source: str) -> list[str]:
    """What `rel` (a path relative to the project root) imports against the rule."""
    layer = rel.parts[0] if len(rel.parts) > 1 else "<root script>"
    found = []
    for line, module in imported(rel, source):
        stdlib = module.split(".")[0] in sys.stdlib_module_names
        if module_name(rel) in STDLIB_ONLY and not stdlib:
            found.append(f"{rel}:{line} imports {module} (imported by the models: stdlib only)")
            continue
        if layer == "ttai":
            forbidden = ("workflows", "activities", *ROOT_SCRIPTS)
            forbidden += PACKAGE_FORBIDDEN.get(rel.parts[1], ())
            if rel.parts[1] == "models" and not (
                stdlib or _within(module, MODEL_ALLOWED) or _within(module, tuple(MODEL_EXCEPTIONS))
            ):
                found.append(f"{rel}:{line} imports {module} (models: pydantic/stdlib only)")
                continue
        elif layer == "workflows":
            forbidden = (*ROOT_SCRIPTS, *WORKFLOW_FORBIDDEN)
        elif layer == "activities":
            forbidden = ("workflows", *ROOT_SCRIPTS)
        else:
            continue  # root scripts, tests/, bench/
        if _within(module, tuple(forbidden)):
            found.append(f"{rel}:{line} imports {module}")
    return found


def test_the_repo_follows_the_import_rule() -> None:
    files = list(python_files())
    assert any(p.parts[-2:] == ("workflows", "analysis.py") for p in files)  # really looked
    found = [
        v for path in files for v in violations(path.relative_to(PROJECT_ROOT), path.read_text())
    ]
    assert found == []


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("ttai/temporal/schemas.py", "from workflows.registry import ALL_WORKFLOWS"),
        ("ttai/cli/analysis.py", "def f():\n    import activities.analysis"),
        ("ttai/main.py", "from worker import build_worker"),
        ("ttai/ops/tasks.py", "import importlib\nimportlib.import_module('workflows.analysis')"),
        ("ttai/models/analysis.py", "from ttai.config import Settings"),
        ("ttai/models/analysis.py", "import numpy as np"),
        ("ttai/models/__init__.py", "from ..db import pool"),
        ("ttai/models/alerts.py", "from ttai.domain.alerts.rules import Firing"),
        ("ttai/models/alerts.py", "from ttai.domain.alerts import rules"),
        ("ttai/domain/alerts/conditions.py", "from ttai.models.market import Position"),
        ("ttai/domain/alerts/conditions.py", "from pydantic import BaseModel"),
        ("ttai/domain/alerts/__init__.py", "from ttai.domain.alerts.rules import Firing"),
        ("ttai/domain/__init__.py", "from ttai.domain import market_calendar"),
        (
            "workflows/analysis.py",
            "from temporalio import workflow\n"
            "with workflow.unsafe.imports_passed_through():\n"
            "    from ttai.db.analyses import AnalysisStore",
        ),
        ("workflows/screener.py", "from ttai import broker"),
        ("workflows/monitors.py", "from ttai.servers.local import local_stack"),
        ("workflows/reports.py", "from ttai.notify.outbox import Outbox"),
        ("activities/analysis.py", "from workflows.policies import step"),
        ("activities/reports.py", "from starter import main"),
        ("ttai/ops/portfolio.py", "from ttai.db.positions import PositionStore"),
        ("ttai/ops/tasks.py", "def f():\n    import ttai.broker"),
        ("ttai/cli/tasks.py", "from temporalio.client import Client"),
    ],
)
def test_each_break_of_the_rule_is_caught(path: str, source: str) -> None:
    assert violations(Path(path), source) != []


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("ttai/models/common.py", "from typing import Annotated\nfrom pydantic import BaseModel"),
        ("ttai/models/screener.py", "from .common import Symbol"),
        ("ttai/models/alerts.py", "from ttai.domain.alerts.conditions import CONDITIONS"),
        ("ttai/domain/alerts/conditions.py", "from fractions import Fraction"),
        ("workflows/analysis.py", "from ttai.temporal import search_attributes"),
        ("workflows/monitors.py", "from activities.monitors import MonitorActivities"),
        ("worker.py", "from workflows.registry import ALL_WORKFLOWS\nimport ttai.cli"),
        ("tests/test_x.py", "from worker import build_worker"),
        ("ttai/ops/calls.py", "def f():\n    from temporalio.client import Client"),
        ("ttai/cli/tasks.py", "from ttai.ops.tasks import list_tasks"),
    ],
)
def test_allowed_imports_pass(path: str, source: str) -> None:
    assert violations(Path(path), source) == []
