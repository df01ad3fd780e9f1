"""tastytrade OAuth credentials, read inside the worker process only.

Two sources, in order: the environment (`TT_PROVIDER_SECRET`, `TT_REFRESH_TOKEN`,
`TT_SANDBOX=1` for the sandbox) or a secrets file named by
`TTAI_TASTYTRADE_SECRETS_FILE` (JSON or TOML with `provider_secret`,
`refresh_token` and optionally `sandbox`). The file must be private to its owner.
Nothing here ever prints a secret: errors name the source, never the value.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttai.broker.base import BrokerAuthError
from ttai.private_files import PrivateFileError, read_private_text
from ttai.telemetry.redaction import register_secret

ENV_SECRET = "TT_PROVIDER_SECRET"
ENV_REFRESH = "TT_REFRESH_TOKEN"
ENV_SANDBOX = "TT_SANDBOX"
ENV_FILE = "TTAI_TASTYTRADE_SECRETS_FILE"

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class TastytradeCredentials:
    """The OAuth pair. `repr` and `str` show only whether it is for the sandbox."""

    provider_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    is_test: bool = False

    def __post_init__(self) -> None:
        # Read once, redacted from every log line of this process from now on.
        for value in self.secrets():
            register_secret(value)

    def secrets(self) -> tuple[str, str]:
        """The values that must never appear in output (used by redaction)."""
        return (self.provider_secret, self.refresh_token)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in _TRUE


def _from_file(path: Path) -> TastytradeCredentials:
    # Refuses files others can read: a leaked refresh token trades the account.
    try:
        text = read_private_text(path, f"the tastytrade secrets file ({ENV_FILE})")
    except PrivateFileError as exc:
        raise BrokerAuthError(str(exc)) from None
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError):
        # Never echo the parser's message: it quotes the offending line.
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise BrokerAuthError(f"the tastytrade secrets file {path} is not valid {kind}") from None
    if not isinstance(data, dict):
        raise BrokerAuthError(f"the tastytrade secrets file {path} must hold a table/object")
    secret, refresh = data.get("provider_secret"), data.get("refresh_token")
    if not (isinstance(secret, str) and secret and isinstance(refresh, str) and refresh):
        raise BrokerAuthError(
            f"the tastytrade secrets file {path} needs non-empty `provider_secret` and "
            "`refresh_token` strings"
        )
    return TastytradeCredentials(secret, refresh, is_test=_truthy(data.get("sandbox", False)))


def load_credentials(env: Mapping[str, str] | None = None) -> TastytradeCredentials | None:
    """Credentials from the environment or the secrets file; None when neither is set.

    Raises `BrokerAuthError` for a half-configured environment or an unusable file,
    so a typo is reported instead of silently falling back to the simulated market.
    """
    env = os.environ if env is None else env
    secret = env.get(ENV_SECRET, "").strip()
    refresh = env.get(ENV_REFRESH, "").strip()
    if secret or refresh:
        if not (secret and refresh):
            missing = ENV_REFRESH if secret else ENV_SECRET
            raise BrokerAuthError(f"tastytrade credentials are incomplete: {missing} is not set")
        return TastytradeCredentials(secret, refresh, is_test=_truthy(env.get(ENV_SANDBOX, "")))
    file_name = env.get(ENV_FILE, "").strip()
    if file_name:
        return _from_file(Path(file_name).expanduser())
    return None
