"""The bounce mailbox against a real Dovecot on loopback (IMAPS and POP3S)."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter import _mailbox
from tests.imapserver import PASSWORD, ThrowawayDovecot

DATA = Path(__file__).parent / "data" / "bounces"
SAMPLES = ["lhost-postfix-04.eml", "arf-01.eml", "lhost-qmail-01.eml"]


def settings(box: ThrowawayDovecot, **changes: object) -> _mailbox.MailboxSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": box.imaps_port,
        "username": box.user,
        "password": PASSWORD,
        "cafile": box.cafile,
        "timeout": 10.0,
    }
    values.update(changes)
    return _mailbox.MailboxSettings(**values)  # type: ignore[arg-type]


def fill(box: ThrowawayDovecot) -> list[bytes]:
    raws = [(DATA / name).read_bytes() for name in SAMPLES]
    for raw in raws:
        box.deliver(raw)
    return raws


def test_imap_hands_each_message_over_once_and_keeps_it(imap_box: ThrowawayDovecot) -> None:
    fill(imap_box)
    got: list[bytes] = []
    first = _mailbox.poll(settings(imap_box), got.append)
    assert first.handled == 3 and len(got) == 3
    assert b"multipart/report" in got[0]
    assert _mailbox.poll(settings(imap_box), got.append).handled == 0
    assert len(got) == 3
    assert imap_box.count() == 3  # flagged, never deleted
    imap_box.deliver((DATA / "lhost-exim-02.eml").read_bytes())
    assert _mailbox.poll(settings(imap_box), got.append).handled == 1


def test_a_failing_message_is_left_for_the_next_poll(imap_box: ThrowawayDovecot) -> None:
    fill(imap_box)
    calls: list[bytes] = []

    def flaky(raw: bytes) -> None:
        calls.append(raw)
        if b"qmail" in raw and len(calls) < 4:
            raise RuntimeError("database is down")

    result = _mailbox.poll(settings(imap_box), flaky)
    assert (result.handled, result.failed) == (2, 1)
    again = _mailbox.poll(settings(imap_box), flaky)
    assert (again.handled, again.failed) == (1, 0)


def test_imap_can_move_or_delete_when_asked(imap_box: ThrowawayDovecot) -> None:
    fill(imap_box)
    moved = _mailbox.poll(settings(imap_box, move_to="Processed"), lambda raw: None)
    assert moved.handled == 3
    assert imap_box.count("INBOX") == 0 and imap_box.count("Processed") == 3
    imap_box.deliver((DATA / "arf-02.eml").read_bytes())
    assert _mailbox.poll(settings(imap_box, delete=True), lambda raw: None).handled == 1
    assert imap_box.count("INBOX") == 0


def test_pop3_remembers_uidls(imap_box: ThrowawayDovecot) -> None:
    fill(imap_box)
    seen: set[str] = set()
    got: list[bytes] = []
    pop = settings(imap_box, protocol="pop3", port=imap_box.pop3s_port)
    first = _mailbox.poll(pop, got.append, seen=seen.__contains__, remember=seen.add)
    assert first.handled == 3 and len(seen) == 3
    assert b"Final-Recipient" in got[0]
    again = _mailbox.poll(pop, got.append, seen=seen.__contains__, remember=seen.add)
    assert again.handled == 0 and imap_box.count() == 3


def test_bad_login_or_plaintext_is_a_clear_error(imap_box: ThrowawayDovecot) -> None:
    with pytest.raises(_mailbox.MailboxError, match="cannot use the bounce mailbox"):
        _mailbox.poll(settings(imap_box, password="wrong"), lambda raw: None)
    with pytest.raises(_mailbox.MailboxError, match="unencrypted"):
        _mailbox.poll(settings(imap_box, ssl=False, port=imap_box.imaps_port), lambda raw: None)
