"""Issue 16, late stories: a feed down during a build, a churning guid, a renamed feed, an
upgraded database. The CLI runs in-process (these are about what the store keeps, not
about processes), so the module stays out of the suite's serial "processes" group.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.servers import FeedServer
from tests.test_faults_integrity import STORIES, recent, rss
from tests.test_faults_storage import cli, entry_count, items, write_config

# -- late stories, identity, names ---------------------------------------------------------


def _build(config: Path, as_of: datetime) -> dict[str, Any]:
    data = json.loads(config.read_text(encoding="utf-8"))
    data["issue"]["as_of"] = as_of.isoformat()
    config.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    done = cli("build", "-c", str(config))
    assert done.exit_code in (0, 1), done.output
    return {"code": done.exit_code, "out": done.output}


def issue_links(db: Path) -> dict[str, set[str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select id, data from issues").fetchall()
    return {
        issue_id: {item["entry"]["link"] for item in json.loads(data)["items"]}
        for issue_id, data in rows
    }


def test_a_story_first_seen_after_a_build_goes_into_the_next_issue_once(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: a feed down during the build recovered later; its stories reached no issue."""
    steady = feed_server.add("/steady.xml", rss("稳定源", items(STORIES[:2], "steady", 30)))
    late = feed_server.add_fault("/late.xml", "status", code=500)
    config = write_config(tmp_path, [steady, late])
    db = tmp_path / "news.db"
    assert cli("poll", "-c", str(config)).exit_code == 0
    first_build = datetime.now(UTC)
    assert _build(config, first_build)["code"] == 0
    # The feed recovers an hour later; its stories were published before that build.
    feed_server.add("/late.xml", rss("迟到源", items(STORIES[2:5], "late", 20)))
    assert cli("poll", "-c", str(config), "--all").exit_code == 0
    assert _build(config, first_build + timedelta(days=7))["code"] == 0
    # A third issue finds nothing new: nothing is repeated.
    assert _build(config, first_build + timedelta(days=14))["code"] == 1
    issues = issue_links(db)
    assert len(issues) == 2
    first, second = (issues[k] for k in sorted(issues))
    assert first == {f"http://news.example.com/steady/{i}" for i in range(2)}
    assert second == {f"http://news.example.com/late/{i}" for i in range(3)}
    with sqlite3.connect(db) as conn:
        taken = conn.execute("select count(*), count(distinct entry_id) from issue_entries")
        assert taken.fetchone() == (5, 5)


def test_a_guid_that_changes_every_poll_stays_one_story(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: each poll added a row, and 另见 listed the story's own link."""
    title, text = STORIES[0]
    config = write_config(tmp_path, [feed_server.url("/churn.xml")])
    db = tmp_path / "news.db"
    for poll in range(3):
        item = {
            "title": title,
            "text": text,
            "link": "http://news.example.com/s/1",
            "guid": f"session-{poll}-{time.monotonic_ns()}",
            "date": recent(2),
        }
        feed_server.add("/churn.xml", rss("不稳定源", [item]))
        assert cli("poll", "-c", str(config)).exit_code == 0
    assert entry_count(db) == 1


def test_a_renamed_feed_appears_under_its_current_name(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, [feed_server.url("/f.xml")])
    feed_server.add("/f.xml", rss("旧名字", items(STORIES[:2], "f", 5)))
    assert cli("poll", "-c", str(config)).exit_code == 0
    feed_server.add("/f.xml", rss("新名字", items(STORIES[:4], "f", 5)))
    assert cli("poll", "-c", str(config)).exit_code == 0
    assert _build(config, datetime.now(UTC))["code"] == 0
    page = next((tmp_path / "out" / "issues").glob("*/index.html")).read_text(encoding="utf-8")
    assert "新名字" in page and "旧名字" not in page


def test_upgrading_an_older_database_records_what_its_issues_took(
    feed_server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    """Schema v7 on a v6 database: its issues' entries are recorded, so none repeats."""
    from sqlalchemy import inspect

    from newsletter.config import Config
    from newsletter.flows.build import build_issue
    from newsletter.flows.poll import poll
    from newsletter.store import SCHEMA_VERSION, Store

    twice = [(t, x) for t, x in STORIES[:3]]
    urls = [
        feed_server.add("/a.xml", rss("甲", items(twice, "a", 30))),
        # The same stories from a second source: the issue shows them with 另见.
        feed_server.add("/b.xml", rss("乙", items(twice, "b", 29))),
    ]
    data = json.loads(write_config(tmp_path, urls).read_text(encoding="utf-8"))
    config = Config.model_validate({**data, "database": db_url})
    store = Store.open(db_url)
    poll(config, store)
    first_end = datetime.now(UTC)
    built = build_issue(config, store, now=first_end)
    assert built.issue is not None and any(i.also for i in built.issue.items)
    shown = {e.id for i in built.issue.items for e in (i.entry, *i.also)}
    with store.engine.begin() as conn:  # back to schema version 6
        conn.exec_driver_sql("DROP TABLE issue_entries")
        conn.exec_driver_sql("DROP INDEX ix_entries_relevant_fetched")
        conn.exec_driver_sql("ALTER TABLE entries DROP COLUMN claimed_published")
        conn.exec_driver_sql("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    store.close()

    store = Store.open(db_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        columns = {c["name"] for c in inspect(store.engine).get_columns("entries")}
        assert "claimed_published" in columns
        with store.engine.begin() as conn:
            rows = conn.exec_driver_sql("SELECT entry_id, issue_id FROM issue_entries")
            taken = {entry_id: issue_id for entry_id, issue_id in rows}
        assert taken == {entry_id: built.issue.id for entry_id in shown}
        # An issue whose window overlaps the first one's (built for an hour earlier) finds
        # those stories taken: nothing repeats.
        overlap = build_issue(config, store, now=first_end - timedelta(hours=1))
        assert overlap.issue is None, overlap.issue
    finally:
        store.close()
