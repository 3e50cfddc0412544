"""ESP webhooks: valid signatures are accepted, forged ones get 401 and change nothing.

The SNS signing certificate and the subscription-confirmation URL are served by a real
HTTP server on loopback; every signature is made with real keys generated here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette

from newsletter import _webhooks
from newsletter.bounces import Report
from newsletter.config import (
    MailgunWebhook,
    PostmarkWebhook,
    SendGridWebhook,
    SESWebhook,
    WebhooksConfig,
)
from tests.servers import FeedServer

pytestmark = pytest.mark.anyio
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-bounces"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def sns_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sns_host(sns_key: rsa.RSAPrivateKey) -> Iterator[FeedServer]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(sns_key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(sns_key, hashes.SHA256())
    )
    with FeedServer() as server:
        server.add("/SimpleNotificationService.pem", cert.public_bytes(serialization.Encoding.PEM))
        server.add("/confirm", "<ConfirmSubscriptionResponse/>", content_type="text/xml")
        _webhooks._sns_certificate.cache_clear()
        yield server


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> ec.EllipticCurvePrivateKey:
    monkeypatch.setenv("MAILGUN_WEBHOOK_SIGNING_KEY", "key-mailgun-0123456789")
    monkeypatch.setenv("POSTMARK_WEBHOOK_USER", "postmark")
    monkeypatch.setenv("POSTMARK_WEBHOOK_PASSWORD", "hook-pass-9876")
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", base64.b64encode(public).decode())
    return key


def app(received: list[Report]) -> Starlette:
    config = WebhooksConfig(
        ses=SESWebhook(topic_arns=[TOPIC], cert_hosts=[r"127\.0\.0\.1"]),
        mailgun=MailgunWebhook(),
        postmark=PostmarkWebhook(),
        sendgrid=SendGridWebhook(),
    )
    return Starlette(routes=_webhooks.routes(config, received.append))


def client(application: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="https://testserver"
    )


def sns_message(
    key: rsa.RSAPrivateKey, server: FeedServer, kind: str, version: str = "1", **fields: Any
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "Type": kind,
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Timestamp": "2026-07-06T00:02:11.000Z",
        "SignatureVersion": version,
        "SigningCertURL": server.url("/SimpleNotificationService.pem"),
        **fields,
    }
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signed = _webhooks.sns_string_to_sign(message)
    message["Signature"] = base64.b64encode(
        key.sign(signed, padding.PKCS1v15(), algorithm)
    ).decode()
    return message


SES_BOUNCE = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "Gone@Example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
    },
    "mail": {"messageId": "0100018f-ses-1", "headers": []},
}


async def test_ses_bounce_and_complaint_with_a_valid_sns_signature(
    sns_key: rsa.RSAPrivateKey, sns_host: FeedServer
) -> None:
    received: list[Report] = []
    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "angry@example.com"}],
            "complaintFeedbackType": "abuse",
        },
        "mail": {
            "messageId": "0100018f-ses-2",
            "headers": [
                {"name": "List-Unsubscribe", "value": "<https://n.example/unsubscribe/Mw.a.b>"}
            ],
        },
    }
    async with client(app(received)) as c:
        for version, body in (("1", SES_BOUNCE), ("2", complaint)):
            message = sns_message(
                sns_key, sns_host, "Notification", version, Message=json.dumps(body)
            )
            answer = await c.post("/webhooks/ses", content=json.dumps(message))
            assert answer.status_code == 200, answer.text
    assert [r.kind for r in received] == ["hard", "complaint"]
    assert received[0].findings[0].address == "gone@example.com"
    assert received[0].findings[0].status == "5.1.1"
    assert received[1].list_tokens == ("Mw.a.b",)


async def test_sns_subscription_is_confirmed_only_when_signed(
    sns_key: rsa.RSAPrivateKey, sns_host: FeedServer
) -> None:
    received: list[Report] = []
    fields = {"Message": "confirm it", "Token": "t0k", "SubscribeURL": sns_host.url("/confirm")}
    good = sns_message(sns_key, sns_host, "SubscriptionConfirmation", **fields)
    forged = {**good, "SubscribeURL": sns_host.url("/confirm?evil=1")}
    async with client(app(received)) as c:
        assert (await c.post("/webhooks/ses", content=json.dumps(forged))).status_code == 401
        assert sns_host.count("/confirm") == 0
        assert (await c.post("/webhooks/ses", content=json.dumps(good))).status_code == 200
    assert sns_host.count("/confirm") == 1
    assert received == []


async def test_forged_or_foreign_sns_messages_get_401(
    sns_key: rsa.RSAPrivateKey, sns_host: FeedServer
) -> None:
    received: list[Report] = []
    good = sns_message(sns_key, sns_host, "Notification", Message=json.dumps(SES_BOUNCE))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = [
        {**good, "Message": json.dumps({**SES_BOUNCE, "bounce": {}})},  # altered
        sns_message(other_key, sns_host, "Notification", Message=json.dumps(SES_BOUNCE)),
        {**good, "SigningCertURL": "https://evil.example/cert.pem"},
        {**good, "TopicArn": "arn:aws:sns:us-east-1:999:other"},
        {**good, "SignatureVersion": "3"},
    ]
    async with client(app(received)) as c:
        for case in cases:
            answer = await c.post("/webhooks/ses", content=json.dumps(case))
            assert answer.status_code == 401, case
        assert (await c.post("/webhooks/ses", content=b"{not json")).status_code == 400
    assert received == []


def mailgun_body(event: dict[str, Any], key: str, stamp: float | None = None) -> dict[str, Any]:
    timestamp = str(int(stamp if stamp is not None else time.time()))
    token = hashlib.sha256(f"{timestamp}{event}".encode()).hexdigest()[:50]
    sig = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": sig},
        "event-data": event,
    }


async def test_mailgun_events_are_verified_fresh_and_not_replayed(
    secrets: ec.EllipticCurvePrivateKey,
) -> None:
    received: list[Report] = []
    failed = {
        "event": "failed",
        "severity": "permanent",
        "recipient": "gone@example.com",
        "delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"},
    }
    complained = {"event": "complained", "recipient": "angry@example.com"}
    key = "key-mailgun-0123456789"
    async with client(app(received)) as c:
        first = mailgun_body(failed, key)
        assert (await c.post("/webhooks/mailgun", json=first)).status_code == 200
        assert (await c.post("/webhooks/mailgun", json=first)).status_code == 401  # replay
        wrong = mailgun_body(complained, "not-the-key")
        assert (await c.post("/webhooks/mailgun", json=wrong)).status_code == 401
        stale = mailgun_body(complained, key, time.time() - 3600)
        assert (await c.post("/webhooks/mailgun", json=stale)).status_code == 401
        fine = mailgun_body(complained, key)
        assert (await c.post("/webhooks/mailgun", json=fine)).status_code == 200
    assert [(r.kind, r.findings[0].address) for r in received] == [
        ("hard", "gone@example.com"),
        ("complaint", "angry@example.com"),
    ]


async def test_postmark_needs_its_basic_credentials(secrets: ec.EllipticCurvePrivateKey) -> None:
    received: list[Report] = []
    bounce = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "TypeCode": 1,
        "Email": "gone@example.com",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    }
    spam = {"RecordType": "SpamComplaint", "Email": "angry@example.com", "MessageID": "x"}
    async with client(app(received)) as c:
        answer = await c.post("/webhooks/postmark", json=bounce)
        assert answer.status_code == 401
        wrong = await c.post("/webhooks/postmark", json=bounce, auth=("postmark", "guess"))
        assert wrong.status_code == 401
        for body in (bounce, spam):
            ok = await c.post("/webhooks/postmark", json=body, auth=("postmark", "hook-pass-9876"))
            assert ok.status_code == 200
    assert [r.kind for r in received] == ["hard", "complaint"]


async def test_sendgrid_batches_are_checked_with_the_ecdsa_key(
    secrets: ec.EllipticCurvePrivateKey,
) -> None:
    received: list[Report] = []
    events = [
        {
            "email": "gone@example.com",
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 The email account that you tried to reach does not exist",
        },
        {
            "email": "blocked@example.com",
            "event": "bounce",
            "type": "blocked",
            "status": "5.7.1",
            "reason": "550 5.7.1 rejected by policy",
        },
        {"email": "angry@example.com", "event": "spamreport"},
        {"email": "later@example.com", "event": "deferred", "response": "451 try later"},
        {"email": "fine@example.com", "event": "delivered"},
    ]
    body = json.dumps(events).encode()
    stamp = str(int(time.time()))
    signature = base64.b64encode(secrets.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256())))
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature.decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "content-type": "application/json",
    }
    async with client(app(received)) as c:
        tampered = body.replace(b"gone@", b"good@")
        answer = await c.post("/webhooks/sendgrid", content=tampered, headers=headers)
        assert answer.status_code == 401
        assert (await c.post("/webhooks/sendgrid", content=body)).status_code == 401
        answer = await c.post("/webhooks/sendgrid", content=body, headers=headers)
        assert answer.status_code == 200
    assert [r.kind for r in received] == ["hard", "soft", "complaint", "delayed"]


async def test_unconfigured_providers_have_no_route() -> None:
    application = Starlette(routes=_webhooks.routes(WebhooksConfig(), lambda r: None))
    async with client(application) as c:
        assert (await c.post("/webhooks/mailgun", json={})).status_code == 404
