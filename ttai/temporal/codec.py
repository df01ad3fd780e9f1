"""AES-GCM payload encryption with key rotation.

Keys come from `TTAI_ENCRYPTION_KEYS="id1:<base64 key>,id2:<base64 key>"` or
from the file named by `TTAI_ENCRYPTION_KEYS_FILE` (same format; commas or
newlines; the file must be private to its owner, mode 0600). The first key
encrypts; every listed key decrypts, so rotating is: put the new key first,
keep the old ones until no open history needs them. Each payload names its
key in the `encryption-key-id` metadata, and that ID is bound to the
ciphertext as AES-GCM associated data, so it cannot be swapped. Key IDs are
1-20 characters of `A-Z a-z 0-9 _ . -` (too short to be a key: a key pasted
where the ID goes is refused, never echoed). Without keys payloads stay plain
JSON. Key material is never logged or put in errors.

Plain (unencrypted) payloads are refused when encryption is on: a worker or a
client never takes a payload it cannot authenticate, so whoever reaches the
Temporal frontend without the keys (any local user of the dev server) cannot
feed workflows forged inputs or the assistant forged results. Apps in other
languages encode through the codec server (`/encode`, with its token).
`TTAI_PLAIN_PAYLOADS=accept` accepts them again, for the time it takes
histories written before encryption was turned on to close (monitors continue
as new within a day). The codec server shows plain payloads as they are.

Search attributes and workflow IDs are never encrypted by a payload codec:
keep account numbers and balances out of them.

`python -m ttai.temporal.codec new-key [ID]` prints a fresh `id:key` entry.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from ttai.private_files import PrivateFileError, read_private_text
from ttai.telemetry.redaction import register_secret

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,19}")
_NONCE_BYTES = 12
_TAG_BYTES = 16


class EncryptionConfigError(ValueError):
    """The configured key list cannot be used (the message never holds key bytes)."""


class PayloadDecryptError(ValueError):
    """An encrypted payload cannot be turned back into the original."""


class UnknownKeyError(PayloadDecryptError):
    """A payload names a key that is not configured here, or the key does not fit."""


class CorruptPayloadError(PayloadDecryptError):
    """An encrypted payload is truncated or is not what this codec writes."""


class PlainPayloadRefused(PayloadDecryptError):
    """A payload arrived unencrypted while encryption is on."""


class EncryptionCodec(PayloadCodec):
    """Encrypts whole serialized payloads with the active key; decrypts with any key.

    Plain payloads are refused unless `accept_plain` (see the module docstring).
    """

    def __init__(
        self, keys: Mapping[str, bytes], active_key_id: str, *, accept_plain: bool = False
    ) -> None:
        if active_key_id not in keys:
            raise EncryptionConfigError("the active key id is not among the keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id
        self.accept_plain = accept_plain

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def __repr__(self) -> str:
        # Never the keys themselves.
        return f"EncryptionCodec(active_key_id={self.active_key_id!r}, key_ids={self.key_ids!r})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self.active_key_id]
        key_id = self.active_key_id.encode()
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), key_id)
            encoded.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=data)
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if not is_encrypted(payload):
                if not self.accept_plain:
                    raise PlainPayloadRefused(
                        "refusing an unencrypted payload: encryption is on "
                        "(TTAI_ENCRYPTION_KEYS), so every payload must be encrypted; "
                        "other apps encode through the codec server"
                    )
                decoded.append(payload)  # written before encryption was turned on
                continue
            decoded.append(self._decrypt(payload))
        return decoded

    def _decrypt(self, payload: Payload) -> Payload:
        raw_id = payload.metadata.get(KEY_ID_METADATA, b"")
        try:
            key_id = raw_id.decode()
        except UnicodeDecodeError:
            key_id = ""
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise CorruptPayloadError("encrypted payload without a valid key id")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(
                f"payload was encrypted with key id {key_id!r}, which is not configured "
                f"(configured: {', '.join(self.key_ids)}); add it to TTAI_ENCRYPTION_KEYS"
            )
        if len(payload.data) < _NONCE_BYTES + _TAG_BYTES:
            raise CorruptPayloadError("encrypted payload is too short to be ciphertext")
        nonce, ciphertext = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, ciphertext, raw_id)
        except InvalidTag:
            try:
                # Written before the key id was bound as associated data.
                plain = cipher.decrypt(nonce, ciphertext, None)
            except InvalidTag:
                raise UnknownKeyError(
                    f"payload does not decrypt with key id {key_id!r}: wrong key for that id, "
                    "or the payload was altered"
                ) from None
        try:
            return Payload.FromString(plain)
        except DecodeError:
            raise CorruptPayloadError("decrypted payload is not a Temporal payload") from None


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


def parse_keys(text: str) -> tuple[dict[str, bytes], str]:
    """`id:base64key` entries separated by commas or newlines -> (keys, active id).

    Errors name entries by position, never by content: a key pasted where the
    ID goes must not end up in a log.
    """
    keys: dict[str, bytes] = {}
    entries = [e.strip() for e in text.replace("\n", ",").split(",")]
    entries = [e for e in entries if e and not e.startswith("#")]
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        register_secret(encoded.strip())  # never in a log line of this process
        where = f"encryption key entry {position}"
        if not sep or not key_id:
            raise EncryptionConfigError(f"{where} must look like id:base64key")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise EncryptionConfigError(
                f"{where}: the id must be 1-20 characters of A-Z a-z 0-9 _ . - "
                "(a key in the id's place? write id:key, id first)"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise EncryptionConfigError(f"{where}: the key is not valid base64") from None
        if len(key) not in (16, 24, 32):
            raise EncryptionConfigError(
                f"{where}: the key is {len(key)} bytes; AES-GCM needs 16, 24 or 32"
            )
        if key_id in keys:
            raise EncryptionConfigError(f"{where}: its id is listed twice")
        register_secret(key.hex())
        keys[key_id] = key
    if not keys:
        raise EncryptionConfigError("the encryption key list is empty")
    return keys, next(iter(keys))


def codec_from_env(environ: Mapping[str, str] | None = None) -> EncryptionCodec | None:
    """The codec the environment configures, or None when encryption is off."""
    env = os.environ if environ is None else environ
    text = env.get("TTAI_ENCRYPTION_KEYS", "").strip()
    key_file = env.get("TTAI_ENCRYPTION_KEYS_FILE", "").strip()
    if not text and key_file:
        try:
            text = read_private_text(
                Path(key_file).expanduser(), "the encryption keys file (TTAI_ENCRYPTION_KEYS_FILE)"
            ).strip()
        except PrivateFileError as err:
            raise EncryptionConfigError(str(err)) from None
    if not text:
        return None
    keys, active = parse_keys(text)
    accept_plain = env.get("TTAI_PLAIN_PAYLOADS", "").strip().lower() == "accept"
    return EncryptionCodec(keys, active, accept_plain=accept_plain)


def new_key_entry(key_id: str) -> str:
    """A fresh 256-bit key as an `id:base64key` entry."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "new-key":
        sys.exit("usage: python -m ttai.temporal.codec new-key [ID]")
    print(new_key_entry(sys.argv[2] if len(sys.argv) > 2 else f"k{secrets.token_hex(3)}"))
