"""Feeds from the command line and OPML: add / remove / import / export, config vs CLI feeds."""

from __future__ import annotations

import xml.dom.minidom
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter._opml import OPMLError, OPMLFeed, read_opml, write_opml
from newsletter.cli import app
from newsletter.config import load_config
from newsletter.flows.poll import all_feeds, poll
from newsletter.store import Store
from tests.servers import LOOPBACK_FETCH_YAML, FeedServer, billion_laughs

runner = CliRunner()


def _config(tmp_path: Path, feeds: str, name: str = "config.yaml", db: str = "db.sqlite") -> Path:
    path = tmp_path / name
    path.write_text(
        f"database: sqlite:///{db}\noutput_dir: out\n{LOOPBACK_FETCH_YAML}feeds:\n{feeds}", "utf-8"
    )
    return path


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


CONFIG_FEEDS = (
    '  - {url: "https://a.example/feed", name: 甲, weight: 1.5}\n'
    '  - {url: "https://b.example/rss.xml", name: B & <b>}\n'
)


def _stored(config_path: Path) -> list[tuple[str, str, float]]:
    config = load_config(config_path)
    store = Store.open(config.database)
    try:
        return sorted((f.url, f.name, f.weight) for f in all_feeds(config, store))
    finally:
        store.close()


def test_opml_round_trip_into_fresh_database(tmp_path: Path) -> None:
    first = _config(tmp_path, CONFIG_FEEDS)
    code, out = _cli(
        "feeds",
        "add",
        "https://c.example/atom",
        "--no-check",
        "--name",
        "丙",
        "--weight",
        "0.5",
        "-c",
        str(first),
    )
    assert code == 0, out
    assert "Added 丙" in out
    exported = tmp_path / "feeds.opml"
    code, out = _cli("feeds", "export", "-o", str(exported), "-c", str(first))
    assert code == 0, out

    fresh = _config(tmp_path, "  []\n", name="fresh.yaml", db="fresh.sqlite")
    code, out = _cli("feeds", "import", str(exported), "-c", str(fresh))
    assert code == 0, out
    assert "Imported 3 feeds" in out
    assert (
        _stored(fresh)
        == _stored(first)
        == [
            ("https://a.example/feed", "甲", 1.5),
            ("https://b.example/rss.xml", "B & <b>", 1.0),
            ("https://c.example/atom", "丙", 0.5),
        ]
    )
    # Importing the same file again adds nothing.
    code, out = _cli("feeds", "import", str(exported), "-c", str(fresh))
    assert "Imported 0 feeds" in out and "3 already present" in out


def test_export_is_opml_2_that_other_readers_read(tmp_path: Path) -> None:
    text = write_opml(
        [
            OPMLFeed("https://a.example/feed?x=1&y=2", "甲 <i>", "https://a.example/", 1.5),
            OPMLFeed("https://b.example/rss", "\x01bad\x02 name"),
        ],
        title="周报",
        created=datetime(2026, 1, 5, tzinfo=UTC),
    )
    root = ET.fromstring(text)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "周报"
    assert root.findtext("head/dateCreated") == "Mon, 05 Jan 2026 00:00:00 +0000"
    outlines = root.findall("body/outline")
    assert [o.get("type") for o in outlines] == ["rss", "rss"]
    assert outlines[0].get("xmlUrl") == "https://a.example/feed?x=1&y=2"
    assert outlines[0].get("htmlUrl") == "https://a.example/"
    assert outlines[0].get("text") == outlines[0].get("title") == "甲 <i>"
    assert outlines[1].get("title") == "bad name"
    # rss2email reads outlines with minidom and takes every element with an xmlUrl.
    dom = xml.dom.minidom.parseString(text.encode())
    urls = [o.getAttribute("xmlUrl") for o in dom.getElementsByTagName("outline")]
    assert urls == ["https://a.example/feed?x=1&y=2", "https://b.example/rss"]


NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>Miniflux</title></head><body>
  <outline text="Tech" title="Tech">
    <outline text="36kr" title="36kr" type="rss" xmlUrl="https://36kr.com/feed"
             htmlUrl="https://36kr.com/"/>
    <outline title="China">
      <outline text="Huxiu" xmlUrl="https://www.huxiu.com/rss/0.xml"/>
    </outline>
  </outline>
  <outline text="dup" type="rss" xmlUrl="https://36kr.com/feed"/>
  <outline text="ftp" type="rss" xmlUrl="ftp://files.example/feed"/>
  <outline text="js" type="rss" xmlUrl="javascript:alert(1)"/>
  <outline text="a link" type="link" url="https://example.com/"/>
  <outline text="empty folder"/>
</body></opml>"""


def test_import_nested_categories_duplicates_and_bad_entries() -> None:
    result = read_opml(NESTED)
    assert [(f.url, f.name, f.category) for f in result.feeds] == [
        ("https://36kr.com/feed", "36kr", "Tech"),
        ("https://www.huxiu.com/rss/0.xml", "Huxiu", "Tech/China"),
    ]
    assert result.feeds[0].html_url == "https://36kr.com/"
    problems = "\n".join(result.problems)
    assert len(result.problems) == 3 and result.repeated == 1, problems
    assert "ftp://files.example/feed" in problems and "javascript:" in problems
    assert "type=link" in problems


@pytest.mark.parametrize(
    "data, message",
    [
        (billion_laughs(), "entities"),
        (b"<rss><channel/></rss>", "not an OPML document"),
        (b"<opml><body><outline", "not well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<opml><body><outline text='&e;'/></body></opml>",
            "entities",
        ),
    ],
)
def test_hostile_or_wrong_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(OPMLError, match=message):
        read_opml(data)


def test_import_cli_reports_bad_outlines(tmp_path: Path) -> None:
    config = _config(tmp_path, '  - {url: "https://36kr.com/feed", name: 36氪}\n')
    opml = tmp_path / "in.opml"
    opml.write_bytes(NESTED)
    code, out = _cli("feeds", "import", str(opml), "-c", str(config))
    assert code == 1, out  # partial: as every import, the good part is in and exit 1 says so
    # 36kr is in the config already: the config's entry stays, the import skips it.
    assert "Imported 1 feeds" in out and "1 already present, 1 repeated in the file" in out
    assert "3 outlines skipped" in out
    assert "ftp://files.example/feed" in out
    assert _stored(config) == [
        ("https://36kr.com/feed", "36氪", 1.0),
        ("https://www.huxiu.com/rss/0.xml", "Huxiu", 1.0),
    ]
    code, out = _cli("feeds", "import", str(tmp_path / "missing.opml"), "-c", str(config))
    assert code == 2 and "cannot read" in out


def test_config_wins_and_remove_rules(tmp_path: Path) -> None:
    config = _config(tmp_path, CONFIG_FEEDS)
    url = "https://a.example/feed"
    code, out = _cli("feeds", "add", url, "-c", str(config))
    assert code == 0 and "already in" in out
    code, out = _cli("feeds", "add", url, "--weight", "3", "-c", str(config))
    assert code == 2 and "change them there" in out
    code, out = _cli("feeds", "remove", url, "-c", str(config))
    assert code == 2 and "remove it from the file" in out
    code, out = _cli("feeds", "remove", "https://nope.example/", "-c", str(config))
    assert code == 1 and "no command-line feed" in out
    code, out = _cli("feeds", "add", "not a url", "-c", str(config))
    assert code == 2 and "neither an http(s) URL" in out

    code, out = _cli("feeds", "add", "https://c.example/atom", "--no-check", "-c", str(config))
    assert code == 0
    code, out = _cli("feeds", "add", "https://c.example/atom", "--name", "丙", "-c", str(config))
    assert code == 0 and "Updated 丙" in out
    code, out = _cli("feeds", "remove", "https://c.example/atom", "-c", str(config))
    assert code == 0 and "Removed" in out
    assert [u for u, _, _ in _stored(config)] == [
        "https://a.example/feed",
        "https://b.example/rss.xml",
    ]

    # A CLI feed that later also appears in the config is polled once, as the config says.
    code, out = _cli(
        "feeds", "add", "https://d.example/feed", "--name", "cli", "--no-check", "-c", str(config)
    )
    both = _config(tmp_path, CONFIG_FEEDS + '  - {url: "https://d.example/feed", name: cfg}\n')
    assert ("https://d.example/feed", "cfg", 1.0) in _stored(both)
    assert len(_stored(both)) == 3


def test_poll_fetches_cli_feeds(tmp_path: Path, feed_server: FeedServer) -> None:
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>站</title>'
        "<link>https://site.example/</link><item><title>视频号直播带货新规</title>"
        "<link>https://site.example/1</link></item></channel></rss>"
    )
    url = feed_server.add("/cli.xml", rss)
    config_path = _config(tmp_path, "  []\n")
    assert _cli("feeds", "add", url, "-c", str(config_path))[0] == 0
    config = load_config(config_path)
    store = Store.open(config.database)
    try:
        report = poll(config, store)
        assert [(o.url, o.status, o.new_entries) for o in report.outcomes] == [(url, "ok", 1)]
        assert store.feed_sites()[url] == ("站", "https://site.example/")
    finally:
        store.close()
    code, out = _cli("feeds", "export", "-c", str(config_path))
    assert code == 0
    outline = ET.fromstring(out).find("body/outline")
    assert outline is not None
    assert outline.get("xmlUrl") == url and outline.get("htmlUrl") == "https://site.example/"
    assert outline.get("title") == "站"  # no name given: the feed's own title


def test_urls_differing_by_scheme_slash_or_utm_are_one_feed(tmp_path: Path) -> None:
    config = _config(tmp_path, '  - {url: "https://a.example/feed", name: 甲}\n')
    code, out = _cli(
        "feeds", "add", "http://A.example/feed/?utm_source=wechat", "-c", str(config)
    )
    assert code == 0 and "already in" in out and "as https://a.example/feed" in out, out
    code, out = _cli(
        "feeds", "add", "https://c.example/atom/", "--name", "丙", "--no-check", "-c", str(config)
    )
    assert code == 0 and "Added 丙" in out
    # The same feed again under another spelling: the first URL stays, the name is updated.
    code, out = _cli("feeds", "add", "http://c.example/atom", "--name", "丙2", "-c", str(config))
    assert code == 0 and "Updated 丙2" in out, out
    opml = tmp_path / "more.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        '<outline type="rss" text="A" xmlUrl="http://a.example/feed?utm_medium=rss"/>'
        '<outline type="rss" text="C" xmlUrl="https://c.example/atom?utm_campaign=x"/>'
        '<outline type="rss" text="D" xmlUrl="https://d.example/rss?cat=live"/>'
        '<outline type="rss" text="D again" xmlUrl="http://d.example/rss/?cat=live"/>'
        '<outline type="rss" text="D other" xmlUrl="https://d.example/rss?cat=ecom"/>'
        "</body></opml>",
        "utf-8",
    )
    code, out = _cli("feeds", "import", str(opml), "-c", str(config))
    assert code == 0, out  # a feed listed twice is no failure
    assert "Imported 2 feeds" in out, out
    assert "2 already present, 1 repeated in the file, 0 outlines skipped" in out
    assert _stored(config) == [
        ("https://a.example/feed", "甲", 1.0),
        ("https://c.example/atom/", "丙2", 1.0),
        ("https://d.example/rss?cat=ecom", "D other", 1.0),
        ("https://d.example/rss?cat=live", "D", 1.0),
    ]


def test_feed_key_ignores_only_what_never_selects_a_feed() -> None:
    from newsletter._urls import feed_key

    same = {
        feed_key(u)
        for u in (
            "https://36kr.com/feed",
            "http://36KR.com/feed/",
            "https://36kr.com:443/feed?utm_source=x&utm_medium=y#top",
        )
    }
    assert len(same) == 1
    assert feed_key("https://36kr.com/feed?cat=a") != feed_key("https://36kr.com/feed?cat=b")
    assert feed_key("https://36kr.com:8443/feed") != feed_key("https://36kr.com/feed")
    assert feed_key("/srv/feeds/a.xml") == "/srv/feeds/a.xml"


def test_add_fetches_the_feed_once_and_refuses_what_is_no_feed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = _config(tmp_path, "  []\n")
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>直播观察</title>'
        "<item><title>视频号直播带货新规</title><link>https://site.example/1</link>"
        "<pubDate>Tue, 24 Nov 2026 12:00:00 +0000</pubDate></item></channel></rss>"
    )
    good = feed_server.add("/good.xml", rss)
    page = feed_server.add("/page", "<html><body>a page</body></html>", "text/html")
    cases = {
        feed_server.url("/missing.xml"): "HTTP 404",
        page: "reachable (HTTP 200) but not a feed",
        "http://127.0.0.1:9/feed.xml": "could not connect",
    }
    for url, why in cases.items():
        code, out = _cli("feeds", "add", url, "-c", str(config))
        said = " ".join(out.split())
        assert code == 1 and why in said, said
        assert "not added (fix the URL, or add it anyway with --no-check)" in said
    assert _stored(config) == []
    code, out = _cli("feeds", "add", good, "-c", str(config))
    assert code == 0 and "Added 直播观察 (weight 1; 1 entries, newest 11-24 20:00)" in out, out
    # A feed that is down today can still be added on purpose.
    missing = feed_server.url("/missing.xml")
    code, out = _cli("feeds", "add", missing, "--no-check", "-c", str(config))
    assert code == 0 and "not checked" in out
    assert [u for u, _, _ in _stored(config)] == [good, missing]
    assert feed_server.count("/good.xml") == 1  # fetched once, and not again by the add
