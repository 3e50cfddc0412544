"""SMTP answers read as a real relay means them (aiosmtpd on 127.0.0.1 answering chosen codes).

Only an answer about the recipient's own address may bounce a subscriber; anything about
the relay, the sender or policy stops the send and changes nobody.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from newsletter import deliver
from newsletter.config import Config, load_config
from newsletter.flows._mail import smtp_settings
from newsletter.flows.send import send_issue
from newsletter.store import Store
from tests.smtp import SECRET, SMTPServer, sample_issue, write_config

ISSUE = "2024-05-06"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


def setup(folder: Path, port: int, people: int, **email: object) -> tuple[Config, Store]:
    config = load_config(write_config(folder, port, **email))
    store = Store.open(config.database)
    store.save_issue(sample_issue(2), str(folder / "output" / "issues" / ISSUE))
    for n in range(people):
        store.add_subscriber(f"reader{n}@example.com", f"读者 {n}")
    return config, store


def statuses(store: Store) -> dict[str, str]:
    return {s.email: s.status for s in store.list_subscribers()}


@pytest.mark.parametrize(
    ("code", "text", "bounces"),
    [
        (550, "5.1.1 <a@x>: Recipient address rejected: User unknown", True),
        (550, "Requested action not taken: mailbox unavailable", True),
        (553, "5.1.3 Bad recipient address syntax", True),
        (550, "5.2.1 Mailbox disabled", True),
        (554, "5.7.1 <a@x>: Relay access denied", False),
        (550, "5.7.1 Recipient address rejected: Access denied", False),
        (550, "5.7.606 Access denied, banned sending IP", False),
        (530, "5.7.0 Authentication required", False),
        (550, "mailbox unavailable: relaying denied", False),
        (554, "Transaction failed", False),
        (552, "5.2.2 Mailbox full", False),
        (550, "5.1.8 Bad sender's system address", False),
        (451, "4.1.1 try later", False),
    ],
)
def test_only_answers_about_the_recipients_address_bounce(
    code: int, text: str, bounces: bool
) -> None:
    assert deliver.recipient_failed_permanently(code, f"{code} {text}") is bounces


def test_relay_access_denied_stops_the_send_and_changes_no_subscriber(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = setup(tmp_path, smtp_server.port, people=5)
    smtp_server.answer_rcpt("554 5.7.1 <{address}>: Relay access denied")
    report = send_issue(config, store)
    assert report.sent == 0 and report.bounced == 0
    assert report.error and "Relay access denied" in report.error
    assert "no subscriber was changed" in report.error
    assert set(statuses(store).values()) == {"active"}
    assert {r.status for r in store.deliveries(ISSUE)} == {"queued"}
    # Fixed relay: the rerun delivers to everyone, once.
    smtp_server.answer_rcpt(None)
    again = send_issue(config, store)
    assert again.sent == 5 and smtp_server.count == 5


def test_sender_refused_at_mail_from_stops_the_send(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = setup(tmp_path, smtp_server.port, people=3)
    smtp_server.answer_mail("530 5.7.0 Authentication required")
    report = send_issue(config, store)
    assert report.sent == 0 and report.failed == 0
    assert report.error and "530 5.7.0" in report.error and "MAIL FROM" in report.error
    assert set(statuses(store).values()) == {"active"}


def test_a_user_unknown_among_others_bounces_only_that_address(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = setup(tmp_path, smtp_server.port, people=4)
    smtp_server.answer_rcpt("550 5.1.1 <{address}>: User unknown", "reader2@example.com")
    report = send_issue(config, store)
    assert (report.sent, report.bounced, report.error) == (3, 1, None)
    assert statuses(store)["reader2@example.com"] == "bounced"
    assert [s for e, s in statuses(store).items() if e != "reader2@example.com"] == ["active"] * 3


def test_552_at_rcpt_is_temporary(tmp_path: Path, smtp_server: SMTPServer) -> None:
    config, store = setup(tmp_path, smtp_server.port, people=2, retries=1)
    smtp_server.answer_rcpt("552 5.2.2 Mailbox full", "reader0@example.com")
    report = send_issue(config, store)
    assert (report.sent, report.failed, report.bounced) == (1, 1, 0)
    assert statuses(store)["reader0@example.com"] == "active"
    smtp_server.answer_rcpt(None, "reader0@example.com")
    assert send_issue(config, store).sent == 1


def test_452_per_connection_limit_reconnects_and_delivers_everyone(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = setup(tmp_path, smtp_server.port, people=10, retries=1)
    smtp_server.limit_per_connection(3)
    report = send_issue(config, store)
    assert (report.sent, report.failed, report.error) == (10, 0, None)
    assert smtp_server.connections == 4
    for n in range(10):
        assert len(smtp_server.received_by(f"reader{n}@example.com")) == 1


def _message(to: str) -> EmailMessage:
    sender = deliver.Sender("news@newsletter.example.org")
    return deliver.build_message(sender, to=to, subject="s", html="<p>x</p>", text="x")


def test_max_messages_per_connection_reconnects_before_the_relay_refuses(
    smtp_server: SMTPServer,
) -> None:
    settings = deliver.SMTPSettings(
        "127.0.0.1", smtp_server.port, retries=0, max_messages_per_connection=2
    )
    with deliver.SMTPSender(settings) as sender:
        results = [
            sender.send(_message(f"r{n}@example.org"), f"r{n}@example.org") for n in range(5)
        ]
    assert [r.status for r in results] == ["sent"] * 5
    assert smtp_server.connections == 3
    assert [m.connection for m in smtp_server.messages] == [1, 1, 2, 2, 3]


def test_breaker_pauses_after_consecutive_failures_across_recipients(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = setup(tmp_path, smtp_server.port, people=8)
    everyone = [f"reader{n}@example.com" for n in range(8)]
    smtp_server.answer_data("554 5.7.1 Message rejected as spam", *everyone)
    settings = smtp_settings(config)
    settings = deliver.SMTPSettings(**{**settings.__dict__, "max_consecutive_failures": 3})
    with deliver.SMTPSender(settings) as sender:
        results = [sender.send(_message(a), a) for a in everyone[:3]]
        assert [r.status for r in results] == ["rejected"] * 3
        with pytest.raises(deliver.SendStopped, match="last 3 recipients in a row"):
            sender.send(_message(everyone[3]), everyone[3])
    # Through `send`, with the default breaker (10): the run stops with the reason.
    for n in range(8, 14):
        store.add_subscriber(f"reader{n}@example.com")
    smtp_server.answer_data(
        "554 5.7.1 Message rejected as spam", *[f"reader{n}@example.com" for n in range(8, 14)]
    )
    report = send_issue(config, store)
    assert report.failed == 10 and report.error and "paused" in report.error
    assert set(statuses(store).values()) == {"active"}


def test_no_answer_after_data_is_unknown_and_never_resent_in_that_run(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    smtp_server.stall_data(2.0, "reader1@example.com")
    settings = deliver.SMTPSettings(
        "127.0.0.1", smtp_server.port, timeout=0.5, retries=3, backoff=0.01
    )
    with deliver.SMTPSender(settings) as sender:
        results = [
            sender.send(_message(f"reader{n}@example.com"), f"reader{n}@example.com")
            for n in range(3)
        ]
    assert [r.status for r in results] == ["sent", "unknown", "sent"]
    assert results[1].attempts == 1 and "no answer after the message was sent" in results[1].answer
    assert len(smtp_server.received_by("reader1@example.com")) == 1


def test_permanent_refusal_of_the_body_is_rejected_not_bounced(smtp_server: SMTPServer) -> None:
    smtp_server.answer_data("554 5.6.0 Message content rejected", "a@example.org")
    smtp_server.answer_data("550 5.1.1 User unknown", "b@example.org")
    settings = deliver.SMTPSettings("127.0.0.1", smtp_server.port, retries=3, backoff=0.01)
    with deliver.SMTPSender(settings) as sender:
        a = sender.send(_message("a@example.org"), "a@example.org")
        b = sender.send(_message("b@example.org"), "b@example.org")
    assert (a.status, a.attempts) == ("rejected", 1)
    assert (b.status, b.attempts) == ("bounced", 1)


def test_an_unknown_outcome_is_sent_again_at_most_once_on_a_later_send(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = setup(tmp_path, smtp_server.port, people=3)
    config = config.model_copy(
        update={
            "email": config.email.model_copy(
                update={"smtp": config.email.smtp.model_copy(update={"timeout": 0.5})}
            )
        }
    )
    smtp_server.stall_data(2.0, "reader1@example.com")
    first = send_issue(config, store)
    assert (first.sent, first.failed) == (2, 1)
    rows = {r.email: r for r in store.deliveries(ISSUE)}
    assert rows["reader1@example.com"].status == "unknown"
    assert len(smtp_server.received_by("reader1@example.com")) == 1
    second = send_issue(config, store)  # still stalling: resent once, unknown again
    assert second.sent == 0
    assert len(smtp_server.received_by("reader1@example.com")) == 2
    third = send_issue(config, store)
    assert third.sent == 0 and third.failed == 0
    assert len(smtp_server.received_by("reader1@example.com")) == 2, "never a third copy"


def test_a_permanent_refusal_after_data_is_not_retried_by_later_sends(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = setup(tmp_path, smtp_server.port, people=2)
    smtp_server.answer_data("554 5.6.0 Message content rejected", "reader0@example.com")
    first = send_issue(config, store)
    assert (first.sent, first.failed, first.bounced) == (1, 1, 0)
    again = send_issue(config, store)
    assert (again.sent, again.failed) == (0, 0)
    [row] = [r for r in store.deliveries(ISSUE) if r.email == "reader0@example.com"]
    assert (row.status, row.attempts) == ("rejected", 1)
    assert statuses(store)["reader0@example.com"] == "active"
