"""Building an issue reads the week's entries, not the store's history (issue 7).

The database work of a build is counted with a SQLite progress handler (called as the
virtual machine steps through rows) on every connection the store checks out, so the test
measures work, not time:
a store with a year of history must cost the build about what a store holding only the
week costs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect

from newsletter.config import Config
from newsletter.flows.build import build_issue
from newsletter.models import Entry, Feed, Verdict
from newsletter.store import SCHEMA_VERSION, Store

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
FEEDS = [Feed(url=f"https://f{i}.example.com/feed.xml", name=f"来源{i}") for i in range(5)]
BRANDS = ("微信小店", "视频号", "抖音商城", "快手电商", "淘宝直播", "小红书")


def entry(feed: int, n: int, published: datetime) -> Entry:
    brand = BRANDS[n % len(BRANDS)]
    return Entry(
        id=f"f{feed}-{n}",
        feed_url=FEEDS[feed].url,
        title=f"{brand}第{n}号商家直播带货 GMV 增长 {n % 97} 倍",
        link=f"https://f{feed}.example.com/{n}",
        text=f"{brand}直播电商第{n}号店铺本周开播{n % 13}场，成交额{n * 7 % 1000}万元。" * 3,
        published=published,
        source_name=FEEDS[feed].name,
    )


def week(store: Store) -> list[str]:
    """Twelve relevant entries inside the issue's window, spread over the feeds."""
    items = [
        (entry(i % 5, i, NOW - timedelta(hours=6 * i + 1)), Verdict(True, 5.0)) for i in range(12)
    ]
    return store.add_entries(items)


def history(store: Store, n: int) -> None:
    """``n`` older entries, one in two relevant, one every ~2 hours back from the window."""
    start = NOW - timedelta(days=8)
    items = [
        (entry(i % 5, 1000 + i, start - timedelta(hours=2 * i)), Verdict(i % 2 == 0, 4.0))
        for i in range(n)
    ]
    store.add_entries(items)


def build_work(tmp: Path, name: str, old: int) -> tuple[int, list[str], list[str]]:
    """(progress-handler calls during a build, ids in the issue, ids of the week)."""
    folder = tmp / name
    config = Config.model_validate(
        {
            "database": f"sqlite:///{folder}/news.db",
            "output_dir": str(folder / "out"),
            "issue": {"as_of": NOW.isoformat()},
        }
    )
    store = Store.open(config.database)
    store.sync_feeds(FEEDS, origin="opml")
    ids = week(store)
    history(store, old)
    ticks = [0]

    def tick() -> int:
        ticks[0] += 1
        return 0  # go on

    def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.set_progress_handler(tick, 1)

    store.engine.dispose()  # pooled connections from the fill would escape the count
    event.listen(store.engine, "checkout", checkout)
    report = build_issue(config, store)
    store.close()
    assert report.issue is not None, report.reason
    shown = [e.id for i in report.issue.items for e in (i.entry, *i.also)]
    return ticks[0], shown, ids


def test_build_reads_the_window_not_the_history(tmp_path: Path) -> None:
    alone, shown_alone, week_ids = build_work(tmp_path, "week", 0)
    full, shown_full, _ = build_work(tmp_path, "year", 4000)
    # The same issue, and nothing from before the window.
    assert sorted(shown_full) == sorted(shown_alone) and set(shown_full) <= set(week_ids)
    assert shown_full
    # Reading the 2000 older relevant rows (an index on ``relevant`` alone, unbounded by
    # the window) costs about 10,000 calls more than the week's build (about 800).
    assert full <= alone * 1.5 + 100, (full, alone)


def test_opening_an_older_database_replaces_the_relevant_index(db_url: str) -> None:
    store = Store.open(db_url)
    with store.engine.begin() as conn:  # the entries indexes of schema version 4
        conn.exec_driver_sql("DROP INDEX ix_entries_relevant_published")
        conn.exec_driver_sql("CREATE INDEX ix_entries_relevant ON entries (relevant)")
        conn.exec_driver_sql("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    store.close()
    again = Store.open(db_url)
    names = {i["name"] for i in inspect(again.engine).get_indexes("entries")}
    assert again.schema_version() == SCHEMA_VERSION
    again.close()
    assert "ix_entries_relevant_published" in names and "ix_entries_relevant" not in names
