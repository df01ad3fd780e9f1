"""The checked-in JSON Schemas match the code and accept what the code accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from ttai.models.analysis import AnalysisInput
from ttai.temporal import schemas
from workflows.commands import WatchlistWorkflow
from workflows.registry import ALL_WORKFLOWS


def test_checked_in_schemas_are_current() -> None:
    assert schemas.stale(ALL_WORKFLOWS) == [], "run `make schemas` and commit schemas/"


def test_check_entry_point_exits_0_when_current() -> None:
    """What `make schemas` pairs with: `python -m workflows.registry --check`."""
    check = [sys.executable, "-m", "workflows.registry", "--check"]
    done = subprocess.run(check, cwd=schemas.SCHEMA_DIR.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_exporter_reports_changed_missing_and_extra_files(tmp_path: Path) -> None:
    """The generic exporter takes the workflow classes it describes."""
    assert schemas.write([WatchlistWorkflow], tmp_path) == 2
    assert schemas.stale([WatchlistWorkflow], tmp_path) == []
    (tmp_path / "WatchlistWorkflow" / "run.input.json").write_text("{}\n")
    (tmp_path / "WatchlistWorkflow" / "run.result.json").unlink()
    (tmp_path / "Gone").mkdir()
    (tmp_path / "Gone" / "run.input.json").write_text("{}\n")
    assert schemas.stale([WatchlistWorkflow], tmp_path) == [
        "Gone/run.input.json",
        "WatchlistWorkflow/run.input.json",
        "WatchlistWorkflow/run.result.json",
    ]


@pytest.mark.parametrize(
    ("document", "valid"),
    [
        ({"symbol": "AAPL"}, True),
        ({"symbol": "BRK.B", "strategy": "csp", "notify": False}, True),
        ({"symbol": "aapl"}, False),
        ({"symbol": "AAPL", "strategy": "straddle"}, False),
        ({"symbol": "AAPL", "extra": 1}, False),
        ({}, False),
    ],
)
def test_analysis_input_schema_agrees_with_the_model(document: dict, valid: bool) -> None:
    schema = json.loads((schemas.SCHEMA_DIR / "AnalysisWorkflow" / "run.input.json").read_text())
    schema_ok = jsonschema.Draft202012Validator(schema).is_valid(document)
    try:
        AnalysisInput.model_validate(document)
        model_ok = True
    except ValueError:
        model_ok = False
    assert schema_ok == model_ok == valid
