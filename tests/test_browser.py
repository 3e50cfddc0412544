"""End to end in a real headless Chromium: archive → issue → subscribe, with a screenshot.

The test starts Debian's ``chromium`` itself (offline flags, fresh profile) and drives it
over the DevTools protocol with Playwright's ``connect_over_cdp``, so no browser download
is needed. The app runs as ``newsletter serve`` (uvicorn) on a loopback port. Set
``NEWSLETTER_SCREENSHOT_DIR`` to keep copies of the screenshots.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.config import parse_config
from newsletter.flows.build import build_issue
from newsletter.flows.poll import poll
from newsletter.store import Store
from tests.servers import free_port, newsletter_serve

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright (the [test] extra) drives the browser"
)

REPO = Path(__file__).resolve().parents[1]
DEMO_FEEDS = REPO / "examples" / "feeds"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (.ci/run installs it with apt-get where it can)"
)


def _wait(check: object, what: str, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``newsletter serve`` over a database holding one issue built from the demo feeds."""
    root = tmp_path_factory.mktemp("served")
    port = free_port()
    config_text = json.dumps(
        {
            "title": "视频号与直播电商周报",
            "database": "sqlite:///db.sqlite",
            "output_dir": "out",
            "base_url": f"http://127.0.0.1:{port}",
            "issue": {"as_of": "2026-11-26T08:00:00+08:00"},
            # No relay here: the sign-up's confirmation mail fails at once instead of
            # retrying for seconds and holding up the server's shutdown.
            "email": {"retries": 0},
            "feeds": [
                {"url": str(p), "name": p.stem}
                for p in sorted(DEMO_FEEDS.glob("*.*"))
                if p.suffix != ".md"
            ],
        },
        ensure_ascii=False,
    )
    (root / "config.yaml").write_text(config_text, encoding="utf-8")
    config = parse_config(config_text, base_dir=root)
    with Store.open(config.database) as store:
        poll(config, store)
        assert build_issue(config, store).issue is not None
    secret = {"NEWSLETTER_SECRET": "browser-test-secret-0123456789"}
    with newsletter_serve(root / "config.yaml", port, env=secret) as base:
        yield base, root


@pytest.fixture
def chromium_cdp(tmp_path: Path) -> Iterator[str]:
    """A fresh headless Chromium; yields its DevTools endpoint."""
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    browser = subprocess.Popen(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    active = profile / "DevToolsActivePort"

    def endpoint() -> str | None:
        if browser.poll() is not None:
            raise AssertionError(f"chromium exited: {browser.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        lines = active.read_text().split() if active.exists() else []
        return f"http://127.0.0.1:{lines[0]}" if lines else None

    try:
        yield str(_wait(endpoint, "chromium's DevTools port"))
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()


def png_facts(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the pixel data) without an image library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_archive_issue_subscribe_in_headless_chromium(
    served: tuple[str, Path], chromium_cdp: str, tmp_path: Path
) -> None:
    base, root = served
    shots = tmp_path / "shots"
    shots.mkdir()
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.connect_over_cdp(chromium_cdp)
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN")
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(f"{base}/")
        assert page.inner_text("h1") == "往期"
        # The stylesheet loaded under the CSP: the heading is WeChat green.
        assert page.eval_on_selector("h1", "e => getComputedStyle(e).color") == "rgb(7, 193, 96)"
        links = page.locator("ol.issues a")
        assert links.count() == 1
        title = links.first.inner_text()
        links.first.click()
        page.wait_for_url(f"{base}/issues/*")

        assert page.inner_text("article h1") == title
        items = page.locator(".item").count()
        assert items >= 10
        assert page.locator(".item .digest").count() == items
        assert page.locator(".intro li").count() >= 3
        # Fits a phone: nothing wider than the screen, a readable font size.
        layout = page.evaluate(
            "() => ({scroll: document.documentElement.scrollWidth, width: innerWidth,"
            " font: getComputedStyle(document.body).fontSize,"
            " family: getComputedStyle(document.body).fontFamily})"
        )
        assert layout["scroll"] <= layout["width"], layout
        assert layout["font"] == "16px" and "PingFang SC" in layout["family"]
        # The CSP is enforced by the real browser: an injected inline script never runs.
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.__ran = true'; document.head.appendChild(s); }"
        )
        assert page.evaluate("() => window.__ran === true") is False
        blocked = [m for m in problems if "Content Security Policy" in m]
        assert blocked, problems
        issue_shot, issue_full = shots / "issue.png", shots / "issue-full.png"
        page.screenshot(path=str(issue_shot))
        page.screenshot(path=str(issue_full), full_page=True)

        page.click("header nav >> text=订阅")
        page.wait_for_url(f"{base}/subscribe")
        page.fill("#email", "browser.reader@example.com")
        page.fill("#name", "浏览器读者")
        page.click("form button[type=submit]")
        page.wait_for_selector("#subscribe-result")
        assert "谢谢" in page.inner_text("#subscribe-result")
        subscribed_shot = shots / "subscribed.png"
        page.screenshot(path=str(subscribed_shot), full_page=True)
        context.close()
        browser.close()

    unexpected = [m for m in problems if "Content Security Policy" not in m]
    assert unexpected == [], unexpected
    store = Store.open(f"sqlite:///{root / 'db.sqlite'}")
    try:
        reader = store.get_subscriber(email="browser.reader@example.com")
    finally:
        store.close()
    # The form is always double opt-in: pending until the mailed link is clicked.
    assert reader is not None and reader.status == "pending" and reader.name == "浏览器读者"

    keep = os.environ.get("NEWSLETTER_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(issue_shot, Path(keep) / "web.png")
        shutil.copy(issue_full, Path(keep) / "web-issue-full.png")
        shutil.copy(subscribed_shot, Path(keep) / "web-subscribed.png")
    width, height, distinct = png_facts(issue_shot)
    assert (width, height) == (PHONE["width"] * 2, PHONE["height"] * 2)
    assert distinct > 100 and issue_shot.stat().st_size > 50_000
    # Full-page shots leave out the vertical scrollbar (up to ~20 CSS pixels).
    width, height, _ = png_facts(issue_full)
    assert (PHONE["width"] - 20) * 2 <= width <= PHONE["width"] * 2, (width, height)
    assert height > PHONE["height"] * 2 * 3, "eighteen stories make a long page"
