"""Issue 16: nothing lost, nothing doubled, nothing stuck.

Each case runs through the real parts: feeds served over loopback HTTP, a real SQLite file
(and PostgreSQL where the engine matters), the CLI and the daemon as real processes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Config
from newsletter.flows.build import build_issue
from newsletter.flows.poll import poll
from newsletter.parse import MAX_ENTRIES_PER_FEED
from newsletter.store import Store
from tests.servers import FeedServer, alive, child_pids, loopback_fetch

REPO = Path(__file__).resolve().parents[1]

# Reports written for these tests (not copied from anywhere): relevant to the lexicon.
STORIES = [
    ("视频号直播带货迎来年终大促", "多家品牌在视频号直播间推出年终促销，微信小店订单量明显上升。"),
    ("微信小店开放新的达人分佣规则", "微信小店调整达人带货分佣，视频号主播可以按成交额结算。"),
    ("直播电商平台加强主播资质审核", "直播电商平台要求带货主播补充资质材料，违规直播间将被限流。"),
    ("视频号推出商家成长扶持计划", "视频号为新入驻商家提供流量扶持和直播带货培训。"),
    ("抖音与快手直播电商GMV对比", "第三方报告比较了抖音、快手和视频号的直播电商成交规模。"),
    ("视频号小店上线售后极速退款", "视频号小店为信用良好的买家开通极速退款，提升直播购物体验。"),
]


def rss(title: str, items: list[dict[str, Any]]) -> str:
    """An RSS 2.0 document; each item has title, text, link and optional guid / date."""
    parts = []
    for item in items:
        guid = f"<guid>{item['guid']}</guid>" if "guid" in item else ""
        date = item.get("date")
        pub = f"<pubDate>{format_datetime(date)}</pubDate>" if date else ""
        parts.append(
            f"<item>{guid}<title>{item['title']}</title><link>{item['link']}</link>"
            f"<description>{item['text']}</description>{pub}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://news.example.com/</link>{''.join(parts)}"
        "</channel></rss>"
    )


def make_config(tmp_path: Path, urls: list[str], database: str | None = None) -> Config:
    return Config.model_validate(
        {
            "database": database or f"sqlite:///{tmp_path / 'news.db'}",
            "output_dir": str(tmp_path / "out"),
            "timezone": "UTC",
            "feeds": [{"url": u} for u in urls],
            "fetch": loopback_fetch(timeout=3),
            "issue": {"min_items": 1},
        }
    )


def recent(hours: float) -> datetime:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0)


# -- fetch: a specific reason --------------------------------------------------------------


def test_a_reset_mid_body_says_what_happened_and_how_far_it_got(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: ``ReadError`` (or ``RemoteProtocolError: peer closed connection...``)."""
    reset = feed_server.add_fault("/reset.xml", "reset", size=100_000, after=6_500)
    closed = feed_server.add_fault("/closed.xml", "reset", size=100_000, after=6_500, close=True)
    config = make_config(tmp_path, [reset, closed, "http://127.0.0.1:1/refused.xml"])
    store = Store.open(config.database)
    try:
        report = poll(config, store)
        errors = {o.url: o.error for o in report.outcomes}
        health = {h.url: h.last_error for h in store.feed_health()}
    finally:
        store.close()
    assert errors[reset] == "connection reset while reading the body, after 6.3 KB of 97.7 KB"
    assert errors[closed] == (
        "connection closed by the server while reading the body, after 6.3 KB of 97.7 KB"
    )
    assert errors["http://127.0.0.1:1/refused.xml"] == "could not connect: connection refused"
    assert health[reset] == errors[reset]


# -- parse: what a feed says about itself ----------------------------------------------------


def test_control_characters_never_reach_the_store_or_the_issue(
    feed_server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    """Before: ``\\x01`` and NUL were stored (PostgreSQL refused the whole feed) and rendered."""
    title, text = STORIES[0]
    dirty = [
        {
            "title": f"{title}\x01\x1b[31m&#1;",
            "text": f"{text}\x00\x7f\u0085 <b>\x02</b>",
            "link": "http://news.example.com/a/1\x03",
            "guid": "id-1\x00",
            "date": recent(2),
        }
    ]
    url = feed_server.add("/dirty.xml", rss("控制\x1f字符\u009b", dirty).encode())
    config = make_config(tmp_path, [url], database=db_url)
    store = Store.open(config.database)
    try:
        report = poll(config, store)
        assert report.outcomes[0].status == "ok", report.outcomes[0]
        assert report.new_entries == 1
        built = build_issue(config, store)
        assert built.issue is not None and built.html_path is not None
        (entry, _), = store.entries_between(recent(24), datetime.now(UTC))
    finally:
        store.close()
    controls = {chr(c) for c in [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]}
    stored = entry.title + entry.text + entry.link + entry.source_name
    assert not controls & set(stored), repr(stored)
    assert entry.title == f"{title}[31m" and entry.link == "http://news.example.com/a/1"
    page = built.html_path.read_text(encoding="utf-8")
    assert title in page and not controls & set(page) - {"\r"}


def test_a_truncated_feed_says_so_and_keeps_the_newest_entries(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: a feed over the entry cap kept its first 500 (document order), reported ``ok``."""
    total = MAX_ENTRIES_PER_FEED + 120
    start = recent(24 * 30)
    # Oldest first, as append-only feeds list them: the newest are at the end.
    items = [
        {
            "title": f"第{i}条 视频号直播带货日报",
            "text": "视频号直播电商当日要闻。",
            "link": f"http://news.example.com/daily/{i}",
            "date": start + timedelta(minutes=i),
        }
        for i in range(total)
    ]
    url = feed_server.add("/long.xml", rss("日报", items))
    config = make_config(tmp_path, [url])
    store = Store.open(config.database)
    try:
        outcome, = poll(config, store).outcomes
        links = {e.link for e, _ in store.entries_between(start - timedelta(1), datetime.now(UTC))}
    finally:
        store.close()
    assert outcome.status == "ok" and outcome.new_entries == MAX_ENTRIES_PER_FEED
    assert any(
        w.startswith(f"truncated: the feed lists {total} entries; read the newest 500")
        for w in outcome.warnings
    ), outcome.warnings
    assert f"http://news.example.com/daily/{total - 1}" in links
    assert "http://news.example.com/daily/0" not in links


def test_impossible_dates_count_from_first_seen_and_are_kept_and_reported(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: an entry dated 2099 was stored and never shown; one dated 1970 was too old."""
    future = datetime(2099, 1, 1, tzinfo=UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    items = [
        {"title": STORIES[0][0], "text": STORIES[0][1], "link": "http://n.example.com/1",
         "date": future},
        {"title": STORIES[1][0], "text": STORIES[1][1], "link": "http://n.example.com/2",
         "date": epoch},
        {"title": STORIES[2][0], "text": STORIES[2][1], "link": "http://n.example.com/3",
         "date": recent(3)},
    ]
    url = feed_server.add("/dates.xml", rss("时间错乱", items))
    config = make_config(tmp_path, [url])
    store = Store.open(config.database)
    before = datetime.now(UTC).replace(microsecond=0)
    try:
        outcome, = poll(config, store).outcomes
        built = build_issue(config, store)
    finally:
        store.close()
    assert any("2 entries carry impossible dates (1 in the future, 1 before 1995)" in w
               for w in outcome.warnings), outcome.warnings
    assert built.issue is not None
    shown = {i.entry.link: i.entry for i in built.issue.items}
    assert set(shown) == {"http://n.example.com/1", "http://n.example.com/2",
                          "http://n.example.com/3"}
    for link in ("http://n.example.com/1", "http://n.example.com/2"):
        assert before - timedelta(seconds=1) <= shown[link].published <= datetime.now(UTC)


def test_a_guid_shared_by_different_items_falls_back_to_their_links(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: six stories sharing one guid were stored as one (the first), silently."""
    items = [
        {"title": t, "text": x, "link": f"http://cms.example.com/p?id={i}", "guid": "post",
         "date": recent(i + 1)}
        for i, (t, x) in enumerate(STORIES)
    ]
    url = feed_server.add("/cms.xml", rss("某内容系统", items))
    config = make_config(tmp_path, [url])
    store = Store.open(config.database)
    try:
        outcome, = poll(config, store).outcomes
        again, = poll(config, store, force=True).outcomes
    finally:
        store.close()
    assert outcome.new_entries == len(STORIES)
    assert any("guid 'post' is shared by 6 different items" in w for w in outcome.warnings)
    assert again.new_entries == 0


def test_see_also_never_repeats_the_storys_own_feed_or_link(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: a story the feed listed twice showed its own feed and link under 另见."""
    title, text = STORIES[3]
    own = [
        {"title": title, "text": text, "link": "http://a.example.com/s/1", "guid": "a1",
         "date": recent(5)},
        # The same report again under a reposted URL, as CMSs do after an edit.
        {"title": title, "text": text, "link": "http://a.example.com/s/1-repost",
         "guid": "a1-repost", "date": recent(4)},
    ]
    other = [{"title": title + "（转载）", "text": text, "link": "http://b.example.com/x/9",
              "guid": "b9", "date": recent(3)}]
    urls = [
        feed_server.add("/a.xml", rss("甲媒体", own)),
        feed_server.add("/b.xml", rss("乙媒体", other)),
    ]
    config = make_config(tmp_path, urls)
    store = Store.open(config.database)
    try:
        poll(config, store)
        built = build_issue(config, store)
    finally:
        store.close()
    assert built.issue is not None
    item, = built.issue.items
    assert [e.feed_url for e in item.also] == [
        u for u in urls if u != item.entry.feed_url
    ], item.also


# -- processes: the daemon and its children ------------------------------------------------


def _daemon(config_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter", "daemon", "-c", str(config_path),
         "--log-format", "json"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def _write_config(tmp_path: Path, urls: list[str], **extra: Any) -> Path:
    config = {
        "database": f"sqlite:///{tmp_path / 'news.db'}",
        "output_dir": str(tmp_path / "out"),
        "timezone": "UTC",
        "feeds": [{"url": u} for u in urls],
        "fetch": loopback_fetch(timeout=3),
        "schedule": {"issue": "0 8 1 1 *", "poll_interval_seconds": 0.5},
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


@pytest.mark.parametrize("change", ["removed", "replaced"])
def test_the_daemon_stops_when_its_database_file_is_removed_or_replaced(
    feed_server: FeedServer, tmp_path: Path, change: str
) -> None:
    """Before: a fresh empty database was created and every old story polled as new."""
    url = feed_server.add("/f.xml", rss("源", [
        {"title": STORIES[0][0], "text": STORIES[0][1], "link": "http://n.example.com/1",
         "date": recent(1)}]))
    config = _write_config(tmp_path, [url])
    db = tmp_path / "news.db"
    proc = _daemon(config)
    try:
        _wait(lambda: feed_server.count("/f.xml") >= 2, 90, "two polls")
        if change == "removed":
            db.unlink()
        else:
            # A restore from backup: another file renamed over the path.
            copy = tmp_path / "restored.db"
            with sqlite3.connect(copy) as conn:
                conn.execute("create table t (x)")
            conn.close()
            os.replace(copy, db)
        code = proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stderr is not None
        log = proc.stderr.read()
    assert code == 1, log
    assert f"database file {db} was {change}" in log, log
    if change == "removed":
        assert not db.exists()  # never recreated empty


def test_daemon_workers_stop_when_the_daemon_is_killed(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: after ``kill -9`` of the daemon its worker processes polled on, unowned."""
    url = feed_server.add("/f.xml", rss("源", [
        {"title": STORIES[0][0], "text": STORIES[0][1], "link": "http://n.example.com/1",
         "date": recent(1)}]))
    config = _write_config(tmp_path, [url], workers=2)
    proc = _daemon(config)
    try:
        _wait(lambda: len(child_pids(proc.pid)) >= 2 and feed_server.count("/f.xml") >= 1, 90,
              "workers polling")
        kids = child_pids(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        _wait(lambda: not any(alive(k) for k in kids), 15, "workers gone")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_items_that_all_link_to_one_page_are_all_kept(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Identity on (feed, link) also needs the title: some feeds link every item home."""
    same_page = [
        {"title": t, "text": x, "link": "http://news.example.com/", "guid": f"g{i}",
         "date": recent(i + 1)}
        for i, (t, x) in enumerate(STORIES)
    ]
    url = feed_server.add("/home.xml", rss("只链到首页", same_page))
    config = make_config(tmp_path, [url])
    store = Store.open(config.database)
    try:
        outcome, = poll(config, store).outcomes
    finally:
        store.close()
    assert outcome.new_entries == len(STORIES)
