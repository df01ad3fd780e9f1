"""The remote codec server: decodes for the configured UI origin (and the CLI),
refuses other origins and calls without the bearer token, needs a token beyond
loopback, and answers bad input with a 400 that names no key."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from ttai.config import Settings
from ttai.loopback import free_port
from ttai.temporal.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    new_key_entry,
    parse_keys,
)
from ttai.temporal.codec_server import (
    allowed_origins,
    codec_server_if_encrypted,
    is_loopback,
    start_codec_server,
)

UI = "http://localhost:18233"
TOKEN = "codec-test-token-1234"
CODEC = EncryptionCodec(*parse_keys(f"k1:{base64.b64encode(bytes(range(32))).decode()}"))


@pytest_asyncio.fixture(loop_scope="session")
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv("TTAI_CODEC_TOKEN", TOKEN)
    settings = Settings(codec_port=free_port(), ui_origins=[UI])
    runner: web.AppRunner = await start_codec_server(settings, CODEC)
    try:
        assert {address[0] for address in runner.addresses} == {"127.0.0.1"}
        yield f"http://127.0.0.1:{settings.codec_port}"
    finally:
        await runner.cleanup()


def _body(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


async def _encrypted(text: bytes) -> list[Payload]:
    return await CODEC.encode([Payload(metadata={"encoding": b"json/plain"}, data=text)])


async def test_decodes_for_the_ui_origin(server: str) -> None:
    headers = {"Origin": UI, "Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server}/decode",
            data=_body(await _encrypted(b'{"symbol":"AAPL"}')),
            headers={**headers, "Content-Type": "application/json"},
        ) as response,
    ):
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == UI
        decoded = json_format.Parse(await response.text(), Payloads())
    assert decoded.payloads[0].data == b'{"symbol":"AAPL"}'
    assert decoded.payloads[0].metadata["encoding"] == b"json/plain"


async def test_encode_for_the_cli_without_origin(server: str) -> None:
    plain = [Payload(metadata={"encoding": b"json/plain"}, data=b"42")]
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server}/encode",
            data=_body(plain),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        ) as response,
    ):
        assert response.status == 200
        assert "Access-Control-Allow-Origin" not in response.headers
        encoded = json_format.Parse(await response.text(), Payloads())
    assert encoded.payloads[0].metadata["encoding"] == ENCODING
    assert await CODEC.decode(encoded.payloads) == plain


async def test_preflight_allowed_only_for_the_ui_origin(server: str) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    async with aiohttp.ClientSession() as http:
        async with http.options(f"{server}/decode", headers={**preflight, "Origin": UI}) as ok:
            assert ok.status == 200
            assert ok.headers["Access-Control-Allow-Origin"] == UI
            assert "authorization" in ok.headers["Access-Control-Allow-Headers"]
        async with http.options(
            f"{server}/decode", headers={**preflight, "Origin": "https://evil.example"}
        ) as refused:
            assert refused.status == 403
            assert "Access-Control-Allow-Origin" not in refused.headers


async def test_other_origins_cannot_decode(server: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server}/decode",
            data=_body(await _encrypted(b'"secret"')),
            headers={
                "Origin": "https://evil.example",
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/json",
            },
        ) as response,
    ):
        assert response.status == 403
        assert "secret" not in await response.text()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", TOKEN])
async def test_missing_or_wrong_token_is_refused(server: str, authorization: str | None) -> None:
    headers = {"Origin": UI, "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server}/decode", data=_body(await _encrypted(b'"secret"')), headers=headers
        ) as response,
    ):
        assert response.status == 401
        assert "secret" not in await response.text()


async def test_garbage_is_a_client_error(server: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server}/decode",
            data="not json",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        ) as response,
    ):
        assert response.status == 400


async def test_refuses_to_start_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTAI_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("TTAI_ENCRYPTION_KEYS_FILE", raising=False)
    with pytest.raises(RuntimeError, match="no encryption key"):
        await start_codec_server(Settings(codec_port=free_port()))


def test_default_origin_is_the_local_ui_port() -> None:
    assert allowed_origins(Settings(ui_port=18555)) == {
        "http://localhost:18555",
        "http://127.0.0.1:18555",
    }
    assert allowed_origins(Settings(ui_origins=["https://ui.example"])) == {"https://ui.example"}


async def test_busy_port_is_one_clear_error(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with pytest.raises(RuntimeError, match=f"{port}.*TTAI_CODEC_PORT"):
        await start_codec_server(Settings(codec_port=port), CODEC)


async def test_local_stack_helper_runs_only_when_encrypted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TTAI_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("TTAI_ENCRYPTION_KEYS_FILE", raising=False)
    monkeypatch.delenv("TTAI_CODEC_TOKEN", raising=False)
    settings = Settings(codec_port=free_port(), ui_port=18999, state_dir=tmp_path / "state")
    async with codec_server_if_encrypted(settings) as endpoint:
        assert endpoint is None

    monkeypatch.setenv("TTAI_ENCRYPTION_KEYS", new_key_entry("k1"))
    async with codec_server_if_encrypted(settings) as endpoint:
        assert endpoint == f"http://127.0.0.1:{settings.codec_port}"
        preflight = {"Origin": "http://localhost:18999", "Access-Control-Request-Method": "POST"}
        async with (
            aiohttp.ClientSession() as http,
            http.options(f"{endpoint}/decode", headers=preflight) as response,
        ):
            assert response.status == 200
    # Stopped on exit: the port is free again.
    runner = await start_codec_server(settings)
    await runner.cleanup()


async def test_on_loopback_a_token_is_generated_into_the_state_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Any local user reaches a loopback port: decoding needs a token by default."""
    monkeypatch.delenv("TTAI_CODEC_TOKEN", raising=False)
    settings = Settings(codec_port=free_port(), state_dir=tmp_path / "state")
    runner = await start_codec_server(settings, CODEC)
    url = f"http://127.0.0.1:{settings.codec_port}/decode"
    body = _body(await _encrypted(b'{"balance": 1}'))
    try:
        token_file = settings.state_dir / "codec-token"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=body) as anonymous:
                assert anonymous.status == 401
            assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
            bearer = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
            async with http.post(url, data=body, headers=bearer) as given:
                assert given.status == 200
    finally:
        await runner.cleanup()
    # The same token next time (the user keeps it in their codec settings).
    token = token_file.read_text()
    await (await start_codec_server(settings, CODEC)).cleanup()
    assert token_file.read_text() == token


async def test_off_drops_the_token_on_loopback_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TTAI_CODEC_TOKEN", "off")
    settings = Settings(codec_port=free_port(), state_dir=tmp_path / "state")
    runner = await start_codec_server(settings, CODEC)
    try:
        url = f"http://127.0.0.1:{settings.codec_port}/decode"
        body = _body(await _encrypted(b'{"balance": 1}'))
        async with aiohttp.ClientSession() as http, http.post(url, data=body) as response:
            assert response.status == 200
    finally:
        await runner.cleanup()
    assert not (settings.state_dir / "codec-token").exists()
    beyond = Settings(codec_host="0.0.0.0", codec_port=free_port(), state_dir=tmp_path / "s2")
    with pytest.raises(RuntimeError, match="TTAI_CODEC_TOKEN is required"):
        await start_codec_server(beyond, CODEC)


async def _decode_status(server: str, payloads: list[Payload]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server}/decode",
            data=_body(payloads),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, await response.text()


def _encrypted_raw(data: bytes, key_id: bytes = b"k1") -> Payload:
    return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=data)


async def test_short_or_garbage_ciphertext_is_a_client_error(server: str) -> None:
    for payload in (_encrypted_raw(b""), _encrypted_raw(b"short"), _encrypted_raw(b"x" * 64)):
        status, text = await _decode_status(server, [payload])
        assert status == 400, text
        assert "Traceback" not in text
        assert json.loads(text)["error"]


async def test_errors_never_name_the_configured_key_ids(server: str) -> None:
    configured = CODEC.key_ids
    for payload in (_encrypted_raw(b"x" * 64, b"retired"), _encrypted_raw(b"x" * 64)):
        status, text = await _decode_status(server, [payload])
        assert status == 400
        for key_id in configured:
            assert key_id not in text


async def test_plain_payloads_pass_through_decode(server: str) -> None:
    plain = [Payload(metadata={"encoding": b"json/plain"}, data=b'{"symbol":"AAPL"}')]
    status, text = await _decode_status(server, plain)
    assert status == 200
    assert list(json_format.Parse(text, Payloads()).payloads) == plain


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "codec.internal"])
async def test_listening_beyond_loopback_needs_a_token(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.delenv("TTAI_CODEC_TOKEN", raising=False)
    settings = Settings(codec_host=host, codec_port=free_port())
    with pytest.raises(RuntimeError, match="TTAI_CODEC_TOKEN is required"):
        await start_codec_server(settings, CODEC)


async def test_a_short_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTAI_CODEC_TOKEN", "short")
    with pytest.raises(RuntimeError, match="at least 16"):
        await start_codec_server(Settings(codec_port=free_port()), CODEC)


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com"))
