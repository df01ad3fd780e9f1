"""The outbox's `NOTIFY ttai_notifications` -> resource-updated messages for subscribed clients.

The outbox announces every notification it commits with `pg_notify` in the
same transaction (ttai.notify.outbox), so a listener hears about it exactly
when it becomes visible. This bridge holds one PostgreSQL connection that
`LISTEN`s on that channel and, for each announcement, publishes the resources
it changed (see `changed_resources`). No polling: the database wakes it up.

When the connection drops (PostgreSQL restarted, the stack changed owner) it
reconnects once the stack is ready again and publishes `ttai://notifications`
once, since announcements made meanwhile were not heard.

Announcements are data from whoever can `NOTIFY` on the database: a kind
names a resource only when it is one of the kinds TTAI sends (else only
`ttai://notifications` is said to have changed), and at most MAX_PENDING wait
to be published: past that they are dropped, and every resource they could
have changed is published once instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, get_args

from ttai.mcp.stack import Stack, StackUnavailable

logger = logging.getLogger("ttai.mcp.bridge")

CHANNEL = "ttai_notifications"  # ttai.notify.outbox.NOTIFY_CHANNEL (not imported: asyncpg)
LIVENESS_SECONDS = 5.0

NOTIFICATIONS_URI = "ttai://notifications"
ALERTS_URI = "ttai://alerts"
PORTFOLIO_URI = "ttai://portfolio"
REPORT_URI = "ttai://reports/{kind}"
ANALYSIS_URI = "ttai://analysis/{symbol}"

STATIC_URIS = (NOTIFICATIONS_URI, ALERTS_URI, PORTFOLIO_URI)
MAX_PENDING = 256  # announcements waiting to be published

Publish = Callable[[Sequence[str]], Awaitable[None]]


def changed_resources(kind: str, payload: dict[str, Any]) -> list[str]:
    """The resources a committed notification of `kind` changed (see the module
    docstring: an unknown kind, or a symbol that is not one, names nothing more)."""
    from ttai.models.common import SYMBOL_PATTERN  # late: not on the handshake's path
    from ttai.models.market import OptionEventKind
    from ttai.models.reports import REPORT_WORKFLOWS

    uris = [NOTIFICATIONS_URI]
    symbol = payload.get("symbol")
    position_events = ("opened", "closed", *get_args(OptionEventKind))
    if kind == "alert":
        uris.append(ALERTS_URI)  # the rule's fired count / state changed
    elif kind.startswith("position_") and kind.removeprefix("position_") in position_events:
        uris.append(PORTFOLIO_URI)
    elif kind.removeprefix("report_") in REPORT_WORKFLOWS and kind.startswith("report_"):
        uris.append(REPORT_URI.format(kind=kind.removeprefix("report_")))
    elif (
        kind == "analysis_complete"
        and isinstance(symbol, str)
        and re.fullmatch(SYMBOL_PATTERN, symbol)
    ):
        uris.append(ANALYSIS_URI.format(symbol=symbol))
    return uris


def known_resource(uri: str) -> bool:
    """Is `uri` one this server serves (a static one, or a template filled in as
    a notification of TTAI's would fill it)?"""
    if uri in STATIC_URIS:
        return True
    for kind, template in (("report_", REPORT_URI), ("analysis_complete", ANALYSIS_URI)):
        prefix = template.split("{", 1)[0]
        if uri.startswith(prefix):
            value = uri.removeprefix(prefix)
            if kind == "report_":
                return changed_resources(f"report_{value}", {})[1:] == [uri]
            return changed_resources(kind, {"symbol": value})[1:] == [uri]
    return False


class NotificationBridge:
    def __init__(self, stack: Stack, publish: Publish) -> None:
        self._stack = stack
        self._publish = publish
        self._task: asyncio.Task[None] | None = None
        self._events: asyncio.Queue[str | None] = asyncio.Queue(maxsize=MAX_PENDING)
        self.dropped = 0  # announcements past MAX_PENDING, since the start
        self.listening = asyncio.Event()  # set while LISTEN is active (tests wait on it)

    @property
    def pending(self) -> int:
        """Announcements heard and not published yet (at most MAX_PENDING)."""
        return self._events.qsize()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ttai-notify-bridge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        import asyncpg

        heard_before = False
        while True:
            try:
                await self._stack.connection(wait_seconds=3600)
            except StackUnavailable:
                await asyncio.sleep(1)
                continue
            dsn = self._stack.database_url
            if dsn is None:
                logger.info("no DATABASE_URL with a remote cluster: notifications are not pushed")
                return
            try:
                await self._listen(asyncpg, dsn, missed=heard_before)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                logger.info("notification listener: %s", " ".join(str(err).split()))
            finally:
                self.listening.clear()
            heard_before = True
            self._stack.trouble()
            await asyncio.sleep(1)

    def _heard(self, text: str | None) -> None:
        try:
            self._events.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped += 1  # published as "everything may have changed" once drained

    async def _listen(self, asyncpg: Any, dsn: str, *, missed: bool) -> None:
        conn = await asyncpg.connect(dsn, timeout=10)
        events = self._events = asyncio.Queue(maxsize=MAX_PENDING)
        closed = asyncio.Event()

        def terminated(_conn: Any) -> None:
            closed.set()
            self._heard(None)  # wakes the loop (when full, the next item does)

        dropped_before = self.dropped
        try:
            await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, text: self._heard(text))
            conn.add_termination_listener(terminated)
            self.listening.set()
            logger.info("listening for notifications on %s", CHANNEL)
            if missed:  # announcements while we were away were not heard
                await self._publish([NOTIFICATIONS_URI])
            while True:
                try:
                    # asyncio.timeout, not wait_for: see WAIT_FOR in ttai.mcp.stack
                    async with asyncio.timeout(LIVENESS_SECONDS):
                        text = await events.get()
                except TimeoutError:
                    await conn.fetchval("SELECT 1", timeout=5)  # raises once the server is gone
                    continue
                if text is None or closed.is_set():
                    raise ConnectionError("the notification connection closed")
                await self._publish(await self._resources(conn, text))
                if events.empty() and self.dropped > dropped_before:
                    logger.warning(
                        "%d announcements dropped (more than %d waiting)",
                        self.dropped - dropped_before,
                        MAX_PENDING,
                    )
                    dropped_before = self.dropped
                    await self._publish(STATIC_URIS)
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await conn.close()

    async def _resources(self, conn: Any, text: str) -> list[str]:
        try:
            announcement = json.loads(text)
            row_id, kind = int(announcement["id"]), str(announcement["kind"])
        except (ValueError, KeyError, TypeError):
            logger.warning("unreadable announcement on %s", CHANNEL)
            return [NOTIFICATIONS_URI]
        payload = await conn.fetchval("SELECT payload FROM notifications WHERE id = $1", row_id)
        if isinstance(payload, str):
            payload = json.loads(payload)
        return changed_resources(kind, payload if isinstance(payload, dict) else {})
