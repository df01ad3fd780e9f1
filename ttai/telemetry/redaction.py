"""Keeping secrets out of log lines.

Three layers, applied to every field of a record before it is serialized and
once more to the finished line:

1. Registered values (`secret_registry`, which lists what counts as a
   secret): every secret the process knows, in every escaped form,
   registered from the environment at start (`register_environment`) and by
   the components that read secrets (`register_secret`: the credentials and
   key loaders, the database pool, the local cluster's passwords).
2. URLs (`secret_urls`), parsed rather than pattern-matched: a URL's
   password, and all but the scheme and host name of notification service
   URLs (tgram://, discord://, slack:// ...), whose host and path are tokens.
3. Context patterns (here): `Bearer x`, `Authorization: x`, `token=x`,
   `password: x`.

`Redactor` applies the three; `SECRETS` is the process-wide registry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ttai.telemetry.secret_registry import MIN_SECRET_LENGTH, SecretRegistry
from ttai.telemetry.secret_urls import REDACTED, redact_urls

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
