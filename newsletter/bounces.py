"""Reading what comes back: bounces, feedback reports (complaints) and mailto unsubscribes.

Pure parsing, no database: :func:`parse` turns one raw message into a :class:`Report`
saying what kind of message it is, which addresses it names and with what evidence, plus
the signed tokens that identify our subscriber even when the report hides the address
(a VERP return path, the List-Unsubscribe header of the returned copy). What to do with a
report is decided in the flows, which verify the tokens.

DSNs (RFC 3464) and ARF feedback reports (RFC 5965) are structured: the stdlib parses
their header blocks and we read Action, Status, Diagnostic-Code and Feedback-Type from
them (flufl.bounce would give the addresses only, without the codes the hard/soft decision
needs). The many non-standard bounces of real MTAs (qmail, Exim, old Exchange, Yahoo...)
are recognised by flufl.bounce's detectors; their status codes are then read from the
text next to the address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Literal

Kind = Literal["hard", "soft", "delayed", "complaint", "unsubscribe", "ignored"]

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
"""A bounce larger than this is not parsed (a returned copy is never that big)."""

_DIAGNOSTIC_CHARS = 500


@dataclass(frozen=True)
class Finding:
    """One recipient named by a report, and what happened to it."""

    kind: Kind
    address: str
    """Lower-cased; empty when the report redacts it (ARF reports often do)."""
    status: str = ""
    """RFC 3463 enhanced status (``5.1.1``), or the SMTP code when that is all there is."""
    diagnostic: str = ""
    """The remote server's words (Diagnostic-Code, Feedback-Type, the bounce text)."""


@dataclass(frozen=True)
class Report:
    """What one incoming message says (see :func:`parse`)."""

    kind: Kind
    """The strongest finding's kind; ``ignored`` for an auto-reply or unrelated mail."""
    detector: str
    """How it was read: ``dsn``, ``arf``, ``flufl:<detector>``, ``mailto``, ``none``."""
    message_id: str
    subject: str
    findings: tuple[Finding, ...] = ()
    envelope_to: tuple[str, ...] = ()
    """Where the message was delivered (Delivered-To, X-Original-To, To...): a VERP address."""
    list_tokens: tuple[str, ...] = field(default=())
    """Unsubscribe tokens found in the returned copy's List-Unsubscribe header."""
    mailto_token: str = ""
    """For an unsubscribe request: the token in its subject."""
    reason: str = ""
    """Why a message was ignored."""


# -- VERP -----------------------------------------------------------------------------


def _verp_mac(secret: str, subscriber_id: int) -> str:
    # Lower-case hex: some MTAs fold the case of local parts, which would break base64.
    digest = hmac.new(secret.encode(), f"verp:{subscriber_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def verp_address(return_path: str, subscriber_id: int, secret: str) -> str:
    """``bounces+<id>-<mac>@domain`` for ``bounces@domain``: the bounce names its subscriber."""
    local, _, domain = return_path.rpartition("@")
    return f"{local}+{subscriber_id}-{_verp_mac(secret, subscriber_id)}@{domain}"


_VERP = re.compile(r"\+(\d{1,12})-([0-9a-f]{16})@", re.IGNORECASE)


def verp_subscriber(address: str, secret: str) -> int | None:
    """The subscriber id a VERP address carries, or None (no token, or a forged one)."""
    match = _VERP.search(address)
    if match is None:
        return None
    subscriber_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2).lower(), _verp_mac(secret, subscriber_id)):
        return None
    return subscriber_id


# -- parsing --------------------------------------------------------------------------

# RFC 3463: class.subject.detail. Subject 1 is addressing, 2.1 a disabled mailbox.
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"(?<![\d.])([45]\d\d)[\s-]")
# The address does not exist, said in words (many servers answer 550 5.0.0 or no code):
# the same few phrases every bounce classifier looks for.
_NO_SUCH_USER = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient|address)|"
    r"(mailbox|address|account|user|recipient)( \S+)? (does not|doesn't) exist|"
    r"(mailbox|account) (is )?(unavailable|disabled|not found)|invalid (mailbox|recipient)|"
    r"recipient (address )?rejected: (user unknown|undeliverable)|not our customer|"
    r"unrouteable address|(host or )?domain (name )?(not found|does not exist)|"
    r"no mailbox here|address unknown|user not found|unknown recipient|"
    r"not listed in (the )?(\w+ )?directory|"
    r"address (you entered )?(couldn.t|could not|wasn.t) be found",
    re.IGNORECASE,
)
_HARD_STATUS = {"1.1", "1.2", "1.3", "1.6", "1.10", "2.1", "4.4"}
# Full, too big, policy and reputation refusals say nothing about the address itself;
# 1.7 and 1.8 are about our sender address.
_NOT_ABOUT_ADDRESS = {"1.7", "1.8", "2.2", "2.3", "3.4"}

_AUTO_REPLY_SUBJECT = re.compile(
    r"out of (the )?office|auto(matic)?[ -]?reply|autoreply|vacation|自动回复|自動回覆|不在",
    re.IGNORECASE,
)
_UNSUBSCRIBE_WORD = re.compile(r"\bunsubscribe\b|退订|取消订阅", re.IGNORECASE)
# itsdangerous tokens: base64url payload, timestamp, signature, joined by dots.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}")
_ENVELOPE_HEADERS = (
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
    "x-rcpt-to",
    "to",
)


def _text(value: object, limit: int = _DIAGNOSTIC_CHARS) -> str:
    return " ".join(str(value or "").split())[:limit]


def _address(value: str) -> str:
    """``rfc822; a@b.c`` (a DSN field) or ``Name <a@b.c>`` → ``a@b.c``; empty if none."""
    value = value.split(";", 1)[1] if ";" in value else value
    addr = parseaddr(value.strip())[1].strip().strip("<>").lower()
    return addr if "@" in addr and not addr.startswith("@") and not addr.endswith("@") else ""


def classify(status: str, diagnostic: str, permanent: bool) -> Kind:
    """Hard when the failure is about the address (no such user or domain); else soft.

    A 5xx for a full mailbox, a size limit, a spam filter or our own reputation says
    nothing about the address, so it is soft: counted, and only repeated ones remove.
    """
    found = _ENHANCED.search(status) or _ENHANCED.search(diagnostic)
    if found:
        klass, rest = found.group(1), f"{int(found.group(2))}.{int(found.group(3))}"
        if klass == "2":
            return "ignored"
        permanent = permanent and klass == "5"
        if permanent and rest in _HARD_STATUS:
            return "hard"
        if found.group(2) == "7" or rest in _NOT_ABOUT_ADDRESS:
            return "soft"
    elif status.startswith("4"):
        permanent = False
    if permanent and _NO_SUCH_USER.search(diagnostic):
        return "hard"
    return "soft"


def _status_from(diagnostic: str) -> str:
    found = _ENHANCED.search(diagnostic)
    if found:
        return found.group(0)
    code = _SMTP_CODE.search(diagnostic)
    return code.group(1) if code else ""


def _parts(msg: Message, maintype: str, subtype: str) -> Iterator[Message]:
    for part in msg.walk():
        if part.get_content_type() == f"{maintype}/{subtype}":
            yield part


def _header_blocks(part: Message) -> list[Message]:
    """The header blocks of a delivery-status or feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    blocks = re.split(r"\r?\n\s*\r?\n", text.strip())
    return [message_from_bytes(b.encode("utf-8", "replace")) for b in blocks if b.strip()]


def _dsn_findings(msg: Message) -> list[Finding]:
    findings: list[Finding] = []
    for part in _parts(msg, "message", "delivery-status"):
        for block in _header_blocks(part)[0:]:
            action = _text(block.get("action")).lower()
            recipient = _address(str(block.get("original-recipient", ""))) or _address(
                str(block.get("final-recipient", ""))
            )
            if not action or not recipient:
                continue  # the per-message block, or a broken one
            diagnostic = _text(block.get("diagnostic-code", ""))
            diagnostic = diagnostic.split(";", 1)[1].strip() if ";" in diagnostic else diagnostic
            status = _text(block.get("status", ""), 20)
            better = _ENHANCED.search(diagnostic)
            if better and (not status or status.endswith(".0.0")):
                status = better.group(0)  # "5.0.0" with "550 5.1.1 no such user" inside
            if action.startswith("delayed"):
                kind: Kind = "delayed"
            elif action.startswith(("fail", "error")):  # OpenSMTPD writes "error"
                kind = classify(status, diagnostic, permanent=not status.startswith("4"))
            else:
                kind = "ignored"  # delivered, relayed, expanded
            findings.append(Finding(kind, recipient, status, diagnostic))
    return findings


_ARF_COMPLAINT = {"abuse", "fraud", "virus", "other"}


def _arf_findings(msg: Message, returned: Message | None) -> list[Finding]:
    findings: list[Finding] = []
    for part in _parts(msg, "message", "feedback-report"):
        for block in _header_blocks(part)[:1]:
            feedback = _text(block.get("feedback-type"), 40).lower()
            if feedback in _ARF_COMPLAINT:
                kind: Kind = "complaint"
            elif feedback == "opt-out":
                kind = "unsubscribe"  # pre-RFC reports for "unsubscribe me"
            else:
                kind = "ignored"  # not-spam, auth-failure (a DMARC report)
            addresses = [_address(str(v)) for v in block.get_all("original-rcpt-to", [])]
            if not any(addresses) and returned is not None:
                addresses = [_address(a) for _, a in getaddresses(returned.get_all("to", []))]
            for address in dict.fromkeys(a for a in addresses) or [""]:
                findings.append(Finding(kind, address, "", f"Feedback-Type: {feedback}"))
    return findings


def _returned_copy(msg: Message) -> Message | None:
    """Our message as the report returned it (whole, or its headers only)."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/rfc822-headers", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                return message_from_bytes(raw, policy=policy.compat32)
    return None


def _list_tokens(returned: Message | None, body: str) -> tuple[str, ...]:
    """Unsubscribe tokens from the returned copy's List-Unsubscribe header (or its text)."""
    sources = [str(v) for v in returned.get_all("list-unsubscribe", [])] if returned else []
    # Non-MIME bounces quote our headers in their text.
    sources += re.findall(r"List-Unsubscribe:[^\n]*(?:\n[ \t][^\n]*)*", body, re.IGNORECASE)
    tokens: list[str] = []
    for source in sources:
        for link in re.findall(r"/unsubscribe/([A-Za-z0-9_.%-]+)", source):
            tokens.append(link.replace("%2E", ".").replace("%2e", "."))
        for subject in re.findall(r"subject=unsubscribe(?:%20|\+|\s)([A-Za-z0-9_.-]+)", source):
            tokens.append(subject)
    return tuple(dict.fromkeys(t for t in tokens if _TOKEN.fullmatch(t)))


def _plain_text(msg: Message, limit: int = 200_000) -> str:
    """The message's text parts, for detectors that read prose (not the returned copy)."""
    chunks: list[str] = []
    for part in msg.walk():
        if part.get_content_maintype() == "message":
            continue
        if part.get_content_type() in ("text/plain", "text/html") or not part.is_multipart():
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                charset = part.get_content_charset() or "utf-8"
                try:
                    chunks.append(raw.decode(charset, "replace"))
                except LookupError:
                    chunks.append(raw.decode("utf-8", "replace"))
        if sum(map(len, chunks)) > limit:
            break
    return "\n".join(chunks)[:limit]


def _flufl_findings(msg: Message, body: str) -> tuple[str, list[Finding]]:
    # Imported here: the detectors compile many patterns, only needed for odd bounces.
    from flufl.bounce._scan import _DETECTORS

    for detector in _DETECTORS:
        try:
            temporary, permanent = detector().process(msg)
        except Exception:  # a detector choking on odd input must not lose the message
            continue
        if not (temporary or permanent):
            continue
        findings: list[Finding] = []
        # Sets come back in hash order: sorted, the same mail always reads the same.
        ordered = [(a, True) for a in sorted(permanent)] + [(a, False) for a in sorted(temporary)]
        for raw, is_permanent in ordered:
            address = _address(raw.decode("ascii", "replace"))
            if not address:
                continue
            diagnostic = _near(body, address)
            status = _status_from(diagnostic)
            kind = classify(status, diagnostic, True) if is_permanent else "delayed"
            findings.append(Finding(kind, address, status, diagnostic))
        if findings:
            return f"flufl:{detector.__name__.lower()}", findings
    return "", []


_ADDRESS = re.compile(r"[A-Za-z0-9._%+=-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Where a bounce's own text ends and the returned copy starts.
_COPY_STARTS = re.compile(
    r"^.*(original message|copy of (the|your) (original )?message|message headers|"
    r"returned message|undelivered message|message follows|rfc822).*$",
    re.IGNORECASE | re.MULTILINE,
)
_LOOKS_LIKE_BOUNCE = re.compile(
    r"undeliver|delivery (status|failure|failed|notification|has failed)|failure notice|"
    r"returned mail|could not be delivered|mail delivery|mailer-daemon|postmaster|"
    r"退信|未能送达|无法投递",
    re.IGNORECASE,
)


def _fallback_findings(msg: Message, body: str) -> list[Finding]:
    """Addresses a bounce's own text names next to an SMTP code.

    Hand-written because flufl.bounce knows no pattern for the formats of today's big
    providers (Office 365's NDR without its DSN part, OpenSMTPD, Yahoo's qmail-like
    notice); it runs only on a message that says it is a bounce.
    """
    gate = " ".join(str(msg.get(h, "")) for h in ("from", "subject"))
    if not (_LOOKS_LIKE_BOUNCE.search(gate) or msg.get("x-ms-exchange-message-is-ndr")):
        return []
    cut = _COPY_STARTS.search(body)
    text = body[: cut.start()] if cut else body
    ours = {_address(str(msg.get(h, ""))) for h in ("from", "to", "reply-to")}
    spots = [(m.start(), m.group(0).lower().rstrip(".")) for m in _ADDRESS.finditer(text)]
    windows: dict[str, list[str]] = {}
    for index, (start, address) in enumerate(spots):
        if address in ours or address.startswith(("mailer-daemon@", "postmaster@")):
            continue
        end = next((s for s, a in spots[index + 1 :] if a != address), len(text))
        windows.setdefault(address, []).append(text[start : min(end, start + 400)])
    findings: list[Finding] = []
    for address, parts in windows.items():
        status = _status_from(" ".join(parts))
        # The part with the code is the server's answer; the others are prose around it.
        said = [p for p in parts if status and status in p] or parts
        diagnostic = _text(" ".join(said))
        if status:
            kind = classify(status, diagnostic, status.startswith("5"))
            findings.append(Finding(kind, address, status, diagnostic))
        elif _NO_SUCH_USER.search(diagnostic):
            findings.append(Finding("hard", address, "", diagnostic))
    return findings


def _near(body: str, address: str) -> str:
    """The bounce text around where it names ``address``: the server's reason is there."""
    at = body.lower().find(address)
    if at < 0:
        return _text(body[:_DIAGNOSTIC_CHARS])
    window = body[at : at + 400]
    copy = _COPY_STARTS.search(window)
    return _text(window[: copy.start()] if copy else window)


def _envelope(msg: Message) -> tuple[str, ...]:
    found: list[str] = []
    for name in _ENVELOPE_HEADERS:
        for _, address in getaddresses([str(v) for v in msg.get_all(name, [])]):
            if address:
                found.append(address.strip().lower())
    return tuple(dict.fromkeys(found))


def _is_auto_reply(msg: Message, subject: str) -> bool:
    auto = str(msg.get("auto-submitted", "")).strip().lower()
    if auto and auto != "no":
        return True
    if msg.get("x-autoreply") or msg.get("x-autorespond"):
        return True
    precedence = str(msg.get("precedence", "")).lower()
    return precedence in ("auto_reply", "junk") or bool(_AUTO_REPLY_SUBJECT.search(subject))


_RANK: dict[Kind, int] = {
    "complaint": 5,
    "unsubscribe": 4,
    "hard": 3,
    "soft": 2,
    "delayed": 1,
    "ignored": 0,
}


def _strongest(findings: Iterable[Finding]) -> Kind:
    kinds = [f.kind for f in findings]
    return max(kinds, key=_RANK.__getitem__) if kinds else "ignored"


def parse(raw: bytes, *, envelope_to: Iterable[str] = ()) -> Report:
    """Read one incoming message (bytes as received) into a :class:`Report`.

    ``envelope_to`` is the address the message was delivered to when the caller knows it
    (an MTA pipe's ``$ORIGINAL_RECIPIENT``): the VERP token is there. Never raises for
    a malformed message; it is reported as ``ignored`` with the reason.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        return Report("ignored", "none", "", "", reason=f"message over {MAX_MESSAGE_BYTES} bytes")
    msg = message_from_bytes(raw, policy=policy.compat32)
    message_id = _text(msg.get("message-id"), 250)
    subject = _text(msg.get("subject"), 250)
    envelope = tuple(dict.fromkeys([*(a.lower() for a in envelope_to if a), *_envelope(msg)]))
    returned = _returned_copy(msg)
    body = _plain_text(msg)
    tokens = _list_tokens(returned, body)

    def report(kind: Kind, detector: str, findings: list[Finding], **extra: str) -> Report:
        return Report(
            kind,
            detector,
            message_id,
            subject,
            tuple(findings),
            envelope,
            tokens,
            **extra,
        )

    ctype = msg.get_content_type()
    report_type = str(msg.get_param("report-type", "", header="content-type") or "").lower()
    if report_type == "feedback-report" or any(_parts(msg, "message", "feedback-report")):
        findings = _arf_findings(msg, returned)
        return report(_strongest(findings), "arf", findings)
    if report_type == "delivery-status" or any(_parts(msg, "message", "delivery-status")):
        findings = _dsn_findings(msg)
        if findings:
            return report(_strongest(findings), "dsn", findings)
    detector, findings = _flufl_findings(msg, body)
    if findings:
        return report(_strongest(findings), detector, findings)
    findings = _fallback_findings(msg, body)
    if findings:
        return report(_strongest(findings), "text", findings)
    if ctype == "multipart/report" and report_type == "delivery-status":
        return report("ignored", "dsn", [], reason="a delivery report naming no recipient")
    if _is_auto_reply(msg, subject):
        return report("ignored", "none", [], reason="an automatic reply, not a bounce")
    token = next(iter(_TOKEN.findall(subject)), "")
    if _UNSUBSCRIBE_WORD.search(subject) or token:
        sender = _address(str(msg.get("from", "")))
        return report(
            "unsubscribe",
            "mailto",
            [Finding("unsubscribe", sender, "", f"Subject: {subject}")],
            mailto_token=token,
        )
    return report("ignored", "none", [], reason="not a bounce, complaint or unsubscribe request")


__all__ = [
    "Finding",
    "Kind",
    "Report",
    "classify",
    "parse",
    "verp_address",
    "verp_subscriber",
]
