"""An entry's text: what a reader sees of its markup, words kept apart, nothing hidden."""

from __future__ import annotations

from datetime import UTC, datetime

from newsletter.models import Feed
from newsletter.parse import parse_feed

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def text_of(description: str) -> str:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<item><guid>1</guid><title>视频号直播</title><link>https://example.com/1</link>"
        f"<description><![CDATA[{description}]]></description></item></channel></rss>"
    ).encode()
    (entry,) = parse_feed(body, Feed(url="https://example.com/feed"), NOW).entries
    return entry.text


def test_blocks_whose_end_tag_is_implied_keep_their_words_apart() -> None:
    assert text_of("<ul><li>live<li>shopping</ul>") == "live shopping"
    assert text_of("<p>one<p>two") == "one two"
    assert text_of("<table><tr><td>GMV</td><td>1.2亿</td></tr></table>") == "GMV 1.2亿"
    assert text_of('<div title="a>b">直播</div>带货') == "直播 带货"


def test_inline_markup_inside_a_word_leaves_it_whole() -> None:
    assert text_of("视<b>频</b>号<a href='https://x'>直播</a>带货") == "视频号直播带货"
    assert text_of("<b>视频</b><em>号</em><param name='a'>小店") == "视频号小店"


def test_scripts_styles_and_comments_are_not_text() -> None:
    text = text_of("<style>p{}</style>直播<script>alert('带货')</script><!-- 带货 -->电商")
    assert text == "直播电商"


def test_entities_are_read_and_controls_dropped() -> None:
    assert text_of("a &amp; b &lt;c&gt;&nbsp;d &#1;e") == "a & b <c> d e"
