"""Where notifications go: the log always, plus one channel per Apprise URL configured.

Apprise speaks to ~170 services (ntfy, Telegram, Slack, Discord, e-mail, JSON
webhooks via `json://host/path`) from one URL list; it does not de-duplicate,
and one Apprise object for several URLs reports only "some failed". So each
URL is its own channel, with its own outcome, and the outbox records which
channels accepted which notification.

A channel's `channel_id` (stored with each delivery) is a hash of its URL and
its `label` (shown to people) is the scheme and host: the URL itself may hold
a token and is never stored or printed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Protocol

import apprise

from ttai.models.notifications import Notification
from ttai.telemetry.redaction import SECRETS, split_url

logger = logging.getLogger("ttai.notifications")


class DeliveryFailed(Exception):
    pass


class Channel(Protocol):
    channel_id: str
    """Stable identity recorded with each delivery: never the URL or a token."""
    label: str
    """What a person sees (scheme and host)."""

    async def send(self, notification: Notification) -> None: ...


class LogChannel:
    channel_id = "log"
    label = "log"

    async def send(self, notification: Notification) -> None:
        logger.info("notification %s: %s", notification.kind, notification.title)


def channel_identity(url: str) -> tuple[str, str]:
    """(channel_id, label) for an Apprise URL, neither holding any part of a token.

    `json://u:pw@hooks.example.com/x` -> ("json:3f2a…", "json://hooks.example.com #3f2a9c").
    The host is shown only when it is a host name; for tgram://, discord:// and
    the like the "host" is a token and the label is the scheme and hash alone.
    """
    digest = hashlib.sha256(url.encode()).hexdigest()
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    _, hostport, _ = split_url(rest)
    host = hostport.rsplit(":", 1)[0] if not hostport.startswith("[") else hostport
    shown = hostport if ("." in host or host.lower() == "localhost") else ""
    label = f"{scheme}://{shown} #{digest[:6]}" if shown else f"{scheme}:// #{digest[:6]}"
    return f"{scheme}:{digest[:16]}", label


class AppriseChannel:
    """One Apprise URL (one service), so its outcome is known on its own."""

    def __init__(self, url: str) -> None:
        SECRETS.add_url(url, tokens=True)  # its tokens never reach a log line
        self._apprise = apprise.Apprise()
        scheme = url.split(":", 1)[0]
        if not self._apprise.add(url):
            # The URL itself may hold a token: name only its scheme.
            raise ValueError(f"unsupported notification URL scheme: {scheme}")
        self.channel_id, self.label = channel_identity(url)

    async def send(self, notification: Notification) -> None:
        ok = await self._apprise.async_notify(
            body=notification.body,
            title=notification.title,
            body_format=apprise.NotifyFormat.MARKDOWN,
        )
        if not ok:
            raise DeliveryFailed(f"{self.label} refused the notification")


def channels_from_urls(urls: Sequence[str]) -> list[Channel]:
    """The log channel and one channel per distinct URL."""
    channels: dict[str, Channel] = {LogChannel.channel_id: LogChannel()}
    for url in urls:
        channel = AppriseChannel(url)
        channels.setdefault(channel.channel_id, channel)
    return list(channels.values())
