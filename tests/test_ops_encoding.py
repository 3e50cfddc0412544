"""Chinese feeds decode right: GB2312 / GBK / Big5 with missing or wrong labels, mojibake caught."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter._encoding import mojibake
from newsletter.config import parse_config
from newsletter.flows.poll import poll
from newsletter.models import Feed
from newsletter.parse import parse_feed
from newsletter.store import Store
from tests.servers import LOOPBACK_FETCH_YAML, FeedServer

pytestmark = pytest.mark.usefixtures("restore_logging")


GB2312_FEED = "feeds/real/encoding-gb2312.xml"
GB2312_TITLE = "新闻国内"
GB2312_FIRST = "习近平为何如此强调崇尚英雄？"


def _corpus_bytes(corpus_dir: Path, name: str) -> bytes:
    return (corpus_dir / name).read_bytes()


def test_declared_gb2312_decodes(corpus_dir: Path) -> None:
    parsed = parse_feed(_corpus_bytes(corpus_dir, GB2312_FEED), Feed(url="t"))
    assert parsed.title == GB2312_TITLE
    assert parsed.entries[0].title == GB2312_FIRST
    assert len(parsed.entries) == 20
    assert parsed.problems == ()


@pytest.mark.parametrize(
    "label, edit, content_type",
    [
        ("declaration removed", lambda b: b.replace(b'encoding="gb2312"', b""), None),
        ("declared utf-8", lambda b: b.replace(b'encoding="gb2312"', b'encoding="utf-8"'), None),
        (
            "HTTP says latin-1, no declaration",
            lambda b: b.replace(b'encoding="gb2312"', b""),
            "text/xml; charset=iso-8859-1",
        ),
    ],
)
def test_gb2312_with_missing_or_wrong_label(
    corpus_dir: Path, label: str, edit: object, content_type: str | None
) -> None:
    body = edit(_corpus_bytes(corpus_dir, GB2312_FEED))  # type: ignore[operator]
    parsed = parse_feed(body, Feed(url="t"), content_type=content_type)
    assert parsed.title == GB2312_TITLE, label
    assert parsed.entries[0].title == GB2312_FIRST
    assert len(parsed.entries) == 20
    assert parsed.encoding == "gb18030"
    assert any("gb18030" in p for p in parsed.problems), parsed.problems


def test_chardet_gb2312_without_declaration(corpus_dir: Path) -> None:
    parsed = parse_feed(_corpus_bytes(corpus_dir, "feeds/illformed/chardet_gb2312.xml"), Feed("t"))
    assert [e.title for e in parsed.entries] == ["不归移民漫画系列：专业工作"]


def test_chardet_big5_without_declaration(corpus_dir: Path) -> None:
    parsed = parse_feed(_corpus_bytes(corpus_dir, "feeds/illformed/chardet_big5.xml"), Feed("t"))
    # The "?" are in the test file itself (characters Big5 cannot hold).
    assert parsed.title.startswith("我希望??很容易?其翻?成中文，并有助于改??件。")
    assert parsed.encoding == "big5hkscs"


def test_declared_big5_and_per_feed_override(corpus_dir: Path) -> None:
    parsed = parse_feed(_corpus_bytes(corpus_dir, "feeds/edge/big5.xml"), Feed("t"))
    assert parsed.error is None and parsed.encoding == "big5"
    # Big5 bytes labelled GB2312: the operator's `encoding:` wins over the label.
    text = "視頻號直播電商新規上線"
    body = (
        '<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel><title>台</title>'
        f"<item><title>{text}</title><link>http://example.com/1</link></item></channel></rss>"
    ).encode("big5")
    fixed = parse_feed(body, Feed("t", encoding="big5"))
    assert [e.title for e in fixed.entries] == [text]


@pytest.mark.parametrize(
    "text",
    [
        "ç»Ÿä¸€å¤§å¸‚åœº",  # UTF-8 read as windows-1252
        "视频号直播带货".encode().decode("latin-1"),
        "锟斤拷锟斤拷视频号",  # U+FFFD bytes read as GBK
        "Î¢ÐÅÊÓÆµºÅÖ±²¥",  # GBK read as Latin-1
        "微信视频号\ufffd\ufffd",
        "Ã©tÃ© 2024",
    ],
)
def test_mojibake_detected(text: str) -> None:
    assert mojibake(text)


@pytest.mark.parametrize(
    "text",
    [
        "视频号直播电商新规",
        "視頻號直播電商新規",
        "Notícias de São Paulo: ação e reação",
        "Über die Größe — «L'été à Paris»",
        "C’est l’été, naïve façade résumé",
        "¡Hola! ¿Qué tal? Fußball 2026",
        "TikTok Shop’s GMV hit $9.5B — up 40%",
    ],
)
def test_clean_text_is_not_mojibake(text: str) -> None:
    assert mojibake(text) is None


def _rss(items: list[str]) -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>http://example.com/{i}</link>"
        f"<description>微信视频号直播带货新规发布，商家需完成资质认证。</description></item>"
        for i, t in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>源</title>'
        f"{body}</channel></rss>"
    ).encode()


def test_poll_over_http_decodes_and_reports(tmp_path: Path, feed_server: FeedServer) -> None:
    """Over loopback: a GBK feed sent as UTF-8 decodes; garbled titles never reach the store."""
    wrong = feed_server.add_fault("/gbk.xml", "wrong_charset")  # GB18030 bytes, charset=utf-8
    garbled = feed_server.add(
        "/garbled.xml",
        _rss(["视频号直播带货新规发布", "锟斤拷视频号直播", "è§†é¢‘å\x8f·ç›´æ’\xad"]),
    )
    config = parse_config(
        f"feeds: [{{url: '{wrong}', name: GBK}}, {{url: '{garbled}', name: 乱码}}]\n"
        f"database: sqlite:///{tmp_path}/db.sqlite\n{LOOPBACK_FETCH_YAML}",
        base_dir=tmp_path,
    )
    store = Store.open(config.database)
    try:
        report = poll(config, store)
        by_name = {o.name: o for o in report.outcomes}
        assert by_name["GBK"].status == "ok" and by_name["GBK"].new_entries == 2
        assert any("gb18030" in w for w in by_name["GBK"].warnings)
        assert by_name["乱码"].new_entries == 1
        assert any("2 entries dropped" in w for w in by_name["乱码"].warnings)
        titles = {e.title for e, _ in store.entries_between(*_all_time(), relevant_only=False)}
    finally:
        store.close()
    assert "视频号直播带货GMV同比增长65%" in titles
    assert "淘宝直播推出新主播扶持计划" in titles
    assert "视频号直播带货新规发布" in titles
    assert not any(mojibake(t) for t in titles)


def _all_time() -> tuple[datetime, datetime]:
    return datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def test_poll_command_prints_feed_warnings(tmp_path: Path, feed_server: FeedServer) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app

    wrong = feed_server.add_fault("/gbk.xml", "wrong_charset", declared="iso-8859-1")
    path = tmp_path / "config.yaml"
    path.write_text(f"database: sqlite:///db.sqlite\nfeeds: [{{url: '{wrong}', name: GBK}}]\n"
        + LOOPBACK_FETCH_YAML
    )
    result = CliRunner().invoke(app, ["poll", "-c", str(path)])
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.replace("│", " ").split())
    assert "charset: read as iso8859-1" in shown, result.output
    assert "decoded as gb18030" in shown
