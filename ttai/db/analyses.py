"""Saved analyses. The (workflow_id, run_id) key makes a save idempotent."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ttai.models.analysis import AnalysisResult, SaveAnalysisResult


class AnalysisStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def save(
        self, workflow_id: str, run_id: str, result: AnalysisResult, screen_id: str | None
    ) -> SaveAnalysisResult:
        async with self._pool.acquire() as conn:
            row_id = await conn.fetchval(
                """
                INSERT INTO analyses (workflow_id, run_id, symbol, strategy, recommendation,
                                      chart_score, screen_id, result)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (workflow_id, run_id) DO NOTHING
                RETURNING id
                """,
                workflow_id,
                run_id,
                result.symbol,
                result.strategy,
                result.recommendation,
                result.chart.score,
                screen_id,
                result.model_dump(mode="json"),
            )
            if row_id is not None:
                return SaveAnalysisResult(analysis_id=row_id, created=True)
            existing = await conn.fetchval(
                "SELECT id FROM analyses WHERE workflow_id = $1 AND run_id = $2",
                workflow_id,
                run_id,
            )
            return SaveAnalysisResult(analysis_id=existing, created=False)

    async def find(self, workflow_id: str, run_id: str) -> AnalysisResult | None:
        """The saved analysis with this key (its `analysis_id` set), or None."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT id, result FROM analyses WHERE workflow_id = $1 AND run_id = $2",
                workflow_id,
                run_id,
            )
        if row is None:
            return None
        return AnalysisResult.model_validate(row["result"]).model_copy(
            update={"analysis_id": row["id"]}
        )

    async def since(self, start: datetime, end: datetime | None = None) -> list[AnalysisResult]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """
                SELECT result FROM analyses
                WHERE created_at >= $1 AND ($2::timestamptz IS NULL OR created_at < $2)
                ORDER BY created_at
                """,
                start,
                end,
            )
        return [AnalysisResult.model_validate(r["result"]) for r in rows]
