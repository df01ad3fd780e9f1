"""Remote codec server: lets the Web UI and `temporal --codec-endpoint` show
encrypted payloads in clear, without the UI or the server ever holding keys.

Speaks Temporal's remote codec protocol: `POST /encode` and `POST /decode`
take and return `{"payloads": [...]}` (protobuf JSON, base64 fields).

Who may call it:
- Only the configured UI origins get CORS headers (default: the local UI on
  `TTAI_UI_PORT`); browsers from other origins are refused.
- A bearer token is required on every call (`Authorization: Bearer
  <token>`): `TTAI_CODEC_TOKEN` (at least 16 characters), else, on loopback,
  one generated once into `<state>/codec-token` (mode 0600): any local user
  can reach a loopback port. Beyond loopback `TTAI_CODEC_TOKEN` is required:
  the server refuses to start without it. `TTAI_CODEC_TOKEN=off` drops the
  token on loopback only (then any local process may decode, and the Web UI,
  which cannot send a token, shows payloads decoded).
- Bad input is a 400 with a fixed message; nothing names the configured key
  IDs (details go to the server's own log), nothing returns a traceback.
- Plain payloads pass through /decode unchanged: it only shows them
  (workers and clients refuse them, see `ttai.temporal.codec`).

Run it with `python -m ttai.temporal.codec_server`; the local stack runs it itself
(`codec_server_if_encrypted`) and passes its endpoint to the dev server's
`--ui-codec-endpoint` when encryption is on.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import hdrs, web
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads

from ttai.config import Settings
from ttai.loopback import is_loopback
from ttai.private_files import PrivateFileError, private_token
from ttai.telemetry.redaction import register_secret
from ttai.temporal.codec import (
    CorruptPayloadError,
    EncryptionCodec,
    EncryptionConfigError,
    UnknownKeyError,
    codec_from_env,
    is_encrypted,
)

log = logging.getLogger("ttai.temporal.codec_server")  # also when run with -m

_CodecFn = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
# The UI sends x-namespace, and authorization when told to pass credentials.
_ALLOWED_HEADERS = "content-type,x-namespace,authorization"
MIN_TOKEN_LENGTH = 16
TOKEN_FILE = "codec-token"
_MAX_BODY = 16 * 1024 * 1024  # a page of history payloads; more is not a UI request


def codec_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """The token every call must carry (None: `off`); see the module docstring."""
    env = os.environ if environ is None else environ
    value = env.get("TTAI_CODEC_TOKEN", "").strip()
    loopback = is_loopback(settings.codec_host)
    if not loopback and value.lower() in ("", "off"):
        raise RuntimeError(
            f"TTAI_CODEC_TOKEN is required when the codec server listens beyond loopback "
            f"(TTAI_CODEC_HOST={settings.codec_host}): anyone who reaches it could decrypt"
        )
    if value.lower() == "off":
        return None
    if not value:
        state = Path(settings.state_dir)
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            value = private_token(state / TOKEN_FILE, "the codec token file")
        except (PrivateFileError, OSError) as err:
            raise RuntimeError(f"no TTAI_CODEC_TOKEN and {err}") from None
    elif len(value) < MIN_TOKEN_LENGTH:
        raise RuntimeError(f"TTAI_CODEC_TOKEN must be at least {MIN_TOKEN_LENGTH} characters")
    register_secret(value)
    return value


def allowed_origins(settings: Settings) -> set[str]:
    if settings.ui_origins:
        return set(settings.ui_origins)
    return {f"http://localhost:{settings.ui_port}", f"http://127.0.0.1:{settings.ui_port}"}


def codec_endpoint(settings: Settings) -> str:
    """The URL to hand to `temporal server start-dev --ui-codec-endpoint`."""
    return f"http://{settings.codec_host}:{settings.codec_port}"


def build_app(codec: EncryptionCodec, origins: set[str], token: str | None) -> web.Application:
    def cors_headers(request: web.Request) -> dict[str, str]:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin not in origins:
            return {}
        return {
            hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
            hdrs.ACCESS_CONTROL_ALLOW_METHODS: "POST",
            hdrs.ACCESS_CONTROL_ALLOW_HEADERS: _ALLOWED_HEADERS,
            hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS: "true",
            hdrs.VARY: hdrs.ORIGIN,
        }

    def refuse(request: web.Request) -> web.Response | None:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin not in origins:
            # Browsers from other sites; the CLI sends no Origin at all.
            return web.json_response({"error": "origin not allowed"}, status=403)
        if token is not None:
            sent = request.headers.get(hdrs.AUTHORIZATION, "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                return web.json_response(
                    {"error": "missing or wrong bearer token"},
                    status=401,
                    headers=cors_headers(request),
                )
        return None

    async def preflight(request: web.Request) -> web.Response:
        headers = cors_headers(request)
        if not headers:
            return web.Response(status=403)
        return web.Response(headers=headers)

    def failed(request: web.Request, status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status, headers=cors_headers(request))

    async def apply(fn: _CodecFn, request: web.Request) -> web.Response:
        refused = refuse(request)
        if refused is not None:
            return refused
        try:
            payloads = json_format.Parse(await request.read(), Payloads())
        except (json_format.ParseError, DecodeError, UnicodeDecodeError):
            return failed(request, 400, 'bad payloads: expected {"payloads": [...]} JSON')
        try:
            result = Payloads(payloads=await fn(payloads.payloads))
        except UnknownKeyError as err:
            # The detail (payload key id, configured ids) stays in our log.
            log.warning("codec request refused: %s", err)
            return failed(request, 400, "a payload cannot be decrypted with the keys held here")
        except CorruptPayloadError as err:
            log.warning("codec request refused: %s", err)
            return failed(request, 400, "a payload is not valid ciphertext")
        except Exception:
            log.exception("codec request failed")
            return failed(request, 500, "internal error")
        return web.Response(
            text=json_format.MessageToJson(result),
            content_type="application/json",
            headers=cors_headers(request),
        )

    async def encode(request: web.Request) -> web.Response:
        return await apply(codec.encode, request)

    async def show(payloads: Sequence[Payload]) -> list[Payload]:
        # For display: a plain payload is shown as it is, the others decrypted.
        encrypted = iter(await codec.decode([p for p in payloads if is_encrypted(p)]))
        return [next(encrypted) if is_encrypted(p) else p for p in payloads]

    async def decode(request: web.Request) -> web.Response:
        return await apply(show, request)

    app = web.Application(client_max_size=_MAX_BODY)
    app.add_routes(
        [
            web.post("/encode", encode),
            web.post("/decode", decode),
            web.options("/encode", preflight),
            web.options("/decode", preflight),
        ]
    )
    return app


async def start_codec_server(
    settings: Settings, codec: EncryptionCodec | None = None
) -> web.AppRunner:
    """Serve the codec on `settings.codec_host:codec_port`; `await runner.cleanup()` stops it.

    Raises RuntimeError when no encryption key is configured, the port is
    taken, or a token is missing (beyond loopback) or too short.
    """
    codec = codec or codec_from_env()
    if codec is None:
        raise RuntimeError(
            "no encryption key configured (TTAI_ENCRYPTION_KEYS or TTAI_ENCRYPTION_KEYS_FILE)"
        )
    token = codec_token(settings)
    app = build_app(codec, allowed_origins(settings), token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.codec_host, settings.codec_port).start()
    except OSError as err:
        await runner.cleanup()
        raise RuntimeError(
            f"cannot listen on {settings.codec_host}:{settings.codec_port} ({err.strerror}); "
            "set TTAI_CODEC_PORT to another port"
        ) from err
    log.info(
        "codec server listening",
        extra={"endpoint": codec_endpoint(settings), "token_required": token is not None},
    )
    return runner


@asynccontextmanager
async def codec_server_if_encrypted(settings: Settings) -> AsyncIterator[str | None]:
    """For the local stack: serve the codec while encryption is configured.

    Yields the endpoint for `--ui-codec-endpoint`, or None when encryption is off.
    """
    codec = codec_from_env()
    if codec is None:
        yield None
        return
    runner = await start_codec_server(settings, codec)
    try:
        yield codec_endpoint(settings)
    finally:
        await runner.cleanup()


async def _serve() -> None:
    runner = await start_codec_server(Settings.from_env())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _main() -> None:
    try:
        asyncio.run(_serve())
    except (RuntimeError, EncryptionConfigError, OSError) as err:
        raise SystemExit(f"codec server: {err}") from None


if __name__ == "__main__":
    from ttai.telemetry.logs import configure_logging, run_main

    configure_logging()
    run_main(_main)  # the SystemExit message goes through the log formatter
