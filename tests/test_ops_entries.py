"""`entries` lists recent stories with the ids `explain` takes; `explain` takes a link too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from rich.cells import cell_len
from typer.testing import CliRunner

from newsletter.cli import app
from tests.servers import LOOPBACK_FETCH_YAML, FeedServer

runner = CliRunner()

STORIES = {
    "live": [
        ("视频号直播带货新规：商家开播前需完成资质认证", "微信视频号直播间带货商家须认证。", 2),
        ("抖音电商直播间整治虚假宣传，处罚主播三百余名", "平台公布直播带货治理结果。", 30),
        ("某电竞战队直播签约费下降", "游戏直播平台主播签约费用回落。", 50),
    ],
    "tech": [
        ("某手机厂商发布折叠屏新机", "新机搭载新处理器，售价不变。", 5),
        ("WeChat Channels merchants sell more goods in live streams", "Sales doubled.", 200),
    ],
}


def rss(slug: str, items: list[tuple[str, str, int]]) -> str:
    now = datetime.now(UTC)
    body = "".join(
        f"<item><title>{title}</title><link>https://{slug}.example/{i}</link>"
        f"<pubDate>{format_datetime(now - timedelta(hours=hours))}</pubDate>"
        f"<description>{text}</description></item>"
        for i, (title, text, hours) in enumerate(items)
    )
    channel = f"<channel><title>{slug}台</title>{body}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_entries_then_explain_by_id_or_link(tmp_path: Path, feed_server: FeedServer) -> None:
    urls = [feed_server.add(f"/{slug}.xml", rss(slug, items)) for slug, items in STORIES.items()]
    config = tmp_path / "c.yaml"
    feeds = "".join(f"  - {u}\n" for u in urls)
    config.write_text(
        f"database: sqlite:///db.sqlite\ntimezone: Asia/Shanghai\n{LOOPBACK_FETCH_YAML}"
        f"feeds:\n{feeds}",
        "utf-8",
    )
    # A wide terminal for one command must not widen the next one's tables (rich fixes a
    # console's width when it is made, and this process runs several commands).
    wide = runner.invoke(app, ["poll", "-c", str(config)], env={"COLUMNS": "250"})
    assert wide.exit_code == 0, wide.output

    code, out = invoke("entries", "-c", str(config))
    assert code == 0, out
    lines = out.splitlines()
    # Within the default week: the 200-hour-old story is left out.
    assert lines[0].startswith("4 entries since ") and "(times in Asia/Shanghai)" in lines[0]
    assert all(cell_len(line) <= 80 for line in lines), out
    rows = [line for line in lines[3:] if line[:10].isalnum()]
    assert len(rows) == 4
    assert "yes" in rows[0] and "视频号直播带货新规" in rows[0] and "live台" in rows[0]
    assert "no" in rows[1] and "折叠屏" in rows[1]
    assert "newsletter explain ID" in out

    code, out = invoke("entries", "--relevant", "--since", "30d", "-c", str(config))
    assert out.splitlines()[0].startswith("3 relevant entries"), out
    assert "折叠屏" not in out and "WeChat Channels merchants" in out
    code, out = invoke("entries", "--feed", "tech台", "--since", "2w", "-c", str(config))
    assert out.splitlines()[0].startswith("2 entries") and "直播" not in out, out
    code, out = invoke("entries", "--feed", feed_server.url("/tech.xml/"), "-c", str(config))
    assert out.splitlines()[0].startswith("1 entries"), out
    code, out = invoke("entries", "--feed", "nowhere", "-c", str(config))
    assert code == 2 and "no feed matches 'nowhere'" in out
    code, out = invoke("entries", "--since", "last week", "-c", str(config))
    assert code == 2 and "--since must be an age (7d, 24h, 2w) or a date" in out

    entry_id = rows[1][:10]
    code, out = invoke("explain", entry_id, "-c", str(config))
    assert code == 0, out
    assert "某手机厂商发布折叠屏新机" in out and "dropped (score" in out
    assert "below the 3.0 needed to keep it" in out

    # The link as a reader has it: tracking parameters, other scheme.
    link = "http://live.example/0?utm_source=wechat&utm_medium=share"
    code, out = invoke("explain", link, "-c", str(config))
    assert code == 0, out
    said = " ".join(out.split())
    assert "kept (score" in said
    assert "for: the title says '视频号" in said and "WeChat Channels (视频号)" in said
    assert "live_commerce" not in said  # the rule's words, not its ids
    code, out = invoke("explain", link, "--raw", "-c", str(config))
    assert "channels '" in out and "threshold" in out
    code, out = invoke("explain", "https://live.example/404", "-c", str(config))
    assert code == 1 and "no entry with link" in out
