"""Email delivery stage: MIME messages (stdlib ``email``) and SMTP sending (``smtplib``).

Pure of our I/O: no database, no config files. ``flows.send.send_issue`` records each
recipient's outcome in the store; this module only builds messages and talks SMTP.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import time
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

# Gmail clips an HTML part larger than 102 KB ("[Message clipped]"), hiding the footer
# with the unsubscribe link; keep a margin for the per-recipient parts.
GMAIL_CLIP_BYTES = 102 * 1024
HTML_BUDGET_BYTES = GMAIL_CLIP_BYTES - 2 * 1024

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def clean_header_text(value: str, limit: int = 300) -> str:
    """One line of header text: control characters (CR, LF, ...) become spaces.

    Feed titles and subscriber names are untrusted; the stdlib already refuses CR/LF in
    header values, this keeps such input sendable instead of failing the recipient.
    """
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


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


class _MailPolicy(EmailPolicy):
    """``policy.SMTP`` with 7-bit bodies and List-Unsubscribe kept readable.

    The stdlib folds a long ASCII header into RFC 2047 encoded-words when one word is longer
    than the line; for List-Unsubscribe that turns the URL into ``=?utf-8?q?...`` which mail
    clients cannot use. Lines up to 998 characters are legal, so fold only between URIs.
    """

    def _unfolded(self, name: str, value: Any) -> str | None:
        text = str(value)
        if name.lower() not in _UNFOLDED or not text.isascii():
            return None
        return f"{name}: " + f",{self.linesep} ".join(p.strip() for p in text.split(","))

    def fold(self, name: str, value: Any) -> str:
        line = self._unfolded(name, value)
        return super().fold(name, value) if line is None else line + self.linesep

    def fold_binary(self, name: str, value: Any) -> bytes:
        line = self._unfolded(name, value)
        if line is None:
            return super().fold_binary(name, value)
        return (line + self.linesep).encode("ascii")


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
    sender: Sender, *, to: str, name: str, list_title: str, link: str
) -> EmailMessage:
    """The double opt-in mail: one link that activates the subscription."""
    title = clean_header_text(list_title, 120)
    text = (
        f"请点击下面的链接确认订阅《{title}》：\n{link}\n\n"
        "如果不是您本人操作，忽略这封邮件即可，您不会收到任何邮件。\n\n"
        f"Please confirm your subscription to {title}: {link}\n"
        "If you did not ask for it, ignore this message.\n"
    )
    from html import escape

    html = (
        f'<!DOCTYPE html><html><body style="font-family:sans-serif;line-height:1.6">'
        f"<p>请点击下面的链接确认订阅《{escape(title)}》：</p>"
        f'<p><a href="{escape(link)}">确认订阅 / Confirm subscription</a></p>'
        "<p>如果不是您本人操作，忽略这封邮件即可。<br>"
        "If you did not ask for it, ignore this message.</p></body></html>"
    )
    return build_message(
        sender, to=to, name=name, subject=f"请确认订阅：{title}", html=html, text=text
    )


def html_size(html: str) -> int:
    return len(html.encode("utf-8"))


# -- SMTP ------------------------------------------------------------------------------

SendStatus = Literal["sent", "failed", "bounced"]


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


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    answer: str
    """The server's last answer, e.g. ``250 2.0.0 Ok: queued`` or ``550 5.1.1 unknown``."""
    attempts: int = 1


class _Transient(Exception):
    def __init__(self, answer: str, *, reconnect: bool = False) -> None:
        super().__init__(answer)
        self.answer = answer
        self.reconnect = reconnect


def _answer(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"[:500]


class SMTPSender:
    """Sends many messages over one SMTP connection, reconnecting when it drops.

    Transient answers (4xx, a dropped connection) are retried with exponential backoff;
    a permanent 5xx to RCPT means the address bounced; any other 5xx fails that message
    only. Only failing to reach or log in to the server raises :class:`DeliveryError`.
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
        self.connections = 0
        """How many connections were opened (reconnects included)."""

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
                self.connections += 1
                return
            except smtplib.SMTPAuthenticationError as exc:
                raise DeliveryError(
                    f"SMTP login to {self._where} refused: {_answer(exc.smtp_code, exc.smtp_error)}"
                ) from None
            except smtplib.SMTPNotSupportedError as exc:
                raise DeliveryError(f"SMTP server {self._where}: {exc}") from None
            except (OSError, smtplib.SMTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
        raise DeliveryError(f"cannot reach SMTP server {self._where}: {last}")

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
        Raises :class:`DeliveryError` only when the server cannot be reached or refuses the
        login: then nothing was sent for this recipient.
        """
        if isinstance(msg, bytes):
            if not from_addr:
                raise ValueError("from_addr is required with a serialized message")
            sender, payload = from_addr, msg
            utf8 = not (to.isascii() and sender.isascii())
        else:
            sender = from_addr or parseaddr(str(msg["From"]))[1]
            utf8 = not (to.isascii() and sender.isascii())
            payload = msg.as_bytes(policy=POLICY_UTF8 if utf8 else POLICY)
        if self._sign is not None:
            # Signed once, over the exact bytes every attempt sends.
            payload = self._sign(payload)
        attempts = 0
        while True:
            attempts += 1
            self._pace()
            try:
                return self._transaction(sender, to, payload, utf8, attempts)
            except _Transient as exc:
                if exc.reconnect:
                    self._drop()
                if attempts > self.settings.retries:
                    return SendResult("failed", exc.answer, attempts)
                # A dropped connection is usually just an idle timeout: reconnect at once.
                if not (exc.reconnect and attempts == 1):
                    self._sleep(self._delay(attempts))

    def _transaction(
        self, sender: str, to: str, payload: bytes, utf8: bool, attempts: int
    ) -> SendResult:
        if self._smtp is None:
            self.connect()
        smtp = self._smtp
        assert smtp is not None
        try:
            options = ["SMTPUTF8", "BODY=8BITMIME"] if utf8 else []
            if utf8 and not smtp.has_extn("smtputf8"):
                return SendResult(
                    "failed", "the server does not support SMTPUTF8 addresses", attempts
                )
            code, message = smtp.mail(sender, options)
            if code != 250:
                return self._refused(smtp, code, message, attempts, "MAIL")
            code, message = smtp.rcpt(to)
            if code not in (250, 251):
                return self._refused(smtp, code, message, attempts, "RCPT")
            code, message = smtp.data(payload)
            if code != 250:
                return self._refused(smtp, code, message, attempts, "DATA")
            return SendResult("sent", _answer(code, message), attempts)
        except smtplib.SMTPServerDisconnected as exc:
            raise _Transient(f"connection lost: {exc}", reconnect=True) from None
        except (OSError, smtplib.SMTPResponseException) as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}", reconnect=True) from None

    def _refused(
        self, smtp: smtplib.SMTP, code: int, message: bytes, attempts: int, stage: str
    ) -> SendResult:
        answer = _answer(code, message)
        if code == 421 or code < 400:
            # 421: the server is closing the connection; anything odd: start over.
            raise _Transient(answer, reconnect=True)
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            raise _Transient(answer, reconnect=True) from None
        if 400 <= code < 500:
            raise _Transient(answer)
        status: SendStatus = "bounced" if stage == "RCPT" else "failed"
        return SendResult(status, answer, attempts)


__all__ = [
    "AddressError",
    "DeliveryError",
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
