"""Fault injection through the whole poll: every bad feed ends in bounded time and memory
with a one-line reason, the good feeds beside it are unaffected, and health follows."""

from __future__ import annotations

import sqlite3
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Config
from newsletter.flows.poll import backoff_seconds, poll
from newsletter.models import Feed
from newsletter.parse import parse_feed
from newsletter.store import Store
from tests.servers import LOOPBACK_FETCH_YAML, FaultKind, FeedServer, billion_laughs, loopback_fetch

GOOD = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name}</title>'
    "<item><title>视频号直播带货新规 {name}</title><link>http://example.com/{name}/1</link>"
    "<description>微信小店与视频号直播间的新规则。</description>"
    "<pubDate>Mon, 23 Nov 2026 10:00:00 +0800</pubDate></item></channel></rss>"
)

FAULTS: dict[str, tuple[FaultKind, dict[str, Any], str]] = {
    # path: (kind, options, expected reason prefix; "" = must parse fine)
    "/hang": ("hang", {}, "timed out after 1.5s"),
    "/slow": ("slow", {"interval": 0.05}, "timed out after 1.5s"),
    "/huge": ("huge", {}, "Content-Length 50000000 over the 2000000 byte cap"),
    "/huge-chunked": ("huge", {"content_length": False}, "body over the 2000000 byte cap"),
    "/loop": ("redirect_loop", {}, "more than 5 redirects"),
    "/bomb": ("gzip_bomb", {}, "body over the 2000000 byte cap"),
    "/laughs": ("billion_laughs", {}, ""),
    "/charset": ("wrong_charset", {}, ""),
    "/html": ("html", {}, "not a feed: the server sent a web page (text/html)"),
    "/gone": ("status", {"code": 410}, "HTTP 410 Gone"),
    "/busy": ("status", {"code": 429, "headers": {"Retry-After": "120"}}, "HTTP 429"),
    "/broken": ("status", {"code": 500}, "HTTP 500 Internal Server Error"),
}


def make_config(tmp_path: Path, urls: list[str], **schedule: float) -> Config:
    return Config.model_validate(
        {
            "database": f"sqlite:///{tmp_path / 'news.db'}",
            "output_dir": str(tmp_path / "out"),
            "feeds": [{"url": u} for u in urls],
            "fetch": loopback_fetch(timeout=1.5, max_bytes=2_000_000),
            "schedule": {"backoff_base_seconds": 60, **schedule},
        }
    )


@pytest.fixture
def faulty(feed_server: FeedServer) -> FeedServer:
    for path, (kind, opts, _) in FAULTS.items():
        feed_server.add_fault(path, kind, **opts)
    feed_server.add("/good1.xml", GOOD.format(name="one"))
    feed_server.add("/good2.xml", GOOD.format(name="two"))
    feed_server.add("/new-home.xml", GOOD.format(name="moved"))
    feed_server.add_fault("/moved", "redirect", to="/new-home.xml", status=301)
    return feed_server


def test_every_fault_ends_bounded_with_a_reason_and_good_feeds_are_unaffected(
    faulty: FeedServer, tmp_path: Path
) -> None:
    paths = ["/good1.xml", *FAULTS, "/moved", "/good2.xml"]
    config = make_config(tmp_path, [faulty.url(p) for p in paths])
    store = Store.open(config.database)
    tracemalloc.start()
    started = time.monotonic()
    try:
        report = poll(config, store)
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Everything runs concurrently under one 1.5 s per-feed budget.
    assert elapsed < 6, elapsed
    assert peak < 40_000_000, peak  # 50 MB body, 1 GiB bomb: neither is ever held
    by_path = {o.url.removeprefix(faulty.origin): o for o in report.outcomes}
    assert len(by_path) == len(paths)
    for path in ("/good1.xml", "/good2.xml", "/moved"):
        assert by_path[path].status == "ok" and by_path[path].new_entries == 1, by_path[path]
    for path, (_, _, reason) in FAULTS.items():
        outcome = by_path[path]
        if reason:
            assert outcome.status == "error", (path, outcome)
            assert (outcome.error or "").startswith(reason), (path, outcome.error)
            assert "\n" not in (outcome.error or "") and len(outcome.error or "") <= 300
        else:
            assert outcome.status == "ok", (path, outcome)
    rows = dict(
        sqlite3.connect(tmp_path / "news.db").execute(
            "select feed_url, title from entries where feed_url like '%charset' "
            "or feed_url like '%laughs'"
        )
    )
    # A GB18030 body labelled UTF-8 is read as Chinese, not mojibake.
    titles = ("视频号直播带货GMV同比增长65%", "淘宝直播推出新主播扶持计划")
    assert rows[faulty.url("/charset")] in titles
    # Entities are never expanded: the title stays a short literal.
    assert len(rows[faulty.url("/laughs")]) < 100


def test_billion_laughs_parses_in_bounded_time_and_memory() -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        parsed = parse_feed(billion_laughs(9), Feed("http://x/laughs"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 2
    assert peak < 20_000_000
    assert all(len(e.title) < 100 and len(e.text) < 1000 for e in parsed.entries)


def test_health_backoff_redirect_and_gone_across_polls(faulty: FeedServer, tmp_path: Path) -> None:
    paths = ["/good1.xml", "/gone", "/busy", "/broken", "/moved"]
    config = make_config(tmp_path, [faulty.url(p) for p in paths])
    store = Store.open(config.database)
    before = datetime.now(UTC)
    poll(config, store)
    health = {h.url.removeprefix(faulty.origin): h for h in store.feed_health()}
    assert health["/gone"].disabled
    assert health["/broken"].consecutive_failures == 1
    broken_wait = health["/broken"].next_poll_at - before  # type: ignore[operator]
    assert timedelta(seconds=59) < broken_wait < timedelta(seconds=62)
    busy_wait = health["/busy"].next_poll_at - before  # type: ignore[operator]
    assert timedelta(seconds=119) < busy_wait < timedelta(seconds=122)  # Retry-After wins
    assert health["/moved"].current_url == faulty.url("/new-home.xml")
    assert health["/good1.xml"].next_poll_at is None

    faulty.reset()
    report = poll(config, store)
    status = {o.url.removeprefix(faulty.origin): o for o in report.outcomes}
    assert status["/gone"].status == "skipped" and "disabled" in (status["/gone"].error or "")
    assert status["/broken"].status == "skipped"
    assert (status["/broken"].error or "").startswith("backing off after 1 failures until")
    assert status["/moved"].status == "not_modified"  # fetched at its new home
    assert faulty.count("/moved") == 0 and faulty.count("/new-home.xml") == 1
    assert faulty.count("/gone") == faulty.count("/broken") == faulty.count("/busy") == 0
    assert report.skipped == 3

    # The broken feed recovers on its own once its backoff has passed.
    faulty.add("/broken", GOOD.format(name="back"))
    store.close()
    config = make_config(tmp_path, [faulty.url(p) for p in paths], backoff_base_seconds=0.2)
    store = Store.open(config.database)
    with sqlite3.connect(tmp_path / "news.db") as db:
        db.execute("update feeds set next_poll_at = NULL where url like '%/broken'")
    report = poll(config, store)
    recovered = next(o for o in report.outcomes if o.url.endswith("/broken"))
    assert recovered.status == "ok"
    health = {h.url.removeprefix(faulty.origin): h for h in store.feed_health()}
    assert health["/broken"].consecutive_failures == 0
    assert health["/broken"].next_poll_at is None and health["/broken"].last_success
    store.close()


def test_not_modified_after_a_failure_clears_it(
    feed_server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    """A 304 is a success: it ends a feed's failure streak and backoff like a 200 does."""
    body = GOOD.format(name="steady")
    urls = [feed_server.add(f"/steady{i}.xml", body) for i in range(3)]
    config = make_config(tmp_path, urls).model_copy(update={"database": db_url})
    store = Store.open(config.database)
    poll(config, store)
    feed_server.add_fault("/steady1.xml", "status", code=500)
    poll(config, store)
    failing = {h.url: h for h in store.feed_health()}[urls[1]]
    assert failing.consecutive_failures == 1 and failing.next_poll_at is not None

    feed_server.add("/steady1.xml", body)  # same body, same ETag: the server answers 304
    report = poll(config, store, force=True)
    assert [o.status for o in report.outcomes] == ["not_modified"] * 3
    health = {h.url: h for h in store.feed_health()}
    for url in urls:
        assert health[url].last_status == "not_modified"
        assert health[url].consecutive_failures == 0 and health[url].next_poll_at is None
        assert health[url].last_error is None
    recovered, before = health[urls[1]].last_success, failing.last_success
    assert recovered is not None and before is not None and recovered > before
    store.close()


def test_backoff_doubles_and_is_capped() -> None:
    waits = [backoff_seconds(n, None, 300, 3600) for n in range(1, 7)]
    assert waits == [300, 600, 1200, 2400, 3600, 3600]
    assert backoff_seconds(1, 900, 300, 3600) == 900
    assert backoff_seconds(1, 10**9, 300, 3600) == 3600
    assert backoff_seconds(10_000, None, 300, 3600) == 3600


def test_feeds_list_shows_health_and_enable_clears_it(
    faulty: FeedServer, tmp_path: Path
) -> None:
    urls = [faulty.url(p) for p in ("/good1.xml", "/gone", "/broken", "/moved")]
    config_file = tmp_path / "config.yaml"
    feeds = "\n".join(f"  - {u}" for u in urls)
    config_file.write_text(
        f"database: sqlite:///{tmp_path / 'news.db'}\noutput_dir: {tmp_path / 'out'}\n"
        f"feeds:\n{feeds}\n{LOOPBACK_FETCH_YAML}",
        encoding="utf-8",
    )
    runner = CliRunner()
    polled = runner.invoke(app, ["poll", "-c", str(config_file)])
    assert polled.exit_code == 0, polled.output
    listed = runner.invoke(app, ["feeds", "list", "-c", str(config_file)], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    out = listed.output
    for column in ("fail", "last ok", "next try"):
        assert column in out
    assert "disabled" in out and "HTTP 410 Gone" in out and "HTTP 500" in out
    assert "moved to " + faulty.url("/new-home.xml") in out
    # `newsletter feeds` alone prints the same table.
    bare = runner.invoke(app, ["feeds", "-c", str(config_file)], env={"COLUMNS": "250"})
    assert bare.exit_code == 0, bare.output
    assert bare.output == out
    enabled = runner.invoke(app, ["feeds", "enable", urls[1], "-c", str(config_file)])
    assert enabled.exit_code == 0, enabled.output
    store = Store.open(f"sqlite:///{tmp_path / 'news.db'}")
    gone = next(h for h in store.feed_health() if h.url == urls[1])
    store.close()
    assert not gone.disabled and gone.next_poll_at is None
    missing = runner.invoke(app, ["feeds", "enable", "http://nope/", "-c", str(config_file)])
    assert missing.exit_code == 1
