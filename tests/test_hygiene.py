"""List hygiene end to end: bounces by pipe, mailbox and webhook change subscribers exactly as
the rules say, with evidence, once, and reversibly. Real SQLite files, real SMTP, real IMAP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dkim
import httpx
import pytest
from typer.testing import CliRunner

from newsletter import bounces
from newsletter.cli import app
from newsletter.config import Config, load_config
from newsletter.flows import bounces as hygiene
from newsletter.flows.send import send_issue
from newsletter.store import Store
from newsletter.web import create_app
from tests.imapserver import PASSWORD, ThrowawayDovecot
from tests.smtp import SMTPServer, sample_issue, write_config

DATA = Path(__file__).parent / "data" / "bounces"
KEYS = Path(__file__).parent / "data" / "dkim"
# The secret the tokens inside data/bounces/ours-*.eml were signed with.
SECRET = "test-secret-for-bounce-fixtures-0123"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


def setup(folder: Path, port: int = 2525, **email_settings: object) -> tuple[Path, Config, Store]:
    path = write_config(folder, port, **email_settings)
    config = load_config(path)
    store = Store.open(config.database)
    for n in range(1, 6):  # ids 1..5, as the ours-*.eml tokens expect
        store.add_subscriber(f"reader{n}@example.com", f"读者 {n}")
    return path, config, store


def status(store: Store, address: str) -> str:
    found = store.get_subscriber(email=address)
    assert found is not None
    return found.status


def process(config: Config, store: Store, name: str, **kw: object) -> hygiene.Outcome:
    raw = (DATA / name).read_bytes()
    return hygiene.process_message(config, store, raw, source="pipe", **kw)  # type: ignore[arg-type]


def test_each_kind_does_exactly_its_action_once(tmp_path: Path) -> None:
    _, config, store = setup(tmp_path)
    store.add_subscriber("kijitora@example.co.jp")  # hard bounce in lhost-postfix-04
    store.add_subscriber("kijitora@example.edu")  # mailbox full in lhost-exchange2007-02
    before = {s.email: s.status for s in store.list_subscribers()}

    assert process(config, store, "lhost-postfix-04.eml").actions == (
        ("kijitora@example.co.jp", "bounced"),
    )
    assert process(config, store, "ours-postfix-verp.eml").actions[0][1] == "bounced"
    assert process(config, store, "ours-arf-redacted.eml").actions[0][1] == "complained"
    assert process(config, store, "ours-mailto.eml").actions[0][1] == "unsubscribed"
    assert process(config, store, "lhost-exchange2007-02.eml").actions[0][1] == "counted"
    ignored = process(config, store, "rfc3834-01.eml")
    assert ignored.actions == () and ignored.reason

    after = {s.email: s.status for s in store.list_subscribers()}
    changed = {a: (before[a], after[a]) for a in after if before[a] != after[a]}
    assert changed == {
        "kijitora@example.co.jp": ("active", "bounced"),
        "reader2@example.com": ("active", "bounced"),  # VERP named them; the DSN did not
        "reader3@example.com": ("active", "complained"),  # redacted ARF, token in headers
        "reader4@example.com": ("active", "unsubscribed"),
    }
    # The evidence: which message, which code, the server's words.
    (event,) = store.bounce_events(subscriber_id=2)
    assert (event.kind, event.status, event.source, event.action) == (
        "hard",
        "5.1.1",
        "pipe",
        "bounced",
    )
    assert "User unknown" in event.diagnostic and event.message_id
    assert event.previous_status == "active"
    # The same mail again (an MTA retry) changes and records nothing.
    again = process(config, store, "ours-postfix-verp.eml")
    assert again.duplicate and again.actions == ()
    assert len(store.bounce_events(subscriber_id=2)) == 1


def test_soft_bounces_count_within_the_window(tmp_path: Path) -> None:
    _, config, store = setup(tmp_path)
    subscriber = store.get_subscriber(email="reader5@example.com")
    assert subscriber is not None and subscriber.id == 5

    def soft(day: int) -> str:
        finding = bounces.Finding("soft", "reader5@example.com", "5.2.2", "552 mailbox full")
        report = bounces.Report("soft", "dsn", f"<b{day}@mx>", "", (finding,))
        when = datetime(2026, 7, 1, tzinfo=UTC) + timedelta(days=day)
        outcome = hygiene.apply(config, store, report, source="pipe", now=when)
        return outcome.actions[0][1]

    # Two within 30 days, then a gap: the old ones have aged out of the window.
    assert [soft(0), soft(10), soft(45), soft(50)] == ["counted"] * 4
    assert status(store, "reader5@example.com") == "active"
    assert soft(60) == "bounced"  # days 45, 50, 60: three within 30 days
    assert status(store, "reader5@example.com") == "bounced"
    # Reactivated, the count starts again.
    assert hygiene.reactivate(store, store.get_subscriber(id=5))  # type: ignore[arg-type]
    assert soft(61) == "counted"


def test_forged_tokens_and_from_lines_change_nothing(tmp_path: Path) -> None:
    _, config, store = setup(tmp_path)
    raw = (DATA / "ours-mailto.eml").read_bytes()
    token = raw.split(b"Subject: unsubscribe ")[1].split(b"\n")[0]
    forged = raw.replace(token, token[:-4] + b"AAAA")
    outcome = hygiene.process_message(config, store, forged, source="pipe")
    assert outcome.actions == () and "token" in outcome.reason
    no_token = raw.replace(b"Subject: unsubscribe " + token, b"Subject: unsubscribe")
    assert hygiene.process_message(config, store, no_token, source="pipe").actions == ()
    bad_verp = (DATA / "ours-postfix-verp.eml").read_bytes().replace(b"bounces+2-", b"bounces+1-")
    outcome = hygiene.process_message(config, store, bad_verp, source="pipe")
    assert outcome.actions == () and outcome.unmatched == ("forwarded-7731@mail.example.com",)
    assert {s.status for s in store.list_subscribers()} == {"active"}
    assert store.bounce_events() == []


def test_complaint_outranks_an_earlier_unsubscribe(tmp_path: Path) -> None:
    _, config, store = setup(tmp_path)
    store.update_subscriber(3, status="unsubscribed")
    assert process(config, store, "ours-arf-redacted.eml").actions[0][1] == "complained"
    assert status(store, "reader3@example.com") == "complained"


def test_cli_pipe_list_reactivate_and_doctor_counts(tmp_path: Path) -> None:
    path, config, store = setup(tmp_path)
    runner = CliRunner()
    raw = (DATA / "ours-postfix-verp.eml").read_bytes()
    result = runner.invoke(app, ["bounces", "process", "-c", str(path)], input=raw)
    assert result.exit_code == 0, result.output
    assert "reader2@example.com bounced" in result.output
    files = [str(DATA / n) for n in ("ours-arf-redacted.eml", "rfc3834-02.eml")]
    result = runner.invoke(app, ["bounces", "process", "-c", str(path), *files])
    assert result.exit_code == 0, result.output
    assert "complaint=1" in result.output and "ignored=1" in result.output
    # Not a bounce at all: still exit 0, so the MTA does not bounce it back.
    result = runner.invoke(app, ["bounces", "process", "-c", str(path)], input=b"hello")
    assert result.exit_code == 0 and "ignored" in result.output

    listed = runner.invoke(app, ["subscribers", "list", "-c", str(path), "--status", "bounced"])
    assert listed.exit_code == 0 and "reader2@example.com" in listed.output
    assert "5.1.1" in listed.output and "reader3" not in listed.output
    listed = runner.invoke(app, ["subscribers", "list", "-c", str(path), "--status", "complained"])
    assert "reader3@example.com" in listed.output

    from newsletter._doctor import check_subscribers

    counts = check_subscribers(store)
    assert "3 active" in counts.detail and "1 bounced" in counts.detail
    assert "1 complained" in counts.detail and counts.status == "warn"

    undo = runner.invoke(app, ["subscribers", "reactivate", "-c", str(path), "reader2@example.com"])
    assert undo.exit_code == 0 and "active" in undo.output
    assert status(store, "reader2@example.com") == "active"
    again = runner.invoke(
        app, ["subscribers", "reactivate", "-c", str(path), "reader2@example.com"]
    )
    assert again.exit_code == 1 and "not bounced or complained" in again.output
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    undo = runner.invoke(
        app, ["subscribers", "reactivate", "-c", str(path), "--bounced-since", today]
    )
    assert undo.exit_code == 0 and "1 subscribers reactivated" in undo.output
    assert {s.status for s in store.list_subscribers()} == {"active"}
    # Every change is on record, the operator's undo too.
    assert [e.action for e in store.bounce_events(subscriber_id=3)] == [
        "complained",
        "reactivated",
    ]


def test_sent_mail_is_verp_and_dkim_signed_and_its_bounce_finds_the_subscriber(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    _, config, store = setup(
        tmp_path,
        smtp_server.port,
        return_path="bounces@example.com",
        verp=True,
        dkim={
            "domain": "example.com",
            "selector": "nl2026",
            "private_key_file": str(KEYS / "test-only.key"),
        },
    )
    store.save_issue(sample_issue(3), str(tmp_path / "output" / "issues" / "2024-05-06"))
    report = send_issue(config, store)
    assert report.sent == 5
    public = (KEYS / "test-only.pub").read_text().strip()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"nl2026._domainkey.example.com."
        return f"v=DKIM1; k=rsa; p={public}".encode()

    by_rcpt = {m.rcpt_tos[0]: m for m in smtp_server.messages}
    for received in smtp_server.messages:
        assert dkim.verify(received.data, dnsfunc=dns), received.rcpt_tos
        subscriber = store.get_subscriber(email=received.rcpt_tos[0])
        assert subscriber is not None
        assert bounces.verp_subscriber(received.mail_from, SECRET) == subscriber.id
    # The relay later returns reader4's copy: a DSN to its VERP address, recipient rewritten.
    copy = by_rcpt["reader4@example.com"]
    headers = copy.data.split(b"\r\n\r\n", 1)[0].decode()
    dsn = (
        f"From: MAILER-DAEMON@relay.example.net\r\nTo: {copy.mail_from}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@relay>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay\r\n\r\n"
        "Final-Recipient: rfc822; old-box@legacy.example.net\r\nAction: failed\r\n"
        "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n--b--\r\n"
    ).encode()
    outcome = hygiene.process_message(
        config, store, dsn, source="pipe", envelope_to=(copy.mail_from,)
    )
    assert outcome.actions == (("reader4@example.com", "bounced"),)
    assert status(store, "reader4@example.com") == "bounced"
    assert send_issue(config, store).sent == 0  # never mailed again


def test_the_daemon_job_reads_the_mailbox_once(
    tmp_path: Path, imap_box: ThrowawayDovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOUNCE_USERNAME", imap_box.user)
    monkeypatch.setenv("BOUNCE_PASSWORD", PASSWORD)
    for name in ("ours-postfix-verp.eml", "ours-arf-redacted.eml", "not-bounce-01.eml"):
        imap_box.deliver((DATA / name).read_bytes())
    _, config, store = setup(
        tmp_path,
        bounce_mailbox={
            "host": "127.0.0.1",
            "port": imap_box.imaps_port,
            "cafile": imap_box.cafile,
            "move_to": "Processed",
        },
    )
    tally = hygiene.poll_mailbox(config, store)
    assert tally.actions == {"bounced": 1, "complained": 1}
    assert imap_box.count("Processed") == 3 and imap_box.count("INBOX") == 0
    assert hygiene.poll_mailbox(config, store).kinds == {}
    assert status(store, "reader2@example.com") == "bounced"
    assert status(store, "reader3@example.com") == "complained"
    assert [e.source for e in store.bounce_events()] == ["mailbox", "mailbox"]


@pytest.mark.anyio
async def test_webhooks_on_serve_change_subscribers_only_when_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILGUN_WEBHOOK_SIGNING_KEY", "mg-signing-key-0123")
    path, _, store = setup(tmp_path)
    text = path.read_text(encoding="utf-8") + "webhooks:\n  mailgun: {}\n"
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    application = create_app(config, store)

    def body(event: dict[str, str], key: str) -> dict[str, object]:
        stamp = str(int(time.time()))
        token = hashlib.sha256(json.dumps(event).encode()).hexdigest()[:40]
        sig = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
        return {
            "signature": {"timestamp": stamp, "token": token, "signature": sig},
            "event-data": event,
        }

    complained = {"event": "complained", "recipient": "Reader1@example.com"}
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as c:
        forged = await c.post("/webhooks/mailgun", json=body(complained, "wrong"))
        assert forged.status_code == 401
        assert status(store, "reader1@example.com") == "active"
        good = await c.post("/webhooks/mailgun", json=body(complained, "mg-signing-key-0123"))
        assert good.status_code == 200
    assert status(store, "reader1@example.com") == "complained"
    (event,) = store.bounce_events(subscriber_id=1)
    assert event.source == "webhook:mailgun"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_the_pipe_asks_the_mta_to_retry_when_the_database_is_unusable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    path = tmp_path / "config.yaml"
    path.write_text(f"database: sqlite:///{tmp_path}/a-file/n.db\n", encoding="utf-8")
    raw = (DATA / "ours-postfix-verp.eml").read_bytes()
    result = CliRunner().invoke(app, ["bounces", "process", "-c", str(path)], input=raw)
    assert result.exit_code == 75, result.output
