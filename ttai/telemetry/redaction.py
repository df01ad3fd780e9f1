"""Keeping secrets out of log lines.

Three layers, applied to every field of a record before it is serialized and
once more to the finished line:

1. Registered values (`SecretRegistry`, which lists what counts as a
   secret): every secret the process knows, in every escaped form,
   registered from the environment at start (`register_environment`) and by
   the components that read secrets (`register_secret`: the credentials and
   key loaders, the database pool, the local cluster's passwords).
2. URLs, parsed rather than pattern-matched (`redact_url`): a URL's
   password, and all but the scheme and host name of notification service
   URLs (tgram://, discord://, slack:// ...), whose host and path are tokens.
3. Context patterns: `Bearer x`, `Authorization: x`, `token=x`,
   `password: x`.

`Redactor` applies the three; `SECRETS` is the process-wide registry. The
module reads bottom-up: URLs, the secret registry, then the redactor.
"""

from __future__ import annotations

import json
import re
import threading
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

REDACTED = "[REDACTED]"
"""What every redaction layer leaves where a secret was."""


# -----------------------------------------------------------------------------
# URLs: secrets inside URLs, found by parsing the URL rather than by a pattern.
#
# A password is removed up to the last '@' of the authority (so `p@ss` leaves
# nothing behind). For notification service URLs (tgram://, discord://,
# slack:// ...), whose host and path are tokens, only the scheme and a dotted
# host name survive. `split_url` is shared with the secret registry (which
# registers a URL's password and tokens) and the notification channels (which
# label a channel without its tokens).

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


# -----------------------------------------------------------------------------
# The secret registry: the secret values a process knows, with the forms escaping
# turns them into.
#
# Every secret is registered once, with the forms escaping would turn it into
# (JSON with and without `\uXXXX`, Python repr, URL quoting), and replaced
# wherever it appears by one compiled pattern. What counts as a secret, by
# source (`SecretRegistry.add_environment`): TT_* variables, the codec token
# and keys, variables named like secrets, `*_HEADERS` values, passwords inside
# any URL-valued variable, token-like parts of `TTAI_NOTIFY_URLS`, and the
# contents of `TTAI_TASTYTRADE_SECRETS_FILE`, `TTAI_ENCRYPTION_KEYS_FILE` and
# other secret-named `*_FILE`s. Only secrets are registered, and only from
# `MIN_SECRET_LENGTH` characters (`MIN_GUESSED_SECRET_LENGTH` for variables that
# merely look secret by name); boolean-like words never are, so
# `X_TOKEN_ENABLED=false` cannot redact every "false".

MIN_SECRET_LENGTH = 6
"""Shortest value registered from a source that holds secrets by definition."""

MIN_GUESSED_SECRET_LENGTH = 8
"""Shortest value registered from a variable that only looks secret by its name,
and shortest token-like part of a notification URL."""

MAX_SECRET_FILE_BYTES = 64 * 1024

# Values that are settings, not secrets, whatever the variable is called.
_NOT_SECRETS = frozenset(
    {"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled"}
)

# Variables whose whole value is a secret.
SECRET_VARIABLES = frozenset(
    {
        "TTAI_CODEC_TOKEN",
        "TTAI_ENCRYPTION_KEYS",
        "TTAI_DB_PASSWORD",
        "TEMPORAL_API_KEY",
        "TEMPORAL_TLS_CLIENT_KEY_DATA",
        "PGPASSWORD",
        "POSTGRES_PASSWORD",
    }
)
SECRET_FILE_VARIABLES = frozenset({"TTAI_TASTYTRADE_SECRETS_FILE", "TTAI_ENCRYPTION_KEYS_FILE"})
NOTIFY_URLS_VARIABLE = "TTAI_NOTIFY_URLS"

_SECRET_NAME = re.compile(
    r"SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_KEY|ACCESS_KEY|"
    r"ENCRYPTION_KEYS?|REFRESH|CREDENTIAL|KEY_DATA"
)
# Named like a secret but holding a setting.
_SETTING_SUFFIXES = ("_DIR", "_PATH", "_ENABLED", "_MODE", "_TYPE", "_URL_SCHEME")


def _forms(value: str) -> set[str]:
    """The value and what escaping makes of it in a log line."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        quote(value, safe=""),
        quote_plus(value, safe=""),
    }


def _parts(value: str) -> list[str]:
    """A list value's items: `k1:AAA,k2:BBB` -> AAA, BBB (and the items themselves)."""
    found = []
    for item in re.split(r"[,;\s]+", value):
        found.append(item)
        for sep in (":", "="):
            head, found_sep, tail = item.partition(sep)
            if found_sep and head and tail:
                found.append(tail)
    return found


def _token_like(text: str) -> bool:
    return len(text) >= MIN_GUESSED_SECRET_LENGTH and (
        any(c.isdigit() for c in text) or len(text) >= 16
    )


def _leaves(data: Any) -> Iterable[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, Mapping):
        for value in data.values():
            yield from _leaves(value)
    elif isinstance(data, list):
        for value in data:
            yield from _leaves(value)


class SecretRegistry:
    """Secret values known to a process, matched by one compiled pattern."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def __len__(self) -> int:
        return len(self._values)

    def add(self, value: str | None, *, min_length: int = MIN_SECRET_LENGTH) -> None:
        if not value or len(value) < min_length or value.strip().lower() in _NOT_SECRETS:
            return
        forms = {f for f in _forms(value) if len(f) >= min_length}
        with self._lock:
            if not forms <= self._values:
                self._values |= forms
                self._pattern = None

    def add_list(self, value: str, *, min_length: int = MIN_SECRET_LENGTH) -> None:
        """A value and its items (key lists, PEM lines, header lists)."""
        self.add(value.strip(), min_length=min_length)
        for part in _parts(value):
            self.add(part, min_length=min_length)

    def add_url(self, url: str, *, tokens: bool = False) -> None:
        """A URL's password; with `tokens`, also its token-like user, host and path parts."""
        scheme, sep, rest = url.partition("://")
        if not sep:
            return
        userinfo, hostport, tail = split_url(rest)
        if userinfo is not None:
            user, has_password, password = userinfo.partition(":")
            if has_password:
                self.add(password)
                self.add(unquote(password))
            elif tokens or scheme.lower() not in PLAIN_SCHEMES:
                self.add(user)
        if not tokens:
            return
        candidates = [hostport, *hostport.split(":")] if not is_hostname(hostport) else []
        candidates += re.split(r"[/?#&=]+", tail)
        for part in candidates:
            part = unquote(part)
            if _token_like(part):
                self.add(part, min_length=MIN_GUESSED_SECRET_LENGTH)

    def add_file(self, path: str | Path) -> None:
        """Every secret-looking value in a secrets file (JSON, TOML or `id:key` lines)."""
        try:
            file = Path(path).expanduser()
            with file.open("rb") as handle:
                raw = handle.read(MAX_SECRET_FILE_BYTES)
            text = raw.decode("utf-8", errors="replace")
        except OSError:
            return  # the component reading it reports the problem
        data: Any = None
        try:
            data = json.loads(text)
        except ValueError:
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError:
                data = None
        if isinstance(data, dict | list):
            for leaf in _leaves(data):
                self.add_list(leaf)
            return
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                self.add_list(line)

    def add_environment(self, env: Mapping[str, str]) -> None:
        """Register what the environment holds; see the secret registry's section above."""
        for name, value in env.items():
            if not value:
                continue
            upper = name.upper()
            if "://" in value:
                for url in re.split(r"[\s,]+", value.strip()):
                    self.add_url(url, tokens=upper == NOTIFY_URLS_VARIABLE)
            if upper in SECRET_FILE_VARIABLES or (
                upper.endswith("_FILE") and _SECRET_NAME.search(upper[:-5])
            ):
                self.add_file(value.strip())
            elif upper.startswith("TT_") or upper in SECRET_VARIABLES:
                self.add_list(value)
            elif upper.endswith("_HEADERS"):
                for part in _parts(value):
                    self.add_list(part.split("=", 1)[-1])
            elif _SECRET_NAME.search(upper) and not upper.endswith(_SETTING_SUFFIXES):
                self.add_list(value, min_length=MIN_GUESSED_SECRET_LENGTH)

    def sub(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                if not self._values:
                    return text
                ordered = sorted(self._values, key=len, reverse=True)
                pattern = self._pattern = re.compile("|".join(map(re.escape, ordered)))
        return pattern.sub(REDACTED, text)


# -----------------------------------------------------------------------------
# The redactor: the three layers together.

_CONTEXT_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?!\[REDACTED\])[^'\",\s]+"),
    re.compile(
        r"(?i)((?:api[_-]?key|token|secret|password)['\"]?\s*[:=]\s*['\"]?)"
        r"(?!\[REDACTED\])[^'\",\s]+"
    ),
]


SECRETS = SecretRegistry()
"""The process-wide registry behind `Redactor()` (what `configure_logging` installs)."""


def register_secret(value: str | None, *, min_length: int = MIN_SECRET_LENGTH) -> None:
    """Make sure `value` never appears in a log line of this process."""
    SECRETS.add(value, min_length=min_length)


def register_url_password(url: str | None) -> None:
    """Register the password of a DSN or URL (nothing else of it)."""
    if url:
        SECRETS.add_url(url)


def register_environment(env: Mapping[str, str]) -> None:
    SECRETS.add_environment(env)


class Redactor:
    """Removes registered secrets, URL credentials and `key=value` secrets from text.

    `Redactor()` uses the process-wide registry, so secrets registered later
    (a credentials file read after logging was configured) are covered too.
    `Redactor(env)` adds what that environment holds (tests pass one).
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._registries = [SECRETS]
        if env is not None:
            own = SecretRegistry()
            own.add_environment(env)
            self._registries.insert(0, own)

    def redact(self, text: str) -> str:
        for registry in self._registries:
            text = registry.sub(text)
        text = redact_urls(text)
        for pattern in _CONTEXT_PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text

    def redact_value(self, value: Any) -> Any:
        """Strings inside a log field (nested dicts and lists too), before serializing."""
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {str(k): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact_value(v) for v in value]
        return self.redact(str(value))
