"""Hostile markup in a feed, through the real pipeline (HTTP poll, store, build, send, web):
no script, javascript: URL, event handler or CSS expression survives anywhere it is shown."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from newsletter.config import Config
from newsletter.flows.build import build_issue
from newsletter.flows.poll import poll
from newsletter.flows.send import send_issue
from newsletter.store import Store
from tests.servers import FeedServer, loopback_fetch

PAYLOADS = [
    "<script>alert('t')</script>",
    "<img src=x onerror=alert('img')>",
    "<svg onload=alert('svg')><circle/></svg>",
    "<a href=\"javascript:alert('a')\">点我</a>",
    "<a href=\"&#106;avascript:alert('ent')\">编码</a>",
    "<a href=\" jav&#x09;ascript:alert('tab')\">tab</a>",
    "<div style=\"background:url(javascript:alert('c'));width:expression(alert('x'))\">样式</div>",
    "<iframe src=\"javascript:alert('frame')\"></iframe>",
    "<body onload=alert('body')>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">数据</a>",
    "<form action=\"javascript:alert('form')\"><input onfocus=alert('in') autofocus></form>",
    "<style>@import 'javascript:alert(1)'; body{behavior:url(x.htc)}</style>",
    "<object data=\"javascript:alert('obj')\"></object><embed src=\"javascript:alert('e')\">",
]


TOPICS = [
    ("微信小店调整保证金", "微信小店宣布下调部分类目保证金，视频号直播间商家的入驻门槛随之降低。"),
    ("达人分佣比例公布", "视频号优选联盟公布新一季达人分佣比例，美妆与服饰类目的佣金上调两个点。"),
    ("直播间违规处罚升级", "平台发布直播带货违规处罚细则，虚假宣传和诱导私下交易将被直接封禁。"),
    ("双十一数据发布", "视频号直播电商双十一成交额同比增长百分之六十五，品牌自播占比首次过半。"),
    ("服务商激励计划", "视频号推出服务商激励计划，代运营机构每带来一个新商家可获得流量奖励。"),
    ("短视频挂车新功能", "短视频挂车支持多商品橱窗，创作者可以在一条视频里挂最多五个小店商品。"),
    ("品牌自播案例", "某国货美妆品牌在视频号自播三个月，复购率提升到百分之四十，私域转化明显。"),
    ("农产品带货扶持", "视频号发布助农直播扶持政策，县域农产品商家可以申请免佣和流量券。"),
    ("主播培训课程上线", "微信开放平台上线主播培训课程，覆盖选品、话术和售后三个模块，免费报名。"),
    ("售后时效新规定", "小店售后新规定要求商家四十八小时内处理退款申请，超时将自动同意退款。"),
    ("跨境商品试点", "视频号试点跨境商品直播，首批开放香港和日本的美妆保健类目，限量邀请。"),
    ("知识付费直播", "知识类博主在视频号直播间售卖课程的规则明确，课程类商品需要先行备案。"),
    ("直播预约功能", "视频号直播预约可以同步到公众号文章和社群，预约用户开播时会收到提醒。"),
]


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def hostile_feed() -> str:
    items = []
    links = [
        "javascript:alert('link')",
        "JaVaScRiPt:alert('mixed')",
        "data:text/html,<script>alert('data')</script>",
        "vbscript:msgbox('vb')",
    ]
    for i, payload in enumerate(PAYLOADS):
        topic = TOPICS[i % len(TOPICS)]
        title = f"视频号直播带货新规：{topic[0]} {payload}"
        summary = f"{topic[1]}{payload}{payload}"
        link = links[i % len(links)] if i < len(links) else f"https://news.example.com/{i}"
        items.append(
            f"<item><title>{_cdata(title)}</title><link>{_cdata(link)}</link>"
            f"<guid>hostile-{i}</guid><description>{_cdata(summary)}</description>"
            f"<content:encoded>{_cdata(summary)}</content:encoded>"
            "<pubDate>Mon, 23 Nov 2026 10:00:00 +0800</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{_cdata('<script>alert(1)</script>坏来源')}</title>"
        "<link>https://evil.example/</link>" + "".join(items) + "</channel></rss>"
    )


BAD_TAGS = {"script", "iframe", "object", "embed", "svg", "form", "input", "base", "frame"}
URL_ATTRS = {"href", "src", "action", "formaction", "background", "poster", "xlink:href"}
BAD_CSS = re.compile(r"expression\s*\(|javascript\s*:|behavior\s*:|@import", re.I)


class Audit(HTMLParser):
    """Every tag and attribute a browser would act on, checked as the browser parses them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BAD_TAGS:
            self.problems.append(f"<{tag}>")
        self._in_style = tag == "style"
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in URL_ATTRS:
                # Browsers drop whitespace and control characters inside the scheme.
                scheme = re.sub(r"[\x00-\x20]", "", value).lower().split(":", 1)[0]
                if ":" in value and scheme not in ("http", "https", "mailto"):
                    self.problems.append(f"<{tag} {name}={value[:60]!r}>")
            if name == "style" and BAD_CSS.search(value):
                self.problems.append(f"<{tag} style={value[:60]!r}>")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and BAD_CSS.search(data):
            self.problems.append(f"<style>{data[:60]!r}")


def assert_clean(where: str, html: str) -> None:
    audit = Audit()
    audit.feed(html)
    audit.close()
    assert not audit.problems, f"{where}: {audit.problems}"


def assert_clean_text(where: str, text: str) -> None:
    lowered = text.lower()
    for needle in ("<script", "javascript:", "vbscript:", "onerror=", "onload=", "expression("):
        assert needle not in lowered, f"{where} contains {needle!r}"


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Config, Store, str]]:
    monkeypatch.setenv("NEWSLETTER_SECRET", "x" * 40)
    with FeedServer() as server:
        url = server.add("/evil.xml", hostile_feed())
        config = Config.model_validate(
            {
                "database": f"sqlite:///{tmp_path / 'news.db'}",
                "output_dir": str(tmp_path / "out"),
                "base_url": "https://news.example.com",
                "feeds": [{"url": url}],
                "fetch": loopback_fetch(),
                "issue": {"as_of": "2026-11-26T08:00:00+08:00", "max_items": 30},
                "llm": {"api_key_env": "NO_SUCH_KEY_FOR_TESTS"},
            }
        )
        store = Store.open(config.database)
        report = poll(config, store)
    assert report.failed == 0 and report.new_entries == len(PAYLOADS), report
    build = build_issue(config, store, force=True)
    assert build.issue is not None and len(build.issue.items) >= 5, build.reason
    yield config, store, build.issue.id
    store.close()


def test_nothing_executable_reaches_the_email_text_or_archive(
    built: tuple[Config, Store, str],
) -> None:
    config, store, issue_id = built
    folder = config.output_path / "issues" / issue_id
    html = (folder / "index.html").read_text(encoding="utf-8")
    text = (folder / "issue.txt").read_text(encoding="utf-8")
    assert "视频号直播带货新规" in html and "视频号直播带货新规" in text  # the content is there
    assert_clean("issue HTML", html)
    assert_clean_text("plain text", text)
    assert_clean("archive", (config.output_path / "index.html").read_text(encoding="utf-8"))
    links = re.findall(r"""href\s*=\s*["']([^"']*)""", html)
    assert links and all(link.startswith(("https://", "http://", "mailto:")) for link in links)

    # The MIME message as it would be sent (dry run writes .eml files).
    store.add_subscriber("reader@example.com")
    send_issue(config, store, issue_id=issue_id, dry_run=True)
    emls = list(config.output_path.rglob("*.eml"))
    assert emls
    message = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    parts = {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if part.get_content_type() in ("text/html", "text/plain")
    }
    assert set(parts) == {"text/html", "text/plain"}
    assert_clean("email HTML part", parts["text/html"])
    assert_clean_text("email text part", parts["text/plain"])


def test_nothing_executable_reaches_the_web_pages(built: tuple[Config, Store, str]) -> None:
    web = pytest.importorskip("newsletter.web")
    config, store, issue_id = built
    app = web.create_app(config, store)

    async def fetch(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            return await c.get(path)

    for path in ("/", f"/issues/{issue_id}", "/feed.xml"):
        response = asyncio.run(fetch(path))
        assert response.status_code == 200, (path, response.status_code)
        if path == "/feed.xml":
            # An RSS export carries escaped text; still no live javascript: links.
            assert not re.search(r"<link>\s*javascript:", response.text, re.I)
            continue
        assert_clean(f"web {path}", response.text)
