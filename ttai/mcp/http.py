"""`mcp_server.py --http [HOST:]PORT`: streamable HTTP at `/mcp`.

Who may call it (docs/security.md):
- A bearer token, always: `TTAI_MCP_TOKEN` (16+ characters), else one
  generated once into `<state>/mcp-token` (mode 0600). Every request must carry
  `Authorization: Bearer <token>` (compared in constant time); anything else
  gets 401 before it reaches MCP. Other local users can reach a loopback port
  too, and a web page the user visits can reach it through DNS rebinding.
- `TTAI_MCP_TOKEN=off` serves without a token, and only on the exact hosts
  127.0.0.1, localhost and ::1.
- Host and Origin headers are checked (the SDK's DNS-rebinding protection,
  configured here explicitly for every loopback host, not left to the SDK's
  default, which covers only those three spellings): only this server's own
  address is accepted. On other hosts the names clients use are not known
  here; the token is what guards them.
- uvicorn runs with `log_config=None`: its access log would otherwise go to
  stdout, and the project's structured stderr logs stay in charge.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import signal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings

from ttai.loopback import is_loopback
from ttai.private_files import PrivateFileError, private_token
from ttai.telemetry.redaction import register_secret

TOKEN_VARIABLE = "TTAI_MCP_TOKEN"
TOKEN_FILE = "mcp-token"
MIN_TOKEN_LENGTH = 16
DEFAULT_HOST = "127.0.0.1"
# Where serving without a token (`TTAI_MCP_TOKEN=off`) is allowed.
EXACT_LOOPBACK = ("127.0.0.1", "localhost", "::1")

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


@dataclass(frozen=True)
class HttpSecurity:
    """What `serve_http` enforces: the token (None: `off`) and the header checks."""

    token: str | None
    token_file: Path | None  # where a generated token is kept, to tell the user
    transport: TransportSecuritySettings


def http_security(
    host: str, port: int, state_dir: Path, environ: Mapping[str, str] | None = None
) -> HttpSecurity:
    """The token and header checks for serving on `host:port`; raises HttpConfigError
    for a token that is too short, or `off` anywhere but the exact loopback hosts."""
    environ = os.environ if environ is None else environ
    value = environ.get(TOKEN_VARIABLE, "").strip()
    token_file = None
    if value.lower() == "off":
        if host not in EXACT_LOOPBACK:
            raise HttpConfigError(
                f"refusing to serve on {host} without a token ({TOKEN_VARIABLE} is off): "
                f"that is allowed on {', '.join(EXACT_LOOPBACK)} only"
            )
        token = None
    elif value:
        if len(value) < MIN_TOKEN_LENGTH:
            raise HttpConfigError(
                f"{TOKEN_VARIABLE} is too short: use at least {MIN_TOKEN_LENGTH} characters "
                "(e.g. `openssl rand -hex 32`)"
            )
        token = value
    else:
        token_file = Path(state_dir) / TOKEN_FILE
        try:
            token = private_token(token_file, "the MCP token file")
        except (PrivateFileError, OSError) as err:
            raise HttpConfigError(f"no {TOKEN_VARIABLE} and {err}") from None
    if token is not None:
        register_secret(token)
    return HttpSecurity(token, token_file, transport_security(host, port))


def transport_security(host: str, port: int) -> TransportSecuritySettings:
    """Host/Origin checks: on a loopback host only its own address (and, on the
    exact loopback hosts, the other two spellings of it) is accepted."""
    if not is_loopback(host):
        # 0.0.0.0 or a LAN address: clients' names for it are unknown; the token guards it.
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    names = {f"[{host}]" if ":" in host else host}
    if host in EXACT_LOOPBACK:
        names |= {"127.0.0.1", "localhost", "[::1]"}
    hosts = sorted(f"{name}:{port}" for name in names)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{name}" for name in hosts],
    )


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


async def serve_http(server: Any, host: str, port: int, security: HttpSecurity) -> None:
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

    app: ASGIApp = server.streamable_http_app(host=host, transport_security=security.transport)
    if security.token is not None:
        app = BearerToken(app, security.token)
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, log_level="warning", lifespan="on"
    )
    await Server(config).serve()
