"""Where notifications go: the log always, plus any Apprise URLs configured.

Apprise speaks to ~170 services (ntfy, Telegram, Slack, Discord, e-mail, JSON
webhooks via `json://host/path`) from one URL list; it does not de-duplicate,
which is why every send goes through the outbox first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import apprise

from ttai.models.notifications import Notification

logger = logging.getLogger("ttai.notifications")


class DeliveryFailed(Exception):
    pass


class Channel(Protocol):
    async def send(self, notification: Notification) -> None: ...


class LogChannel:
    async def send(self, notification: Notification) -> None:
        logger.info("notification %s: %s", notification.kind, notification.title)


class AppriseChannel:
    def __init__(self, urls: Sequence[str]) -> None:
        self._apprise = apprise.Apprise()
        for url in urls:
            if not self._apprise.add(url):
                # The URL itself may hold a token: name only its scheme.
                raise ValueError(f"unsupported notification URL scheme: {url.split(':', 1)[0]}")

    async def send(self, notification: Notification) -> None:
        ok = await self._apprise.async_notify(
            body=notification.body,
            title=notification.title,
            body_format=apprise.NotifyFormat.MARKDOWN,
        )
        if not ok:
            raise DeliveryFailed(f"a channel refused notification {notification.idempotency_key}")


def channels_from_urls(urls: Sequence[str]) -> list[Channel]:
    return [LogChannel(), *([AppriseChannel(urls)] if urls else [])]
