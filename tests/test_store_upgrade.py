"""A database and archived issues written by an older version open and read under this one."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, text

from newsletter.models import Entry, Feed, Verdict
from newsletter.store import SCHEMA_VERSION, Store
from newsletter.store._schema import MIGRATIONS, _entry_html_dropped
from tests.smtp import sample_issue


def test_a_database_from_before_v12_drops_entry_html_and_keeps_entries_and_issues(
    db_url: str,
) -> None:
    when = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    claimed = datetime(2031, 1, 1, tzinfo=UTC)
    entry = Entry(
        id="e1", feed_url="https://a.example/rss", title="视频号直播", link="https://x/1",
        text="微信视频号直播带货", published=when, claimed_published=claimed,
    )  # fmt: skip
    store = Store.open(db_url)
    store.sync_feeds([Feed(url="https://a.example/rss")])
    store.add_entries([(entry, Verdict(True, 2.5, ("视频号",)))])
    store.save_issue(sample_issue(2), "/tmp/x")
    before = MIGRATIONS.index(_entry_html_dropped)
    with store.engine.begin() as conn:  # as version 11 left it: markup in rows and issues
        conn.execute(text("ALTER TABLE entries ADD COLUMN html TEXT NOT NULL DEFAULT ''"))
        conn.execute(text("UPDATE entries SET html = '<p>微信视频号直播带货</p>'"))
        data = json.loads(conn.execute(text("SELECT data FROM issues")).scalar_one())
        for item in data["items"]:
            item["entry"]["html"] = "<p>旧版本写的</p>"
        conn.execute(text("UPDATE issues SET data = :d"), {"d": json.dumps(data)})
        conn.execute(text(f"UPDATE meta SET value = '{before}' WHERE key = 'schema_version'"))
    store.close()

    store = Store.open(db_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION > before
        assert "html" not in {c["name"] for c in inspect(store.engine).get_columns("entries")}
        (got, verdict), = store.entries_between(when - timedelta(days=1), when)  # fmt: skip
        assert got == entry and verdict.relevant
        issue = store.load_issue("2024-05-06")
        assert issue is not None and [i.entry for i in issue.items] == [
            i.entry for i in sample_issue(2).items
        ]
        later = Entry(
            id="e2", feed_url="https://a.example/rss", title="视频号小店", link="https://x/2",
            text="视频号小店开放", published=when,
        )  # fmt: skip
        assert store.add_entries([(later, Verdict(True, 2.0, ("视频号",)))]) == ["e2"]
    finally:
        store.close()


def test_an_archived_issue_keeps_its_entries_claimed_dates(db_url: str) -> None:
    """The archive's JSON holds dates as text: reading an issue back gives datetimes again."""
    built = sample_issue(1)
    (item,) = built.items
    claimed = datetime(2031, 1, 1, tzinfo=UTC)
    dated = replace(item, entry=replace(item.entry, claimed_published=claimed))
    store = Store.open(db_url)
    try:
        store.save_issue(replace(built, items=(dated,)), "/tmp/x")
        issue = store.load_issue(built.id)
        assert issue is not None and issue.items[0].entry.claimed_published == claimed
    finally:
        store.close()
