"""Addresses a feed may not reach: judged at connect time, on every redirect hop, on loopback.

These tests are the ones that poll without ``fetch.allow_private_addresses`` (every other
test's config allows loopback, where its servers live).
"""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from newsletter._netguard import refusal, unreachable
from newsletter.fetch import FetchOptions, fetch_all
from newsletter.models import Feed, FetchResult, FetchState
from tests.servers import FeedServer

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
    # Without resolving, names pass: the poll judges them when it connects.
    assert set(unreachable(urls, allow_private=False, resolve=False)) == set(urls[:3])
