from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from attendance.adapters.crypto.cipher import (
    AesGcmTemplateCipher,
    TemplateDecryptError,
    TemplateKeyError,
    load_or_create_local_key,
    parse_key,
)


def key() -> bytes:
    return os.urandom(32)


def test_round_trip_and_binding_to_the_owner() -> None:
    cipher = AesGcmTemplateCipher("k1", {"k1": key()})
    kid, blob = cipher.encrypt(b"embedding", b"tenant:alice")
    assert kid == "k1"
    assert b"embedding" not in blob
    assert cipher.decrypt(kid, blob, b"tenant:alice") == b"embedding"
    with pytest.raises(TemplateDecryptError):
        cipher.decrypt(kid, blob, b"tenant:mallory")  # copied onto another person's record
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(TemplateDecryptError):
        cipher.decrypt(kid, tampered, b"tenant:alice")


def test_rotation_old_key_still_decrypts() -> None:
    old, new = key(), key()
    kid, blob = AesGcmTemplateCipher("k1", {"k1": old}).encrypt(b"x", b"c")
    rotated = AesGcmTemplateCipher("k2", {"k1": old, "k2": new})
    assert rotated.decrypt(kid, blob, b"c") == b"x"
    assert rotated.encrypt(b"x", b"c")[0] == "k2"
    with pytest.raises(TemplateKeyError):
        AesGcmTemplateCipher("k2", {"k2": new}).decrypt("k1", blob, b"c")


def test_keys_are_checked() -> None:
    with pytest.raises(TemplateKeyError, match="32 bytes"):
        parse_key(base64.b64encode(b"short").decode())
    with pytest.raises(TemplateKeyError, match="base64"):
        parse_key("not base64 !!")
    with pytest.raises(TemplateKeyError):
        AesGcmTemplateCipher("missing", {"k1": key()})


def test_local_key_is_made_once_with_owner_only_access(tmp_path: Path) -> None:
    first = load_or_create_local_key(tmp_path)
    path = tmp_path / "keys" / "template.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_local_key(tmp_path) == first


def test_processes_starting_together_agree_on_one_local_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_or_create_local_key(tmp_path), range(16)))
    assert len(keys) == 1
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["template.key"]  # no scratch files left
