"""Saved reports, NLV snapshots, and read-only views of what other features store.

Alert rules (`alert_rules`, `alert_triggers`, migration 004) and screens
(`screens`, migration 003) are written by the monitors and the screener; the
reports only read them, and word alert rules as the condition table does
(`ttai.models.conditions.describe`). Every database is migrated before
a worker uses it, so those tables always exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

from ttai.models.conditions import describe
from ttai.models.reports import (
    AlertLine,
    Report,
    ReportKind,
    SavedReport,
    SaveReportResult,
    ScreenLine,
)


@dataclass(frozen=True)
class NlvSnapshot:
    day: date
    net_liquidating_value: float
    unrealized_pnl: float
    # Broker symbol -> mark of each position held when recorded (after the close):
    # the next session's previous close of a position closed then.
    marks: dict[str, float] = field(default_factory=dict)


class ReportStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def save(self, workflow_id: str, report: Report) -> SaveReportResult:
        async with self._pool.acquire() as conn:
            row_id = await conn.fetchval(
                """
                INSERT INTO reports (workflow_id, kind, as_of, day, title, body, content)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (workflow_id) DO NOTHING
                RETURNING id
                """,
                workflow_id,
                report.kind,
                report.as_of,
                report.day,
                report.title,
                report.markdown,
                report.content.model_dump(mode="json"),
            )
            if row_id is not None:
                return SaveReportResult(report_id=row_id, created=True)
            existing = await conn.fetchval(
                "SELECT id FROM reports WHERE workflow_id = $1", workflow_id
            )
            return SaveReportResult(report_id=existing, created=False)

    async def latest(self, kinds: list[ReportKind]) -> list[SavedReport]:
        """The newest saved report of each of `kinds` that has one, in that order."""
        rows = await self._rows(
            """
            SELECT DISTINCT ON (kind) id AS report_id, workflow_id, kind, as_of, day, title,
                body AS markdown, created_at
            FROM reports WHERE kind = ANY($1::text[])
            ORDER BY kind, day DESC, as_of DESC, id DESC
            """,
            list(dict.fromkeys(kinds)),
        )
        by_kind = {r["kind"]: SavedReport(**dict(r)) for r in rows}
        return [by_kind[k] for k in dict.fromkeys(kinds) if k in by_kind]

    async def record_snapshot(self, snapshot: NlvSnapshot) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                """
                INSERT INTO nlv_snapshots (day, net_liquidating_value, unrealized_pnl, marks)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (day) DO UPDATE
                SET net_liquidating_value = EXCLUDED.net_liquidating_value,
                    unrealized_pnl = EXCLUDED.unrealized_pnl,
                    marks = EXCLUDED.marks,
                    recorded_at = now()
                """,
                snapshot.day,
                snapshot.net_liquidating_value,
                snapshot.unrealized_pnl,
                snapshot.marks,
            )

    async def snapshot_before(self, day: date) -> NlvSnapshot | None:
        """The latest snapshot strictly before `day`."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """
                SELECT day, net_liquidating_value, unrealized_pnl, marks FROM nlv_snapshots
                WHERE day < $1 ORDER BY day DESC LIMIT 1
                """,
                day,
            )
        return None if row is None else NlvSnapshot(**{**dict(row), "marks": _json(row["marks"])})

    async def armed_alerts(self, at: datetime) -> list[AlertLine]:
        rows = await self._rows(
            """
            SELECT r.id AS alert_id, r.symbol, r.condition, r.threshold, r.note,
                   r.reference_price, NULL::timestamptz AS triggered_at,
                   r.last_read_at IS NOT NULL AND r.last_reading IS NULL AS reading_unknown
            FROM alert_rules r
            WHERE r.status = 'active' AND (r.expires_at IS NULL OR r.expires_at > $1)
            ORDER BY r.symbol, r.id
            """,
            at,
        )
        return [_alert_line(r) for r in rows]

    async def alerts_triggered(self, start: datetime, end: datetime) -> list[AlertLine]:
        rows = await self._rows(
            """
            SELECT r.id AS alert_id, r.symbol, r.condition, r.threshold, r.note,
                   r.reference_price, t.triggered_at, FALSE AS reading_unknown
            FROM alert_triggers t JOIN alert_rules r ON r.id = t.alert_id
            WHERE t.triggered_at >= $1 AND t.triggered_at < $2
            ORDER BY t.triggered_at, t.id
            """,
            start,
            end,
        )
        return [_alert_line(r) for r in rows]

    async def screens(self, start: datetime, end: datetime) -> list[ScreenLine]:
        rows = await self._rows(
            """
            SELECT workflow_id, finished_at, analyzed, result FROM screens
            WHERE status = 'completed' AND finished_at >= $1 AND finished_at < $2
            ORDER BY finished_at, id
            """,
            start,
            end,
        )
        return [
            ScreenLine(
                screen_id=r["workflow_id"],
                completed_at=r["finished_at"],
                analyzed=r["analyzed"],
                top=[entry["symbol"] for entry in _json(r["result"]).get("top", [])],
            )
            for r in rows
        ]

    async def _rows(self, query: str, *args: object) -> list[asyncpg.Record]:
        async with self._pool.acquire() as conn:
            return await conn.fetch(query, *args)


def _json(value: Any) -> dict[str, Any]:
    # The pool decodes jsonb; a bare connection hands back text.
    return json.loads(value) if isinstance(value, str) else value


def _alert_line(row: asyncpg.Record) -> AlertLine:
    """The rule as it reads (a move names the user's reference), with its note and,
    for an armed rule whose last check could not read its number, that it was unknown."""
    rule = describe(row["condition"], row["threshold"], row["reference_price"])
    extras = [row["note"]] if row["note"] else []
    if row["reading_unknown"]:
        extras.append("last reading unknown")
    return AlertLine(
        alert_id=str(row["alert_id"]),
        symbol=row["symbol"],
        description=f"{rule} ({'; '.join(extras)})" if extras else rule,
        triggered_at=row["triggered_at"],
    )
