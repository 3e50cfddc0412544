"""Feeds that are XML but for one common slip are repaired, so the strict parser reads them.

Real feeds put control characters in titles, bare "&" in links and HTML entities in text;
expat refuses each, and feedparser's loose reparse is slower and misreads some of it (a
link's ``&lang=zh_CN`` became ``〈=zh_CN``). The documents are written for these tests.
"""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser

from newsletter.models import Feed
from newsletter.parse import parse_feed, repair_xml

NOW = datetime(2026, 12, 1, tzinfo=UTC)
FEED = Feed(url="https://blog.example/feed.xml")


def rss(item: str, prolog: bytes = b'<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        prolog
        + b'<rss version="2.0"><channel><title>Example</title><link>https://blog.example/</link>'
        + item.encode()
        + b"</channel></rss>"
    )


def test_a_bare_ampersand_in_a_link_is_read_as_written() -> None:
    link = "https://mp.weixin.qq.com/s?__biz=MjM5&mid=26&idx=2&lang=zh_CN#rd"
    body = rss(f"<item><title>视频号小店新规</title><link>{link}</link></item>")
    assert feedparser.parse(body).bozo  # the bytes as served are not XML
    parsed = parse_feed(body, FEED, NOW)
    assert parsed.entries[0].link.startswith(link.split("#")[0])
    assert parsed.warnings == ("repaired before parsing: 3 bare '&' or HTML entities",)


def test_control_characters_are_dropped_and_the_rest_is_read() -> None:
    body = rss("<item><title>又一个私人\x08云盘</title><link>https://blog.example/1</link></item>")
    parsed = parse_feed(body, FEED, NOW)
    assert [e.title for e in parsed.entries] == ["又一个私人云盘"]
    assert parsed.warnings == ("repaired before parsing: 1 control characters",)


def test_html_entities_become_their_characters() -> None:
    item = (
        "<item><title>Live shopping&nbsp;week &hellip; &amp; more &#8212; &unknown;</title>"
        "<link>https://blog.example/2</link></item>"
    )
    parsed = parse_feed(rss(item), FEED, NOW)
    assert parsed.entries[0].title == "Live shopping week … & more — &unknown;"
    assert not any("SAXParseException" in w for w in parsed.warnings)


def test_whitespace_before_the_xml_declaration_is_removed() -> None:
    body = rss("<item><title>t</title><link>https://blog.example/3</link></item>")
    fixed, note = repair_xml(b"\n\n" + body)
    assert fixed == body
    assert note == "repaired before parsing: whitespace before the XML declaration"
    bom = b"\xef\xbb\xbf"
    assert repair_xml(bom + b" \r\n" + body)[0] == bom + body


def test_cdata_sections_are_left_as_they_are() -> None:
    cdata = "<![CDATA[<p>Q&A: a & b &nbsp; 直播</p>]]>"
    body = rss(
        f"<item><title>A & B</title><link>https://blog.example/4</link>"
        f"<description>{cdata}</description></item>"
    )
    fixed, note = repair_xml(body)
    assert cdata.encode() in fixed
    assert b"<title>A &amp; B</title>" in fixed
    assert note == "repaired before parsing: 1 bare '&' or HTML entities"
    assert not feedparser.parse(fixed).bozo


def test_well_formed_utf16_and_declared_entities_are_untouched() -> None:
    good = rss(
        "<item><title>Q&amp;A &#169; &#x4e2d;</title><link>https://blog.example/5</link></item>"
    )
    assert repair_xml(good) == (good, None)
    # The byte patterns would cut UTF-16 characters apart: such a document is left alone.
    utf16 = good.decode().replace("utf-8", "utf-16").replace("&amp;", "&").encode("utf-16")
    assert repair_xml(utf16) == (utf16, None)
    declared = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY brand "Example">]>'
        b"<rss><channel><title>&brand; & co</title></channel></rss>"
    )
    assert repair_xml(declared) == (declared, None)
