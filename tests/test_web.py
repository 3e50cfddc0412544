"""Routes of the web app over httpx's ASGI transport, against a real SQLite store.

The store holds an issue built by the real pipeline from the bundled demo feeds plus a
hostile feed, and a hand-made issue whose fields carry markup the parser would have
stripped (to prove the pages escape on their own). Double opt-in mails go to a real
aiosmtpd server on 127.0.0.1.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from aiosmtpd.controller import Controller

from newsletter.config import Config, parse_config
from newsletter.errors import ConfigError
from newsletter.flows.archive import export_feed
from newsletter.flows.build import build_issue
from newsletter.flows.poll import poll
from newsletter.models import Entry, Issue, IssueItem, Summary, Verdict
from newsletter.store import Store
from newsletter.tokens import Signer
from newsletter.web import CSRF_COOKIE, RateLimiter, client_key, create_app
from tests.smtp import forged as forge_token

pytestmark = pytest.mark.anyio

SECRET = "test-secret-" + "x" * 24
DEMO_FEEDS = Path(__file__).resolve().parents[1] / "examples" / "feeds"
ATOM = "{http://www.w3.org/2005/Atom}"

HOSTILE_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Evil</title><link>https://evil.example/</link>
<item>
<title>视频号直播带货新规出炉&lt;script&gt;alert(1)&lt;/script&gt;</title>
<link>javascript:alert(document.cookie)</link>
<guid isPermaLink="false">evil-1</guid>
<pubDate>Tue, 24 Nov 2026 10:00:00 +0800</pubDate>
<description><![CDATA[<p>视频号直播电商平台公布带货新规，主播须标注商品来源。<script>alert('x')</script>
<a href="javascript:alert(2)">点我</a><img src="x" onerror="alert(3)"></p>
<p>直播带货 GMV 同比增长。</p>]]></description>
</item></channel></rss>
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module", autouse=True)
def secret() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEWSLETTER_SECRET", SECRET)
        yield


@dataclass
class Site:
    config: Config
    store: Store
    built: Issue
    hostile: Issue


def _hostile_issue() -> Issue:
    """An issue as if the parser had let everything through."""
    when = datetime(2026, 12, 3, tzinfo=UTC)
    entry = Entry(
        id="hostile-1",
        feed_url="https://evil.example/feed",
        title='<script>alert("title")</script>视频号恶意标题',
        link="javascript:alert('link')",
        text="x",
        published=when,
        source_name="<img src=x onerror=alert(1)>",
    )
    also = Entry(
        id="hostile-2",
        feed_url="https://evil.example/feed",
        title="另一篇",
        link="JaVaScRiPt:alert('also')",
        text="y",
        published=when,
        source_name='"><script>alert(2)</script>',
    )
    item = IssueItem(
        entry=entry,
        verdict=Verdict(True, 3.0, ("视频号",)),
        summary=Summary('摘要<script>alert("digest")</script><a href="javascript:x">x</a>', "llm"),
        also=(also,),
    )
    return Issue(
        id="2026-12-03",
        title="第 2 期 <script>alert('issue')</script>",
        created=when,
        window_start=when - timedelta(days=7),
        window_end=when,
        items=(item,),
        intro=("<b>要点</b><script>alert('intro')</script>",),
        sections=(("平台政策", (item,)),),
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("site")
    (root / "evil.xml").write_text(HOSTILE_FEED, encoding="utf-8")
    feeds = [
        {"url": str(DEMO_FEEDS / "dianshang-ribao.xml"), "name": "电商日报"},
        {"url": str(DEMO_FEEDS / "zhibo-guancha.atom"), "name": "直播观察"},
        {"url": "evil.xml", "name": "坏来源"},
    ]
    import json

    config = parse_config(
        json.dumps(
            {
                "title": "视频号周报",
                "database": "sqlite:///db.sqlite",
                "output_dir": "out",
                "base_url": "https://news.example/nl",
                "issue": {"as_of": "2026-11-26T08:00:00+08:00"},
                # No relay listens here: one try, not the backoff a real relay deserves, so the
                # confirmation a form post triggers fails in milliseconds.
                "email": {"smtp": {"starttls": False}, "retries": 0},
                "feeds": feeds,
            }
        ),
        base_dir=root,
    )
    store = Store.open(config.database)
    poll(config, store)
    report = build_issue(config, store)
    assert report.issue is not None, report.reason
    hostile = _hostile_issue()
    store.save_issue(hostile, str(root / "hostile"))
    yield Site(config, store, report.issue, hostile)
    store.close()


def client(app: Any, ip: str = "203.0.113.7") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 50000)), base_url="https://testserver"
    )


def with_web(config: Config, **changes: Any) -> Config:
    web = config.web.model_copy(update=changes)
    return config.model_copy(update={"web": web})


def with_email(config: Config, **changes: Any) -> Config:
    mail = config.email.model_copy(update=changes)
    return config.model_copy(update={"email": mail})


async def csrf_form(c: httpx.AsyncClient) -> str:
    page = await c.get("/subscribe")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found and c.cookies.get(CSRF_COOKIE)
    return found.group(1)


# -- pages ------------------------------------------------------------------------------


async def test_archive_lists_issues_newest_first(site: Site) -> None:
    async with client(create_app(site.config, site.store)) as c:
        r = await c.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    newer = r.text.index('href="/issues/2026-12-03"')
    older = r.text.index(f'href="/issues/{site.built.id}"')
    assert newer < older
    assert '<meta name="viewport"' in r.text and 'lang="zh-CN"' in r.text
    assert 'rel="alternate" type="application/atom+xml"' in r.text


async def test_issue_page_shows_every_item_and_digest(site: Site) -> None:
    async with client(create_app(site.config, site.store)) as c:
        r = await c.get(f"/issues/{site.built.id}")
        css = await c.get("/static/web.css")
    assert r.status_code == 200
    for item in site.built.items:
        assert item.summary.text[:20] in r.text.replace("&#34;", '"').replace("&#39;", "'")
    assert 'href="https://' in r.text
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "PingFang SC" in css.text and "max-width: 42rem" in css.text


async def test_unknown_issue_and_route_are_404(site: Site) -> None:
    async with client(create_app(site.config, site.store)) as c:
        assert (await c.get("/issues/1999-01-01")).status_code == 404
        assert (await c.get("/issues/..%2F..%2Fetc")).status_code == 404
        missing = await c.get("/nowhere")
    assert missing.status_code == 404 and "页面不存在" in missing.text


async def test_every_response_carries_strict_security_headers(site: Site) -> None:
    app = create_app(site.config, site.store)
    paths = ["/", f"/issues/{site.built.id}", "/feed.xml", "/subscribe", "/healthz", "/nope"]
    async with client(app) as c:
        responses = [await c.get(p) for p in paths]
        responses.append(await c.post("/subscribe", data={"email": "a@b.example"}))
        responses.append(await c.get("/unsubscribe/forged"))
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp, r.url
        assert "script-src" not in csp and "unsafe" not in csp
        assert "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"


async def test_healthz(site: Site) -> None:
    async with client(create_app(site.config, site.store)) as c:
        r = await c.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_app_refuses_to_start_without_a_secret(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", "short")
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET"):
        create_app(site.config, site.store)


# -- the Atom feed ------------------------------------------------------------------------


async def test_feed_is_atom_with_each_issue_in_full(site: Site) -> None:
    async with client(create_app(site.config, site.store)) as c:
        r = await c.get("/feed.xml")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "视频号周报"
    assert [e.link for e in parsed.entries] == [
        "https://news.example/nl/issues/2026-12-03",
        f"https://news.example/nl/issues/{site.built.id}",
    ]
    root = ET.fromstring(r.content)
    entry = root.findall(f"{ATOM}entry")[1]
    content = entry.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    body = content.text or ""
    # Full content: every story's title and digest, not just the issue title.
    for item in site.built.items:
        assert item.entry.title in body
        assert item.summary.text in body
    assert "本周要点" in body


# -- untrusted text ------------------------------------------------------------------------

SCRIPTY = re.compile(r"<\s*script|javascript:|\son\w+\s*=", re.IGNORECASE)


class _ActiveContent(HTMLParser):
    """Collects what a browser would act on: script tags, handlers, non-http(s) URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "base"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "formaction") and value:
                scheme = value.split(":", 1)[0].lower() if ":" in value else ""
                if scheme not in ("", "http", "https"):
                    self.found.append(f"{tag}[{name}={value}]")


def active_content(html: str) -> list[str]:
    parser = _ActiveContent()
    parser.feed(html)
    parser.close()
    return parser.found


async def test_hostile_feed_text_shows_none_of_its_script(site: Site) -> None:
    titles = [i.entry.title for i in site.built.items]
    evil = next(t for t in titles if t.startswith("视频号直播带货新规出炉"))
    async with client(create_app(site.config, site.store)) as c:
        page = await c.get(f"/issues/{site.built.id}")
        archive = await c.get("/")
    assert evil in page.text
    for r in (page, archive):
        assert not SCRIPTY.search(r.text), SCRIPTY.search(r.text)
        assert active_content(r.text) == []


async def test_markup_stored_in_an_issue_is_escaped_everywhere(site: Site) -> None:
    async with client(create_app(site.config, site.store)) as c:
        page = await c.get("/issues/2026-12-03")
        archive = await c.get("/")
        feed = await c.get("/feed.xml")
    assert page.status_code == 200
    for r in (page, archive):
        assert active_content(r.text) == []
        assert "<script" not in r.text.lower()
    # Shown as text, but never as a link.
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;视频号恶意标题" in page.text
    assert "alert(&#39;link&#39;)" not in page.text
    # In the feed the entry HTML is XML-escaped once; unescaped it must still be inert.
    root = ET.fromstring(feed.content)
    for entry in root.findall(f"{ATOM}entry"):
        content = entry.find(f"{ATOM}content")
        assert content is not None
        assert active_content(content.text or "") == []
        assert "<script" not in (content.text or "").lower()
    title = root.find(f"{ATOM}entry/{ATOM}title")
    assert title is not None and title.text == "第 2 期 <script>alert('issue')</script>"


# -- subscribe ------------------------------------------------------------------------------


async def test_subscribe_without_a_valid_csrf_token_is_refused(site: Site) -> None:
    app = create_app(site.config, site.store)
    address = "csrf-victim@example.com"
    async with client(app) as c:
        no_token = await c.post("/subscribe", data={"email": address})
        token = await csrf_form(c)
        forged = await c.post("/subscribe", data={"email": address, "csrf_token": token + "x"})
    async with client(app) as other:
        # A real token, but from another browser (no matching cookie).
        stolen = await other.post("/subscribe", data={"email": address, "csrf_token": token})
    async with client(app) as c2:
        token2 = await csrf_form(c2)
        c2.cookies.set(CSRF_COOKIE, "A" * 32)
        mismatched = await c2.post("/subscribe", data={"email": address, "csrf_token": token2})
    for r in (no_token, forged, stolen, mismatched):
        assert r.status_code == 403
        assert "表单已过期或无效" in r.text
    assert site.store.get_subscriber(email=address) is None


async def test_invalid_address_is_rejected_with_the_form_again(site: Site) -> None:
    async with client(create_app(site.config, site.store)) as c:
        token = await csrf_form(c)
        r = await c.post("/subscribe", data={"email": "not an address", "csrf_token": token})
    assert r.status_code == 400
    assert "请输入有效的邮箱地址" in r.text and 'name="csrf_token"' in r.text


async def test_response_never_reveals_whether_an_address_is_known(site: Site) -> None:
    known = "known-reader@example.com"
    site.store.add_subscriber(known, "", "active")
    answers = []
    async with client(create_app(site.config, site.store)) as c:
        for address in ("brand-new-reader@example.com", known):
            token = await csrf_form(c)
            answers.append(await c.post("/subscribe", data={"email": address, "csrf_token": token}))
    new, old = answers
    assert new.status_code == old.status_code == 200
    assert new.text == old.text
    assert new.headers.get("set-cookie") == old.headers.get("set-cookie")


async def test_subscribe_is_rate_limited_per_ip(site: Site) -> None:
    app = create_app(with_web(site.config, subscribe_limit=3), site.store)
    statuses = []
    async with client(app, ip="198.51.100.9") as c:
        token = await csrf_form(c)
        for n in range(4):
            r = await c.post(
                "/subscribe", data={"email": f"burst{n}@example.com", "csrf_token": token}
            )
            statuses.append(r.status_code)
    assert statuses == [200, 200, 200, 429]
    assert int(r.headers["retry-after"]) > 0 and "提交太频繁" in r.text
    assert site.store.get_subscriber(email="burst3@example.com") is None
    async with client(app, ip="198.51.100.10") as elsewhere:
        token = await csrf_form(elsewhere)
        ok = await elsewhere.post(
            "/subscribe", data={"email": "burst-other@example.com", "csrf_token": token}
        )
    assert ok.status_code == 200


def test_rate_limiter_window_slides_and_ipv6_counts_per_64() -> None:
    now = [1000.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0])
    assert limiter.hit("a") is None and limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(60)
    now[0] += 30
    assert limiter.hit("a") == pytest.approx(30)
    assert limiter.hit("b") is None
    now[0] += 31
    assert limiter.hit("a") is None
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("192.0.2.1") == "192.0.2.1" and client_key(None) == "unknown"


async def test_oversized_form_is_refused(site: Site) -> None:
    async with client(create_app(site.config, site.store)) as c:
        r = await c.post(
            "/subscribe",
            content=b"email=" + b"a" * 40_000,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert r.status_code == 413


# -- double opt-in, confirm, unsubscribe -----------------------------------------------------


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    # aiosmtpd checks that it is up by connecting to its port, so it needs a real one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_double_opt_in_mails_a_link_that_confirms_only_on_post(
    site: Site, smtp: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp
    smtp_config = site.config.email.smtp.model_copy(update={"port": port, "starttls": False})
    config = with_email(site.config, double_opt_in=True, smtp=smtp_config)
    address = "double-opt-in@example.com"
    app = create_app(config, site.store)
    async with client(app) as c:
        token = await csrf_form(c)
        r = await c.post("/subscribe", data={"email": address, "csrf_token": token})
        assert r.status_code == 200 and "确认邮件" in r.text
        pending = site.store.get_subscriber(email=address)
        assert pending is not None and pending.status == "pending"
        assert len(inbox.messages) == 1 and inbox.messages[0]["To"].addresses[0].username
        link = re.search(r"https://news\.example/nl(/confirm/\S+)", _text(inbox.messages[0]))
        assert link, _text(inbox.messages[0])
        path = link.group(1)
        shown = await c.get(path)
        assert shown.status_code == 200 and "确认订阅" in shown.text
        still = site.store.get_subscriber(email=address)
        assert still is not None and still.status == "pending"  # a link scanner's GET
        action = re.search(r'<form method="post" action="([^"]+)"', shown.text)
        assert action
        done = await c.post(action.group(1))
        assert done.status_code == 200 and "订阅成功" in done.text
        bad = await c.post("/confirm/" + path.rsplit("/", 1)[1] + "x")
        assert bad.status_code == 400
    active = site.store.get_subscriber(email=address)
    assert active is not None and active.status == "active"


async def test_double_opt_in_answer_is_the_same_for_known_addresses(
    site: Site, smtp: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp
    smtp_config = site.config.email.smtp.model_copy(update={"port": port, "starttls": False})
    config = with_email(site.config, double_opt_in=True, smtp=smtp_config)
    site.store.add_subscriber("already-active@example.com", "", "active")
    answers = []
    async with client(create_app(config, site.store)) as c:
        for address in ("fresh-doi@example.com", "already-active@example.com"):
            token = await csrf_form(c)
            answers.append(await c.post("/subscribe", data={"email": address, "csrf_token": token}))
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].text == answers[1].text
    assert [m["To"].addresses[0].addr_spec for m in inbox.messages] == ["fresh-doi@example.com"]


async def test_unsubscribe_page_then_post_and_rfc8058_one_click(site: Site) -> None:
    signer = Signer(SECRET)
    people = [site.store.add_subscriber(f"leaver{n}@example.com", "", "active") for n in range(3)]
    tokens = [signer.sign("unsubscribe", p.id or 0) for p in people]
    async with client(create_app(site.config, site.store)) as c:
        shown = await c.get(f"/unsubscribe/{tokens[0]}")
        assert shown.status_code == 200 and "确认退订" in shown.text
        assert site.store.get_subscriber(id=people[0].id).status == "active"  # type: ignore[union-attr]
        # The button on that page: a plain POST, no CSRF token, no cookie needed.
        button = await c.post(f"/unsubscribe/{tokens[0]}")
        # RFC 8058: what a mail provider sends, urlencoded and as multipart.
        one_click = await c.post(
            f"/unsubscribe/{tokens[1]}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        multipart = await c.post(
            f"/unsubscribe/{tokens[2]}",
            files={"List-Unsubscribe": (None, "One-Click")},
        )
        again = await c.post(
            f"/unsubscribe/{tokens[1]}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        forged = await c.post(f"/unsubscribe/{forge_token(tokens[0])}")
        wrong_purpose = await c.post(f"/unsubscribe/{signer.sign('confirm', people[0].id or 0)}")
        forged_page = await c.get("/unsubscribe/not-a-token")
    for r in (button, one_click, multipart, again):
        assert r.status_code == 200 and "已退订" in r.text
    for r in (forged, wrong_purpose, forged_page):
        assert r.status_code == 400
    for p in people:
        assert site.store.get_subscriber(id=p.id).status == "unsubscribed"  # type: ignore[union-attr]


# -- static export ----------------------------------------------------------------------------


def test_build_exports_archive_and_feed_as_static_files(site: Site) -> None:
    out = site.config.output_path
    feed, index = out / "feed.xml", out / "index.html"
    parsed = feedparser.parse(feed.read_bytes())
    assert not parsed.bozo and parsed.entries[0].title == site.built.title
    assert 'href="feed.xml"' in index.read_text(encoding="utf-8")
    for path in (feed, index):
        assert path.stat().st_mode & 0o044 == 0o044, "a static web server must read it"
    # The export reflects the store: writing again picks up the hand-made issue too.
    export_feed(site.config, site.store)
    assert len(feedparser.parse(feed.read_bytes()).entries) == 2
    assert os.path.getsize(feed) > 1000
