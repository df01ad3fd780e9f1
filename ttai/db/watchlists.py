"""Watchlists: named, ordered symbol sets in PostgreSQL.

Every change is a set operation (add what is missing, remove what is there),
so a retried activity changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from ttai.data.sp500 import sp500_symbols
from ttai.models.screener import MAX_SCREEN_SYMBOLS, WatchlistInfo


class WatchlistTooLarge(ValueError):
    pass


class WatchlistStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def list(self) -> list[WatchlistInfo]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """
                SELECT w.name, w.updated_at, count(s.symbol) AS size
                FROM watchlists w LEFT JOIN watchlist_symbols s ON s.watchlist = w.name
                GROUP BY w.name ORDER BY w.name
                """
            )
        return [
            WatchlistInfo(name=r["name"], size=r["size"], updated_at=r["updated_at"]) for r in rows
        ]

    async def symbols(self, name: str) -> list[str] | None:
        """The watchlist's symbols in the order they were added; None if it does not exist."""
        async with self._pool.acquire() as conn:
            return await self._symbols(conn, name)

    @staticmethod
    async def _symbols(conn: asyncpg.Connection, name: str) -> list[str] | None:
        if not await conn.fetchval("SELECT 1 FROM watchlists WHERE name = $1", name):
            return None
        rows = await conn.fetch(
            "SELECT symbol FROM watchlist_symbols WHERE watchlist = $1 ORDER BY position", name
        )
        return [r["symbol"] for r in rows]

    async def add(self, name: str, symbols: Sequence[str]) -> tuple[int, list[str]]:
        """Create the watchlist if needed and add the symbols it lacks: (added, symbols after)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO watchlists (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", name
            )
            # Row lock: two concurrent adds cannot both pass the size check.
            await conn.execute("SELECT 1 FROM watchlists WHERE name = $1 FOR UPDATE", name)
            added = await conn.fetch(
                """
                INSERT INTO watchlist_symbols (watchlist, symbol)
                SELECT $1, symbol FROM unnest($2::text[]) WITH ORDINALITY AS t (symbol, n)
                ORDER BY n
                ON CONFLICT (watchlist, symbol) DO NOTHING
                RETURNING symbol
                """,
                name,
                list(symbols),
            )
            after = await self._symbols(conn, name) or []
            if len(after) > MAX_SCREEN_SYMBOLS:
                raise WatchlistTooLarge(
                    f"watchlist {name} would hold {len(after)} symbols; "
                    f"at most {MAX_SCREEN_SYMBOLS} (the screen cap)"
                )
            if added:
                await conn.execute("UPDATE watchlists SET updated_at = now() WHERE name = $1", name)
        return len(added), after

    async def remove(self, name: str, symbols: Sequence[str]) -> tuple[int, list[str]] | None:
        """Remove the symbols present: (removed, symbols after); None if no such watchlist."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT 1 FROM watchlists WHERE name = $1", name):
                return None
            removed = await conn.fetch(
                "DELETE FROM watchlist_symbols WHERE watchlist = $1 AND symbol = ANY($2::text[])"
                " RETURNING symbol",
                name,
                list(symbols),
            )
            if removed:
                await conn.execute("UPDATE watchlists SET updated_at = now() WHERE name = $1", name)
            return len(removed), await self._symbols(conn, name) or []

    async def delete(self, name: str) -> bool:
        async with self._pool.acquire() as conn:
            status = await conn.execute("DELETE FROM watchlists WHERE name = $1", name)
        return status != "DELETE 0"

    async def seed(self, name: str, symbols: Sequence[str]) -> bool:
        """Create `name` with `symbols` unless it exists (then nothing changes). True if created."""
        async with self._pool.acquire() as conn, conn.transaction():
            created = await conn.fetchval(
                "INSERT INTO watchlists (name) VALUES ($1) ON CONFLICT (name) DO NOTHING"
                " RETURNING true",
                name,
            )
            if created:
                await conn.execute(
                    """
                    INSERT INTO watchlist_symbols (watchlist, symbol)
                    SELECT $1, symbol FROM unnest($2::text[]) WITH ORDINALITY AS t (symbol, n)
                    ORDER BY n
                    """,
                    name,
                    list(symbols),
                )
        return bool(created)


def builtin_watchlists() -> dict[str, list[str]]:
    """Watchlists created on first use: `sp500`, the real S&P 500 constituents
    (ttai/data/sp500.csv, with its as-of date and source). The simulated market
    simulates every one of them, so the same list works on both brokers."""
    return {"sp500": sp500_symbols()}
