"""A repoll reads only what changed: unchanged items are skipped before sanitizing and
judging, with the same stored result and the same reports as reading everything again."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import inspect, update

from newsletter.config import Config
from newsletter.fetch import FetchOptions, fetch_all
from newsletter.flows.poll import PollReport, poll
from newsletter.models import Feed, FetchResult, FetchState
from newsletter.store import SCHEMA_VERSION, Store, feeds
from newsletter.store._schema import MIGRATIONS, _entry_fingerprints
from tests.servers import FeedServer, loopback_fetch

NOW = datetime.now(UTC)


def item(n: int, text: str = "", when: datetime | None = None) -> str:
    date = format_datetime(when or NOW - timedelta(hours=n))
    body = text or f"视频号直播带货第{n}场，主播在直播间卖货，商家佣金结算。"
    return (
        f"<item><title>视频号直播电商 {n}</title><link>https://news.example/{n}</link>"
        f"<guid>g-{n}</guid><pubDate>{date}</pubDate>"
        f"<description><![CDATA[<p>{body}</p>]]></description></item>"
    )


def rss(*items: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>频道</title><link>https://news.example/</link>{''.join(items)}</channel></rss>"
    )


def config_for(db_url: str, tmp_path: Path, urls: list[str]) -> Config:
    return Config.model_validate(
        {
            "database": db_url,
            "output_dir": str(tmp_path),
            "feeds": [{"url": u} for u in urls],
            "fetch": loopback_fetch(),
        }
    )


def stored(store: Store) -> list[tuple[str, str, str, bool, float]]:
    with store.engine.begin() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, title, text, relevant, score FROM entries ORDER BY id"
        )
        return [(r[0], r[1], r[2], bool(r[3]), float(r[4])) for r in rows]


def outcomes(report: PollReport) -> list[tuple[str, str, int, int, tuple[str, ...]]]:
    return [(o.url, o.status, o.new_entries, o.relevant_new, o.warnings) for o in report.outcomes]


def test_a_repoll_processes_new_and_edited_items_only_and_stores_the_same(
    feed_server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    # A date a year ahead is impossible: the feed's report counts it on every poll.
    future = item(9, when=NOW + timedelta(days=365))
    old = [item(n) for n in range(1, 6)] + [future]
    # Four feeds, so the parse runs in the process pool as in a real poll.
    urls = [feed_server.add(f"/{k}.xml", rss(*old)) for k in range(4)]
    config = config_for(db_url, tmp_path, urls)
    store = Store.open(db_url)
    first = poll(config, store)
    assert first.count("ok") == 4 and first.new_entries == 24
    assert first.processed == first.listed == 24
    # The heap frozen for the parse workers is thawed: a daemon's old garbage stays collectable.
    assert gc.get_freeze_count() == 0

    edited = item(2, text="视频号直播带货第2场改稿：主播在直播间卖货，新增了退款规则。")
    changed = rss(item(10), item(11), item(1), edited, *old[2:])
    feed_server.add("/0.xml", changed)
    again = poll(config, store)
    (outcome,) = [o for o in again.outcomes if o.status == "ok"]
    assert again.count("not_modified") == 3
    assert outcome.listed == 8
    assert outcome.processed == 3  # the two new items and the edited one
    assert outcome.new_entries == 2
    assert any("impossible dates" in w for w in outcome.warnings)

    # The same poll with nothing known reads every item again: same rows, same outcome.
    with store.engine.begin() as conn:
        conn.execute(update(feeds).values(entry_fingerprints=None))
    feed_server.add("/0.xml", rss(item(12), item(10), item(11), item(1), edited, *old[2:]))
    reread = poll(config, store)
    (full,) = [o for o in reread.outcomes if o.status == "ok"]
    assert full.processed == full.listed == 9
    assert full.new_entries == 1
    skipped_rows = stored(store)
    store.close()

    # Reference: a fresh database that reads everything on each of the same three polls.
    reference_db = tmp_path / "ref.db"
    ref = Store.open(f"sqlite:///{reference_db}")
    ref_config = config_for(f"sqlite:///{reference_db}", tmp_path, urls)
    feed_server.add("/0.xml", rss(*old))
    poll(ref_config, ref)
    reports = []
    for body in (changed, rss(item(12), item(10), item(11), item(1), edited, *old[2:])):
        with ref.engine.begin() as conn:
            conn.execute(update(feeds).values(entry_fingerprints=None))
        feed_server.add("/0.xml", body)
        reports.append(poll(ref_config, ref))
    assert [outcomes(r) for r in reports] == [outcomes(again), outcomes(reread)]
    assert [r[1:] for r in stored(ref)] == [r[1:] for r in skipped_rows]
    ref.close()


def test_a_feed_whose_items_all_changed_is_read_whole(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    url = feed_server.add("/a.xml", rss(item(1), item(2)))
    db = f"sqlite:///{tmp_path}/n.db"
    store = Store.open(db)
    config = config_for(db, tmp_path, [url])
    poll(config, store)
    feed_server.add("/a.xml", rss(item(1, text="全部改写：视频号直播"), item(2, text="也改了")))
    again = poll(config, store)
    assert (again.listed, again.processed, again.new_entries) == (2, 2, 0)
    store.close()


def test_an_older_database_gains_the_fingerprints_and_polls(
    feed_server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    url = feed_server.add("/a.xml", rss(item(1), item(2)))
    store = Store.open(db_url)
    before = MIGRATIONS.index(_entry_fingerprints)
    with store.engine.begin() as conn:  # back to the version before the fingerprints
        conn.exec_driver_sql("ALTER TABLE feeds DROP COLUMN entry_fingerprints")
        conn.exec_driver_sql(f"UPDATE meta SET value = '{before}' WHERE key = 'schema_version'")
    store.close()
    store = Store.open(db_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION > before
        columns = {c["name"] for c in inspect(store.engine).get_columns("feeds")}
        assert "entry_fingerprints" in columns
        config = config_for(db_url, tmp_path, [url])
        assert poll(config, store).new_entries == 2
        feed_server.add("/a.xml", rss(item(3), item(1), item(2)))
        again = poll(config, store)
        assert (again.listed, again.processed, again.new_entries) == (3, 1, 1)
    finally:
        store.close()


def test_downloads_wait_for_a_consumer_that_is_behind(feed_server: FeedServer) -> None:
    urls = [feed_server.add(f"/{n}.xml", rss(item(n))) for n in range(6)]

    async def run() -> tuple[list[FetchResult], list[int]]:
        release = asyncio.get_running_loop().create_future()
        handed: list[str] = []

        def on_result(feed: Feed, result: FetchResult) -> asyncio.Future[None]:
            assert result.body  # the consumer gets the body
            handed.append(feed.url)
            return release  # behind: every body holds its slot until released

        task = asyncio.ensure_future(
            fetch_all(
                [(Feed(u), FetchState()) for u in urls],
                FetchOptions(concurrency=2, allow_private_addresses=True),
                on_result,
            )
        )
        while len(handed) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        held = len(feed_server.requests)
        release.set_result(None)
        results = await task
        return results, [held, len(feed_server.requests)]

    results, (held, total) = asyncio.run(run())
    assert held == 2 and total == 6  # no third download while two bodies waited
    assert [r.status for r in results] == ["ok"] * 6
    assert all(r.body is None for r in results)  # the consumer had them; none kept here
