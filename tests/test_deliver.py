"""Email delivery over real SMTP (aiosmtpd on 127.0.0.1): messages, retries, bounces, crashes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter import deliver
from newsletter.cli import app
from newsletter.config import Config, load_config
from newsletter.flows.send import send_issue
from newsletter.flows.subscriptions import unsubscribe
from newsletter.store import Store
from newsletter.tokens import Signer
from tests.smtp import SECRET, SMTPServer, sample_issue, write_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


def setup(
    folder: Path, port: int, people: int = 3, items: int = 5, **email: object
) -> tuple[Path, Config, Store]:
    path = write_config(folder, port, **email)
    config = load_config(path)
    store = Store.open(config.database)
    store.save_issue(sample_issue(items), str(folder / "output" / "issues" / "2024-05-06"))
    for n in range(people):
        store.add_subscriber(f"reader{n}@example.com", f"读者 {n}")
    return path, config, store


def body(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_message_parts_headers_and_unsubscribe_link(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = setup(tmp_path, smtp_server.port, people=3)
    report = send_issue(config, store)
    assert (report.sent, report.failed, report.skipped) == (3, 0, 0)
    assert smtp_server.connections == 1, "one connection must carry the whole batch"
    received = smtp_server.messages
    assert sorted(r.rcpt_tos[0] for r in received) == [f"reader{n}@example.com" for n in range(3)]
    signer = Signer(SECRET)
    ids = set()
    for item in received:
        msg = item.message()
        assert msg.get_content_type() == "multipart/alternative"
        kinds = [p.get_content_type() for p in msg.iter_parts()]
        assert kinds == ["text/plain", "text/html"]
        assert msg["Subject"] == "视频号与直播电商周报 第 1 期（2024-05-06）"
        assert msg["From"].addresses[0].addr_spec == "news@zhibo-weekly.cn"
        assert msg["From"].addresses[0].display_name == "视频号周报"
        assert msg["Reply-To"] == "editor@zhibo-weekly.cn"
        assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
        assert msg["List-Id"] == "<newsletter.zhibo-weekly.cn>"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        ids.add(msg["Message-ID"])
        # A long id may be folded onto a line of its own (RFC 5322 allows FWS before it).
        assert re.fullmatch(r"<[^<>@\s]+@zhibo-weekly\.cn>", msg["Message-ID"].strip())
        links = re.findall(r"<([^<>]+)>", msg["List-Unsubscribe"])
        https = [u for u in links if u.startswith("https://")]
        mailto = [u for u in links if u.startswith("mailto:")]
        assert len(https) == 1 and len(mailto) == 1, msg["List-Unsubscribe"]
        assert https[0].startswith("https://news.zhibo-weekly.cn/unsubscribe/")
        token = https[0].rsplit("/", 1)[1]
        subscriber = store.get_subscriber(email=item.rcpt_tos[0])
        assert subscriber is not None
        assert signer.verify("unsubscribe", token) == subscriber.id
        assert signer.verify("confirm", token) is None
        assert token in mailto[0] and mailto[0].startswith("mailto:editor@zhibo-weekly.cn?")
        assert msg["To"].addresses[0].display_name == subscriber.name
        html, text = body(msg, "html"), body(msg, "plain")
        assert f'href="{https[0]}"' in html, "the footer must carry the same unsubscribe link"
        assert https[0] in text
        assert "视频号直播带货新规 0" in html and "视频号直播带货新规 0" in text
        assert len(html.encode()) < deliver.GMAIL_CLIP_BYTES
        # 7-bit transfer encodings only: any relay can carry it.
        assert all(
            p["Content-Transfer-Encoding"] in ("base64", "quoted-printable", "7bit")
            for p in msg.iter_parts()
        )
    assert len(ids) == 3, "Message-IDs must be unique"
    rows = store.deliveries("2024-05-06")
    assert [r.status for r in rows] == ["sent"] * 3
    assert all(r.answer.startswith("250 ") for r in rows)

    # The unsubscribe link works through the pipeline (what the web app calls).
    first = received[0]
    token = re.findall(r"/unsubscribe/([^>]+)>", str(first.message()["List-Unsubscribe"]))[0]
    gone = unsubscribe(config, store, token)
    assert gone is not None and gone.status == "unsubscribed"
    assert gone.email == first.rcpt_tos[0]


def test_header_injection_from_names_and_titles_is_neutralised(
    tmp_path: Path, smtp_server: SMTPServer
):
    _, config, store = setup(tmp_path, smtp_server.port, people=0)
    store.save_issue(
        sample_issue(2, issue_id="evil", title="周报\r\nBcc: victim@evil.test\r\nX-Evil: 1"),
        str(tmp_path / "evil"),
    )
    store.add_subscriber("target@example.com", 'Eve\r\nBcc: spy@evil.test\n"<x@evil.test>,')
    report = send_issue(config, store, issue_id="evil")
    assert report.sent == 1
    [item] = smtp_server.messages
    assert item.rcpt_tos == ("target@example.com",)
    msg = item.message()
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert [a.addr_spec for a in msg["To"].addresses] == ["target@example.com"]
    assert "\n" not in msg["Subject"] and msg["Subject"].startswith("周报 Bcc:")


def test_rerun_sends_nothing_twice_and_skips_inactive(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = setup(tmp_path, smtp_server.port, people=3)
    for address, status in (
        ("gone@example.com", "unsubscribed"),
        ("dead@example.com", "bounced"),
        ("maybe@example.com", "pending"),
    ):
        store.add_subscriber(address, status=status)
    assert send_issue(config, store).sent == 3
    again = send_issue(config, store)
    assert (again.sent, again.already_sent) == (0, 3)
    late = store.add_subscriber("late@example.com")
    third = send_issue(config, store)
    assert (third.sent, third.already_sent) == (1, 3)
    assert smtp_server.count == 4
    assert [m.rcpt_tos[0] for m in smtp_server.messages][-1] == late.email
    for address in ("gone@example.com", "dead@example.com", "maybe@example.com"):
        assert smtp_server.received_by(address) == []


def test_connection_dropped_mid_batch_reconnects(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = setup(tmp_path, smtp_server.port, people=10)
    smtp_server.drop_after(4)
    report = send_issue(config, store)
    assert (report.sent, report.failed) == (10, 0)
    assert smtp_server.connections == 2
    for n in range(10):
        assert len(smtp_server.received_by(f"reader{n}@example.com")) == 1


def test_transient_4xx_is_retried_then_succeeds(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = setup(tmp_path, smtp_server.port, people=4, retries=3)
    smtp_server.tempfail_rcpt(2)
    smtp_server.tempfail_data(1)
    report = send_issue(config, store)
    assert (report.sent, report.failed) == (4, 0)
    assert smtp_server.count == 4
    assert {r.status for r in store.deliveries("2024-05-06")} == {"sent"}


def test_4xx_beyond_retries_fails_then_rerun_delivers(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = setup(tmp_path, smtp_server.port, people=2, retries=1)
    smtp_server.tempfail_rcpt(2)  # both attempts for the first reader
    report = send_issue(config, store)
    assert (report.sent, report.failed, report.bounced) == (1, 1, 0)
    row = store.deliveries("2024-05-06")[0]
    assert row.status == "deferred" and row.answer.startswith("451 ")  # the daemon retries it
    assert store.get_subscriber(email="reader0@example.com").status == "active"  # type: ignore[union-attr]
    rerun = send_issue(config, store)
    assert (rerun.sent, rerun.already_sent) == (1, 1)
    assert len(smtp_server.received_by("reader0@example.com")) == 1


def test_permanent_5xx_marks_bounced(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = setup(tmp_path, smtp_server.port, people=3)
    smtp_server.reject("reader1@example.com")
    report = send_issue(config, store)
    assert (report.sent, report.failed, report.bounced) == (2, 1, 1)
    assert report.failures[0][0] == "reader1@example.com"
    assert report.failures[0][1].startswith("550 ")
    assert store.get_subscriber(email="reader1@example.com").status == "bounced"  # type: ignore[union-attr]
    rows = {r.email: r for r in store.deliveries("2024-05-06")}
    assert rows["reader1@example.com"].status == "failed"
    assert "User unknown" in rows["reader1@example.com"].answer
    again = send_issue(config, store)
    assert (again.sent, again.skipped) == (0, 1)
    assert smtp_server.received_by("reader1@example.com") == []


def test_unreachable_server_stops_cleanly_and_rerun_continues(tmp_path: Path):
    with SMTPServer() as server:
        port = server.port
    _, config, store = setup(tmp_path, port, people=2, retries=1)
    report = send_issue(config, store)
    assert report.sent == 0 and report.error and "cannot reach SMTP server" in report.error
    assert [r.status for r in store.deliveries("2024-05-06")] == ["queued", "queued"]
    with SMTPServer() as server:
        config = load_config(write_config(tmp_path, server.port))
        later = send_issue(config, store)
        assert later.sent == 2 and server.count == 2


def test_rate_limit_spaces_messages(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = setup(tmp_path, smtp_server.port, people=6, max_per_second=20)
    started = time.monotonic()
    assert send_issue(config, store).sent == 6
    assert time.monotonic() - started >= 5 / 20 * 0.9


def test_oversized_issue_is_trimmed_below_gmail_clip(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = setup(tmp_path, smtp_server.port, people=1, items=0)
    big = sample_issue(300, issue_id="big", text_len=300)
    # Items are in rank order; the reader sees them in sections, whose last one holds the
    # best story: trimming must drop the lowest-ranked ones, not the end of that section.
    ranked = big.items
    first, second = ranked[1::2], (ranked[0], *ranked[2::2])
    big = replace(big, sections=(("平台政策", first), ("行业观察", second)))
    store.save_issue(big, str(tmp_path / "big"))
    report = send_issue(config, store, issue_id="big")
    assert report.sent == 1 and 0 < report.trimmed < 300
    msg = smtp_server.messages[0].message()
    html = body(msg, "html")
    # What counts is the part as sent (base64), not the decoded HTML.
    html_part = next(p for p in msg.walk() if p.get_content_type() == "text/html")
    wire = html_part.as_bytes().split(b"\n\n", 1)[1]
    assert html_part["Content-Transfer-Encoding"] == "base64"
    assert len(wire) < deliver.GMAIL_CLIP_BYTES < len(wire) + 4 * 1024 * 1.4
    assert len(html.encode()) < 0.8 * deliver.GMAIL_CLIP_BYTES
    kept = len(ranked) - report.trimmed
    shown = set(re.findall(r"https://example.com/story/(\d+)", html))
    assert shown == {str(n) for n in range(kept)}, "the best-ranked stories stay"
    assert "https://example.com/story/0" in html  # the last section's first story
    assert f"本期还有 {report.trimmed} 条报道没有放进邮件" in html
    assert f"全部 {len(ranked)} 条" in html
    assert "/unsubscribe/" in html, "the footer must survive trimming"
    assert "https://news.zhibo-weekly.cn/issues/big" in html
    text = body(msg, "plain")
    assert f"本期还有 {report.trimmed} 条报道没有放进邮件" in text


def test_cli_dry_run_and_test_copy_record_nothing(tmp_path: Path, smtp_server: SMTPServer):
    path, config, store = setup(tmp_path, smtp_server.port, people=2)
    runner = CliRunner()
    result = runner.invoke(app, ["send", "-c", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "output" / "issues" / "2024-05-06" / "eml").glob("*.eml"))
    assert [f.name for f in files] == [
        "00001-reader0@example.com.eml",
        "00002-reader1@example.com.eml",
    ]
    import email
    from email import policy

    parsed = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert "/unsubscribe/" in str(parsed["List-Unsubscribe"])
    assert smtp_server.count == 0 and store.deliveries("2024-05-06") == []

    result = runner.invoke(app, ["send", "-c", str(path), "--to", "Boss@Example.com"])
    assert result.exit_code == 0, result.output
    assert [m.rcpt_tos for m in smtp_server.messages] == [("boss@example.com",)]
    assert store.deliveries("2024-05-06") == []

    result = runner.invoke(app, ["send", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert smtp_server.count == 3
    assert "sent" in result.output and "failed" in result.output

    result = runner.invoke(app, ["send", "-c", str(path), "--issue", "nope"])
    assert result.exit_code == 1 and "no issue 'nope'" in result.output


@pytest.mark.parametrize("pause", [0.0, 0.013], ids=["just-after-accept", "mid-message"])
def test_sigkill_mid_send_then_rerun_delivers_each_once(tmp_path: Path, pause: float):
    """kill -9 at an arbitrary moment: the rerun completes; at most one message twice."""
    with SMTPServer(delay=0.01) as server:
        path, config, store = setup(tmp_path, server.port, people=60, max_per_second=60)
        store.add_subscriber("gone@example.com", status="unsubscribed")
        store.add_subscriber("dead@example.com", status="bounced")
        store.add_subscriber("maybe@example.com", status="pending")
        env = {**os.environ, "NEWSLETTER_SECRET": SECRET, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "newsletter", "send", "-c", str(path)]
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path
        )
        try:
            assert server.wait_for(17, timeout=60), proc.stderr.read() if proc.stderr else ""
            time.sleep(pause)  # right after an accept, or inside the next message
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        first = server.count
        assert 17 <= first < 60, "the kill must land mid-send"
        rows = store.deliveries("2024-05-06")
        assert sum(r.status == "sending" for r in rows) <= 1

        # The rerun, in-process through the same CLI command (saves a second interpreter start).
        rerun = CliRunner().invoke(app, ["send", "-c", str(path)])
        assert rerun.exit_code == 0, rerun.output
        per_reader = [len(server.received_by(f"reader{n}@example.com")) for n in range(60)]
        assert min(per_reader) == 1, "every active subscriber has the issue"
        assert sum(per_reader) - 60 <= 1, f"at most one duplicate, got {sum(per_reader) - 60}"
        for address in ("gone@example.com", "dead@example.com", "maybe@example.com"):
            assert server.received_by(address) == []
        assert {r.status for r in store.deliveries("2024-05-06")} == {"sent"}
        print(f"killed after {first} accepted; duplicates: {sum(per_reader) - 60}")


def test_normalize_address_and_urls():
    assert deliver.normalize_address("  Foo.Bar@Example.COM ") == "foo.bar@example.com"
    for bad in ("", "no-at-sign", "a@", "a b@example.com", "x@example.com\r\nBcc: y@z"):
        with pytest.raises(deliver.AddressError):
            deliver.normalize_address(bad)
    assert (
        deliver.unsubscribe_url("https://n.example.com/", "ab.c-d_e")
        == "https://n.example.com/unsubscribe/ab.c-d_e"
    )
    assert deliver.confirm_url("https://n.example.com", "t") == "https://n.example.com/confirm/t"
    assert deliver.clean_header_text("a\r\nb\tc\x00d") == "a b c d"


def test_daemon_weekly_job_builds_then_sends_and_resumes(tmp_path: Path, smtp_server: SMTPServer):
    """The real pipeline on the bundled demo feeds, then the daemon's send and its resume."""
    import yaml

    from newsletter.flows.send import unfinished_send
    from newsletter.schedule import Daemon

    path = write_config(tmp_path, smtp_server.port)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    demo = yaml.safe_load((REPO / "examples" / "demo.yaml").read_text(encoding="utf-8"))
    feeds = REPO / "examples" / "feeds"
    data["feeds"] = [{**f, "url": str(feeds / Path(f["url"]).name)} for f in demo["feeds"]]
    data["issue"] = {"as_of": demo["issue"]["as_of"]}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(path)
    store = Store.open(config.database)
    for n in range(3):
        store.add_subscriber(f"reader{n}@example.com")

    Daemon(config).issue_job()
    [issue] = store.list_issues()
    assert smtp_server.count == 3
    msg = smtp_server.messages[0].message()
    assert msg["Subject"] == issue.title
    first_story = store.load_issue(issue.id).items[0].entry.title  # type: ignore[union-attr]
    assert first_story in body(msg, "plain")
    assert unfinished_send(config, store, datetime.now(UTC)) is None

    # A send cut short right after queueing: the daemon finishes it on start.
    store.add_subscriber("late@example.com")
    store.queue_deliveries(issue.id)
    assert unfinished_send(config, store, datetime.now(UTC)) == issue.id
    Daemon(config).send_job(issue.id)
    assert len(smtp_server.received_by("late@example.com")) == 1
    assert smtp_server.count == 4


def test_chinese_parts_use_the_smaller_transfer_encoding() -> None:
    from newsletter.deliver import _transfer_encoding

    chinese = "<html><head><style>p{color:red}</style></head><body>" + "视频号直播带货。" * 400
    assert _transfer_encoding(chinese) == "base64"
    assert _transfer_encoding("<p>live shopping weekly, mostly ASCII 视频号</p>" * 50) == (
        "quoted-printable"
    )
