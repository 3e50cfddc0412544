"""feedparser's windows-1252 mapping of C1 characters, read from a table: same text, less CPU."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedparser
import feedparser.html
import feedparser.mixin
import pytest

from newsletter.models import Feed
from newsletter.parse import c1_translation_table, parse_feed, speed_up_feedparser

NOW = datetime(2026, 12, 1, tzinfo=UTC)
STOCK = feedparser.html._cp1252


def test_the_table_maps_every_character_as_feedparsers_dict_does() -> None:
    table = c1_translation_table(STOCK)
    every_bmp_character = "".join(map(chr, range(0x10000)))
    past_the_bmp = "\U00010000\U0001f600\U0010ffff"
    for text in (every_bmp_character, past_the_bmp, "视频号\x96直播\x80"):
        assert text.translate(table) == text.translate(STOCK)
    assert "\x80\x9f".translate(table) == "€Ÿ"


def _documents(corpus: Path) -> list[bytes]:
    c1 = "视频号直播\x96带货 \x80 100 &#150; &#x80; ok"
    made = [
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        f"<title>{c1}</title><item><guid>1</guid><title>{c1}</title>"
        f"<description>{c1}</description></item></channel></rss>".encode(encoding, "replace")
        for encoding in ("utf-8", "windows-1252", "gb18030")
    ]
    real = sorted((corpus / "feeds").rglob("*"))
    return made + [p.read_bytes() for p in real if p.is_file() and p.suffix != ".md"]


def test_parses_are_the_same_with_the_table_installed(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = _documents(corpus_dir)
    feed = Feed(url="https://example.com/feed")

    def both(body: bytes) -> str:
        raw = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
        return repr((raw.get("feed"), raw.get("entries"), parse_feed(body, feed, NOW)))

    before = [both(body) for body in documents]
    monkeypatch.setattr(feedparser.mixin, "_cp1252", STOCK)  # restored after the test
    speed_up_feedparser()
    assert isinstance(feedparser.mixin._cp1252, list), "feedparser changed: the table is gone"
    after = [both(body) for body in documents]
    assert after == before
    assert "–" in before[0] and "€" in before[0]  # the made documents do exercise the mapping
