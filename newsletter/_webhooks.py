"""ESP webhooks: bounces and complaints reported by Amazon SES (over SNS), Mailgun, Postmark
and SendGrid, each verified the provider's own way before anything changes.

Each provider's events become :class:`~newsletter.bounces.Report` objects, the same ones a
piped or polled bounce mail produces, and are handed to one ``apply`` callback: the
actions and the evidence stored are the same whichever way a bounce arrives. A request
that fails verification gets 401 and reaches nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .bounces import Finding, Kind, Report, classify
from .config import WebhooksConfig

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
"""SendGrid batches events; a megabyte is thousands of them and still cheap to parse."""
MAX_AGE_SECONDS = 15 * 60
"""Signed requests older than this are refused (a replayed capture)."""

Apply = Callable[[Report], None]


class Unverified(Exception):
    """The request does not carry a valid signature or secret."""


def _secret(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise Unverified(f"environment variable {name} is not set")
    return value


def _text(value: Any, limit: int = 500) -> str:
    return " ".join(str(value or "").split())[:limit]


def _unsubscribe_tokens(headers: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Tokens from a List-Unsubscribe header an ESP echoes back (SES ``mail.headers``)."""
    tokens: list[str] = []
    for header in headers:
        if str(header.get("name", "")).lower() == "list-unsubscribe":
            tokens += re.findall(r"/unsubscribe/([A-Za-z0-9_.-]+)", str(header.get("value", "")))
    return tuple(dict.fromkeys(tokens))


def _report(
    kind: Kind,
    provider: str,
    findings: list[Finding],
    message_id: str = "",
    tokens: tuple[str, ...] = (),
) -> Report:
    return Report(
        kind,
        f"webhook:{provider}",
        _text(message_id, 250),
        "",
        tuple(findings),
        list_tokens=tokens,
    )


class _Replays:
    """Tokens seen recently (Mailgun signs a fresh token per request): a replay is refused."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, token: str) -> bool:
        if token in self._seen:
            return False
        self._seen[token] = None
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)
        return True


def _fresh(timestamp: str, now: float) -> None:
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        raise Unverified("the timestamp is not a number") from None
    if age > MAX_AGE_SECONDS:
        raise Unverified(f"the signature is {int(age)} s old")


# -- Amazon SES over SNS -----------------------------------------------------------------

_SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SNS_FIELDS["UnsubscribeConfirmation"] = _SNS_FIELDS["SubscriptionConfirmation"]


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical text SNS signs: ``name\\nvalue\\n`` for each field that is present."""
    fields = _SNS_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise Unverified(f"unknown SNS message type {str(message.get('Type'))[:40]!r}")
    text = "".join(
        f"{name}\n{message[name]}\n"
        for name in fields
        if name in message and not (name == "Subject" and message[name] is None)
    )
    return text.encode("utf-8")


class SNSVerifier:
    """Checks an SNS message's signature with the certificate SNS names, fetched only from
    a host the config trusts (default: ``sns.<region>.amazonaws.com``)."""

    def __init__(self, cert_hosts: Iterable[str], topic_arns: Iterable[str]) -> None:
        self.cert_hosts = [re.compile(p) for p in cert_hosts]
        self.topic_arns = frozenset(topic_arns)

    def trusted_url(self, url: str) -> bool:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not any(p.fullmatch(host) for p in self.cert_hosts):
            return False
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        # Plain http only for a loopback host the operator listed (a local test setup).
        return parts.scheme == "https" or (loopback and parts.scheme == "http")

    def verify(self, message: Mapping[str, Any]) -> None:
        url = str(message.get("SigningCertURL", ""))
        if not self.trusted_url(url):
            raise Unverified(f"SigningCertURL {url[:120]!r} is not an SNS host")
        if self.topic_arns and message.get("TopicArn") not in self.topic_arns:
            raise Unverified(f"topic {str(message.get('TopicArn'))[:120]!r} is not configured")
        version = str(message.get("SignatureVersion", ""))
        algorithm: hashes.HashAlgorithm
        if version == "1":
            algorithm = hashes.SHA1()  # SNS's original scheme, still its default
        elif version == "2":
            algorithm = hashes.SHA256()
        else:
            raise Unverified(f"unknown SignatureVersion {version[:10]!r}")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except ValueError:
            raise Unverified("the signature is not base64") from None
        key = _sns_certificate(url).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise Unverified("the SNS certificate does not hold an RSA key")
        try:
            key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise Unverified("bad SNS signature") from None


@lru_cache(maxsize=16)
def _sns_certificate(url: str) -> x509.Certificate:
    try:
        answer = httpx.get(url, timeout=10, follow_redirects=False)
        answer.raise_for_status()
        return x509.load_pem_x509_certificate(answer.content[:65536])
    except (httpx.HTTPError, ValueError) as exc:
        raise Unverified(f"cannot load the SNS certificate: {exc}") from None


def ses_reports(notification: Mapping[str, Any]) -> list[Report]:
    """An SES bounce/complaint notification (SNS ``Message``, or an event) as reports."""
    kind_name = str(notification.get("notificationType") or notification.get("eventType") or "")
    mail = notification.get("mail") or {}
    message_id = str(mail.get("messageId", ""))
    tokens = _unsubscribe_tokens(mail.get("headers") or [])
    if kind_name == "Bounce":
        bounce = notification.get("bounce") or {}
        permanent = bounce.get("bounceType") == "Permanent"
        findings = []
        for r in bounce.get("bouncedRecipients") or []:
            status = _text(r.get("status"), 20)
            diagnostic = _text(r.get("diagnosticCode") or bounce.get("bounceSubType"))
            kind = classify(status, diagnostic, permanent)
            if permanent and bounce.get("bounceSubType") in ("NoEmail", "Suppressed"):
                kind = "hard"  # SES knows the address does not exist (or already bounced)
            findings.append(
                Finding(kind, _text(r.get("emailAddress"), 320).lower(), status, diagnostic)
            )
        return [_report(_strongest(findings), "ses", findings, message_id, tokens)]
    if kind_name == "Complaint":
        complaint = notification.get("complaint") or {}
        feedback = _text(complaint.get("complaintFeedbackType") or "abuse", 40)
        complained: Kind = "ignored" if feedback == "not-spam" else "complaint"
        findings = [
            Finding(
                complained,
                _text(r.get("emailAddress"), 320).lower(),
                "",
                f"Feedback-Type: {feedback}",
            )
            for r in complaint.get("complainedRecipients") or []
        ]
        return [_report(complained, "ses", findings, message_id, tokens)]
    return []


def _strongest(findings: list[Finding]) -> Kind:
    order = ["ignored", "delayed", "soft", "hard", "unsubscribe", "complaint"]
    return max((f.kind for f in findings), key=order.index, default="ignored")


# -- Mailgun ---------------------------------------------------------------------------


def mailgun_verify(
    body: Mapping[str, Any], signing_key: str, replays: _Replays, now: float
) -> None:
    """HMAC-SHA256 of timestamp + token with the webhook signing key, fresh and unused."""
    signature = body.get("signature") or {}
    timestamp = str(signature.get("timestamp", ""))
    token = str(signature.get("token", ""))
    given = str(signature.get("signature", ""))
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256)
    if not (timestamp and token and hmac.compare_digest(given, expected.hexdigest())):
        raise Unverified("bad Mailgun signature")
    _fresh(timestamp, now)
    if not replays.first_time(token):
        raise Unverified("a Mailgun token seen before (a replay)")


def mailgun_reports(body: Mapping[str, Any]) -> list[Report]:
    data = body.get("event-data") or {}
    event = str(data.get("event", ""))
    address = _text(data.get("recipient"), 320).lower()
    message_id = str((data.get("message") or {}).get("headers", {}).get("message-id", ""))
    if event == "failed":
        status = data.get("delivery-status") or {}
        code = _text(status.get("enhanced-code") or status.get("code"), 20)
        diagnostic = _text(status.get("message") or status.get("description"))
        permanent = data.get("severity") == "permanent"
        kind = classify(code, diagnostic, permanent) if permanent else "soft"
        if permanent and data.get("reason") in ("suppress-bounce",):
            kind = "hard"  # Mailgun already holds a hard bounce for this address
        return [_report(kind, "mailgun", [Finding(kind, address, code, diagnostic)], message_id)]
    if event in ("complained", "unsubscribed"):
        kind = "complaint" if event == "complained" else "unsubscribe"
        return [
            _report(kind, "mailgun", [Finding(kind, address, "", f"event: {event}")], message_id)
        ]
    return []


# -- Postmark --------------------------------------------------------------------------


def postmark_verify(authorization: str, username: str, password: str) -> None:
    """Postmark signs nothing; its webhook URL carries HTTP Basic credentials we chose."""
    scheme, _, encoded = authorization.partition(" ")
    try:
        given = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise Unverified("bad Authorization header") from None
    expected = f"{username}:{password}".encode()
    if scheme.lower() != "basic" or not hmac.compare_digest(given, expected):
        raise Unverified("wrong Postmark webhook credentials")


def postmark_reports(body: Mapping[str, Any]) -> list[Report]:
    record = str(body.get("RecordType", ""))
    address = _text(body.get("Email") or body.get("Recipient"), 320).lower()
    message_id = str(body.get("MessageID", ""))
    if record == "Bounce":
        kind_name = str(body.get("Type", ""))
        diagnostic = _text(body.get("Details") or body.get("Description"))
        if kind_name == "SpamComplaint":
            kind: Kind = "complaint"
        elif kind_name in ("HardBounce", "BadEmailAddress"):
            kind = "hard"
        elif kind_name in ("Transient", "AutoResponder", "DMARCPolicy", "Subscribe"):
            kind = "ignored" if kind_name in ("AutoResponder", "Subscribe") else "delayed"
        else:
            kind = "soft"
        finding = Finding(kind, address, _text(body.get("TypeCode"), 20), diagnostic)
        return [_report(kind, "postmark", [finding], message_id)]
    if record == "SpamComplaint":
        return [
            _report(
                "complaint",
                "postmark",
                [Finding("complaint", address, "", "SpamComplaint")],
                message_id,
            )
        ]
    if record == "SubscriptionChange" and body.get("SuppressSending") is True:
        reason = _text(body.get("SuppressionReason"), 60)
        suppressed: dict[str, Kind] = {"HardBounce": "hard", "SpamComplaint": "complaint"}
        kind = suppressed.get(reason, "unsubscribe")
        return [
            _report(
                kind, "postmark", [Finding(kind, address, "", f"suppressed: {reason}")], message_id
            )
        ]
    return []


# -- SendGrid --------------------------------------------------------------------------


def sendgrid_verify(
    body: bytes, signature: str, timestamp: str, public_key: str, now: float
) -> None:
    """ECDSA (P-256, SHA-256) over timestamp + raw body with SendGrid's verification key."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key))
        raw = base64.b64decode(signature, validate=True)
    except ValueError:
        raise Unverified("bad SendGrid signature or verification key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise Unverified("the SendGrid verification key is not an EC key")
    try:
        key.verify(raw, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Unverified("bad SendGrid signature") from None
    _fresh(timestamp, now)


def sendgrid_reports(events: Any) -> list[Report]:
    reports: list[Report] = []
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        name = str(event.get("event", ""))
        address = _text(event.get("email"), 320).lower()
        message_id = str(event.get("sg_message_id", ""))
        status = _text(event.get("status"), 20)
        diagnostic = _text(event.get("reason") or event.get("response"))
        kind: Kind
        if name == "bounce":
            # "blocked" is a refusal of us (reputation, content), not of the address.
            kind = "soft" if event.get("type") == "blocked" else classify(status, diagnostic, True)
        elif name == "dropped" and "Bounced Address" in diagnostic:
            kind = "hard"
        elif name == "deferred":
            kind = "delayed"
        elif name == "spamreport":
            kind = "complaint"
        elif name in ("unsubscribe", "group_unsubscribe"):
            kind = "unsubscribe"
        else:
            continue
        reports.append(
            _report(
                kind, "sendgrid", [Finding(kind, address, status, diagnostic or name)], message_id
            )
        )
    return reports


# -- routes ----------------------------------------------------------------------------


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ValueError("body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ValueError("body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise ValueError("the body is not JSON") from None


def routes(
    config: WebhooksConfig, apply: Apply, *, clock: Callable[[], float] = time.time
) -> list[Route]:
    """The webhook routes of the providers ``config`` sets up (none for the others)."""
    replays = _Replays()

    async def handle(
        request: Request, provider: str, work: Callable[[bytes], list[Report]]
    ) -> Response:
        try:
            raw = await _body(request)
            reports = await run_in_threadpool(work, raw)
        except Unverified as exc:
            log.warning("webhook %s: refused: %s", provider, exc)
            return JSONResponse({"error": "unverified"}, 401)
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)[:200]}, 400)
        for report in reports:
            await run_in_threadpool(apply, report)
        return JSONResponse({"ok": True, "events": len(reports)})

    found: list[Route] = []
    if config.ses is not None:
        ses = config.ses
        verifier = SNSVerifier(ses.cert_hosts, ses.topic_arns)

        def ses_work(raw: bytes) -> list[Report]:
            message = _json(raw)
            if not isinstance(message, dict):
                raise ValueError("not an SNS message")
            verifier.verify(message)
            kind = message.get("Type")
            if kind == "SubscriptionConfirmation":
                url = str(message.get("SubscribeURL", ""))
                if not verifier.trusted_url(url):
                    raise Unverified(f"SubscribeURL {url[:120]!r} is not an SNS host")
                httpx.get(url, timeout=10, follow_redirects=False).raise_for_status()
                log.info("webhook ses: subscribed to %s", str(message.get("TopicArn"))[:200])
                return []
            if kind != "Notification":
                return []
            return ses_reports(_json(str(message.get("Message", "")).encode()))

        async def ses_route(request: Request) -> Response:
            return await handle(request, "ses", ses_work)

        found.append(Route("/webhooks/ses", ses_route, methods=["POST"]))
    if config.mailgun is not None:
        key_env = config.mailgun.signing_key_env

        def mailgun_work(raw: bytes) -> list[Report]:
            body = _json(raw)
            if not isinstance(body, dict):
                raise ValueError("not a Mailgun event")
            mailgun_verify(body, _secret(key_env), replays, clock())
            return mailgun_reports(body)

        async def mailgun_route(request: Request) -> Response:
            return await handle(request, "mailgun", mailgun_work)

        found.append(Route("/webhooks/mailgun", mailgun_route, methods=["POST"]))
    if config.postmark is not None:
        pm = config.postmark

        async def postmark_route(request: Request) -> Response:
            authorization = request.headers.get("authorization", "")

            def work(raw: bytes) -> list[Report]:
                postmark_verify(authorization, _secret(pm.username_env), _secret(pm.password_env))
                body = _json(raw)
                if not isinstance(body, dict):
                    raise ValueError("not a Postmark event")
                return postmark_reports(body)

            return await handle(request, "postmark", work)

        found.append(Route("/webhooks/postmark", postmark_route, methods=["POST"]))
    if config.sendgrid is not None:
        sg_env = config.sendgrid.public_key_env

        async def sendgrid_route(request: Request) -> Response:
            signature = request.headers.get("x-twilio-email-event-webhook-signature", "")
            timestamp = request.headers.get("x-twilio-email-event-webhook-timestamp", "")

            def work(raw: bytes) -> list[Report]:
                sendgrid_verify(raw, signature, timestamp, _secret(sg_env), clock())
                return sendgrid_reports(_json(raw))

            return await handle(request, "sendgrid", work)

        found.append(Route("/webhooks/sendgrid", sendgrid_route, methods=["POST"]))
    return found
