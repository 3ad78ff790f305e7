"""AES-256-GCM encryption of face templates, with key ids so keys can rotate.

Exception tree::

    TemplateKeyError        a key is missing or malformed (configuration)
    TemplateDecryptError    a ciphertext fails authentication (tampered, or the wrong owner)
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

NONCE_BYTES = 12
LOCAL_KEY_ID = "local-1"


class TemplateKeyError(Exception):
    pass


class TemplateDecryptError(Exception):
    pass


def parse_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TemplateKeyError("a template key must be base64 of 32 random bytes") from exc
    if len(key) != 32:
        raise TemplateKeyError(f"a template key must be 32 bytes (AES-256), got {len(key)}")
    return key


def local_key_if_any(home: Path, name: str = "template.key") -> bytes | None:
    """The key generated for local use, if one was (data sealed with it stays readable after a
    key is configured, until ``attendance keys rotate`` re-encrypts it)."""
    path = home / "keys" / name
    return parse_key(path.read_text()) if path.exists() else None


def load_or_create_local_key(
    home: Path, name: str = "template.key", setting: str = "ATTENDANCE_CRYPTO__TEMPLATE_KEY"
) -> bytes:
    """The key for local use when none is configured: made once, kept with mode 0600. Several
    processes may start at once: the key is written aside and linked into place atomically, and
    whoever loses the race reads the winner's key."""
    path = home / "keys" / name
    if path.exists():
        return parse_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode() + "\n")
        try:
            os.link(scratch, path)
            log.warning(
                "no %s key configured: generated one at %s for local use; set %s in production",
                name.removesuffix(".key"),
                path,
                setting,
            )
        except FileExistsError:
            pass  # another process made it first
    finally:
        os.unlink(scratch)
    return parse_key(path.read_text())


class AesGcmTemplateCipher:
    """Encrypts with the active key; decrypts with whichever key id the blob names."""

    def __init__(self, active_key_id: str, keys: Mapping[str, bytes]) -> None:
        if active_key_id not in keys:
            raise TemplateKeyError(f"no key for the active key id {active_key_id!r}")
        self._active = active_key_id
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}

    @property
    def active_key_id(self) -> str:
        return self._active

    def encrypt(self, plaintext: bytes, context: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return self._active, nonce + self._aead[self._active].encrypt(nonce, plaintext, context)

    def decrypt(self, key_id: str, blob: bytes, context: bytes) -> bytes:
        aead = self._aead.get(key_id)
        if aead is None:
            raise TemplateKeyError(f"template encrypted with unknown key id {key_id!r}")
        try:
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context)
        except InvalidTag as exc:
            raise TemplateDecryptError("encrypted data failed authentication (wrong key, or tampered)") from exc
