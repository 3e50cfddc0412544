"""fetch.py against a real loopback HTTP server: validators, redirects, encodings, limits."""

from __future__ import annotations

import asyncio
import gzip
import re
import time
import tracemalloc
import zlib
from pathlib import Path

from newsletter.fetch import FetchOptions, _retry_after_seconds, fetch_all
from newsletter.models import Feed, FetchResult, FetchState
from tests.servers import FeedServer

RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    "<item><title>视频号直播</title><link>http://example.com/1</link></item></channel></rss>"
).encode()


def fetch(
    *jobs: tuple[str, FetchState] | str, **options: float | int
) -> list[FetchResult]:
    pairs = [(Feed(j), FetchState()) if isinstance(j, str) else (Feed(j[0]), j[1]) for j in jobs]
    options = {"allow_private_addresses": True, **options}  # the server is on loopback
    return asyncio.run(fetch_all(pairs, FetchOptions(**options)))  # type: ignore[arg-type]


def test_conditional_get_answers_not_modified(feed_server: FeedServer) -> None:
    url = feed_server.add("/a.xml", RSS)
    (first,) = fetch(url)
    assert first.status == "ok" and first.body == RSS and first.etag
    (second,) = fetch((url, FetchState(first.etag, first.last_modified)))
    assert second.status == "not_modified"
    assert second.body is None and second.http_status == 304
    headers = feed_server.requests[-1][2]
    assert headers["if-none-match"] == first.etag


def test_permanent_and_temporary_redirects(feed_server: FeedServer) -> None:
    feed_server.add("/new.xml", RSS)
    moved = feed_server.add_fault("/moved", "redirect", to="/new.xml", status=301)
    temp = feed_server.add_fault("/temp", "redirect", to="/new.xml", status=302)
    chain = feed_server.add_fault("/chain", "redirect", to="/temp", status=308)
    r_moved, r_temp, r_chain = fetch(moved, temp, chain)
    assert r_moved.status == "ok" and r_moved.permanent_redirect
    assert r_moved.final_url == feed_server.url("/new.xml")
    assert r_moved.url == moved  # identity stays the configured URL
    assert r_temp.status == "ok" and not r_temp.permanent_redirect
    # One temporary hop makes the whole chain temporary.
    assert r_chain.status == "ok" and not r_chain.permanent_redirect


def test_fetches_from_the_moved_location_when_the_state_says_so(feed_server: FeedServer) -> None:
    new = feed_server.add("/new.xml", RSS)
    old = feed_server.url("/old.xml")  # 404 now
    (result,) = fetch((old, FetchState(url=new)))
    assert result.status == "ok" and result.url == old
    assert feed_server.count("/old.xml") == 0 and feed_server.count("/new.xml") == 1


def test_redirect_loop_and_non_http_target(feed_server: FeedServer) -> None:
    loop = feed_server.add_fault("/loop", "redirect_loop")
    to_file = feed_server.add_fault("/file", "redirect", to="file:///etc/passwd")
    itself = feed_server.add_fault("/self", "redirect", to="/self", status=302)
    r_loop, r_file, r_self = fetch(loop, to_file, itself, max_redirects=4)
    assert r_loop.status == "error" and r_loop.error == "more than 4 redirects"
    assert r_file.status == "error" and "non-HTTP" in (r_file.error or "")
    assert r_self.status == "error" and (r_self.error or "").startswith("redirect loop")


def test_gzip_and_deflate_bodies_are_decoded(feed_server: FeedServer) -> None:
    gz = feed_server.add("/gz", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    zl = feed_server.add("/zl", zlib.compress(RSS), headers={"Content-Encoding": "deflate"})
    raw = zlib.compressobj(wbits=-15)
    rawdeflate = raw.compress(RSS) + raw.flush()
    rd = feed_server.add("/rd", rawdeflate, headers={"Content-Encoding": "deflate"})
    assert [r.body for r in fetch(gz, zl, rd)] == [RSS, RSS, RSS]
    assert feed_server.requests[-1][2]["accept-encoding"] == "gzip, deflate"


def test_gzip_bomb_stops_at_the_cap_in_bounded_memory(feed_server: FeedServer) -> None:
    bomb = feed_server.add_fault("/bomb", "gzip_bomb", size=256 << 20)
    tracemalloc.start()
    try:
        (result,) = fetch(bomb, max_bytes=1_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.status == "error" and result.error == "body over the 1000000 byte cap"
    # The cap plus one inflated step, not a 64 MB network chunk inflated in one go.
    assert peak < 8_000_000, peak


def test_size_cap_with_and_without_content_length(feed_server: FeedServer) -> None:
    declared = feed_server.add_fault("/declared", "huge", size=5_000_000)
    streamed = feed_server.add_fault("/streamed", "huge", size=5_000_000, content_length=False)
    r_declared, r_streamed = fetch(declared, streamed, max_bytes=500_000)
    assert r_declared.error == "Content-Length 5000000 over the 500000 byte cap"
    assert r_streamed.error == "body over the 500000 byte cap"


def test_timeout_bounds_the_whole_fetch_including_a_trickling_body(
    feed_server: FeedServer,
) -> None:
    slow = feed_server.add_fault("/slow", "slow", interval=0.1)
    started = time.monotonic()
    (result,) = fetch(slow, timeout=0.5)
    # How far the body got is part of the reason (how many bytes depends on the clock).
    assert re.fullmatch(
        r"timed out after 0\.5s while reading the body, after \d bytes of 359 bytes",
        result.error or "",
    ), result.error
    assert time.monotonic() - started < 2


def test_error_status_with_retry_after(feed_server: FeedServer) -> None:
    busy = feed_server.add_fault("/busy", "status", code=429, headers={"Retry-After": "120"})
    gone = feed_server.add_fault("/gone", "status", code=410)
    r_busy, r_gone = fetch(busy, gone)
    assert r_busy.retry_after == 120 and r_busy.http_status == 429
    assert r_busy.error == "HTTP 429 Too Many Requests (retry after 120s)"
    assert r_gone.http_status == 410 and "Gone" in (r_gone.error or "")


def test_retry_after_forms() -> None:
    assert _retry_after_seconds("30") == 30
    assert _retry_after_seconds(None) is None and _retry_after_seconds("soon") is None
    assert _retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 600))
    assert 590 < (_retry_after_seconds(later) or 0) <= 600


def test_per_host_limit_is_respected() -> None:
    with FeedServer(latency=0.2) as server:
        urls = [server.add(f"/{i}.xml", RSS) for i in range(6)]
        started = time.monotonic()
        results = fetch(*urls, per_host=2)
        elapsed = time.monotonic() - started
    assert all(r.status == "ok" for r in results)
    assert elapsed >= 0.55  # 6 requests, 2 at a time, 0.2 s each


def test_local_files_and_bad_schemes(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 2000)
    ok, uri, too_big, missing, ftp = fetch(
        str(path), f"file://{path}", str(big), str(tmp_path / "nope.xml"), "ftp://x/y",
        max_bytes=1000,
    )
    assert ok.body == RSS and uri.body == RSS
    assert too_big.error == "file is 2000 bytes, over the 1000 cap"
    assert (missing.error or "").startswith("cannot read file")
    assert (ftp.error or "").startswith("unsupported URL scheme")
