"""Email delivery stage: MIME messages (stdlib ``email``) and SMTP sending (``smtplib``).

Pure of our I/O: no database, no config files. ``flows.send.send_issue`` records each
recipient's outcome in the store; this module only builds messages and talks SMTP.

Why one file over 600 lines: message building and SMTP sending share the header rules
(injection-safe policy, List-Unsubscribe) and the reply classification; a split by concern
(``_mime`` / ``_smtp``) is the next step when it grows again.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Literal
from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email

from .errors import AddressError, DeliveryError

# Gmail clips an HTML part larger than 102 KB as sent ("[Message clipped]"), hiding the
# footer with the unsubscribe link; keep a margin for the per-recipient parts.
GMAIL_CLIP_BYTES = 102 * 1024
HTML_BUDGET_BYTES = GMAIL_CLIP_BYTES - 2 * 1024

# Characters that must never reach a header: controls (CR, LF, NUL, ...), format characters
# (bidi overrides, zero-width marks) and the Unicode line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# An RFC 2047 encoded word opener. The stdlib decodes encoded words it finds in a value and,
# before the CVE-2024-6923 fix (Python 3.11.7 has it), writes what they decode to (CR/LF
# included) raw into the header. Nobody types "=?" into a name field; "= ?" is inert.
_ENCODED_WORD = re.compile(r"=\?")


class HeaderInjectionError(ValueError):
    """A header value would carry an encoded word or a control or format character."""


def unsafe_header_text(value: str) -> str | None:
    """Why ``value`` may not go into a header as typed (None when it may)."""
    if _ENCODED_WORD.search(value):
        return "it contains an RFC 2047 encoded word ('=?')"
    for ch in value:
        if unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            return f"it contains the control or format character U+{ord(ch):04X}"
    return None


def check_header_text(value: str, what: str) -> str:
    """``value`` unchanged, or :class:`HeaderInjectionError` naming ``what`` and the reason.

    For entry points (the form, ``subscribers add``, CSV import): refusing tells the person
    what was wrong instead of silently storing something other than they typed.
    """
    reason = unsafe_header_text(value)
    if reason is not None:
        raise HeaderInjectionError(f"{what} is not allowed: {reason}")
    return value


def clean_header_text(value: str, limit: int = 300) -> str:
    """One line of header text: controls and format characters become spaces, encoded-word
    openers are broken up, runs of white space collapse.

    Feed titles and subscriber names are untrusted; this is applied again wherever a header
    is built, so text stored before the entry points checked it cannot inject either.
    """
    spaced = "".join(" " if unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch for ch in value)
    return _ENCODED_WORD.sub("= ?", " ".join(spaced.split())[:limit])


def normalize_address(email: str) -> str:
    """The address in the form we store it (syntax checked, no DNS), or :class:`AddressError`.

    The whole address is lower-cased so that ``A@x.org`` and ``a@x.org`` are one subscriber.
    """
    candidate = (email or "").strip()
    if not candidate:
        raise AddressError("empty email address")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(f"invalid email address {candidate[:100]!r}: {exc}") from None
    return str(checked.normalized).lower()


def unsubscribe_url(base_url: str, token: str) -> str:
    """The web app's one-click unsubscribe link for a signed token."""
    return f"{base_url.rstrip('/')}/unsubscribe/{quote(token, safe='')}"


def confirm_url(base_url: str, token: str) -> str:
    """The web app's double opt-in confirmation link for a signed token."""
    return f"{base_url.rstrip('/')}/confirm/{quote(token, safe='')}"


def unsubscribe_mailto(mailbox: str, token: str) -> str:
    return f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}"


def domain_of(address: str) -> str:
    """The domain part of an address (``localhost`` when there is none)."""
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "localhost"


# -- MIME ------------------------------------------------------------------------------

_UNFOLDED = frozenset({"list-unsubscribe", "list-unsubscribe-post"})


# A line break not followed by folding white space ends the header: what an injection does.
_HEADER_BREAK = re.compile(r"\n(?![ \t])|\r(?![ \t\n])")


class _MailPolicy(EmailPolicy):
    """``policy.SMTP`` with 7-bit bodies, List-Unsubscribe kept readable, and every header
    checked as it is written.

    The stdlib folds a long ASCII header into RFC 2047 encoded-words when one word is longer
    than the line; for List-Unsubscribe that turns the URL into ``=?utf-8?q?...`` which mail
    clients cannot use. Lines up to 998 characters are legal, so fold only between URIs.

    Python 3.11.10 / 3.12.5 added ``verify_generated_headers`` for CVE-2024-6923; the 3.11.7
    CI runs lacks it, so the same check is done here: a folded header whose line breaks are
    not all continuations raises :class:`HeaderInjectionError` instead of being sent.
    """

    def _unfolded(self, name: str, value: Any) -> str | None:
        text = str(value)
        if name.lower() not in _UNFOLDED or not text.isascii():
            return None
        return f"{name}: " + f",{self.linesep} ".join(p.strip() for p in text.split(","))

    @staticmethod
    def _verified(name: str, folded: str) -> str:
        body = folded.rstrip("\r\n")
        if _HEADER_BREAK.search(body) or "\0" in body:
            raise HeaderInjectionError(f"the {name} header would carry a raw line break")
        return folded

    def fold(self, name: str, value: Any) -> str:
        line = self._unfolded(name, value)
        folded = super().fold(name, value) if line is None else line + self.linesep
        return self._verified(name, folded)

    def fold_binary(self, name: str, value: Any) -> bytes:
        line = self._unfolded(name, value)
        if line is None:
            folded = super().fold_binary(name, value)
            self._verified(name, folded.decode("ascii", "surrogateescape"))
            return folded
        return self._verified(name, line + self.linesep).encode("ascii")


# 7-bit bodies (quoted-printable or base64, whichever is shorter) pass through any relay,
# including ones without 8BITMIME.
POLICY = _MailPolicy(linesep="\r\n", cte_type="7bit")
POLICY_UTF8 = POLICY.clone(utf8=True)


@dataclass(frozen=True)
class Sender:
    """Who the mail comes from and the list it belongs to (from ``email.*`` config)."""

    from_addr: str
    reply_to: str | None = None
    list_id: str | None = None
    unsubscribe_mailbox: str | None = None
    """Where ``mailto:`` unsubscribe requests go; defaults to Reply-To, then From."""

    @property
    def domain(self) -> str:
        return domain_of(self.from_addr)

    @property
    def list_id_header(self) -> str:
        if self.list_id:
            value = clean_header_text(self.list_id)
            return value if "<" in value else f"<{value}>"
        return f"<newsletter.{self.domain}>"

    @property
    def mailbox(self) -> str:
        return parseaddr(self.unsubscribe_mailbox or self.reply_to or self.from_addr)[1]


def _recipient(email: str, name: str) -> Address:
    local, _, domain = email.rpartition("@")
    if unsafe_header_text(local + domain) is not None:
        raise HeaderInjectionError(f"recipient address {email[:100]!r} is not allowed")
    return Address(display_name=clean_header_text(name, 100), username=local, domain=domain)


def build_message(
    sender: Sender,
    *,
    to: str,
    name: str = "",
    subject: str,
    html: str,
    text: str,
    unsubscribe: str | None = None,
    unsubscribe_token: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text first, HTML preferred) with list headers.

    ``unsubscribe`` is the recipient's https link; with ``unsubscribe_token`` a mailto
    alternative is added and RFC 8058 one-click is announced.
    """
    needs_utf8 = not to.isascii()
    msg = EmailMessage(policy=POLICY_UTF8 if needs_utf8 else POLICY)
    msg["From"] = sender.from_addr
    msg["To"] = _recipient(to, name)
    if sender.reply_to:
        msg["Reply-To"] = sender.reply_to
    msg["Subject"] = clean_header_text(subject, 250)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(idstring="newsletter", domain=sender.domain)
    msg["List-Id"] = sender.list_id_header
    if unsubscribe:
        links = [f"<{unsubscribe}>"]
        if unsubscribe_token:
            links.append(f"<{unsubscribe_mailto(sender.mailbox, unsubscribe_token)}>")
        msg["List-Unsubscribe"] = ", ".join(links)
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, subtype="plain", charset="utf-8", cte=_transfer_encoding(text))
    msg.add_alternative(html, subtype="html", charset="utf-8", cte=_transfer_encoding(html))
    return msg


def _transfer_encoding(body: str) -> str:
    """The smaller of quoted-printable and base64 for this body.

    The stdlib guesses from the first ten lines only; an HTML head is ASCII, so it picks
    quoted-printable, which writes every byte of Chinese text as three characters.
    """
    data = body.encode("utf-8")
    non_ascii = sum(1 for byte in data if byte > 0x7E)
    # quoted-printable ≈ n + 2 per escaped byte; base64 ≈ 4/3 n plus line breaks.
    return "base64" if 2 * non_ascii > 0.37 * len(data) else "quoted-printable"


def build_confirmation(
    sender: Sender, *, to: str, name: str, list_title: str, html: str, text: str
) -> EmailMessage:
    """The double opt-in mail (rendered by ``Renderer.confirmation``).

    Marked ``Auto-Submitted`` (RFC 3834) so that autoresponders do not answer it.
    """
    title = clean_header_text(list_title, 120)
    subject = f"请确认订阅：{title}"
    msg = build_message(sender, to=to, name=name, subject=subject, html=html, text=text)
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def html_wire_size(html: str) -> int:
    """Bytes of the HTML part's body as sent (base64 or quoted-printable): what Gmail counts.

    Chinese text goes out base64-encoded, a third larger than the decoded HTML, so counting
    the decoded HTML lets a message past the clipping size.
    """
    part = EmailMessage(policy=POLICY)
    part.set_content(html, subtype="html", charset="utf-8", cte=_transfer_encoding(html))
    return len(part.as_bytes().split(b"\r\n\r\n", 1)[1])


# -- SMTP ------------------------------------------------------------------------------

SendStatus = Literal["sent", "failed", "bounced", "rejected", "unknown"]
"""``failed``: temporary, retries used up (try again later). ``bounced``: the recipient's
address is permanently bad. ``rejected``: the server refused this message permanently at
the end of DATA (do not retry). ``unknown``: the message was transmitted but no answer came
(it may have been delivered: never resend in the same run)."""


class SendStopped(DeliveryError):
    """The relay refused in a way that is not about one recipient (relay access, policy,
    authentication, the sender address), or too many recipients failed in a row: nothing
    more can be sent now, and no subscriber's status should change because of it."""


# RFC 3463 enhanced status codes: X.1.Y are about addresses (X.1.7 and X.1.8 the sender's),
# X.2.1 a disabled mailbox. Everything else (X.7.Y policy and security, X.3.Y / X.4.Y the
# mail system or network, X.5.Y protocol) is not the recipient's fault.
_ENHANCED = re.compile(r"\b[245]\.(\d{1,3})\.(\d{1,3})\b")
_RECIPIENT_TEXT = re.compile(
    r"user unknown|unknown (user|recipient|mailbox|address)|no such (user|mailbox|recipient|"
    r"address)|mailbox (unavailable|not found|does not exist|disabled)|does not exist|"
    r"invalid (recipient|mailbox|address)|recipient (not found|unknown)",
    re.IGNORECASE,
)
_NOT_RECIPIENT_TEXT = re.compile(
    r"relay|auth|polic|spam|block|denied|listed|reputation|rate|sender|tls", re.IGNORECASE
)


def recipient_failed_permanently(code: int, text: str) -> bool:
    """Whether a 5xx answer says this recipient's address is bad (so it should bounce).

    Only then may a send mark a subscriber bounced: a relay answering ``554 5.7.1 Relay
    access denied`` to every RCPT would otherwise bounce the whole list in one run.
    """
    if code < 500 or code == 552:
        return False
    enhanced = _ENHANCED.search(text)
    if enhanced is not None:
        subject, detail = enhanced.groups()
        return (subject == "1" and detail not in ("7", "8")) or (subject, detail) == ("2", "1")
    return (
        code in (550, 551, 553)
        and _RECIPIENT_TEXT.search(text) is not None
        and _NOT_RECIPIENT_TEXT.search(text) is None
    )


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    max_per_second: float | None = None
    """Messages per second at most; ``None`` for no limit."""
    retries: int = 3
    """Extra attempts after a transient (4xx or dropped connection) failure."""
    backoff: float = 1.0
    """First wait before a retry, doubled each time."""
    max_backoff: float = 60.0
    local_hostname: str | None = None
    cafile: str | None = None
    """Extra CA bundle to trust (a private relay's certificate); system CAs otherwise."""
    max_messages_per_connection: int | None = 100
    """Reconnect after this many messages on one connection (relays cap it; ``None``: never)."""
    max_consecutive_failures: int | None = 10
    """Stop (:class:`SendStopped`) after this many recipients in a row did not get the
    message: a relay refusing everyone should not be worked through the whole list."""


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    answer: str
    """The server's last answer, e.g. ``250 2.0.0 Ok: queued`` or ``550 5.1.1 unknown``."""
    attempts: int = 1


class _Transient(Exception):
    def __init__(self, answer: str, *, reconnect: bool = False, at_once: bool = False) -> None:
        super().__init__(answer)
        self.answer = answer
        self.reconnect = reconnect
        self.at_once = at_once
        """Reconnect and try again without waiting (a per-connection limit was hit)."""


def _answer(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return clean_header_text(f"{code} {text}", 500)


def _data_payload(payload: bytes) -> bytes:
    """``payload`` dot-stuffed and terminated for DATA (RFC 5321 4.5.2).

    Hand-written instead of ``smtplib.SMTP.data`` so that the moment the message has left is
    known: a timeout before it is a plain retry, a timeout after it an unknown outcome.
    """
    body = re.sub(rb"(?:\r\n|\r|\n)", b"\r\n", payload)
    body = re.sub(rb"(?m)^\.", b"..", body)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


class SMTPSender:
    """Sends many messages over one SMTP connection, reconnecting when it drops.

    How answers are read:

    - 4xx and a dropped connection are retried with exponential backoff; ``452`` (too
      many recipients or messages) and ``421`` reconnect first; ``552`` at RCPT is a 4xx
      (RFC 5321 4.5.3.1.10).
    - a 5xx to RCPT that names the recipient's address (5.1.x, "user unknown") is a bounce;
      any other 5xx to MAIL or RCPT (relay denied, policy, authentication) raises
      :class:`SendStopped`, as does failing to reach or log in to the server, and N
      recipients failing in a row.
    - a 5xx after the message body is ``rejected``; no answer after the body is
      ``unknown``: neither is retried here.
    """

    def __init__(
        self,
        settings: SMTPSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        sign: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.settings = settings
        self._sign = sign
        """Adds a DKIM signature to the serialized message (``_dkim.DKIMKey.sign``)."""
        self._sleep = sleep
        self._clock = clock
        self._smtp: smtplib.SMTP | None = None
        self._next_slot = 0.0
        self._on_connection = 0
        self._failures_in_a_row: list[str] = []

    def __enter__(self) -> SMTPSender:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # connection ---------------------------------------------------------------------
    def connect(self) -> None:
        """Open, secure and authenticate the connection, retrying transient failures."""
        last = ""
        for attempt in range(self.settings.retries + 1):
            if attempt:
                self._sleep(self._delay(attempt))
            try:
                self._smtp = self._open()
                self._on_connection = 0
                return
            except smtplib.SMTPAuthenticationError as exc:
                raise SendStopped(
                    f"SMTP login to {self._where} refused: {_answer(exc.smtp_code, exc.smtp_error)}"
                ) from None
            except smtplib.SMTPNotSupportedError as exc:
                raise SendStopped(f"SMTP server {self._where}: {exc}") from None
            except (OSError, smtplib.SMTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
        raise SendStopped(f"cannot reach SMTP server {self._where}: {last}")

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.cafile)
        smtp: smtplib.SMTP
        if s.ssl:
            smtp = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=context, local_hostname=s.local_hostname
            )
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout, local_hostname=s.local_hostname)
        try:
            # smtplib writes a command and waits for its reply: with Nagle's algorithm on,
            # a message's last segment can wait for a delayed ACK (~40 ms per message).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if s.starttls and not s.ssl:
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "the server does not offer STARTTLS (set email.smtp.starttls: false "
                        "only for a trusted local relay)"
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username and s.password:
                smtp.login(s.username, s.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    # sending ------------------------------------------------------------------------
    def _delay(self, attempt: int) -> float:
        return float(min(self.settings.max_backoff, self.settings.backoff * 2 ** (attempt - 1)))

    def _pace(self) -> None:
        rate = self.settings.max_per_second
        if not rate:
            return
        now = self._clock()
        if self._next_slot > now:
            self._sleep(self._next_slot - now)
            now = self._next_slot
        self._next_slot = max(now, self._next_slot) + 1.0 / rate

    def send(
        self, msg: EmailMessage | bytes, to: str, *, from_addr: str | None = None
    ) -> SendResult:
        """Deliver one message to one recipient; never raises for that recipient's failure.

        ``msg`` may be already serialized (CRLF line ends); then ``from_addr`` is required.
        Raises :class:`SendStopped` when nothing more can be sent now (server unreachable,
        login, relay or policy refused, too many failures in a row): then this recipient's
        message was not sent and their address is not at fault.
        """
        limit = self.settings.max_consecutive_failures
        if limit and len(self._failures_in_a_row) >= limit:
            raise SendStopped(
                f"paused: the last {len(self._failures_in_a_row)} recipients in a row were "
                f"not sent to (last answer: {self._failures_in_a_row[-1]}); check the relay "
                "and rerun to continue"
            )
        try:
            if isinstance(msg, bytes):
                if not from_addr:
                    raise ValueError("from_addr is required with a serialized message")
                sender, payload = from_addr, msg
                utf8 = not (to.isascii() and sender.isascii())
            else:
                sender = from_addr or parseaddr(str(msg["From"]))[1]
                utf8 = not (to.isascii() and sender.isascii())
                payload = msg.as_bytes(policy=POLICY_UTF8 if utf8 else POLICY)
        except HeaderInjectionError as exc:
            return self._outcome(SendResult("rejected", f"not sent: {exc}", 0))
        if self._sign is not None:
            # Signed once, over the exact bytes every attempt sends.
            payload = self._sign(payload)
        attempts = 0
        while True:
            attempts += 1
            self._pace()
            try:
                return self._outcome(self._transaction(sender, to, payload, utf8, attempts))
            except _Transient as exc:
                if exc.reconnect:
                    self._drop()
                if attempts > self.settings.retries:
                    return self._outcome(SendResult("failed", exc.answer, attempts))
                # A dropped connection is usually just an idle timeout, a 452 a per-connection
                # limit: reconnect at once the first time.
                if not ((exc.reconnect or exc.at_once) and attempts == 1):
                    self._sleep(self._delay(attempts))

    def _outcome(self, result: SendResult) -> SendResult:
        if result.status == "sent":
            self._failures_in_a_row.clear()
        else:
            self._failures_in_a_row.append(result.answer)
        return result

    def _stopped(self, stage: str, to: str, answer: str) -> SendStopped:
        self._drop()
        return SendStopped(
            f"the SMTP server {self._where} refused {stage} for {to} with {answer!r}: that is "
            "about the relay, the sender or its policy, not this address, so no subscriber was "
            "changed; fix the relay settings (email.from, email.smtp.*) and rerun"
        )

    def _transaction(
        self, sender: str, to: str, payload: bytes, utf8: bool, attempts: int
    ) -> SendResult:
        limit = self.settings.max_messages_per_connection
        if self._smtp is not None and limit and self._on_connection >= limit:
            self.close()
        if self._smtp is None:
            self.connect()
        smtp = self._smtp
        assert smtp is not None
        transmitted = False
        try:
            options = ["SMTPUTF8", "BODY=8BITMIME"] if utf8 else []
            if utf8 and not smtp.has_extn("smtputf8"):
                return SendResult(
                    "rejected", "the server does not support SMTPUTF8 addresses", attempts
                )
            code, message = smtp.mail(sender, options)
            if code != 250:
                self._refused(smtp, code, message)
                raise self._stopped("the sender (MAIL FROM)", to, _answer(code, message))
            code, message = smtp.rcpt(to)
            if code not in (250, 251):
                answer = _answer(code, message)
                # RFC 5321 4.5.3.1.10: 552 at RCPT (too many recipients, or over quota)
                # is to be treated as temporary.
                self._refused(smtp, code, message)
                if code == 552:
                    raise _Transient(answer)
                if recipient_failed_permanently(code, answer):
                    return SendResult("bounced", answer, attempts)
                raise self._stopped("the recipient (RCPT TO)", to, answer)
            code, message = smtp.docmd("DATA")
            if code != 354:
                self._refused(smtp, code, message)
                raise self._stopped("the message (DATA)", to, _answer(code, message))
            self._on_connection += 1
            smtp.send(_data_payload(payload))
            transmitted = True
            code, message = smtp.getreply()
            if code != 250:
                answer = _answer(code, message)
                self._refused(smtp, code, message)
                status: SendStatus = (
                    "bounced" if recipient_failed_permanently(code, answer) else "rejected"
                )
                return SendResult(status, answer, attempts)
            return SendResult("sent", _answer(code, message), attempts)
        except (OSError, smtplib.SMTPException) as exc:
            if transmitted:
                # The server has the whole message and may have queued it: sending it again
                # could deliver it twice. The caller records the outcome as unknown.
                self._drop()
                return SendResult(
                    "unknown", f"no answer after the message was sent: {exc}", attempts
                )
            raise _Transient(f"{type(exc).__name__}: {exc}", reconnect=True) from None

    def _refused(self, smtp: smtplib.SMTP, code: int, message: bytes) -> None:
        """Reset the transaction after a refusal; raise :class:`_Transient` for a 4xx."""
        answer = _answer(code, message)
        if code in (421, 452) or code < 400:
            # 421: the server is closing; 452: this connection's limit is reached; anything
            # odd: start over on a fresh connection.
            raise _Transient(answer, reconnect=True, at_once=code == 452)
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            raise _Transient(answer, reconnect=True) from None
        if 400 <= code < 500:
            raise _Transient(answer)


__all__ = [
    "AddressError",
    "DeliveryError",
    "HeaderInjectionError",
    "SendStopped",
    "SMTPSender",
    "SMTPSettings",
    "SendResult",
    "Sender",
    "build_confirmation",
    "build_message",
    "clean_header_text",
    "confirm_url",
    "normalize_address",
    "unsubscribe_url",
]
