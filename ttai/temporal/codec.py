"""AES-GCM payload encryption with key rotation.

Keys come from `TTAI_ENCRYPTION_KEYS="id1:<base64 key>,id2:<base64 key>"` or
from the file named by `TTAI_ENCRYPTION_KEYS_FILE` (same format; commas or
newlines). The first key encrypts; every listed key decrypts, so rotating is:
put the new key first, keep the old ones until no open history needs them.
Each payload names its key in the `encryption-key-id` metadata. Without keys
payloads stay plain JSON. Key material is never logged or put in errors.

Search attributes and workflow IDs are never encrypted by a payload codec:
keep account numbers and balances out of them.

`python -m ttai.temporal.codec new-key [ID]` prints a fresh `id:key` entry.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
_NONCE_BYTES = 12


class EncryptionConfigError(ValueError):
    """The configured key list cannot be used (the message never holds key bytes)."""


class UnknownKeyError(ValueError):
    """A payload names a key that is not configured here."""


class EncryptionCodec(PayloadCodec):
    """Encrypts whole serialized payloads with the active key; decrypts with any key."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise EncryptionConfigError(f"active key id {active_key_id!r} is not among the keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def __repr__(self) -> str:
        # Never the keys themselves.
        return f"EncryptionCodec(active_key_id={self.active_key_id!r}, key_ids={self.key_ids!r})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self.active_key_id]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), None)
            encoded.append(
                Payload(
                    metadata={
                        "encoding": ENCODING,
                        KEY_ID_METADATA: self.active_key_id.encode(),
                    },
                    data=data,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                # Written before encryption was turned on, or by a plain client.
                decoded.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise UnknownKeyError(
                    f"payload was encrypted with key id {key_id!r}, which is not configured "
                    f"(configured: {', '.join(self.key_ids)}); add it to TTAI_ENCRYPTION_KEYS"
                )
            try:
                plain = cipher.decrypt(
                    payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:], None
                )
            except InvalidTag:
                raise UnknownKeyError(
                    f"payload does not decrypt with key id {key_id!r}: wrong key for that id"
                ) from None
            decoded.append(Payload.FromString(plain))
        return decoded


def parse_keys(text: str) -> tuple[dict[str, bytes], str]:
    """`id:base64key` entries separated by commas or newlines -> (keys, active id)."""
    keys: dict[str, bytes] = {}
    for raw in text.replace("\n", ",").split(","):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id:
            raise EncryptionConfigError("each encryption key entry must look like id:base64key")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise EncryptionConfigError(f"key {key_id!r} is not valid base64") from None
        if len(key) not in (16, 24, 32):
            raise EncryptionConfigError(
                f"key {key_id!r} is {len(key)} bytes; AES-GCM needs 16, 24 or 32"
            )
        if key_id in keys:
            raise EncryptionConfigError(f"key id {key_id!r} is listed twice")
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
        text = Path(key_file).read_text().strip()
    if not text:
        return None
    keys, active = parse_keys(text)
    return EncryptionCodec(keys, active)


def new_key_entry(key_id: str) -> str:
    """A fresh 256-bit key as an `id:base64key` entry."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "new-key":
        sys.exit("usage: python -m ttai.temporal.codec new-key [ID]")
    print(new_key_entry(sys.argv[2] if len(sys.argv) > 2 else f"k{secrets.token_hex(3)}"))
