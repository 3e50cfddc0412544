"""The editor's desk without a browser: drafts, edits, approval, deadlines, labels, the CLI.

Real parts throughout: the demo feeds polled into a SQLite file, a real build, the loopback
SMTP server receiving what editors and subscribers would.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.compose import short_headline
from newsletter.config import Config, WeComChannel, parse_config
from newsletter.errors import ConfigError, NewsletterError
from newsletter.flows import review
from newsletter.flows.build import build_issue
from newsletter.flows.channels import post_issue
from newsletter.flows.poll import poll
from newsletter.flows.send import send_issue
from newsletter.store import Store
from tests.smtp import SMTPServer

REPO = Path(__file__).resolve().parents[1]
DEMO_FEEDS = REPO / "examples" / "feeds"
EDITOR = "editor@example.org"
READERS = ("reader.one@example.com", "reader.two@example.com")
SECRET = "review-test-secret-0123456789"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


def desk_config(root: Path, port: int, **review_options: Any) -> dict[str, Any]:
    return {
        "database": "sqlite:///db.sqlite",
        "output_dir": "out",
        "base_url": "https://news.zhibo-weekly.cn",
        "issue": {"as_of": "2026-11-26T08:00:00+08:00"},
        "email": {
            "from": "周报 <news@zhibo-weekly.cn>",
            "retries": 0,
            "smtp": {"host": "127.0.0.1", "port": port, "starttls": False, "timeout": 10},
        },
        "review": {"required": True, "editors": [EDITOR], **review_options},
        "feeds": [
            {"url": str(p), "name": p.stem}
            for p in sorted(DEMO_FEEDS.glob("*.*"))
            if p.suffix != ".md"
        ],
    }


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the demo feeds polled once (copied by each test)."""
    root = tmp_path_factory.mktemp("polled")
    config = parse_config(json.dumps(desk_config(root, 25)), base_dir=root)
    store = Store.open(config.database)
    poll(config, store)
    store.add_subscriber(READERS[0])
    store.add_subscriber(READERS[1], "读者二")
    store.close()
    return root / "db.sqlite"


def setup(
    tmp_path: Path, polled: Path, smtp: SMTPServer, **review_options: Any
) -> tuple[Config, Store, Path]:
    shutil.copy(polled, tmp_path / "db.sqlite")
    data = desk_config(tmp_path, smtp.port, **review_options)
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    config = parse_config(path.read_text(encoding="utf-8"), base_dir=tmp_path)
    return config, Store.open(config.database), path


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def test_a_week_on_the_desk(tmp_path: Path, polled: Path, smtp_server: SMTPServer) -> None:
    config, store, _ = setup(tmp_path, polled, smtp_server)
    built = build_issue(config, store)
    assert built.issue is not None and built.draft
    issue_id = built.issue.id
    assert store.get_review(issue_id) is not None
    # The editor has a test copy and the desk link; subscribers have nothing.
    assert smtp_server.wait_for(2)
    to_editor = smtp_server.received_by(EDITOR)
    assert len(to_editor) == 2 and not any(smtp_server.received_by(r) for r in READERS)
    by_subject = {str(m.message()["Subject"]): m.message() for m in to_editor}
    notice = next(m for s, m in by_subject.items() if s.startswith("待审："))
    assert built.issue.title in by_subject, "the test copy is the issue itself"
    assert f"/desk/{issue_id}" in html_of(notice) and notice["Auto-Submitted"]
    # Nothing may send a draft, and no public page lists it.
    with pytest.raises(NewsletterError, match="editor's desk"):
        send_issue(config, store)
    chat = config.model_copy(
        update={"channels": [WeComChannel(type="wecom", name="ops", webhook_url_env="NO_HOOK")]}
    )
    with pytest.raises(NewsletterError, match="cannot post: .*editor's desk"):
        post_issue(chat, store)
    assert store.public_issues() == []
    assert built.issue.title not in (config.output_path / "index.html").read_text()

    issue = built.issue
    dropped, edited = issue.sections[0][1][0], issue.sections[0][1][1]
    review.drop_story(config, store, issue_id, dropped.entry.id, EDITOR, "只是一次发布会")
    warnings = review.edit_digest(
        config, store, issue_id, edited.entry.id, "编辑改写的摘要：销售额达到 987654 亿元。", EDITOR
    )
    assert warnings == ["987654"], warnings
    current = store.load_issue(issue_id)
    assert current is not None
    home, group = max(current.sections, key=lambda s: len(s[1]))
    second = group[1]
    review.move_story(config, store, issue_id, second.entry.id, "up", EDITOR)
    target = next(n for n in ("行业观察", "品牌案例") if n != home)
    review.move_story(config, store, issue_id, second.entry.id, target, EDITOR)
    review.edit_bullet(config, store, issue_id, 0, "编辑写的第一条要点", EDITOR)
    review.edit_bullet(config, store, issue_id, 1, None, EDITOR)
    rejected = [c for c in review.candidates(store, issue) if not c.verdict.relevant]
    assert rejected and all(c.verdict.reasons for c in rejected), "the filter says why"
    added = review.add_story(config, store, issue_id, rejected[0].entry.link, EDITOR)
    with pytest.raises(review.ReviewError, match="already in the draft"):
        review.add_story(config, store, issue_id, rejected[0].entry.link, EDITOR)
    with pytest.raises(review.ReviewError, match="no story"):
        review.drop_story(config, store, issue_id, dropped.entry.id, EDITOR)

    everything = store.review_changes(issue_id)
    # Its headline's 本周要点 bullet went with the dropped story.
    auto = [c for c in everything if c.target == "with its story"]
    assert [c.before for c in auto] == [
        b for b in issue.intro if b == short_headline(dropped.entry.title)
    ]
    log = [c for c in everything if c not in auto]
    assert [c.action for c in log] == [
        "drop", "edit digest", "move", "move", "edit bullet", "drop bullet", "add",
    ]
    assert log[1].before == edited.summary.text and log[1].after.startswith("编辑改写")
    assert all(c.editor == EDITOR for c in log)

    approved = review.approve(config, store, issue_id, EDITOR, now=True)
    assert approved.status == "approved"
    with pytest.raises(review.ReviewError, match="no longer be changed"):
        review.drop_story(config, store, issue_id, added.entry.id, EDITOR)
    smtp_server.reset()
    done = review.run_due(config, store)
    assert [(d.issue_id, d.action) for d in done] == [(issue_id, "sent")]
    assert done[0].report is not None and done[0].report.sent == 2
    assert review.run_due(config, store) == [], "sent once"
    for reader in READERS:
        (got,) = smtp_server.received_by(reader)
        html = html_of(got.message())
        assert "编辑改写的摘要" in html and "编辑改写</span>" in html
        assert dropped.entry.title not in html and added.entry.title in html
        intro = html.split("本周要点", 1)[1].split("</ul>", 1)[0]
        assert "编辑写的第一条要点" in intro and log[5].before not in intro
        assert intro.count("<li") == len(issue.intro) - 1 - len(auto)
    assert [i.id for i in store.public_issues()] == [issue_id]
    assert store.get_review(issue_id).status == "sent"  # type: ignore[union-attr]
    # Rebuilt in place (same moment): an issue that is out stays out, nobody is told again.
    smtp_server.reset()
    assert not build_issue(config, store).draft
    assert smtp_server.messages == []
    assert store.get_review(issue_id).status == "sent"  # type: ignore[union-attr]
    assert [i.id for i in store.public_issues()] == [issue_id]

    labels = [json.loads(line) for line in review.export_labels(store)]
    assert [(r["title"], r["relevant"], r["hard"]) for r in labels] == [
        (dropped.entry.title, False, True),
        (added.entry.title, True, True),
    ]
    policy_keys = {"id", "title", "summary", "content", "link", "source", "published", "lang",
                   "relevant", "hard", "why"}
    assert all(set(r) == policy_keys for r in labels)
    assert labels[0]["why"] == "只是一次发布会" and labels[0]["lang"] in ("zh-Hans", "zh-Hant")
    # A dropped story stays this issue's: next week's build does not bring it back.
    later = build_issue(config, store, now=datetime(2026, 12, 3, tzinfo=UTC), force=True)
    assert later.issue is None or dropped.entry.id not in {i.entry.id for i in later.issue.items}
    store.close()


def test_deadline_hold_tells_the_editor_and_waits(
    tmp_path: Path, polled: Path, smtp_server: SMTPServer
) -> None:
    config, store, _ = setup(tmp_path, polled, smtp_server, deadline="Mon 07:30")
    built = build_issue(config, store)
    assert built.issue is not None
    draft = store.get_review(built.issue.id)
    assert draft is not None and draft.deadline is not None
    local = draft.deadline.astimezone(config.tz)
    assert (local.weekday(), local.hour, local.minute) == (0, 7, 30)
    assert review.run_due(config, store, draft.deadline - timedelta(minutes=1)) == []
    smtp_server.wait_for(2)
    smtp_server.reset()
    done = review.run_due(config, store, draft.deadline + timedelta(seconds=1))
    assert [d.action for d in done] == ["held"]
    assert smtp_server.wait_for(1)
    (notice,) = smtp_server.messages
    assert notice.rcpt_tos == (EDITOR,) and "到期未批准" in str(notice.message()["Subject"])
    assert store.get_review(built.issue.id).status == "held"  # type: ignore[union-attr]
    assert review.run_due(config, store, draft.deadline + timedelta(days=1)) == []
    # Approving a held issue sends it at once (its deadline is gone).
    smtp_server.reset()
    approved = review.approve(config, store, built.issue.id, EDITOR)
    assert approved.send_at is not None and approved.send_at <= datetime.now(UTC)
    assert [d.action for d in review.run_due(config, store)] == ["sent"]
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == sorted(READERS)
    store.close()


def test_deadline_send_and_approval_for_the_deadline(
    tmp_path: Path, polled: Path, smtp_server: SMTPServer
) -> None:
    config, store, _ = setup(
        tmp_path, polled, smtp_server, deadline="Mon 07:30", on_deadline="send"
    )
    built = build_issue(config, store)
    assert built.issue is not None
    draft = store.get_review(built.issue.id)
    assert draft is not None and draft.deadline is not None
    smtp_server.wait_for(2)
    smtp_server.reset()
    done = review.run_due(config, store, draft.deadline + timedelta(seconds=1))
    assert [d.action for d in done] == ["sent-at-deadline"]
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == sorted(READERS)
    assert [c.action for c in store.review_changes(built.issue.id)] == ["send"]

    # Approved for the deadline: nothing goes before it, everything at it.
    again = build_issue(config, store, now=datetime(2026, 12, 3, tzinfo=UTC), force=True)
    assert again.issue is not None
    later = review.approve(config, store, again.issue.id, EDITOR)
    assert later.send_at == store.get_review(again.issue.id).deadline  # type: ignore[union-attr]
    smtp_server.reset()
    assert review.run_due(config, store, datetime.now(UTC)) == []
    assert later.send_at is not None
    assert review.run_due(config, store, later.send_at)[0].action == "sent"
    store.close()


def test_review_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="review.editors"):
        parse_config(json.dumps({"review": {"required": True}}), base_dir=tmp_path)
    with pytest.raises(ConfigError, match="review.deadline.*Monday 7"):
        parse_config(json.dumps({"review": {"deadline": "Monday 7"}}), base_dir=tmp_path)
    with pytest.raises(ConfigError, match="not an email address"):
        parse_config(json.dumps({"review": {"editors": ["nobody"]}}), base_dir=tmp_path)
    with pytest.raises(ConfigError, match="on_deadline"):
        parse_config(json.dumps({"review": {"on_deadline": "later"}}), base_dir=tmp_path)


def test_review_cli(
    tmp_path: Path, polled: Path, smtp_server: SMTPServer, restore_logging: None
) -> None:
    config, store, path = setup(tmp_path, polled, smtp_server)
    built = build_issue(config, store)
    assert built.issue is not None
    issue_id = built.issue.id
    victim = built.issue.sections[-1][1][-1]
    store.close()
    runner = CliRunner()
    listed = runner.invoke(app, ["review", "list", "-c", str(path)])
    assert listed.exit_code == 0 and issue_id in listed.output and "draft" in listed.output
    refused = runner.invoke(app, ["send", "-c", str(path)])
    assert refused.exit_code != 0 and "editor's desk" in refused.output
    dropped = runner.invoke(
        app, ["review", "drop", issue_id, victim.entry.id[:10], "--why", "跑题", "-c", str(path)]
    )
    assert dropped.exit_code == 0, dropped.output
    shown = runner.invoke(app, ["review", "show", issue_id, "-c", str(path)])
    assert shown.exit_code == 0 and victim.entry.title not in shown.output.split("changes")[0]
    assert "drop" in shown.output.split("changes")[1]
    smtp_server.wait_for(2)
    smtp_server.reset()
    sent = runner.invoke(app, ["review", "approve", issue_id, "--now", "-c", str(path)])
    assert sent.exit_code == 0, sent.output
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == sorted(READERS)
    labels = runner.invoke(app, ["review", "labels", "-c", str(path)])
    (record,) = [json.loads(line) for line in labels.output.splitlines()]
    assert record["relevant"] is False and record["why"] == "跑题"
    unknown = runner.invoke(app, ["review", "approve", "nope", "-c", str(path)])
    assert unknown.exit_code == 1 and "no draft" in unknown.output


def test_review_store_on_both_engines(db_url: str) -> None:
    """The desk's storage on SQLite and PostgreSQL: one-use links, compare-and-set status,
    the change log, labels, dropped entries kept by their issue."""
    from newsletter.models import Entry, Verdict

    store = Store.open(db_url)
    try:
        when = datetime(2026, 11, 26, tzinfo=UTC)
        entry = Entry("e1", "https://feed.example/a.xml", "视频号小店上线新工具", "https://a.example/1",
                      "视频号小店上线直播带货新工具。", when)
        store.add_entries([(entry, Verdict(True, 3.0, ("视频号",)))])
        from newsletter.models import Issue as IssueModel

        issue = IssueModel("i1", "第 1 期", when, when - timedelta(days=7), when, ())
        review_row = store.open_review(issue, when + timedelta(days=4))
        assert review_row.status == "draft" and review_row.deadline == when + timedelta(days=4)
        store.save_issue(issue, "")
        assert store.unpublished_issue_ids() == {"i1"} and store.public_issues() == []
        assert store.set_review_status("i1", "approved", expect=("draft",), approved_by="x@y.z")
        assert not store.set_review_status("i1", "sent", expect=("draft",)), "compare-and-set"
        assert store.set_review_status("i1", "sent", expect=("approved",))
        assert [i.id for i in store.public_issues()] == ["i1"]

        store.add_desk_link("nonce-1", "x@y.z")
        assert not store.use_desk_link("nonce-1", "other@y.z"), "bound to its address"
        assert store.use_desk_link("nonce-1", "x@y.z")
        assert not store.use_desk_link("nonce-1", "x@y.z"), "one use"

        store.record_change("i1", "x@y.z", "drop", target="e1", before="标题", after="理由")
        (change,) = store.review_changes("i1")
        assert (change.editor, change.action, change.before, change.after) == (
            "x@y.z", "drop", "标题", "理由",
        )
        store.keep_dropped("i1", ["e1"])
        store.save_issue(issue, "")  # a re-save keeps the dropped entry this issue's
        assert store.taken_elsewhere("i2", ["e1"]) == {"e1"}
        store.label_entry("e1", "i1", relevant=False, editor="x@y.z", why="跑题",
                          filter_relevant=True)
        store.label_entry("e1", "i1", relevant=False, editor="x@y.z", why="不相关",
                          filter_relevant=True)
        ((label, found),) = store.labels()
        assert label.why == "不相关" and found is not None and found[0].title == entry.title
    finally:
        store.close()
