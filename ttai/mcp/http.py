"""`mcp_server.py --http [HOST:]PORT`: streamable HTTP at `/mcp`.

- Loopback (127.0.0.1, localhost, ::1) is the default host. The SDK then
  checks the Host and Origin headers (DNS-rebinding protection), and a token
  is optional: when `TTAI_MCP_TOKEN` is set it is required there too.
- Any other host requires `TTAI_MCP_TOKEN`; without it the server refuses to
  start. Every request must then carry `Authorization: Bearer <token>`
  (compared in constant time); anything else gets 401 before it reaches MCP.
- uvicorn runs with `log_config=None`: its access log would otherwise go to
  stdout, and the project's structured stderr logs stay in charge.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import signal
from collections.abc import Iterator
from typing import Any

from ttai.loopback import is_loopback

TOKEN_VARIABLE = "TTAI_MCP_TOKEN"
MIN_TOKEN_LENGTH = 16
DEFAULT_HOST = "127.0.0.1"

ASGIApp = Any
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class HttpConfigError(ValueError):
    """A bad --http value or a missing token: one line for the user."""


def parse_address(value: str) -> tuple[str, int]:
    """`PORT`, `HOST:PORT` or `[IPv6]:PORT` -> (host, port); loopback when no host."""
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host, port_text = "", value
    host = host.strip("[]") or DEFAULT_HOST
    try:
        port = int(port_text)
    except ValueError:
        raise HttpConfigError(f"--http {value!r}: expected [HOST:]PORT") from None
    if not 1 <= port <= 65535:
        raise HttpConfigError(f"--http {value!r}: the port must be 1-65535")
    return host, port


def required_token(host: str, environ: dict[str, str] | None = None) -> str | None:
    """The bearer token to require on `host` (None: none needed); raises if one is missing."""
    environ = dict(os.environ if environ is None else environ)
    token = environ.get(TOKEN_VARIABLE, "").strip() or None
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise HttpConfigError(
            f"{TOKEN_VARIABLE} is too short: use at least {MIN_TOKEN_LENGTH} characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    if token is None and not is_loopback(host):
        raise HttpConfigError(
            f"refusing to serve on {host}: a non-loopback address needs a bearer token in "
            f"{TOKEN_VARIABLE} (e.g. `export {TOKEN_VARIABLE}=$(openssl rand -hex 32)`)"
        )
    return token


class BearerToken:
    """ASGI middleware: HTTP requests need `Authorization: Bearer <token>`, else 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            body = json.dumps(
                {"error": "invalid_token", "error_description": "missing or wrong bearer token"}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer error="invalid_token"'),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)  # lifespan passes through

    def _authorized(self, scope: dict[str, Any]) -> bool:
        header = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value
        scheme, _, given = header.partition(b" ")
        # compare_digest on every request, also for a wrong scheme: no timing hint
        matches = hmac.compare_digest(given.strip(), self._expected)
        return scheme.lower() == b"bearer" and matches


async def serve_http(server: Any, host: str, port: int, token: str | None) -> None:
    """Serve `server` (an MCPServer) over streamable HTTP until SIGINT/SIGTERM.

    A signal stops it gracefully (the lifespan stops an owned stack) and it
    returns; the process then exits 0, as the worker does after a drain.
    """
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn's own re-raises the signal after the graceful stop,
            # which would end the process with -15 instead of our exit code.
            originals = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

    app: ASGIApp = server.streamable_http_app(host=host)
    if token is not None:
        app = BearerToken(app, token)
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, log_level="warning", lifespan="on"
    )
    await Server(config).serve()
