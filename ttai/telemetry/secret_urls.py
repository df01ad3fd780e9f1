"""Secrets inside URLs, found by parsing the URL rather than by a pattern.

A password is removed up to the last '@' of the authority (so `p@ss` leaves
nothing behind). For notification service URLs (tgram://, discord://,
slack:// ...), whose host and path are tokens, only the scheme and a dotted
host name survive. `split_url` is shared with the secret registry (which
registers a URL's password and tokens) and the notification channels (which
label a channel without its tokens).
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"
"""What every redaction layer leaves where a secret was."""

# Schemes whose host and path are ordinary addresses: only the password is secret.
PLAIN_SCHEMES = frozenset(
    {
        "http", "https", "ws", "wss", "postgres", "postgresql", "grpc", "grpcs",
        "file", "unix", "json", "jsons", "xml", "xmls", "form", "forms",
        "ttai",  # the MCP server's resource URIs (ttai://portfolio)
    }
)  # fmt: skip

_URL = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{1,30})://([^\s'\"<>`]*)")


def is_hostname(host: str) -> bool:
    return "." in host or host.lower() == "localhost" or host.startswith("[")


def split_url(rest: str) -> tuple[str | None, str, str]:
    """`user:pw@host:port/path` (after `scheme://`) -> (userinfo or None, host:port, /path).

    The userinfo ends at the last '@' when what precedes it has a password
    (`user:p@ss/w:rd@host`) or when that '@' comes before the path starts.
    """
    boundary = re.search(r"[/?#]", rest)
    path_start = boundary.start() if boundary else len(rest)
    at = rest.rfind("@")
    if at >= 0:
        head = rest[:at]
        user = head.split(":", 1)[0]
        if ":" in head and not re.search(r"[/?#]", user):
            userinfo: str | None = head
        elif at < path_start:
            userinfo = head
        else:
            userinfo = None
        if userinfo is not None:
            rest = rest[at + 1 :]
            boundary = re.search(r"[/?#]", rest)
            path_start = boundary.start() if boundary else len(rest)
            return userinfo, rest[:path_start], rest[path_start:]
    return None, rest[:path_start], rest[path_start:]


def redact_url(url: str) -> str:
    """A URL with its credentials removed: `postgresql://ttai:[REDACTED]@db:5432/ttai`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, hostport, tail = split_url(rest)
    plain = scheme.lower() in PLAIN_SCHEMES
    if not plain:
        # Notification services: the host, path and user are tokens.
        host = hostport.rsplit(":", 1)[0] if not hostport.startswith("[") else hostport
        keep = hostport if is_hostname(host) else ""
        hidden = userinfo is not None or not keep or tail.strip("/")
        return f"{scheme}://{keep}{'/' if keep and hidden else ''}{REDACTED if hidden else ''}"
    auth = ""
    if userinfo is not None:
        user, has_password, _ = userinfo.partition(":")
        auth = f"{user}:{REDACTED}@" if has_password else f"{user}@"
    return f"{scheme}://{auth}{hostport}{tail}"


def redact_urls(text: str) -> str:
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m.group(0)), text)
