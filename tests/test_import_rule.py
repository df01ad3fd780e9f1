"""The layering of the code, checked over every Python file of the project.

One order, from the entry points down to the wire contract. A module may import
its own layer and the layers below it, never one above:

    worker.py, starter.py, mcp_server.py   entry points
    workflows                              orchestration
    activities                             the steps, with the services they hold
    ttai.main_job                          make run's main job
    ttai.mcp                               the MCP server
    ttai.cli                               starter.py's commands
    ttai.servers                           the local PostgreSQL and Temporal dev server
    ttai.services                          what activities hold
    ttai.db                                stores
    ttai.notify                            the outbox and its channels
    ttai.broker                            broker adapters
    ttai.ops                               the operations front ends share (a Temporal client)
    ttai.temporal                          client, codec, step declarations, lanes, schedules
    ttai.domain                            pure logic
    ttai.data                              reference data
    ttai.telemetry                         logs, redaction, metrics, tracing
    ttai.loopback, ttai.config, ttai.private_files
    ttai.models                            the wire contract and its names

So the library `ttai/` never reaches up into the workflows, the activities or the
entry points, and the models import nothing of the project but themselves.

Besides the order, what some layers are built from:
- workflow code imports, from the project, only the activities (their methods are
  what it calls), the step declarations and search attributes (`ttai.temporal`),
  the domain logic and the models: never a store, a broker or the outbox directly;
- the models import only pydantic and the standard library;
- the CLI reaches Temporal only through `ttai.ops` (it never imports temporalio).

And no import cycles, between modules or packages, at any level of the tree.

Every import counts: top-level, inside functions, under `TYPE_CHECKING`, inside
the sandbox's `imports_passed_through()` blocks, and `importlib.import_module`
with a literal name. tests/ and bench/ may import anything.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from ttai.config import PROJECT_ROOT

LAYERS: tuple[str, ...] = (
    "worker",
    "starter",
    "mcp_server",
    "workflows",
    "activities",
    "ttai.main_job",
    "ttai.mcp",
    "ttai.cli",
    "ttai.servers",
    "ttai.services",
    "ttai.db",
    "ttai.notify",
    "ttai.broker",
    "ttai.ops",
    "ttai.temporal",
    "ttai.domain",
    "ttai.data",
    "ttai.telemetry",
    "ttai.loopback",
    "ttai.config",
    "ttai.private_files",
    "ttai.models",
)
"""Top first: each may import itself and what comes after it."""

# What each layer may take from outside the project, where that is restricted.
WORKFLOW_PROJECT_IMPORTS = (
    "workflows",
    "activities",
    "ttai.temporal",
    "ttai.domain",
    "ttai.models",
)
MODEL_THIRD_PARTY = ("pydantic", "pydantic_core", "annotated_types", "typing_extensions")
FORBIDDEN_THIRD_PARTY = {"ttai.cli": ("temporalio",)}

SKIPPED_DIRS = {".venv", "state", ".git", "__pycache__", ".ruff_cache", ".pytest_cache"}
UNCHECKED = ("tests", "bench")


def python_files(root: Path = PROJECT_ROOT) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if not SKIPPED_DIRS.intersection(parts) and parts[0] not in UNCHECKED:
            yield path


def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(rel: Path, source: str) -> Iterator[tuple[int, str]]:
    """(line, absolute name) for every import in the file; `from a import b` gives
    both `a` and `a.b` (b may be a module)."""
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


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in prefixes)


def layer_of(module: str) -> int | None:
    """The index of the layer `module` belongs to (None: not a project module).
    The `ttai` package itself (its `__init__`, a docstring) lies below them all."""
    if module == "ttai":
        return len(LAYERS)
    for index, prefix in enumerate(LAYERS):
        if _within(module, (prefix,)):
            return index
    return None


def is_project(module: str) -> bool:
    return module.split(".")[0] in {"ttai", "workflows", "activities"} or module in LAYERS[:3]


def violations(rel: Path, source: str) -> list[str]:
    """What `rel` (a path relative to the project root) imports against the rules."""
    if rel.parts[0] in UNCHECKED:
        return []
    name = module_name(rel)
    own = layer_of(name)
    if own is None:
        return [f"{rel}: {name} is in no layer: add it to LAYERS in {Path(__file__).name}"]
    found = []
    for line, module in imported(rel, source):
        where = f"{rel}:{line} imports {module}"
        top = module.split(".")[0]
        if is_project(module):
            target = layer_of(module)
            if target is not None and target < own:
                found.append(f"{where}: {LAYERS[target]} is above {LAYERS[own]}")
            elif _within(name, ("workflows",)) and not _within(module, WORKFLOW_PROJECT_IMPORTS):
                found.append(f"{where}: workflow code reaches I/O only through activities")
        elif top in sys.stdlib_module_names or top == "__future__":
            continue
        elif _within(name, ("ttai.models",)) and top not in MODEL_THIRD_PARTY:
            found.append(f"{where}: the models are built from pydantic only")
        elif any(
            _within(name, (layer,)) and _within(module, banned)
            for layer, banned in FORBIDDEN_THIRD_PARTY.items()
        ):
            found.append(f"{where}: the CLI reaches Temporal through ttai.ops")
    return found


def project_graph(files: list[Path], root: Path = PROJECT_ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports (names resolved to real modules)."""
    modules = {module_name(p.relative_to(root)) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        rel = path.relative_to(root)
        targets = set()
        for _, name in imported(rel, path.read_text()):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module_name(rel):
                targets.add(name)
        graph[module_name(rel)] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[str]:
    """Import cycles at every level: between the modules and packages that share a
    parent (a.b.c -> a.d.e is the edge a.b -> a.d under a)."""
    levels: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for source, targets in graph.items():
        for target in targets:
            a, b = source.split("."), target.split(".")
            common = 0
            while common < min(len(a), len(b)) - 1 and a[common] == b[common]:
                common += 1
            if a[: common + 1] == b[: common + 1]:
                continue  # a package and its own module (`ttai.x` -> `ttai.x.y`)
            parent = ".".join(a[:common])
            levels[parent][".".join(a[: common + 1])].add(".".join(b[: common + 1]))
    found = []
    for parent, edges in sorted(levels.items()):
        try:
            TopologicalSorter(edges).prepare()
        except CycleError as err:
            found.append(f"under {parent or 'the root'}: {' -> '.join(err.args[1])}")
    return found


def test_the_repo_follows_the_layering() -> None:
    files = list(python_files())
    assert any(p.parts[-2:] == ("workflows", "analysis.py") for p in files)  # really looked
    found = [
        v for path in files for v in violations(path.relative_to(PROJECT_ROOT), path.read_text())
    ]
    assert found == []


def test_there_are_no_import_cycles() -> None:
    assert cycles(project_graph(list(python_files()))) == []


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("ttai/temporal/schemas.py", "from workflows.registry import ALL_WORKFLOWS"),
        ("ttai/cli/analysis.py", "def f():\n    import activities.analysis"),
        ("ttai/main_job.py", "from worker import build_worker"),
        ("ttai/ops/tasks.py", "import importlib\nimportlib.import_module('workflows.analysis')"),
        (
            "ttai/ops/tasks.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import ttai.db",
        ),
        ("ttai/models/analysis.py", "from ttai.config import Settings"),
        ("ttai/models/analysis.py", "import numpy as np"),
        ("ttai/models/__init__.py", "from ..db import pool"),
        ("ttai/models/alerts.py", "from ttai.domain.alerts import Firing"),
        ("ttai/domain/alerts.py", "from ttai.temporal.steps import step"),
        ("ttai/temporal/codec_server.py", "from ttai.servers.postgres import local_database"),
        ("ttai/servers/postgres.py", "from ttai.main_job import main_job"),
        ("ttai/servers/temporal_server.py", "from ttai.cli.analysis import analysis_table"),
        (
            "workflows/analysis.py",
            "from temporalio import workflow\n"
            "with workflow.unsafe.imports_passed_through():\n"
            "    from ttai.db.analyses import AnalysisStore",
        ),
        ("workflows/screener.py", "from ttai import broker"),
        ("workflows/monitors.py", "from ttai.servers import StackError"),
        ("workflows/reports.py", "from ttai.notify.outbox import Outbox"),
        ("activities/analysis.py", "from workflows.commands import AlertsWorkflow"),
        ("activities/reports.py", "from starter import main"),
        ("ttai/ops/commands.py", "from ttai.db.positions import PositionStore"),
        ("ttai/ops/tasks.py", "def f():\n    import ttai.broker"),
        ("ttai/cli/tasks.py", "from temporalio.client import Client"),
        ("ttai/newthing.py", "import os"),
    ],
)
def test_each_break_of_the_rules_is_caught(path: str, source: str) -> None:
    assert violations(Path(path), source) != []


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("ttai/models/common.py", "from typing import Annotated\nfrom pydantic import BaseModel"),
        ("ttai/models/screener.py", "from .common import Symbol"),
        ("ttai/models/alerts.py", "from ttai.models.conditions import CONDITIONS"),
        ("ttai/domain/alerts.py", "from fractions import Fraction"),
        ("workflows/analysis.py", "from ttai.temporal import search_attributes"),
        ("workflows/monitors.py", "from activities.alerts import AlertActivities"),
        ("worker.py", "from workflows.registry import ALL_WORKFLOWS\nimport ttai.cli"),
        ("tests/test_x.py", "from worker import build_worker"),
        ("ttai/ops/calls.py", "def f():\n    from temporalio.client import Client"),
        ("ttai/cli/tasks.py", "from ttai.ops.tasks import list_tasks"),
        ("ttai/main_job.py", "from ttai.cli.analysis import analysis_table"),
        ("ttai/mcp/stack.py", "from ttai.servers import local_stack"),
    ],
)
def test_allowed_imports_pass(path: str, source: str) -> None:
    assert violations(Path(path), source) == []


def test_a_cycle_is_found_at_any_level() -> None:
    graph = {
        "ttai.broker.paper.account": {"ttai.broker.simulated"},
        "ttai.broker.simulated": {"ttai.broker.simulated.broker"},
        "ttai.broker.simulated.broker": {"ttai.broker.paper.account"},
        "ttai.db.alerts": {"ttai.models.alerts"},
    }
    [found] = cycles(graph)
    assert found.startswith("under ttai.broker: ")
    assert {"ttai.broker.paper", "ttai.broker.simulated"} <= set(found.split(": ")[1].split(" -> "))
    assert len(cycles({"a.x": {"a.y"}, "a.y": {"a.x"}})) == 1
    assert cycles({"ttai.db.alerts": {"ttai.models.alerts"}}) == []
