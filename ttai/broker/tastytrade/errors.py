"""SDK failures translated into the broker errors activities understand.

- The SDK turns every HTTP error into the same `TastytradeError`. A response event
  hook passed through `Session(...)` (`raise_for_status`) sees the status first and
  raises `HttpStatusError`, which `ErrorTranslator` maps onto the broker errors.
- Messages are built here from status codes and field names, never from response
  bodies as they are, and pass through the broker's redaction; translated errors are
  raised `from None` so no SDK exception (with request details) rides along into
  Temporal failures.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import anyio
import httpx2
from httpx2.websockets import HTTPXWSException
from pydantic import ValidationError
from tastytrade.utils import TastytradeError
from wsproto.utilities import LocalProtocolError

from ttai.broker.base import (
    BrokerAuthError,
    BrokerError,
    BrokerSchemaError,
    BrokerUnavailable,
    UnknownSymbol,
)

AUTH_MESSAGE = (
    "tastytrade rejected the credentials: refresh token expired or revoked; create a new "
    "one (tastytrade: Manage > My Profile > API > OAuth applications) and update "
    "TT_REFRESH_TOKEN or the secrets file"
)

# Failures of the connection itself (a websocket closed under a send raises
# wsproto's LocalProtocolError): worth retrying.
_CONNECTION_ERRORS = (
    httpx2.TransportError,
    HTTPXWSException,
    LocalProtocolError,
    TimeoutError,
    OSError,
)
# How the SDK words a response it could not parse.
_SDK_PARSE_ERRORS = ("Couldn't parse response", "No data present", "Mapper data input")


class HttpStatusError(Exception):
    """An HTTP error seen by the response hook before the SDK hides its status."""

    def __init__(self, status: int, retry_after: float | None, detail: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after
        self.detail = detail


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _error_detail(response: httpx2.Response) -> str:
    """The API's short error code/message, or '' when the body has none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    parts = [str(error.get(k)) for k in ("code", "message") if error.get(k)]
    return ": ".join(parts)[:200]


async def raise_for_status(response: httpx2.Response) -> None:
    """httpx response hook: keep the status code the SDK would throw away."""
    if response.status_code < 400:
        return
    await response.aread()
    raise HttpStatusError(
        response.status_code,
        retry_after(response.headers.get("retry-after")),
        _error_detail(response),
    )


def _leaves(group: BaseExceptionGroup[Any]) -> Iterable[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _schema_summary(exc: ValidationError) -> str:
    # Field locations and messages only: pydantic's str() quotes the input values.
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in exc.errors()[:3]
    ]
    return f"{exc.title}: " + "; ".join(problems)


class ErrorTranslator:
    """Maps SDK, HTTP and streamer failures onto `ttai.broker.base` errors.

    `secrets` returns the values that must never appear in a message (the
    credentials and the current access token); they are replaced by `***`.
    """

    def __init__(self, secrets: Callable[[], Iterable[str | None]]) -> None:
        self._secrets = secrets

    def redact(self, text: str) -> str:
        for secret in self._secrets():
            if secret:
                text = text.replace(secret, "***")
        return text

    def translate(self, exc: BaseException, what: str, symbols: Sequence[str]) -> BaseException:
        if isinstance(exc, BaseExceptionGroup):
            # Streamer failures arrive grouped; report the one a person must act on.
            translated = [
                self.translate(leaf, what, symbols)
                for leaf in _leaves(exc)
                if not isinstance(leaf, anyio.get_cancelled_exc_class())
            ]
            for candidate in translated:
                if isinstance(candidate, BrokerError) and not candidate.retryable:
                    return candidate
            return translated[0] if translated else exc
        if isinstance(exc, BrokerError):
            return exc
        if isinstance(exc, HttpStatusError):
            return self._http(exc, what, symbols)
        if isinstance(exc, _CONNECTION_ERRORS):
            return BrokerUnavailable(f"cannot reach tastytrade while {what} ({type(exc).__name__})")
        if isinstance(exc, ValidationError):
            return BrokerSchemaError(
                f"tastytrade sent data this adapter cannot read while {what}: "
                + self.redact(_schema_summary(exc))
            )
        if isinstance(exc, (json.JSONDecodeError, KeyError)):
            return BrokerSchemaError(
                f"tastytrade sent a malformed response while {what} ({type(exc).__name__})"
            )
        if isinstance(exc, TastytradeError):
            if str(exc).startswith(_SDK_PARSE_ERRORS):
                return BrokerSchemaError(f"tastytrade sent an unreadable response while {what}")
            # Everything else the SDK raises comes from the streamer connection.
            return BrokerUnavailable(f"the tastytrade streamer failed while {what}")
        return exc

    def _http(self, exc: HttpStatusError, what: str, symbols: Sequence[str]) -> BrokerError:
        status = exc.status
        if status in (401, 403):
            return BrokerAuthError(AUTH_MESSAGE)
        if status == 429:
            wait = f"; retry after {exc.retry_after:g}s" if exc.retry_after is not None else ""
            return BrokerUnavailable(
                f"tastytrade rate limit reached while {what}{wait}", exc.retry_after
            )
        if status >= 500:
            return BrokerUnavailable(
                f"tastytrade server error (HTTP {status}) while {what}", exc.retry_after
            )
        if status == 404 and len(symbols) == 1:
            return UnknownSymbol(symbols[0])
        detail = f": {self.redact(exc.detail)}" if exc.detail else ""
        return BrokerError(f"tastytrade refused the request (HTTP {status}) while {what}{detail}")

    @asynccontextmanager
    async def translating(self, what: str, symbols: Sequence[str] = ()) -> AsyncIterator[None]:
        """Re-raise whatever the block raises as a broker error, `from None`."""
        try:
            yield
        except BrokerError:
            raise
        except Exception as exc:
            translated = self.translate(exc, what, symbols)
            if translated is exc:
                raise
            raise translated from None
