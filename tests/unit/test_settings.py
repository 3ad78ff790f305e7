from __future__ import annotations

import pytest

from attendance.settings import Settings


def test_environment_maps_onto_the_settings_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb+srv://user:pw@cluster.example.net/")
    monkeypatch.setenv("ATTENDANCE_HTTP__PORT", "9001")
    monkeypatch.setenv("ATTENDANCE_FACE__MAX_BYTES", "1000")
    monkeypatch.setenv("ATTENDANCE_HOME", "/srv/attendance")
    s = Settings()
    assert s.mongodb_uri is not None
    assert s.mongodb_uri.get_secret_value().startswith("mongodb+srv://")
    assert "pw" not in repr(s)  # secrets never print
    assert s.http.port == 9001
    assert s.face.max_bytes == 1000
    assert str(s.home) == "/srv/attendance"


def test_defaults_are_the_embedded_local_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("MONGODB_URI", "ATTENDANCE_MONGODB_URI", "ATTENDANCE_HOME", "ATTENDANCE_HTTP__PORT"):
        monkeypatch.delenv(key, raising=False)
    s = Settings()
    assert s.mongodb_uri is None
    assert (s.http.host, s.http.port) == ("127.0.0.1", 8080)
    assert str(s.home) == "var"


def test_key_rotation_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import os

    from attendance.entrypoints.bootstrap import template_cipher

    old, new = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    monkeypatch.setenv("ATTENDANCE_CRYPTO__OLD_TEMPLATE_KEYS", f'{{"k1": "{old}"}}')
    monkeypatch.setenv("ATTENDANCE_CRYPTO__TEMPLATE_KEY", new)
    monkeypatch.setenv("ATTENDANCE_CRYPTO__TEMPLATE_KEY_ID", "k2")
    s = Settings()
    assert s.crypto.template_key_id == "k2"
    assert old not in repr(s) and new not in repr(s)
    cipher = template_cipher(s)
    assert cipher.active_key_id == "k2"
    from attendance.adapters.crypto.cipher import AesGcmTemplateCipher

    legacy = AesGcmTemplateCipher("k1", {"k1": base64.b64decode(old)})
    kid, blob = legacy.encrypt(b"template", b"ctx")
    assert cipher.decrypt(kid, blob, b"ctx") == b"template"


def test_tracing_is_off_by_default_and_its_endpoint_must_be_an_http_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATTENDANCE_TRACING__ENDPOINT", raising=False)
    assert Settings().tracing.endpoint is None
    monkeypatch.setenv("ATTENDANCE_TRACING__ENDPOINT", "http://otel-collector:4318")
    monkeypatch.setenv("ATTENDANCE_TRACING__SAMPLE_RATIO", "0.25")
    s = Settings()
    assert (s.tracing.endpoint, s.tracing.sample_ratio) == ("http://otel-collector:4318", 0.25)
    monkeypatch.setenv("ATTENDANCE_TRACING__ENDPOINT", "otel-collector:4318")
    with pytest.raises(ValueError, match="must be an http:// or https:// address"):
        Settings()
