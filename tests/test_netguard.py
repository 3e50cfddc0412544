"""Addresses a feed may not reach: judged at connect time, on every redirect hop, on loopback.

These tests are the ones that poll without ``fetch.allow_private_addresses`` (every other
test's config allows loopback, where its servers live).
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest

from newsletter._netguard import refusal, unreachable
from newsletter.fetch import FetchOptions, fetch_all
from newsletter.models import Feed, FetchResult, FetchState
from tests.servers import LOOPBACK_FETCH_YAML, FeedServer

RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    "<item><title>视频号直播</title><link>https://example.org/1</link></item></channel></rss>"
)


def fetch(url: str, *, allow_private: bool) -> FetchResult:
    options = FetchOptions(timeout=3.0, allow_private_addresses=allow_private)
    (result,) = asyncio.run(fetch_all([(Feed(url), FetchState())], options))
    return result


@pytest.mark.parametrize(
    ("address", "strict", "relaxed"),
    [
        ("93.184.215.14", None, None),
        ("2606:4700::1111", None, None),
        ("127.0.0.1", "loopback", None),
        ("::1", "loopback", None),
        ("10.1.2.3", "private", None),
        ("192.168.1.20", "private", None),
        ("fd12:3456::1", "private", None),
        ("100.64.0.7", "private", None),  # carrier-grade NAT (Tailscale lives here)
        ("169.254.169.254", "metadata", "metadata"),
        ("fe80::1", "metadata", "metadata"),
        ("100.100.100.200", "metadata", "metadata"),
        ("fd00:ec2::254", "metadata", "metadata"),
        ("0.0.0.0", "metadata", "metadata"),
        ("239.1.2.3", "metadata", "metadata"),
        # IPv4 inside IPv6 is judged by the IPv4 address (3.11 calls NAT64 and 6to4 global).
        ("::ffff:169.254.169.254", "metadata", "metadata"),
        ("64:ff9b::a9fe:a9fe", "metadata", "metadata"),
        ("2002:a9fe:a9fe::1", "metadata", "metadata"),
        ("::ffff:10.0.0.1", "private", None),
        ("64:ff9b::7f00:1", "loopback", None),
    ],
)
def test_which_addresses_are_refused(address: str, strict: str | None, relaxed: str | None) -> None:
    ip = ipaddress.ip_address(address)
    for allow, expected in ((False, strict), (True, relaxed)):
        why = refusal(ip, allow_private=allow)
        if expected is None:
            assert why is None, (address, allow, why)
        else:
            assert why is not None and expected in why, (address, allow, why)


def test_a_loopback_feed_is_refused_before_any_request_unless_allowed(
    feed_server: FeedServer,
) -> None:
    url = feed_server.add("/feed.xml", RSS)
    refused = fetch(url, allow_private=False)
    assert refused.status == "error"
    assert refused.error is not None
    assert refused.error.startswith("refused: 127.0.0.1, a loopback address")
    assert "fetch.allow_private_addresses: true" in refused.error
    assert feed_server.count("/feed.xml") == 0

    allowed = fetch(url, allow_private=True)
    assert allowed.status == "ok" and allowed.body == RSS.encode()


def test_a_host_name_is_judged_by_the_address_it_resolves_to(feed_server: FeedServer) -> None:
    url = feed_server.add("/feed.xml", RSS).replace("127.0.0.1", "localhost")
    refused = fetch(url, allow_private=False)
    assert refused.error is not None
    assert refused.error.startswith("refused: localhost resolves to ")
    assert feed_server.count("/feed.xml") == 0
    # Allowed: localhost may resolve to ::1 first, where nothing listens; 127.0.0.1 is tried next.
    assert fetch(url, allow_private=True).status == "ok"


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "0.0.0.0"]
)
def test_every_redirect_hop_is_judged_even_with_private_addresses_allowed(
    feed_server: FeedServer, target: str
) -> None:
    if target == "0.0.0.0":
        # Connecting to 0.0.0.0 reaches this host's listeners: without the guard this hop
        # would be served by the same loopback server.
        feed_server.add("/inside.xml", RSS)
        target = f"http://0.0.0.0:{feed_server.port}/inside.xml"
    start = feed_server.add_fault("/start", "redirect", to=target, status=302)
    result = fetch(start, allow_private=True)
    assert result.status == "error"
    assert result.error is not None
    assert result.error.startswith("refused: "), result.error
    assert "link-local, cloud metadata or non-unicast" in result.error
    assert feed_server.count("/start") == 1
    assert feed_server.count("/inside.xml") == 0


def test_unreachable_names_the_urls_an_operator_adds_that_a_poll_would_refuse() -> None:
    urls = [
        "http://169.254.169.254/latest/",
        "https://[::ffff:a9fe:a9fe]/feed",
        "http://127.0.0.1:1200/rsshub/weixin",
        "http://localhost:1200/rss",
        "./local-file.xml",
    ]
    strict = unreachable(urls, allow_private=False)
    assert set(strict) == set(urls[:4])
    assert "metadata" in strict[urls[0]] and "metadata" in strict[urls[1]]
    assert strict[urls[3]].startswith("refused: localhost resolves to ")
    relaxed = unreachable(urls, allow_private=True)
    assert set(relaxed) == set(urls[:2])
    # Without resolving, other names pass: the poll judges them when it connects.
    named = [*urls, "http://feeds.zhibo-weekly.cn/rss"]
    assert set(unreachable(named, allow_private=False, resolve=False)) == set(urls[:4])


def test_feeds_add_and_opml_import_refuse_such_urls_up_front(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app
    from newsletter.store import Store

    config = tmp_path / "config.yaml"
    config.write_text("database: sqlite:///db.sqlite\nfeeds: []\n", "utf-8")
    runner = CliRunner()
    local = feed_server.add("/feed.xml", RSS)
    for url in ("http://169.254.169.254/latest/meta-data/", local):
        added = runner.invoke(app, ["feeds", "add", url, "--no-check", "-c", str(config)])
        assert added.exit_code == 2, added.output
        assert "not added" in added.output and "refused: " in added.output
    opml = tmp_path / "list.opml"
    outlines = "".join(
        f'<outline type="rss" text="{n}" xmlUrl="{u}"/>'
        for n, u in (
            ("metadata", "http://[fd00:ec2::254]/latest/"),
            ("rsshub", "http://localhost:1200/36kr/news"),
            ("real", "https://rsshub.zhibo-weekly.cn/36kr/news"),
        )
    )
    opml.write_text(
        f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>', "utf-8"
    )
    imported = runner.invoke(app, ["feeds", "import", str(opml), "-c", str(config)])
    assert imported.exit_code == 1, imported.output
    flat = " ".join(imported.output.split())
    assert "Imported 1 feeds" in flat and "2 outlines skipped" in flat
    assert "fd00:ec2::254, a link-local, cloud metadata" in flat
    assert "localhost resolves to 127.0.0.1, a loopback address" in flat
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        assert [f.url for f in store.cli_feeds()] == ["https://rsshub.zhibo-weekly.cn/36kr/news"]
    # Allowed for a local RSSHub: the loopback feed is added (and checked by fetching it).
    config.write_text(config.read_text("utf-8") + LOOPBACK_FETCH_YAML, "utf-8")
    added = runner.invoke(app, ["feeds", "add", local, "-c", str(config)])
    assert added.exit_code == 0, added.output


def test_doctor_names_the_refused_address_and_the_fix(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app

    config = tmp_path / "config.yaml"
    url = feed_server.add("/feed.xml", RSS)
    config.write_text(f"database: sqlite:///db.sqlite\nfeeds: ['{url}']\n", "utf-8")
    result = CliRunner().invoke(app, ["doctor", "-c", str(config)], env={"COLUMNS": "200"})
    flat = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "refused: 127.0.0.1, a loopback address; set fetch.allow_private_addresses" in flat
    assert "fix: no request was made to that address: use the feed's public URL" in flat
    assert feed_server.count("/feed.xml") == 0
