"""``newsletter feeds`` reads the feeds table with sqlite3 alone, and says what the store says."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import newsletter.store as store_package
from newsletter.config import Config
from newsletter.flows.poll import poll
from newsletter.models import Feed
from newsletter.store import SCHEMA_VERSION, Store, glance_feed_health
from newsletter.store._schema import MIGRATIONS
from tests.servers import FeedServer, loopback_fetch
from tests.test_poll_steady import item, rss


def config_for(db: str, tmp_path: Path, feeds: list[dict[str, object]]) -> Config:
    return Config.model_validate(
        {"database": db, "output_dir": str(tmp_path), "feeds": feeds, "fetch": loopback_fetch()}
    )


def test_the_glance_reads_what_the_store_reads_after_a_real_poll(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    ok = feed_server.add("/ok.xml", rss(item(1), item(2)))
    missing = feed_server.add("/gone.xml", "not here", status=404)
    moved = feed_server.add("/old.xml", "", status=301, headers={"Location": ok})
    db = f"sqlite:///{tmp_path / 'news.db'}"
    named = {"url": ok, "name": "视频号观察", "weight": 2.0}
    config = config_for(db, tmp_path, [named, {"url": missing}, {"url": moved}])
    store = Store.open(db)
    try:
        poll(config, store)
        poll(config, store)  # a second failure: a backoff, a next try
        store.add_feed(Feed(url="https://cli.example/rss", name="from the command line"))
        expected = store.feed_health()
    finally:
        store.close()
    assert {h.last_status for h in expected} >= {"not_modified", "error"}, expected
    assert any(h.next_poll_at for h in expected) and any(h.current_url for h in expected)
    assert glance_feed_health(db, config.feed_list) == expected


def test_the_glance_gives_way_whenever_only_the_store_can_answer(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    db = f"sqlite:///{path}"
    feeds = [Feed(url="https://a.example/rss", name="A", weight=1.0)]
    assert glance_feed_health(db, feeds) is None  # no file yet: the store creates it
    store = Store.open(db)
    store.sync_feeds(feeds)
    store.close()
    assert glance_feed_health(db, feeds) is not None
    assert glance_feed_health(db, [*feeds, Feed(url="https://b.example/rss")]) is None  # new
    assert glance_feed_health(db, [Feed(url="https://a.example/rss", name="B")]) is None
    assert glance_feed_health(db, [Feed(url="https://a.example/rss", weight=2.0)]) is None
    for other in ("postgresql://u@localhost/news", "sqlite://", "sqlite:///:memory:"):
        assert glance_feed_health(other, feeds) is None
    with sqlite3.connect(path) as conn:  # an older schema: the store migrates it
        conn.execute(f"UPDATE meta SET value = '{SCHEMA_VERSION - 1}' WHERE key = 'schema_version'")
    assert glance_feed_health(db, feeds) is None
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 100)
    assert glance_feed_health(f"sqlite:///{garbage}", feeds) is None


def test_the_schema_version_counts_the_migrations() -> None:
    assert len(MIGRATIONS) == SCHEMA_VERSION


def test_every_public_name_of_the_store_resolves() -> None:
    """The package imports its names on first use; each one must be where it says."""
    assert set(store_package.__all__) == set(store_package._HOME)
    for name in store_package.__all__:
        assert getattr(store_package, name) is not None, name


def test_the_feeds_table_of_a_current_store_is_read_without_sqlalchemy(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "database: sqlite:///n.db\nfeeds:\n  - https://a.example/rss.xml\n", encoding="utf-8"
    )
    command = [sys.executable, "-X", "importtime", "-m", "newsletter", "feeds"]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "sqlalchemy" in first.stderr  # the first run creates the schema and the row
    assert "sqlalchemy" not in again.stderr
    assert again.stdout == first.stdout and "a.example/rss.xml" in again.stdout
