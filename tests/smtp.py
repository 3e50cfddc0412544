"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests and benchmarks.

It records every accepted message and can misbehave on request: answer 4xx to the next N
RCPT or DATA commands, 5xx to given addresses, any chosen answer to MAIL, RCPT or the end
of DATA, stall before answering the end of DATA, cap messages per connection (452), or drop
the connection after N messages.

    with SMTPServer() as server:
        ...send to 127.0.0.1:server.port...
        server.wait_for(3)
        server.messages[0].message()["Subject"]
"""

from __future__ import annotations

import asyncio
import email
import logging
import ssl
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# aiosmtpd logs every connection at INFO under "mail.log"; the drops we cause are expected.
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    connection: int
    """Number of the connection (1-based) the message came over."""

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_MAIL(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        s = self.server
        with s._lock:
            answer = s._mail_answer
            per_connection = getattr(smtp, "_messages_here", 0)
        if answer is not None:
            return answer
        if s._per_connection is not None and per_connection >= s._per_connection:
            return "452 4.5.3 Too many messages on this connection, reconnect"
        if getattr(smtp, "_drop_next", False):
            # Vanish without an answer, like a relay that restarts or times us out.
            assert smtp.transport is not None
            smtp.transport.abort()  # type: ignore[attr-defined]  # an asyncio.Transport
            return "421 4.3.2 closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        s = self.server
        with s._lock:
            if address.lower() in s._rejected:
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
            answer = s._rcpt_answers.get(address.lower(), s._rcpt_answer_all)
            if answer is not None:
                return answer.replace("{address}", address)
            if s._tempfail_rcpt > 0:
                s._tempfail_rcpt -= 1
                return f"451 4.7.1 <{address}>: Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        s = self.server
        with s._lock:
            if s._tempfail_data > 0:
                s._tempfail_data -= 1
                return "452 4.3.1 Insufficient system storage, try again later"
        smtp._messages_here = getattr(smtp, "_messages_here", 0) + 1  # type: ignore[attr-defined]
        rcpt = envelope.rcpt_tos[0].lower() if envelope.rcpt_tos else ""
        with s._lock:
            answer = s._data_answers.get(rcpt)
            stall = s._stalls.get(rcpt, 0.0)
        if answer is not None:
            return answer
        if s.delay:
            await asyncio.sleep(s.delay)
        with s._lock:
            s.count += 1
            number = s.count
            if s.record:
                raw = envelope.original_content or b""
                s._messages.append(
                    Received(
                        str(envelope.mail_from),
                        tuple(envelope.rcpt_tos),
                        bytes(raw),
                        getattr(smtp, "_connection_number", 0),
                    )
                )
            if s._drop_after is not None:
                s._drop_after -= 1
                if s._drop_after <= 0:
                    s._drop_after = None
                    smtp._drop_next = True  # type: ignore[attr-defined]
            s._changed.notify_all()
        if stall:
            # Queued, but the answer comes too late for the client: the outcome is unknown to it.
            await asyncio.sleep(stall)
        return f"250 2.0.0 Ok: queued as {number}"


class SMTPServer:
    """aiosmtpd on its own event-loop thread, bound to 127.0.0.1 on a free port."""

    def __init__(
        self,
        *,
        record: bool = True,
        delay: float = 0.0,
        tls_context: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.record = record
        """Keep message bodies (off for benchmarks: only ``count`` is kept)."""
        self.delay = delay
        """Seconds to wait before answering DATA (to widen in-flight windows)."""
        self.tls_context = tls_context
        self.login = login
        self.count = 0
        self.connections = 0
        self._messages: list[Received] = []
        self._rejected: set[str] = set()
        self._tempfail_rcpt = 0
        self._tempfail_data = 0
        self._drop_after: int | None = None
        self._mail_answer: str | None = None
        self._rcpt_answers: dict[str, str] = {}
        self._rcpt_answer_all: str | None = None
        self._data_answers: dict[str, str] = {}
        self._stalls: dict[str, float] = {}
        self._per_connection: int | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self.port = 0
        self.host = "127.0.0.1"

    # lifecycle ----------------------------------------------------------------------
    def _factory(self) -> SMTP:
        with self._lock:
            self.connections += 1
            number = self.connections
        extra: dict[str, Any] = {}
        if self.tls_context is not None:
            extra["tls_context"] = self.tls_context
        if self.login is not None:
            extra.update(auth_required=True, authenticator=self._authenticate)
        smtp = SMTP(
            _Handler(self),
            hostname="smtp.test",
            enable_SMTPUTF8=True,
            loop=self._loop,
            **extra,
        )
        smtp._connection_number = number  # type: ignore[attr-defined]
        return smtp

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login.decode(),
                data.password.decode(),
            )
            == self.login
        )
        return AuthResult(success=ok)

    def start(self) -> SMTPServer:
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                self._loop.create_server(self._factory, self.host, 0)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="smtp-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("SMTP test server did not start")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._thread = None

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # misbehaviour -------------------------------------------------------------------
    def tempfail_rcpt(self, count: int) -> None:
        """Answer ``451`` to the next ``count`` RCPT commands."""
        with self._lock:
            self._tempfail_rcpt = count

    def tempfail_data(self, count: int) -> None:
        """Answer ``452`` to the next ``count`` DATA commands."""
        with self._lock:
            self._tempfail_data = count

    def reject(self, *addresses: str) -> None:
        """Answer ``550 User unknown`` to RCPT for these addresses, always."""
        with self._lock:
            self._rejected.update(a.lower() for a in addresses)

    def answer_mail(self, answer: str | None) -> None:
        """Answer every MAIL FROM with ``answer`` (e.g. ``"530 5.7.0 Authentication
        required"``); ``None`` to accept again."""
        with self._lock:
            self._mail_answer = answer

    def answer_rcpt(self, answer: str | None, *addresses: str) -> None:
        """Answer RCPT for these addresses (all when none given) with ``answer``;
        ``{address}`` in it is replaced by the address. ``None`` to accept again."""
        with self._lock:
            if not addresses:
                self._rcpt_answer_all = answer
            for address in addresses:
                if answer is None:
                    self._rcpt_answers.pop(address.lower(), None)
                else:
                    self._rcpt_answers[address.lower()] = answer

    def answer_data(self, answer: str, *addresses: str) -> None:
        """Refuse the message body for these recipients with ``answer`` (nothing recorded)."""
        with self._lock:
            self._data_answers.update((a.lower(), answer) for a in addresses)

    def stall_data(self, seconds: float, *addresses: str) -> None:
        """Accept and record the message for these recipients, then wait ``seconds`` before
        answering the end of DATA (longer than the client's timeout: an unknown outcome)."""
        with self._lock:
            self._stalls.update((a.lower(), seconds) for a in addresses)

    def limit_per_connection(self, count: int | None) -> None:
        """Answer ``452`` to MAIL once a connection has carried ``count`` messages."""
        with self._lock:
            self._per_connection = count

    def drop_after(self, count: int) -> None:
        """After ``count`` more accepted messages, drop that connection without a word."""
        with self._lock:
            self._drop_after = count

    # inspection ---------------------------------------------------------------------
    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def received_by(self, address: str) -> list[Received]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` messages were accepted in total (False on timeout)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.count < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self.count = 0


# -- helpers for tests that send an issue ------------------------------------------------

SECRET = "test-secret-0123456789abcdef"


def forged(token: str) -> str:
    """``token`` with one signature character changed, so it can never verify.

    The character is one that carries six whole bits: the last one or two of a base64
    string may hold only padding bits, so replacing those can decode to the same bytes.
    """
    at = len(token) - 5
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


def write_config(folder: Path, port: int, **email: Any) -> Path:
    """A config file for ``folder`` that mails through 127.0.0.1:``port`` (plain SMTP)."""
    import yaml

    settings: dict[str, Any] = {
        # A realistic domain: a send refuses example.* and localhost (tests never leave
        # 127.0.0.1, so nothing reaches it).
        "from": "视频号周报 <news@zhibo-weekly.cn>",
        "reply_to": "editor@zhibo-weekly.cn",
        "max_per_second": 1000,
        "retry_backoff": 0.01,
        "smtp": {"host": "127.0.0.1", "port": port, "starttls": False, "timeout": 10},
    }
    settings.update(email)
    data = {
        "database": f"sqlite:///{folder / 'newsletter.db'}",
        "output_dir": str(folder / "output"),
        "base_url": "https://news.zhibo-weekly.cn",
        "email": settings,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def sample_issue(
    items: int = 5, *, issue_id: str = "2024-05-06", title: str | None = None, text_len: int = 40
) -> Any:
    """A small built issue (Chinese content) to store with ``store.save_issue``."""
    from datetime import UTC, datetime, timedelta

    from newsletter.models import Entry, Issue, IssueItem, Summary, Verdict

    end = datetime(2024, 5, 6, tzinfo=UTC)
    stories = tuple(
        IssueItem(
            Entry(
                id=f"entry-{n}",
                feed_url="https://feeds.example.com/rss",
                title=f"视频号直播带货新规 {n}",
                link=f"https://example.com/story/{n}",
                text="视频号直播电商" * 10,
                published=end - timedelta(hours=n + 1),
                source_name="示例来源",
            ),
            Verdict(True, 2.0, ("视频号",)),
            Summary("视频号直播电商" * (text_len // 7 + 1), "extractive"),
        )
        for n in range(items)
    )
    return Issue(
        id=issue_id,
        title=title or "视频号与直播电商周报 第 1 期（2024-05-06）",
        created=end,
        window_start=end - timedelta(days=7),
        window_end=end,
        items=stories,
        intro=("本周要点",),
        sections=(("直播电商", stories),),
    )
