"""Standard Webhooks signatures, checked with the reference library (standardwebhooks)."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from attendance.core.domain.egress import check_destination, is_public
from attendance.core.domain.model import DomainError
from attendance.core.domain.webhooks import SigningSecret, Subscription, check_events, webhook_headers


def secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def test_the_reference_library_verifies_our_signature_and_refuses_a_tampered_body() -> None:
    s = secret()
    body = b'{"type":"attendance.check_in.accepted","event_id":"e1"}'
    now = int(datetime.now(UTC).timestamp())
    headers = webhook_headers([s], "e1:attendance.check_in.accepted", now, body)
    assert Webhook(s).verify(body, headers) == {"type": "attendance.check_in.accepted", "event_id": "e1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(s).verify(body.replace(b"e1", b"e2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret()).verify(body, headers)


def test_during_a_rotation_both_secrets_sign_until_the_old_one_expires() -> None:
    old, new = secret(), secret()
    now = datetime.now(UTC)
    both = (SigningSecret(value=new), SigningSecret(value=old, expires_at=now + timedelta(hours=1)))
    sub = Subscription(
        id="s", tenant_id="t", url="https://x.example/h", events=frozenset(), created_at=now, secrets=both
    )
    body = b"{}"
    headers = webhook_headers(sub.signing_secrets(now), "m1", int(now.timestamp()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for s in (old, new):
        Webhook(s).verify(body, headers)
    later = now + timedelta(hours=2)
    assert sub.signing_secrets(later) == [new]


def test_urls_events_and_secrets_are_checked() -> None:
    assert check_destination(" https://hr.example/hook ", allow_private=False) == "https://hr.example/hook"
    for bad in (
        "ftp://x/y",
        "not a url",
        "https://user:pw@x.example/",
        "http://hr.example/",
        "https://10.0.0.1/",
        "https://[::ffff:169.254.169.254]/",
        "https://[64:ff9b::a00:1]/",
        "https://x.example:99999/",
    ):
        with pytest.raises(DomainError):
            check_destination(bad, allow_private=False)
    assert check_destination("http://127.0.0.1:8080/h", allow_private=True) == "http://127.0.0.1:8080/h"
    import ipaddress

    assert is_public(ipaddress.ip_address("8.8.8.8")) and is_public(ipaddress.ip_address("2606:4700::1111"))
    assert not is_public(ipaddress.ip_address("224.0.0.1"))
    assert check_events(["attendance.day.summary", ""]) == {"attendance.day.summary"}
    with pytest.raises(DomainError, match="unknown event type"):
        check_events(["attendance.everything"])
    with pytest.raises(DomainError, match="whsec_"):
        webhook_headers(["not-a-secret"], "m", 1, b"")
