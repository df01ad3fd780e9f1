"""Where notifications go: the log always, plus one channel per Apprise URL configured.

Apprise speaks to ~170 services (ntfy, Telegram, Slack, Discord, e-mail, JSON
webhooks via `json://host/path`) from one URL list; it does not de-duplicate,
and one Apprise object for several URLs reports only "some failed". So each
URL is its own channel, with its own outcome, and the outbox records which
channels accepted which notification.

A channel's `channel_id` (stored with each delivery) is an HMAC of its URL
under a local key, and its `label` (shown to people) is the scheme and host
with a few characters of that HMAC: the URL itself may hold a token and is
never stored or printed, and without the key neither can confirm a guess of
it (an ntfy topic of a few words, say). The key is `TTAI_CHANNEL_KEY`, else
one generated once into `<state>/channel-key` (mode 0600); workers on several
hosts need the same key, or a notification retried elsewhere would go again to
channels that have it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import apprise

from ttai.config import Settings
from ttai.models.notifications import Notification
from ttai.private_files import private_token
from ttai.telemetry.redaction import SECRETS, register_secret, split_url

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


KEY_VARIABLE = "TTAI_CHANNEL_KEY"
KEY_FILE = "channel-key"
MIN_KEY_LENGTH = 16


def channel_key(settings: Settings) -> bytes:
    """The key channel IDs are made with (see the module docstring)."""
    value = os.environ.get(KEY_VARIABLE, "").strip()
    if value:
        if len(value) < MIN_KEY_LENGTH:
            raise ValueError(f"{KEY_VARIABLE} must be at least {MIN_KEY_LENGTH} characters")
        register_secret(value)
        return value.encode()
    state = Path(settings.state_dir)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    return private_token(state / KEY_FILE, "the notification channel key file").encode()


def channel_identity(url: str, key: bytes) -> tuple[str, str]:
    """(channel_id, label) for an Apprise URL, neither holding any part of a token.

    `json://u:pw@hooks.example.com/x` -> ("json:3f2a…", "json://hooks.example.com #3f2a9c").
    The host is shown only when it is a host name; for tgram://, discord:// and
    the like the "host" is a token and the label is the scheme and hash alone.
    IDs have 20 hex digits (those of older versions, plain SHA-256, had 16).
    """
    digest = hmac.new(key, url.encode(), hashlib.sha256).hexdigest()
    return _identity(url, digest, 20)


def legacy_identity(url: str) -> tuple[str, str]:
    """What older versions stored for `url` (an unsalted SHA-256): only to find
    and replace those rows (`Outbox.adopt_channel_ids`)."""
    return _identity(url, hashlib.sha256(url.encode()).hexdigest(), 16)


LEGACY_ID_PATTERN = r"^[a-z0-9+.-]+:[0-9a-f]{16}$"


def _identity(url: str, digest: str, length: int) -> tuple[str, str]:
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    _, hostport, _ = split_url(rest)
    host = hostport.rsplit(":", 1)[0] if not hostport.startswith("[") else hostport
    shown = hostport if ("." in host or host.lower() == "localhost") else ""
    label = f"{scheme}://{shown} #{digest[:6]}" if shown else f"{scheme}:// #{digest[:6]}"
    return f"{scheme}:{digest[:length]}", label


class AppriseChannel:
    """One Apprise URL (one service), so its outcome is known on its own."""

    def __init__(self, url: str, *, key: bytes) -> None:
        SECRETS.add_url(url, tokens=True)  # its tokens never reach a log line
        self._apprise = apprise.Apprise()
        scheme = url.split(":", 1)[0]
        if not self._apprise.add(url):
            # The URL itself may hold a token: name only its scheme.
            raise ValueError(f"unsupported notification URL scheme: {scheme}")
        self.channel_id, self.label = channel_identity(url, key)
        self.legacy_id, self.legacy_label = legacy_identity(url)

    async def send(self, notification: Notification) -> None:
        ok = await self._apprise.async_notify(
            body=notification.body,
            title=notification.title,
            body_format=apprise.NotifyFormat.MARKDOWN,
        )
        if not ok:
            raise DeliveryFailed(f"{self.label} refused the notification")


def channels_from_urls(urls: Sequence[str], *, key: bytes) -> list[Channel]:
    """The log channel and one channel per distinct URL."""
    channels: dict[str, Channel] = {LogChannel.channel_id: LogChannel()}
    for url in urls:
        channel = AppriseChannel(url, key=key)
        channels.setdefault(channel.channel_id, channel)
    return list(channels.values())
