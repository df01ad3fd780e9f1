"""AES-GCM payload codec: round trip through the project converter, key
rotation, clear errors, and a history read raw from the server that holds
ciphertext only."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ttai.config import Settings
    from ttai.models.common import Model
    from ttai.servers.temporal_server import TemporalDevServer
    from ttai.temporal.client import connect, data_converter
    from ttai.temporal.codec import (
        ENCODING,
        KEY_ID_METADATA,
        CorruptPayloadError,
        EncryptionCodec,
        EncryptionConfigError,
        PlainPayloadRefused,
        UnknownKeyError,
        codec_from_env,
        new_key_entry,
        parse_keys,
    )

ACCOUNT = "5WT-ACCOUNT-00777"
BALANCE = "123456.78"


class SecretInput(Model):
    account_number: str
    balance: str


class SecretResult(Model):
    summary: str
    refusal: str


@activity.defn
async def refuse_order(request: SecretInput) -> str:
    raise ApplicationError(f"order refused for {request.account_number}", non_retryable=True)


@workflow.defn
class SecretEchoWorkflow:
    @workflow.run
    async def run(self, request: SecretInput) -> SecretResult:
        try:
            await workflow.execute_activity(
                refuse_order,
                request,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
            refusal = ""
        except ActivityError as err:
            refusal = str(err.cause)
        return SecretResult(
            summary=f"{request.account_number} holds {request.balance}", refusal=refusal
        )


def _key(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


def _payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_round_trip_through_project_converter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTAI_ENCRYPTION_KEYS", f"k1:{_key(1)}")
    converter = data_converter()
    value = SecretInput(account_number=ACCOUNT, balance=BALANCE)

    [encoded] = await converter.encode([value])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata[KEY_ID_METADATA] == b"k1"
    assert ACCOUNT.encode() not in encoded.SerializeToString()

    assert await converter.decode([encoded], [SecretInput]) == [value]


def test_converter_is_plain_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTAI_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("TTAI_ENCRYPTION_KEYS_FILE", raising=False)
    assert data_converter().payload_codec is None


async def test_rotation_old_payloads_decode_with_new_active_key() -> None:
    old = EncryptionCodec(*parse_keys(f"old:{_key(1)}"))
    [written_before] = await old.encode([_payload('"before rotation"')])

    rotated = EncryptionCodec(*parse_keys(f"new:{_key(2)},old:{_key(1)}"))
    assert rotated.active_key_id == "new"
    [written_after] = await rotated.encode([_payload('"after rotation"')])
    assert written_after.metadata[KEY_ID_METADATA] == b"new"

    decoded = await rotated.decode([written_before, written_after])
    assert [p.data for p in decoded] == [b'"before rotation"', b'"after rotation"']


async def test_unknown_key_id_is_a_clear_error_without_key_material() -> None:
    [payload] = await EncryptionCodec(*parse_keys(f"retired:{_key(3)}")).encode([_payload("1")])
    current = EncryptionCodec(*parse_keys(f"current:{_key(4)}"))
    with pytest.raises(UnknownKeyError, match="'retired'") as caught:
        await current.decode([payload])
    assert "current" in str(caught.value)
    assert _key(4) not in str(caught.value)
    assert _key(4) not in repr(current)


async def test_wrong_key_under_a_known_id_is_refused() -> None:
    [payload] = await EncryptionCodec(*parse_keys(f"k:{_key(5)}")).encode([_payload("1")])
    with pytest.raises(UnknownKeyError, match="wrong key"):
        await EncryptionCodec(*parse_keys(f"k:{_key(6)}")).decode([payload])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("nokey", "id:base64key"),
        ("k:not base64!", "not valid base64"),
        (f"k:{base64.b64encode(b'short').decode()}", "5 bytes"),
        (f"k:{_key(1)},k:{_key(2)}", "twice"),
    ],
)
def test_bad_key_lists_are_rejected(text: str, message: str) -> None:
    with pytest.raises(EncryptionConfigError, match=message) as caught:
        parse_keys(text)
    assert _key(1) not in str(caught.value)


def test_keys_from_file(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"# newest first\n{new_key_entry('b')}\n{new_key_entry('a')}\n")
    key_file.chmod(0o600)
    codec = codec_from_env({"TTAI_ENCRYPTION_KEYS_FILE": str(key_file)})
    assert codec is not None
    assert codec.key_ids == ["b", "a"]
    assert codec.active_key_id == "b"


def test_keys_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"k1:{_key(1)}\n")
    key_file.chmod(0o644)
    with pytest.raises(EncryptionConfigError, match="chmod 600") as caught:
        codec_from_env({"TTAI_ENCRYPTION_KEYS_FILE": str(key_file)})
    assert _key(1) not in str(caught.value)


async def test_key_id_is_bound_to_the_ciphertext() -> None:
    # Two ids for one key: moving a payload to the other id must not decrypt.
    codec = EncryptionCodec(*parse_keys(f"a:{_key(1)},b:{_key(1)}"))
    [encrypted] = await codec.encode([_payload('"secret"')])
    assert encrypted.metadata[KEY_ID_METADATA] == b"a"
    encrypted.metadata[KEY_ID_METADATA] = b"b"
    with pytest.raises(UnknownKeyError, match="altered"):
        await codec.decode([encrypted])


async def test_payloads_written_before_the_id_was_bound_still_decode() -> None:
    nonce = bytes(12)
    plain = _payload('"older"')
    legacy = Payload(
        metadata={"encoding": ENCODING, KEY_ID_METADATA: b"k1"},
        data=nonce + AESGCM(bytes([1]) * 32).encrypt(nonce, plain.SerializeToString(), None),
    )
    codec = EncryptionCodec(*parse_keys(f"k1:{_key(1)}"))
    assert await codec.decode([legacy]) == [plain]


def _alnum_key(size: int) -> str:
    """A base64 key made only of letters and digits: it fits any lax id pattern."""
    while True:
        text = base64.b64encode(os.urandom(size)).decode()
        if text.isalnum():
            return text


@pytest.mark.parametrize("size", [16, 24, 32])
def test_a_key_where_the_id_goes_is_refused_without_echoing_it(size: int) -> None:
    key = _alnum_key(size) if size == 24 else base64.b64encode(os.urandom(size)).decode()
    for text in (f"{key}:k1", f"{key}:{_key(2)}", key, f"k1:{_key(1)},{key}:k2"):
        with pytest.raises(EncryptionConfigError) as caught:
            parse_keys(text)
        assert key not in str(caught.value)
        assert key[:12] not in str(caught.value)


async def test_short_or_garbage_ciphertext_is_a_clear_error() -> None:
    codec = EncryptionCodec(*parse_keys(f"k1:{_key(1)}"))

    def encrypted(data: bytes, key_id: bytes = b"k1") -> Payload:
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=data)

    for payload in (encrypted(b""), encrypted(b"short"), encrypted(bytes(27))):
        with pytest.raises(CorruptPayloadError, match="too short"):
            await codec.decode([payload])
    with pytest.raises(UnknownKeyError, match="wrong key"):
        await codec.decode([encrypted(os.urandom(64))])
    for key_id in (b"", b"\xff\xfe", b"a" * 21, b"id with spaces"):
        with pytest.raises(CorruptPayloadError, match="key id"):
            await codec.decode([encrypted(os.urandom(64), key_id)])
    # Authentic ciphertext of something that is not a payload.
    nonce = bytes(12)
    not_a_payload = AESGCM(bytes([1]) * 32).encrypt(nonce, b"\xff" * 10, b"k1")
    with pytest.raises(CorruptPayloadError, match="not a Temporal payload"):
        await codec.decode([encrypted(nonce + not_a_payload)])


async def test_plain_payloads_are_refused_when_encryption_is_on() -> None:
    codec = EncryptionCodec(*parse_keys(f"k1:{_key(1)}"))
    plain = _payload('{"symbol": "AAPL"}')
    with pytest.raises(PlainPayloadRefused, match="encryption is on"):
        await codec.decode([plain])
    [encoded] = await codec.encode([plain])
    assert encoded.metadata["encoding"] == ENCODING
    assert await codec.decode([encoded]) == [plain]


async def test_plain_payloads_accepted_only_when_asked_for_a_transition() -> None:
    plain = _payload('{"symbol": "AAPL"}')
    entry = f"k1:{_key(1)}"
    for setting, accepted in (("", False), ("accept", True), ("yes", False)):
        codec = codec_from_env({"TTAI_ENCRYPTION_KEYS": entry, "TTAI_PLAIN_PAYLOADS": setting})
        assert codec is not None
        if accepted:
            assert await codec.decode([plain]) == [plain]
        else:
            with pytest.raises(PlainPayloadRefused):
                await codec.decode([plain])


async def test_a_result_written_without_the_keys_never_reaches_a_client_with_them(
    dev_server: TemporalDevServer,
    client: Client,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Anyone who reaches the frontend (any local user of the dev server) can run a
    worker of their own: its forged, plain results are refused, not believed."""
    assert client.data_converter.payload_codec is None  # the forger has no keys
    workflow_id = f"forged-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[SecretEchoWorkflow], activities=[refuse_order]
    ):
        await client.execute_workflow(
            SecretEchoWorkflow.run,
            SecretInput(account_number="forged", balance="1000000"),
            id=workflow_id,
            task_queue=task_queue,
        )
    monkeypatch.setenv("TTAI_ENCRYPTION_KEYS", f"k1:{_key(7)}")
    keyed = await connect(Settings(temporal_address=dev_server.address))
    with pytest.raises(PlainPayloadRefused):
        await keyed.get_workflow_handle(workflow_id).result()


async def test_history_on_the_server_holds_ciphertext_only(
    dev_server: TemporalDevServer,
    client: Client,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TTAI_ENCRYPTION_KEYS", f"k1:{_key(7)}")
    encrypted = await connect(Settings(temporal_address=dev_server.address))
    assert encrypted.data_converter.payload_codec is not None
    workflow_id = f"secret-{uuid.uuid4()}"
    async with Worker(
        encrypted,
        task_queue=task_queue,
        workflows=[SecretEchoWorkflow],
        activities=[refuse_order],
    ):
        result = await encrypted.execute_workflow(
            SecretEchoWorkflow.run,
            SecretInput(account_number=ACCOUNT, balance=BALANCE),
            id=workflow_id,
            task_queue=task_queue,
        )
    # The client with the key sees everything in clear ...
    assert result.summary == f"{ACCOUNT} holds {BALANCE}"
    assert ACCOUNT in result.refusal

    # ... the server, read by a client without the codec, holds none of it.
    assert client.data_converter.payload_codec is None
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)
    assert ACCOUNT.encode() not in raw
    assert BALANCE.encode() not in raw
    assert ENCODING in raw  # payloads are there, encrypted
    failed = [e for e in history.events if e.HasField("activity_task_failed_event_attributes")]
    assert failed[0].activity_task_failed_event_attributes.failure.message == "Encoded failure"
