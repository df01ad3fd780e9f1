"""Remote codec server: lets the Web UI and `temporal --codec-endpoint` show
encrypted payloads in clear, without the UI or the server ever holding keys.

Speaks Temporal's remote codec protocol: `POST /encode` and `POST /decode`
take and return `{"payloads": [...]}` (protobuf JSON, base64 fields).

Who may call it:
- Only the configured UI origins get CORS headers (default: the local UI on
  `TTAI_UI_PORT`); browsers from other origins are refused.
- `TTAI_CODEC_TOKEN` (at least 16 characters) is then required on every call
  as `Authorization: Bearer <token>`. It is mandatory whenever the server
  listens beyond loopback (`TTAI_CODEC_HOST` other than 127.0.0.1/::1/
  localhost): it refuses to start without one. On loopback without a token,
  any local process may decode (as it may read the dev server's history).
- Bad input is a 400 with a fixed message; nothing names the configured key
  IDs (details go to the server's own log), nothing returns a traceback.
- Plain payloads pass through /decode unchanged (see `ttai.temporal.codec`).

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

from aiohttp import hdrs, web
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads

from ttai.config import Settings
from ttai.loopback import is_loopback
from ttai.temporal.codec import (
    CorruptPayloadError,
    EncryptionCodec,
    EncryptionConfigError,
    UnknownKeyError,
    codec_from_env,
)

log = logging.getLogger("ttai.temporal.codec_server")  # also when run with -m

_CodecFn = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
# The UI sends x-namespace, and authorization when told to pass credentials.
_ALLOWED_HEADERS = "content-type,x-namespace,authorization"
MIN_TOKEN_LENGTH = 16
_MAX_BODY = 16 * 1024 * 1024  # a page of history payloads; more is not a UI request


def codec_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """`TTAI_CODEC_TOKEN`, checked: required beyond loopback, never trivially short."""
    env = os.environ if environ is None else environ
    token = env.get("TTAI_CODEC_TOKEN", "").strip() or None
    if token is None and not is_loopback(settings.codec_host):
        raise RuntimeError(
            f"TTAI_CODEC_TOKEN is required when the codec server listens beyond loopback "
            f"(TTAI_CODEC_HOST={settings.codec_host}): anyone who reaches it could decrypt"
        )
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise RuntimeError(f"TTAI_CODEC_TOKEN must be at least {MIN_TOKEN_LENGTH} characters")
    return token


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

    async def decode(request: web.Request) -> web.Response:
        return await apply(codec.decode, request)

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
