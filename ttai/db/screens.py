"""Saved screens. (workflow_id, first run_id) makes a save idempotent."""

from __future__ import annotations

import asyncpg

from ttai.models.screener import SaveScreenResult, ScreenResult


class ScreenStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def save(self, workflow_id: str, run_id: str, result: ScreenResult) -> SaveScreenResult:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """
                INSERT INTO screens (workflow_id, run_id, strategy, watchlist, status, total,
                                     analyzed, rejected, failed, result, started_at, finished_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                ON CONFLICT (workflow_id, run_id) DO UPDATE SET saved_at = screens.saved_at
                RETURNING id, (xmax = 0) AS created
                """,
                workflow_id,
                run_id,
                result.strategy,
                result.watchlist,
                result.status,
                result.total,
                result.analyzed,
                result.rejected,
                result.failed,
                result.model_dump(mode="json"),
                result.started_at,
                result.finished_at,
            )
        return SaveScreenResult(screen_row_id=row["id"], created=row["created"])

    async def get(self, workflow_id: str) -> ScreenResult | None:
        """The latest saved screen with this workflow ID."""
        async with self._pool.acquire() as conn:
            value = await conn.fetchval(
                "SELECT result FROM screens WHERE workflow_id = $1 ORDER BY saved_at DESC LIMIT 1",
                workflow_id,
            )
        return None if value is None else ScreenResult.model_validate(value)
