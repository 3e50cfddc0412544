"""The editor's desk over real HTTP: ``newsletter serve`` in a subprocess, mail through the
loopback SMTP server, and a real headless Chromium (over CDP, as ``test_browser``) that
signs in by magic link, drops, edits and moves stories and approves the issue.

Set ``NEWSLETTER_SCREENSHOT_DIR`` to keep the desk's screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from newsletter.config import Config, parse_config
from newsletter.flows.build import build_issue
from newsletter.flows.poll import poll
from newsletter.models import Issue
from newsletter.store import Store
from newsletter.tokens import DeskTokens
from tests.servers import free_port, newsletter_serve
from tests.smtp import SMTPServer
from tests.test_browser import CHROMIUM, PHONE, _wait, chromium_cdp, png_facts

__all__ = ["chromium_cdp"]  # the fixture, shared with test_browser

REPO = Path(__file__).resolve().parents[1]
DEMO_FEEDS = REPO / "examples" / "feeds"
SECRET = "desk-test-secret-0123456789"
EDITOR = "chief.editor@example.org"
READERS = ("desk.reader1@example.com", "desk.reader2@example.com")
# One served desk for the module (its tests run in order on one xdist worker).
pytestmark = pytest.mark.xdist_group("desk")
# The public name in base_url: mail to the list is refused from a loopback base_url, so the
# desk's links carry this name and the tests open them on the loopback server behind it.
PUBLIC = "http://desk.zhibo-weekly.cn"
LINK = re.compile(r"http://desk\.zhibo-weekly\.cn:(\d+)(/desk/signin/[A-Za-z0-9_.\-]+)")


@dataclass
class Desk:
    base: str
    root: Path
    config: Config
    issue: Issue
    smtp: SMTPServer


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """``serve`` over a database holding one draft, built from the demo feeds."""
    root = tmp_path_factory.mktemp("desk")
    port = free_port()
    with SMTPServer() as smtp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEWSLETTER_SECRET", SECRET)
        data = {
            "title": "视频号与直播电商周报",
            "database": "sqlite:///db.sqlite",
            "output_dir": "out",
            "base_url": f"{PUBLIC}:{port}",
            "issue": {"as_of": "2026-11-26T08:00:00+08:00"},
            "email": {
                "from": "周报 <news@zhibo-weekly.cn>",
                "retries": 0,
                "smtp": {"host": "127.0.0.1", "port": smtp.port, "starttls": False},
            },
            "review": {"required": True, "editors": [EDITOR], "deadline": "Mon 07:30"},
            "feeds": [
                {"url": str(p), "name": p.stem}
                for p in sorted(DEMO_FEEDS.glob("*.*"))
                if p.suffix != ".md"
            ],
        }
        text = json.dumps(data, ensure_ascii=False)
        (root / "config.yaml").write_text(text, encoding="utf-8")
        config = parse_config(text, base_dir=root)
        with Store.open(config.database) as store:
            poll(config, store)
            for reader in READERS:
                store.add_subscriber(reader)
            built = build_issue(config, store)
        assert built.issue is not None and built.draft
        assert smtp.wait_for(2)  # the editor's test copy and desk link
        with newsletter_serve(
            root / "config.yaml", port, env={"NEWSLETTER_SECRET": SECRET}
        ) as base:
            yield Desk(base, root, config, built.issue, smtp)


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def sign_in_mails(smtp: SMTPServer, to: str) -> list[EmailMessage]:
    return [
        m.message()
        for m in smtp.received_by(to)
        if str(m.message()["Subject"]).startswith("登录审稿台")
    ]


def ask_for_link(client: httpx.Client, base: str, email: str) -> httpx.Response:
    form = client.get(f"{base}/desk")
    return client.post(
        f"{base}/desk/signin", data={"email": email, "csrf_token": csrf_of(form)}
    )


def newest_link(smtp: SMTPServer, count: int) -> str:
    assert _wait(lambda: len(sign_in_mails(smtp, EDITOR)) >= count, "the sign-in mail", 10)
    body = sign_in_mails(smtp, EDITOR)[count - 1].get_body(("plain",))
    assert body is not None
    match = LINK.search(str(body.get_content()))
    assert match, body
    return f"http://127.0.0.1:{match.group(1)}{match.group(2)}"


def use_link(client: httpx.Client, link: str) -> httpx.Response:
    button = client.get(link)
    assert button.status_code == 200 and "登录" in button.text
    return client.post(link, data={"csrf_token": csrf_of(button)})


def test_only_editors_get_in(desk: Desk) -> None:
    base, smtp, issue_id = desk.base, desk.smtp, desk.issue.id
    title = desk.issue.title
    with httpx.Client(timeout=10) as stranger:
        # The draft is not out: the public archive, its page and the feed do not show it.
        assert stranger.get(f"{base}/issues/{issue_id}").status_code == 404
        assert desk.issue.title not in stranger.get(f"{base}/").text
        assert desk.issue.title not in stranger.get(f"{base}/feed.xml").text
        # No session: every desk page and action is refused.
        assert stranger.get(f"{base}/desk/{issue_id}").status_code == 403
        assert stranger.get(f"{base}/desk/{issue_id}/preview").status_code == 403
        token = csrf_of(stranger.get(f"{base}/desk"))
        drop = {"op": "drop", "entry": desk.issue.items[0].entry.id, "csrf_token": token}
        assert stranger.post(f"{base}/desk/{issue_id}", data=drop).status_code == 403
        # A sign-in request without its CSRF token is refused; a stranger's is answered
        # like anyone's, and mailed nothing.
        bare = stranger.post(f"{base}/desk/signin", data={"email": EDITOR})
        assert bare.status_code == 403
        asked = ask_for_link(stranger, base, "stranger@example.com")
        assert asked.status_code == 200 and 'id="signin-sent"' in asked.text
        # A session cookie signed for someone not in review.editors opens nothing.
        forged = DeskTokens(SECRET).session("stranger@example.com")
        with httpx.Client(timeout=10, cookies={"newsletter_desk": forged}) as pretender:
            assert pretender.get(f"{base}/desk/{issue_id}").status_code == 403
        # Forged, foreign-signed and expired sign-in links.
        for bad in (
            "not-a-token",
            DeskTokens("another-secret-0123456789").link(EDITOR, "n" * 32),
        ):
            answer = use_link(stranger, f"{base}/desk/signin/{bad}")
            assert answer.status_code == 403 and "登录链接无效" in answer.text
        expired = _expired_link(EDITOR)
        answer = use_link(stranger, f"{base}/desk/signin/{expired}")
        assert answer.status_code == 403 and "已过期" in answer.text

    sent_before = len(sign_in_mails(smtp, EDITOR))
    with httpx.Client(timeout=10) as editor:
        assert ask_for_link(editor, base, EDITOR.upper()).status_code == 200
        link = newest_link(smtp, sent_before + 1)
        assert not smtp.received_by("stranger@example.com"), "only editors are mailed"
        # Opening the link shows a button; only pressing it spends the link.
        assert editor.get(link).status_code == 200
        signed = use_link(editor, link)
        assert signed.status_code == 303 and signed.headers["location"] == "/desk"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("newsletter_desk=") and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/desk" in cookie
        assert "Secure" not in cookie  # base_url is http here; https adds it (below)
        page = editor.get(f"{base}/desk/{issue_id}")
        assert page.status_code == 200 and desk.issue.title in page.text
        assert "content-security-policy" in page.headers and "script" not in page.text
        preview = editor.get(f"{base}/desk/{issue_id}/preview")
        assert preview.status_code == 200 and desk.issue.title in preview.text
        csp = preview.headers["content-security-policy"]
        assert "script" not in csp and "default-src 'none'" in csp and "<script" not in preview.text
        # A desk action without the CSRF token is refused even with a session.
        entry = desk.issue.items[0].entry.id
        refused = editor.post(f"{base}/desk/{issue_id}", data={"op": "drop", "entry": entry})
        assert refused.status_code == 403 and "表单已过期" in refused.text
        stale = {"op": "drop", "entry": entry, "csrf_token": "forged-token"}
        assert editor.post(f"{base}/desk/{issue_id}", data=stale).status_code == 403
        # "Send a test copy to me": the draft as it stands, to the signed-in editor only.
        copies = len([m for m in smtp.received_by(EDITOR) if m.message()["Subject"] == title])
        token = csrf_of(editor.get(f"{base}/desk/{issue_id}"))
        sent = editor.post(f"{base}/desk/{issue_id}", data={"op": "test", "csrf_token": token})
        assert sent.status_code == 303 and sent.headers["location"].endswith("?done=test")
        after = [m for m in smtp.received_by(EDITOR) if m.message()["Subject"] == title]
        assert len(after) == copies + 1 and not any(smtp.received_by(r) for r in READERS)
    with httpx.Client(timeout=10) as replay:
        again = use_link(replay, link)
        assert again.status_code == 403 and "已经用过" in again.text
    store = Store.open(desk.config.database)
    try:
        assert store.review_changes(issue_id) == [], "nothing changed the draft"
    finally:
        store.close()


def _expired_link(email: str) -> str:
    """A link signed an hour ago (its lifetime is 15 minutes)."""
    from itsdangerous.timed import TimestampSigner

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3600)
        return DeskTokens(SECRET).link(email, "x" * 32)


@pytest.mark.anyio
async def test_session_cookie_is_secure_under_https(desk: Desk, tmp_path: Path) -> None:
    from newsletter.flows import signin
    from newsletter.web import create_app

    shutil.copy(desk.root / "db.sqlite", tmp_path / "db.sqlite")
    data = json.loads((desk.root / "config.yaml").read_text(encoding="utf-8"))
    data["base_url"] = "https://news.example.org"
    config = Config.model_validate({**data, "database": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    store = Store.open(config.database)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEWSLETTER_SECRET", SECRET)
        count = len(sign_in_mails(desk.smtp, EDITOR))
        assert signin.request_sign_in(config, store, EDITOR)
        body = sign_in_mails(desk.smtp, EDITOR)[count].get_body(("plain",))
        assert body is not None
        found = re.search(r"https://news\.example\.org(/desk/signin/\S+)", str(body.get_content()))
        assert found
        app = create_app(config, store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="https://news.example.org"
        ) as client:
            button = await client.get(found.group(1))
            signed = await client.post(found.group(1), data={"csrf_token": csrf_of(button)})
    store.close()
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")
def test_an_editor_reviews_and_approves_in_chromium(
    desk: Desk, chromium_cdp: str, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright drives the browser")
    base, smtp, issue = desk.base, desk.smtp, desk.issue
    shots = tmp_path / "shots"
    shots.mkdir()
    problems: list[str] = []
    dropped = issue.items[0]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.connect_over_cdp(chromium_cdp)
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN")
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(f"{base}/desk")
        mailed = len(sign_in_mails(smtp, EDITOR))
        page.fill("#email", EDITOR)
        page.click("#signin-form button[type=submit]")
        page.wait_for_selector("#signin-sent")
        page.goto(newest_link(smtp, mailed + 1))
        page.click("#link-form button[type=submit]")
        page.wait_for_url(f"{base}/desk")
        page.click(f"#drafts a[href='/desk/{issue.id}']")
        page.wait_for_url(f"{base}/desk/{issue.id}")
        page.screenshot(path=str(shots / "desk.png"))

        # Drop one story, with a reason.
        story = page.locator(f"[id='story-{dropped.entry.id}']")
        story.locator("input[name=why]").fill("只是一则发布会消息")
        story.locator("button.drop").click()
        page.wait_for_selector("#desk-message")
        assert page.locator(f"[id='story-{dropped.entry.id}']").count() == 0

        # Edit one digest, with a figure the article does not state.
        edited = issue.items[1]
        story = page.locator(f"[id='story-{edited.entry.id}']")
        new_text = "编辑改写：本周视频号直播带货成交额达 98765 亿元，平台加大扶持。"
        story.locator("textarea[name=text]").fill(new_text)
        story.locator("button.edit-digest").click()
        page.wait_for_selector("#desk-message")
        story = page.locator(f"[id='story-{edited.entry.id}']")
        assert story.locator(".digest").inner_text() == new_text
        assert "编辑改写" in story.locator(".badge-editor").inner_text()
        assert "98765" in story.locator(".warning").inner_text()

        # Move one story up inside its section.
        section = page.locator(".desk-section").filter(has=page.locator(".desk-item >> nth=1"))
        items = section.first.locator(".desk-item")
        first_id, second_id = (items.nth(i).get_attribute("data-entry") for i in (0, 1))
        items.nth(1).locator("button.move-up").click()
        page.wait_for_selector("#desk-message")
        items = page.locator(".desk-section").filter(has=page.locator(f"[id='story-{second_id}']"))
        order = [
            items.first.locator(".desk-item").nth(i).get_attribute("data-entry") for i in (0, 1)
        ]
        assert order == [second_id, first_id]

        rows = page.locator("#changes tbody tr")
        assert rows.count() - rows.filter(has_text="drop bullet").count() == 3
        assert EDITOR in rows.first.inner_text()
        page.screenshot(path=str(shots / "desk-edited.png"), full_page=True)

        page.click("#approve-now")
        page.wait_for_selector("#desk-message")
        status = page.inner_text("#desk-status")
        assert status.startswith(("已批准", "已发出")), status  # sent right after the answer
        context.close()
        browser.close()

    assert problems == [], problems
    # Exactly the edited issue, once per subscriber.
    assert _wait(
        lambda: all(smtp.received_by(r) for r in READERS), "the issue at every subscriber", 30
    )
    time.sleep(0.5)  # a second copy, if any, would arrive right behind the first
    for reader in READERS:
        (got,) = smtp.received_by(reader)
        html = str(got.message().get_body(("html",)).get_content())  # type: ignore[union-attr]
        assert new_text in html and dropped.entry.title not in html.split("</head>")[1]
        titles = [i.entry.title for _, group in issue.sections for i in group]
        first_title = next(i.entry.title for i in issue.items if i.entry.id == first_id)
        second_title = next(i.entry.title for i in issue.items if i.entry.id == second_id)
        assert html.index(second_title) < html.index(first_title), "moved up"
        assert len(titles) - 1 == html.count('class="title-link"')
    store = Store.open(desk.config.database)
    try:
        assert store.get_review(issue.id).status == "sent"  # type: ignore[union-attr]
        assert httpx.get(f"{base}/issues/{issue.id}", timeout=10).status_code == 200
        actions = [c.action for c in store.review_changes(issue.id)]
        assert [a for a in actions if a != "drop bullet"] == [
            "drop",
            "edit digest",
            "move",
            "approve",
        ]
    finally:
        store.close()
    keep = os.environ.get("NEWSLETTER_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("desk.png", "desk-edited.png"):
            shutil.copy(shots / name, Path(keep) / name)
    width, height, distinct = png_facts(shots / "desk.png")
    assert (width, height) == (PHONE["width"] * 2, PHONE["height"] * 2) and distinct > 50
