"""What a subscriber reads: highlights, preheader, footer, the confirmation mail, wire size."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsletter import compose, deliver
from newsletter.config import Config, load_config
from newsletter.flows.build import build_issue
from newsletter.flows.poll import poll
from newsletter.flows.subscriptions import subscribe
from newsletter.models import Entry, Issue, IssueItem, Summary, Verdict
from newsletter.render import Renderer, preheader
from newsletter.store import Store
from newsletter.summarize import CATEGORIES
from tests.smtp import SECRET, SMTPServer, write_config

END = datetime(2026, 11, 26, tzinfo=UTC)

# Headlines of one made-up week, best-ranked first, with the section each lands in.
WEEK = [
    ("视频号上线直播间“先用后付”：首批覆盖美妆、家电、食品三个类目", "平台政策"),
    ("视频号调整带货达人准入门槛，粉丝数要求从1000降到500", "平台政策"),
    ("微信小店三季度GMV同比增长超过一倍，中小商家贡献六成", "数据财报"),
    ("抖音电商整治“挂车不讲品”直播间，一个月处置4.2万场", "平台政策"),
    ("某家居品牌在视频号做店播，单月成交额破3000万元", "品牌案例"),
    ("Lazada expands live shopping to all six markets after a Vietnam pilot", "行业观察"),
    ("腰部达人转向视频号：一位母婴主播的三个月", "商家与达人"),
]


def _item(i: int, title: str, category: str) -> IssueItem:
    entry = Entry(
        id=f"e{i}",
        feed_url="https://feeds.example.com/a.xml",
        title=title,
        link=f"https://news.example.com/{i}",
        text=title,
        published=END - timedelta(hours=i),
        source_name="示例来源",
    )
    summary = Summary(text=f"{title}。", kind="extractive", category=category)
    return IssueItem(entry, Verdict(True, 10 - i), summary)


def _issue(items: tuple[IssueItem, ...], intro: tuple[str, ...] = ()) -> Issue:
    return Issue(
        id="2026-11-26",
        title="周报 第 3 期（2026-11-26）",
        created=END,
        window_start=END - timedelta(days=7),
        window_end=END,
        items=items,
        intro=intro,
        sections=compose.sections(items, CATEGORIES),
    )


def test_highlights_pick_the_best_story_of_each_section_and_keep_them_short() -> None:
    items = tuple(_item(i, t, c) for i, (t, c) in enumerate(WEEK))
    bullets = compose.highlights(items, limit=4)
    assert len(bullets) == 4
    # The second 平台政策 story ranks above the data story but does not crowd it out.
    assert bullets[0].startswith("视频号上线直播间“先用后付”")
    assert any(b.startswith("微信小店三季度GMV") for b in bullets)
    assert any(b.startswith("某家居品牌") for b in bullets)
    assert not any(b.startswith("视频号调整带货达人") for b in bullets)
    assert all(len(b) <= 28 or len(b.split()) <= 12 for b in bullets)
    # Not the first headlines the reader meets right below, in the same order.
    first_shown = [i.entry.title for _, group in compose.sections(items, CATEGORIES) for i in group]
    assert list(bullets) != first_shown[:4]


def test_short_headline() -> None:
    assert compose.short_headline("县长走进直播间卖苹果：两小时售出42万斤") == (
        "县长走进直播间卖苹果：两小时售出42万斤"
    )
    assert compose.short_headline(WEEK[0][0]) == "视频号上线直播间“先用后付”"
    english = "Lazada expands live shopping to all six markets after a long pilot in Vietnam"
    assert len(compose.short_headline(english).split()) <= 12


def test_preheader_is_the_week_in_one_line() -> None:
    items = tuple(_item(i, t, c) for i, (t, c) in enumerate(WEEK))
    line = preheader(_issue(items, intro=("先用后付上线", "小店GMV翻倍", "家居店播破3000万")))
    assert line == "先用后付上线；小店GMV翻倍；家居店播破3000万"
    assert len(preheader(_issue(items))) <= 90


def test_footer_says_why_who_and_how_to_leave() -> None:
    items = tuple(_item(i, t, c) for i, (t, c) in enumerate(WEEK))
    renderer = Renderer(list_title="视频号周报", contact="示例传媒 · 北京市朝阳区示例路 1 号")
    page = renderer.issue(
        _issue(items),
        web_url="https://news.example.com/issues/1",
        unsubscribe_url="https://news.example.com/unsubscribe/T",
        more=2,
    )
    for part in (page.html, page.text):
        assert "您收到这封邮件，是因为您订阅了《视频号周报》" in part
        assert "示例传媒 · 北京市朝阳区示例路 1 号" in part
        assert "本期还有 2 条报道没有放进邮件" in part and "9 条" in part
    assert page.html.count(">阅读原文</a>") == len(WEEK)
    assert page.text.count("阅读原文：https://news.example.com/") == len(WEEK)
    assert re.search(r'<a href="https://news.example.com/unsubscribe/T"[^>]*>退订</a>', page.html)
    # No digest, no empty paragraph.
    bare = (_item(0, "只有标题的报道", "行业观察"),)
    bare = (
        IssueItem(bare[0].entry, bare[0].verdict, Summary("", "extractive", category="行业观察")),
    )
    assert '<p class="digest"' not in renderer.issue(_issue(bare)).html


def test_confirmation_mail_looks_like_the_issue_and_is_marked_automatic() -> None:
    renderer = Renderer(contact="示例传媒 · 北京市朝阳区示例路 1 号")
    link = "https://news.example.com/confirm/abc.DEF-123"
    page = renderer.confirmation("视频号周报", link)
    msg = deliver.build_confirmation(
        deliver.Sender("周报 <news@example.com>"),
        to="reader@example.org",
        name="读者",
        list_title="视频号周报",
        html=page.html,
        text=page.text,
    )
    assert msg["Auto-Submitted"] == "auto-generated"
    html_part = msg.get_body(("html",))
    text_part = msg.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    assert '<html lang="zh-CN">' in html and "<title>请确认订阅：视频号周报</title>" in html
    assert 'class="sheet sheet-main"' in html and 'name="color-scheme"' in html
    assert html.count(f'href="{link}"') == 2  # the button and the link in plain sight
    assert link in text_part.get_content()
    assert "示例传媒" in html


def test_wire_size_counts_the_encoded_part() -> None:
    # Chinese-heavy HTML goes out base64: a third larger on the wire than decoded.
    html = "<p>" + "视频号直播带货数据公布，微信小店成交额同比增长。" * 400 + "</p>"
    decoded = len(html.encode("utf-8"))
    wire = deliver.html_wire_size(html)
    assert 1.33 * decoded < wire < 1.40 * decoded
    msg = deliver.build_message(
        deliver.Sender("news@example.com"), to="a@example.org", subject="s", html=html, text="t"
    )
    sent = msg.as_bytes()
    body = re.search(rb"Content-Type: text/html.*?\r\n\r\n(.*?)\r\n--", sent, re.S)
    assert body is not None and abs(len(body.group(1)) + 2 - wire) <= 2
    assert base64.b64decode(body.group(1)).decode("utf-8").rstrip("\r\n") == html
    ascii_html = "<p>" + "plain English newsletter text " * 300 + "</p>"
    assert deliver.html_wire_size(ascii_html) < 1.05 * len(ascii_html)


# --- through the flows, as an operator runs them ------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def test_demo_issue_highlights_and_contact_line(tmp_path: Path) -> None:
    feeds = sorted(p for p in (REPO / "examples" / "feeds").glob("*.*") if p.suffix != ".md")
    config = Config.model_validate(
        {
            "title": "视频号与直播电商周报",
            "database": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "output_dir": str(tmp_path / "out"),
            "issue": {"as_of": "2026-11-26T08:00:00+08:00"},
            "email": {"contact": "示例传媒 · 北京市朝阳区示例路 1 号"},
            "feeds": [{"url": str(p), "name": p.stem} for p in feeds],
        }
    )
    store = Store.open(config.database)
    try:
        poll(config, store)
        report = build_issue(config, store)
    finally:
        store.close()
    issue = report.issue
    assert issue is not None and report.html_path is not None
    shown = [i.entry.title for _, group in issue.sections for i in group]
    # Rank order in items, reading order in sections; the bullets are not the first
    # headlines the reader meets right below, and come from more than one section.
    assert sorted(i.entry.id for i in issue.items) == sorted(
        i.entry.id for _, g in issue.sections for i in g
    )
    assert list(issue.intro) != shown[: len(issue.intro)]
    assert 3 <= len(issue.intro) <= 5
    sections_of = {
        compose.short_headline(i.entry.title): name for name, g in issue.sections for i in g
    }
    assert len({sections_of[b] for b in issue.intro}) >= 3
    page = report.html_path.read_text(encoding="utf-8")
    assert "示例传媒 · 北京市朝阳区示例路 1 号" in page
    assert "您收到这封邮件，是因为您订阅了《视频号与直播电商周报》" in page


def test_confirmation_sent_by_subscribe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    with SMTPServer() as smtp:
        path = write_config(
            tmp_path, smtp.port, double_opt_in=True, contact="示例传媒 · editor@example.com"
        )
        config = load_config(path)
        store = Store.open(config.database)
        try:
            subscribe(config, store, "new.reader@example.org")
        finally:
            store.close()
        msg = smtp.received_by("new.reader@example.org")[0].message()
    assert msg["Auto-Submitted"] == "auto-generated"
    html = msg.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<title>请确认订阅：" in content and '<html lang="zh-CN">' in content
    assert "示例传媒 · editor@example.com" in content and 'class="button"' in content
