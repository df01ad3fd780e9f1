"""Export the JSON Schemas of workflows' public messages (the generic part).

Read from the workflow definitions themselves (run input/result, signals,
queries, updates), so a new handler cannot be forgotten. Another app can
build a valid request from these files without reading any Python.

The workflow classes come in as an argument: the library never imports
`workflows/`. The entry point with the worker's list is `python -m
workflows.registry [--check]` (`make schemas`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio import workflow

from ttai.config import PROJECT_ROOT

SCHEMA_DIR = PROJECT_ROOT / "schemas"


def _schema(model: Any) -> dict[str, Any] | None:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model.model_json_schema(mode="serialization")
    return None


def _pairs(prefix: str, arg_types: list[Any] | None, ret_type: Any) -> dict[str, Any]:
    found = {}
    if arg_types:
        found[f"{prefix}.input"] = _schema(arg_types[0])
    found[f"{prefix}.result"] = _schema(ret_type)
    return {name: schema for name, schema in found.items() if schema is not None}


def definition(cls: type) -> Any:
    """The SDK's definition of a workflow class: its type name, run, signal, query and
    update handlers with their types. temporalio 1.35 exposes these nowhere publicly;
    this is the one place the project reads them (the schemas, and tests that compare
    names with the registry)."""
    return workflow._Definition.must_from_class(cls)


def collect(workflows: Iterable[type]) -> dict[str, dict[str, Any]]:
    """{"AnalysisWorkflow/run.input.json": schema, ...}"""
    files: dict[str, dict[str, Any]] = {}
    for cls in workflows:
        defn = definition(cls)
        entries = _pairs("run", defn.arg_types, defn.ret_type)
        for kind, handlers in (
            ("signal", defn.signals),
            ("query", defn.queries),
            ("update", defn.updates),
        ):
            for name, handler in handlers.items():
                if name is None:
                    continue
                ret = getattr(handler, "ret_type", None)
                entries |= _pairs(f"{kind}.{name}", handler.arg_types, ret)
        for entry, schema in entries.items():
            files[f"{defn.name}/{entry}.json"] = schema
    return files


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def stale(workflows: Iterable[type], directory: Path = SCHEMA_DIR) -> list[str]:
    """Files that differ from the code, are missing, or should not exist."""
    expected = {name: render(schema) for name, schema in collect(workflows).items()}
    on_disk = {str(p.relative_to(directory)): p for p in directory.glob("*/*.json")}
    differing = [
        name
        for name, text in expected.items()
        if name not in on_disk or on_disk[name].read_text() != text
    ]
    return sorted(differing + [name for name in on_disk if name not in expected])


def write(workflows: Iterable[type], directory: Path = SCHEMA_DIR) -> int:
    expected = collect(workflows)
    for old in directory.glob("*/*.json"):
        if str(old.relative_to(directory)) not in expected:
            old.unlink()
    for name, schema in expected.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(schema))
    return len(expected)


def main(workflows: Iterable[type], argv: list[str] | None = None) -> int:
    workflows = list(workflows)
    parser = argparse.ArgumentParser(description="Export workflow JSON Schemas.")
    parser.add_argument("--check", action="store_true", help="fail when schemas/ is stale")
    args = parser.parse_args(argv)
    if args.check:
        differing = stale(workflows)
        if differing:
            print(f"stale schemas (run `make schemas`): {', '.join(differing)}", file=sys.stderr)
            return 1
        return 0
    print(f"wrote {write(workflows)} schemas to {SCHEMA_DIR.relative_to(PROJECT_ROOT)}/")
    return 0
