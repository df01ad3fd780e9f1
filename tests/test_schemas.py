"""The checked-in JSON Schemas match the code and accept what the code accepts."""

from __future__ import annotations

import json

import jsonschema
import pytest

from ttai.models.analysis import AnalysisInput
from ttai.temporal.schemas import SCHEMA_DIR, stale


def test_checked_in_schemas_are_current() -> None:
    assert stale() == [], "run `make schemas` and commit schemas/"


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
    schema = json.loads((SCHEMA_DIR / "AnalysisWorkflow" / "run.input.json").read_text())
    schema_ok = jsonschema.Draft202012Validator(schema).is_valid(document)
    try:
        AnalysisInput.model_validate(document)
        model_ok = True
    except ValueError:
        model_ok = False
    assert schema_ok == model_ok == valid
