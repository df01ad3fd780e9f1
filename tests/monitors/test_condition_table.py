"""The condition table is the one owner of alert conditions (issue 10 §2).

A condition added as one table entry is validated by the wire model, stored,
evaluated by its monitor, worded in notifications, reports and the CLI help,
with no other file touched (docs/architecture.md, "Adding an alert
condition"); and no other code names a condition.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from tests.helpers.monitor_fakes import short_put
from ttai.config import PROJECT_ROOT
from ttai.db.alerts import AlertStore
from ttai.db.reports import ReportStore
from ttai.domain.alerts import evaluate_position_rules, evaluate_price_rules
from ttai.models import conditions
from ttai.models.alerts import AddAlertInput, AlertRuleSpec
from ttai.models.conditions import CONDITIONS, Condition
from ttai.notify.messages import alert_notification
from ttai.ops.errors import InvalidInput, parse

NOW = datetime(2026, 11, 25, 16, tzinfo=UTC)

# What a contributor would add: close a short option once it has decayed.
DELTA_AT_MOST = Condition(
    "delta_at_most",
    "position",
    "abs_delta",
    "an option's per-contract |delta|, 0-1",
    "at_most",
    "option |delta| at most {threshold}",
    high=1,
    worst="min",
)


@pytest.fixture
def delta_at_most(monkeypatch: pytest.MonkeyPatch) -> Condition:
    monkeypatch.setitem(CONDITIONS, DELTA_AT_MOST.name, DELTA_AT_MOST)
    return DELTA_AT_MOST


def test_unknown_until_it_is_in_the_table() -> None:
    with pytest.raises(ValidationError, match="unknown condition 'delta_at_most'"):
        AlertRuleSpec(symbol="AAPL", condition="delta_at_most", threshold=0.1)


async def test_one_table_entry_is_a_whole_condition(
    delta_at_most: Condition, db_pool: asyncpg.Pool
) -> None:
    # Validated by the wire model, with the entry's bounds.
    spec = AlertRuleSpec(symbol="AAPL", condition="delta_at_most", threshold=0.1)
    with pytest.raises(ValidationError, match=r"delta_at_most threshold must be between 0 and 1"):
        AlertRuleSpec(symbol="AAPL", condition="delta_at_most", threshold=2)

    # Stored as it is (no list of names in the database), read back as one of its family.
    store = AlertStore(db_pool)
    created = await store.create("req-1", spec)
    assert await store.active(conditions.names("position")) == [created]
    assert await store.active(conditions.names("price")) == []

    # Evaluated by the portfolio monitor's rules, not the price monitor's.
    positions = [short_put(s, delta=d) for s, d in (("A1", -0.35), ("A2", -0.08), ("A3", -0.05))]
    (firing,) = evaluate_position_rules([created], positions, NOW)
    assert (firing.subject, firing.observed, firing.sequence) == ("A2, A3", 0.05, 1)
    assert evaluate_price_rules([created], {"AAPL": 1.0}, {}, {"AAPL": 1.0}, NOW) == []

    # Worded the same everywhere: notification, report line, CLI help.
    note = alert_notification(created, firing)
    assert note.title == "Alert: AAPL option |delta| at most 0.1"
    await store.record_check("wf:run:1", NOW, [(firing, note)])
    (line,) = await ReportStore(db_pool).alerts_triggered(NOW, NOW + timedelta(seconds=1))
    assert line.description == "option |delta| at most 0.1"
    assert re.search(r"delta_at_most +option \|delta\| at most THRESHOLD", conditions.help_text())


def test_the_cli_help_lists_the_table(
    delta_at_most: Condition, capsys: pytest.CaptureFixture[str]
) -> None:
    from starter import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["alerts", "add", "--help"])
    out = capsys.readouterr().out
    assert "delta_at_most" in CONDITIONS
    for name in CONDITIONS:
        assert re.search(rf"^{name} +\S", out, re.MULTILINE), name
    assert max(map(len, out.splitlines())) <= 80


def test_a_bad_condition_is_one_line_before_connecting() -> None:
    with pytest.raises(
        InvalidInput, match=r"rule\.condition: unknown condition 'sideways': one of"
    ):
        parse(AddAlertInput, {"rule": {"symbol": "AAPL", "condition": "sideways"}})


# --- no other code names a condition ------------------------------------------------------

CODE_DIRS = ("ttai", "workflows", "activities")
TABLE = Path("ttai/models/conditions.py")
# Applied migrations are history: 004 created the CHECK that 008 dropped.
HISTORY = {Path("ttai/db/migrations/004_monitors.sql")}


def code_files() -> list[Path]:
    files = [p for d in CODE_DIRS for p in (PROJECT_ROOT / d).rglob("*") if p.is_file()]
    files += list(PROJECT_ROOT.glob("*.py"))
    return sorted(
        p.relative_to(PROJECT_ROOT)
        for p in files
        if p.suffix in {".py", ".sql"} and "__pycache__" not in p.parts
    )


def condition_names_in(path: Path) -> set[str]:
    text = (PROJECT_ROOT / path).read_text()
    if path.suffix == ".sql":
        return {name for name in CONDITIONS if re.search(rf"\b{name}\b", text)}
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found |= {name for name in CONDITIONS if re.search(rf"\b{name}\b", node.value)}
    return found


def test_only_the_table_names_conditions() -> None:
    files = code_files()
    assert TABLE in files and Path("ttai/models/alerts.py") in files  # really looked
    named = {
        str(path): sorted(names)
        for path in files
        if path != TABLE and path not in HISTORY and (names := condition_names_in(path))
    }
    assert named == {}
