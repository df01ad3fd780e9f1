"""`starter.py schedules ...`: validation before anything is sent, and the
commands against a dev server."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.service import RPCError

from tests.helpers.cli import cli, refused_offline
from ttai.models.reports import SCHEDULE_IDS
from ttai.ops.errors import InvalidInput
from ttai.ops.reports import MAX_BACKFILL, backfill_range
from ttai.servers.temporal_server import TemporalDevServer

NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trigger", "nope"], "unknown schedule 'nope': expected one of report-morning-briefing"),
        (["describe", "report-"], "unknown schedule 'report-'"),
        (
            ["backfill", "end-of-day", "2026-11-20", "2026-11-10"],
            "backfill range is inverted or empty",
        ),
        (["backfill", "end-of-day", "2025-01-01", "2026-11-10"], "longer than 31 days"),
        (["backfill", "end-of-day", "yesterday", "2026-11-10"], "invalid time 'yesterday'"),
    ],
)
def test_bad_input_is_one_error_and_exit_2_without_a_server(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert message in refused_offline(["schedules", *argv], capsys, monkeypatch)


def test_backfill_range_reads_dates_as_whole_new_york_days() -> None:
    first, last = backfill_range("2026-11-02", "2026-11-06", NOW)
    assert first == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # midnight EST
    assert last == datetime(2026, 11, 7, 5, 0, tzinfo=UTC)  # TO is inclusive
    # An end in the future is cut at now; a start in the future is refused.
    assert backfill_range("2026-11-25", "2026-11-30", NOW)[1] == NOW
    with pytest.raises(InvalidInput, match="starts in the future"):
        backfill_range("2026-11-27", "2026-11-30", NOW)
    # Exactly the limit is allowed.
    first, last = backfill_range("2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00", NOW)
    assert last - first == MAX_BACKFILL


@pytest_asyncio.fixture(loop_scope="session")
async def server_env(
    client: Client, dev_server: TemporalDevServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Client]:
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("TTAI_TASK_QUEUE", "tq-cli")

    async def delete_ours() -> None:
        for sid in SCHEDULE_IDS.values():
            with contextlib.suppress(RPCError):
                await client.get_schedule_handle(sid).delete()

    await delete_ours()
    try:
        yield client
    finally:
        await delete_ours()


async def test_commands_against_a_dev_server(
    server_env: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    client = server_env
    assert await cli("schedules", "trigger", "end-of-day") == 2
    assert "report-end-of-day does not exist: run `starter.py schedules apply`" in " ".join(
        capsys.readouterr().out.split()
    )

    assert await cli("schedules", "apply", "--json") == 0
    assert json.loads(capsys.readouterr().out) == dict.fromkeys(SCHEDULE_IDS.values(), "created")
    assert await cli("schedules", "apply", "--json") == 0
    assert json.loads(capsys.readouterr().out) == dict.fromkeys(SCHEDULE_IDS.values(), "unchanged")

    assert await cli("schedules", "pause", "morning-briefing", "--note", "vacation") == 0
    assert (
        await client.get_schedule_handle("report-morning-briefing").describe()
    ).schedule.state.paused
    capsys.readouterr()
    assert await cli("schedules", "list", "--json") == 0
    listed = {row["schedule_id"]: row["status"] for row in json.loads(capsys.readouterr().out)}
    assert listed == {
        "report-morning-briefing": "paused",
        "report-end-of-day": "active",
        "report-weekly-review": "active",
    }
    assert await cli("schedules", "unpause", "report-morning-briefing") == 0
    capsys.readouterr()
    assert await cli("schedules", "describe", "weekly-review", "--json") == 0
    described = json.loads(capsys.readouterr().out)
    assert described["schedule_id"] == "report-weekly-review" and not described["paused"]
    assert described["time_zone"] == "America/New_York"
    assert len(described["next_action_times"]) == 5

    assert await cli("schedules", "delete", "weekly-review") == 0
    capsys.readouterr()
    assert await cli("schedules", "describe", "weekly-review") == 2
    assert "does not exist" in capsys.readouterr().out
