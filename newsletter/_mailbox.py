"""The bounce mailbox: IMAP over TLS (or POP3) read by the daemon (stdlib imaplib/poplib).

Each message is handed to a callback once. IMAP marks a handled message with the keyword
``NewsletterProcessed`` (and moves it when asked); POP3 has no flags, so the caller
remembers the UIDLs it has seen. Nothing is deleted unless ``delete`` is set, and a
message whose handling failed is left as it was, to be tried on the next poll.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import poplib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from .errors import NewsletterError

log = logging.getLogger(__name__)

PROCESSED = "NewsletterProcessed"
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class MailboxError(NewsletterError):
    """The mailbox could not be reached, logged in to or opened."""


@dataclass(frozen=True)
class MailboxSettings:
    host: str
    username: str
    password: str
    protocol: str = "imap"
    port: int | None = None
    ssl: bool = True
    starttls: bool = False
    folder: str = "INBOX"
    move_to: str | None = None
    delete: bool = False
    cafile: str | None = None
    timeout: float = 30.0
    limit: int = 500
    """Messages handled per poll at most; the rest wait for the next one."""

    @property
    def where(self) -> str:
        port = (
            self.port
            or {"imap": 993 if self.ssl else 143, "pop3": 995 if self.ssl else 110}[self.protocol]
        )
        return f"{self.protocol}://{self.host}:{port}"


@dataclass(frozen=True)
class PollResult:
    handled: int = 0
    failed: int = 0
    skipped: int = 0
    """Messages too large to read, left where they are."""


Handle = Callable[[bytes], None]


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def poll(
    settings: MailboxSettings,
    handle: Handle,
    *,
    seen: Callable[[str], bool] = lambda uidl: False,
    remember: Callable[[str], None] = lambda uidl: None,
) -> PollResult:
    """Hand every message not yet handled to ``handle``; raises :class:`MailboxError` only
    when the mailbox cannot be used at all. ``seen``/``remember`` keep POP3's UIDLs."""
    if not (settings.ssl or settings.starttls):
        raise MailboxError(
            f"{settings.where}: refusing to send the password unencrypted (set ssl or starttls)"
        )
    if settings.protocol == "pop3":
        return _poll_pop3(settings, handle, seen, remember)
    return _poll_imap(settings, handle)


def _context(settings: MailboxSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.cafile)


def _imap_connect(s: MailboxSettings) -> imaplib.IMAP4:
    try:
        client: imaplib.IMAP4
        if s.ssl:
            client = imaplib.IMAP4_SSL(
                s.host, s.port or 993, ssl_context=_context(s), timeout=s.timeout
            )
        else:
            client = imaplib.IMAP4(s.host, s.port or 143, timeout=s.timeout)
            client.starttls(ssl_context=_context(s))
        client.login(s.username, s.password)
        return client
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"cannot use the bounce mailbox {s.where}: {exc}") from None


def _poll_imap(s: MailboxSettings, handle: Handle) -> PollResult:
    client = _imap_connect(s)
    handled = failed = skipped = 0
    try:
        status, _ = client.select(_quote(s.folder))
        if status != "OK":
            raise MailboxError(f"{s.where}: cannot open folder {s.folder!r}")
        if s.move_to:
            client.create(_quote(s.move_to))  # an existing folder answers NO, which is fine
        status, data = client.uid("SEARCH", "UNKEYWORD", PROCESSED)
        found = data[0] if status == "OK" and data and isinstance(data[0], bytes) else b""
        uids = found.decode("ascii").split()
        can_move = "MOVE" in client.capabilities
        for uid in uids[: s.limit]:
            status, sizes = client.uid("FETCH", uid, "(RFC822.SIZE)")
            size = re.search(rb"RFC822\.SIZE (\d+)", b" ".join(_flat(sizes)))
            if size and int(size.group(1)) > MAX_MESSAGE_BYTES:
                skipped += 1
                continue
            status, fetched = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in fetched if isinstance(p, tuple)), None)
            if status != "OK" or not isinstance(raw, bytes):
                failed += 1
                continue
            try:
                handle(raw)
            except Exception as exc:  # one bad message must not stop the others
                log.warning("bounce mailbox: message uid %s not handled: %s", uid, exc)
                failed += 1
                continue
            client.uid("STORE", uid, "+FLAGS.SILENT", f"({PROCESSED})")
            handled += 1
            if s.delete:
                client.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
            elif s.move_to:
                if can_move:
                    client.uid("MOVE", uid, _quote(s.move_to))
                else:
                    client.uid("COPY", uid, _quote(s.move_to))
                    client.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
        if s.delete or (s.move_to and not can_move):
            client.expunge()
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"bounce mailbox {s.where}: {exc}") from None
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()
    return PollResult(handled, failed, skipped)


def _flat(parts: list[object]) -> list[bytes]:
    out: list[bytes] = []
    for part in parts or []:
        if isinstance(part, tuple):
            out += [p for p in part if isinstance(p, bytes)]
        elif isinstance(part, bytes):
            out.append(part)
    return out


def _poll_pop3(
    s: MailboxSettings,
    handle: Handle,
    seen: Callable[[str], bool],
    remember: Callable[[str], None],
) -> PollResult:
    try:
        client: poplib.POP3
        if s.ssl:
            client = poplib.POP3_SSL(s.host, s.port or 995, context=_context(s), timeout=s.timeout)
        else:
            client = poplib.POP3(s.host, s.port or 110, timeout=s.timeout)
            client.stls(context=_context(s))
        client.user(s.username)
        client.pass_(s.password)
    except (OSError, poplib.error_proto) as exc:
        raise MailboxError(f"cannot use the bounce mailbox {s.where}: {exc}") from None
    handled = failed = skipped = 0
    try:
        _, listing, _ = client.uidl()
        for line in listing[: s.limit * 4]:
            number, _, uidl = line.decode("ascii", "replace").partition(" ")
            if seen(uidl):
                continue
            if handled + failed >= s.limit:
                break
            # typeshed types LIST's one-message form like the listing; it is one line.
            size = cast(bytes, client.list(int(number))).split()
            if len(size) >= 3 and size[2].isdigit() and int(size[2]) > MAX_MESSAGE_BYTES:
                skipped += 1
                continue
            _, lines, _ = client.retr(int(number))
            try:
                handle(b"\r\n".join(lines) + b"\r\n")
            except Exception as exc:  # one bad message must not stop the others
                log.warning("bounce mailbox: message %s not handled: %s", uidl, exc)
                failed += 1
                continue
            remember(uidl)
            handled += 1
            if s.delete:
                client.dele(int(number))
        client.quit()
    except (OSError, poplib.error_proto) as exc:
        client.close()
        raise MailboxError(f"bounce mailbox {s.where}: {exc}") from None
    return PollResult(handled, failed, skipped)
