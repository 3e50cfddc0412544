"""The rendered issue and confirmation mail, checked as mail clients and readers see them.

* ``doiuse-email`` (caniemail's data): nothing unsupported in Gmail, Apple Mail, Outlook.com
  and Outlook for Windows beyond the reasoned allow-list below.
* HTML validators: ``html-validate`` (email profile in ``tests/email/htmlvalidate.json``)
  and, where a JRE exists, the Nu validator (``vnu.jar``).
* Headless Chromium at 375 and 800 px, light and dark (emulated ``prefers-color-scheme``):
  screenshots written as artifacts, WCAG AA contrast of every text measured in the page.

The npm tools are installed by ``.ci/run`` into ``.ci/node`` (``NEWSLETTER_NODE_MODULES``
points elsewhere); each check skips with the reason when its tool is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter import compose
from newsletter.models import Entry, Feed, Issue
from newsletter.parse import parse_feed
from newsletter.relevance import judge
from newsletter.render import Renderer
from newsletter.summarize import CATEGORIES, extractive_summary
from tests.test_browser import CHROMIUM, chromium_cdp  # noqa: F401 - the browser fixture

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = Path(
    os.environ.get("NEWSLETTER_NODE_MODULES", REPO / ".ci" / "node" / "node_modules")
)
ARTIFACTS = Path(os.environ.get("NEWSLETTER_ARTIFACTS_DIR", REPO / "output" / "test-artifacts"))
NODE = shutil.which("node")
JAVA = shutil.which("java")
CLIENTS = "gmail.*,apple-mail.*,outlook.outlook-com,outlook.windows,outlook.windows-mail"
CONTACT = "示例传媒 · 北京市朝阳区示例路 1 号 · editor@example.com"
END = datetime(2026, 11, 26, tzinfo=UTC)

# What caniemail reports unsupported and why it is fine here. Every entry is a (client
# pattern, feature pattern, reason); anything else unsupported fails the test.
ALLOWED: tuple[tuple[str, str, str], ...] = (
    (
        r"gmail\.mobile-webmail|outlook\.windows(-mail)?",
        r"@media|Class selector|Type selector|Descendant combinator|Attribute selector",
        "the kept <style> (small screens, dark mode, Outlook.com) is an enhancement; "
        "everything the layout needs is inlined, and these clients ignore the block",
    ),
    (
        r"gmail\.mobile-webmail|outlook\.windows(-mail)?",
        r"display:none|opacity|overflow",
        "the preheader is hidden by several properties at once (mso-hide for Outlook, "
        "max-height/font-size 1px, text in the background colour); each client honours one",
    ),
    (
        r"outlook\.windows-mail",
        r"role attribute",
        'role="presentation"/"article" only guide screen readers; ignoring it changes nothing',
    ),
)


def _demo_issue(renderer: Renderer) -> Issue:
    """The demo feeds' issue, built from the stages themselves (extractive digests)."""
    pairs = []
    feeds = {}
    for path in sorted((REPO / "examples" / "feeds").glob("*.*")):
        if path.suffix == ".md":
            continue
        feed = Feed(str(path), name=path.stem)
        feeds[feed.url] = feed
        for entry in parse_feed(path.read_bytes(), feed).entries:
            verdict = judge(entry.title, entry.text)
            if verdict.relevant:
                pairs.append((entry, verdict))

    def singletons(entries: object, rank: object) -> list[tuple[Entry, ...]]:
        return [(e,) for e in entries]  # type: ignore[attr-defined]

    stories = compose.select_stories(pairs, feeds, window_end=END, max_items=30, cluster=singletons)
    digests = {s.entry.id: extractive_summary(s.entry, 120) for s in stories}
    items = compose.issue_items(stories, digests)
    sections = compose.sections(items, CATEGORIES)
    return Issue(
        id="2026-11-26",
        title="视频号与直播电商周报 第 1 期（2026-11-26）",
        created=END,
        window_start=END.replace(day=19),
        window_end=END,
        items=items,
        intro=compose.highlights(items),
        sections=sections,
    )


@pytest.fixture(scope="module")
def mails(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The rendered issue (with a "more on the web" note) and confirmation mail, as files."""
    root = tmp_path_factory.mktemp("mails")
    renderer = Renderer(list_title="视频号与直播电商周报", contact=CONTACT)
    issue = _demo_issue(renderer)
    page = renderer.issue(
        issue,
        web_url="https://news.example.com/issues/2026-11-26",
        unsubscribe_url="https://news.example.com/unsubscribe/TOKEN",
        more=4,
    )
    confirm = renderer.confirmation(
        "视频号与直播电商周报", "https://news.example.com/confirm/abc.DEF-123"
    )
    files = {"issue": root / "issue.html", "confirm": root / "confirm.html"}
    files["issue"].write_text(page.html, encoding="utf-8")
    files["confirm"].write_text(confirm.html, encoding="utf-8")
    return files


def _node_tool(package: str) -> Path:
    if NODE is None:
        pytest.skip("no node on PATH (.ci/run installs the npm checks where npm works)")
    path = NODE_MODULES / package
    if not path.is_dir():
        pytest.skip(f"{package} not installed in {NODE_MODULES} (.ci/run installs it with npm)")
    return path


def test_nothing_unsupported_in_the_clients_we_promise(mails: dict[str, Path]) -> None:
    _node_tool("doiuse-email")
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(REPO / "tests" / "email" / "doiuse.mjs"), str(NODE_MODULES), CLIENTS]
        + [str(p) for p in mails.values()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results = json.loads(done.stdout)
    left: list[str] = []
    for file, result in results.items():
        for error in result.get("errors", []):
            found = re.fullmatch(r"`(.+)` is not supported by `(.+)`", error)
            assert found, error
            feature, client = found.groups()
            if not any(re.fullmatch(c, client) and re.fullmatch(f, feature) for c, f, _ in ALLOWED):
                left.append(f"{Path(file).name}: {error}")
    assert left == []
    # The check really covers Outlook.com (doiuse-email 0.4 leaves it out of its globs).
    notes = " ".join(n for r in results.values() for n in r.get("notes", []))
    assert "outlook.outlook-com" in notes


def test_html_validators_are_clean(mails: dict[str, Path]) -> None:
    tool = _node_tool("html-validate")
    assert NODE is not None
    done = subprocess.run(
        [
            NODE,
            str(tool / "bin" / "html-validate.mjs"),
            "--config",
            str(REPO / "tests" / "email" / "htmlvalidate.json"),
            *map(str, mails.values()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    jar = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
    if JAVA is None or not jar.is_file():
        return  # html-validate alone; the Nu validator needs a JRE and the vnu-jar package
    # Outlook's own CSS properties and supported-color-schemes (Apple Mail) are not in
    # the CSS specs the Nu validator knows; everything else must pass.
    vendor = r".*Property “(mso-[a-z-]+|supported-color-schemes)” doesn.t exist.*"
    nu = subprocess.run(
        [JAVA, "-jar", str(jar), "--format", "text", "--filterpattern", vendor]
        + [str(p) for p in mails.values()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert nu.returncode == 0, nu.stdout + nu.stderr


def test_the_mails_declare_what_clients_need(mails: dict[str, Path]) -> None:
    for name, path in mails.items():
        html = path.read_text(encoding="utf-8")
        assert re.search(r'<html lang="zh-CN"', html), name
        assert re.search(r"<title>[^<]+</title>", html), name
        assert '<meta name="color-scheme" content="light dark">' in html
        assert '<meta name="supported-color-schemes" content="light dark">' in html
        assert "prefers-color-scheme: dark" in html
        assert '<div class="preheader"' in html
        # Classic Outlook: a fixed-width centred table it understands, inside MSO comments.
        assert '<!--[if mso]><table role="presentation" align="center" width="640"' in html
        assert 'role="presentation"' in html and '<div class="sheet' not in html
        # The font stack sits on the wrapper and the cells, not only on <body>.
        wrapper = re.search(r'<div class="wrapper"[^>]*style="([^"]*)"', html)
        assert wrapper and "PingFang SC" in wrapper.group(1)
        assert CONTACT in html
    issue = mails["issue"].read_text(encoding="utf-8")
    assert issue.count(">阅读原文</a>") >= 15
    assert "本期还有 4 条报道没有放进邮件" in issue
    assert "您收到这封邮件，是因为您订阅了《视频号与直播电商周报》" in issue
    assert 'href="https://news.example.com/unsubscribe/TOKEN"' in issue


# --- in a real browser -------------------------------------------------------------------

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright drives the browser")

# For every element with its own text: colour, the background it sits on (nearest opaque
# ancestor background), and the WCAG contrast ratio between them.
CONTRAST_JS = """
() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.display === 'none' || el.closest('.preheader')) continue;
    const fg = rgb(style.color), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    out.push({text: el.textContent.trim().slice(0, 30), tag: el.tagName,
              ratio: (hi + 0.05) / (lo + 0.05), fg: style.color, bg: bg.join(',')});
  }
  return out;
}
"""


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (.ci/run installs it with apt-get where it can)"
)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_and_contrast_at_375_and_800(
    mails: dict[str, Path],
    chromium_cdp: str,  # noqa: F811 - the fixture imported from test_browser
    scheme: str,
) -> None:
    out = ARTIFACTS / "email"
    out.mkdir(parents=True, exist_ok=True)
    low: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.connect_over_cdp(chromium_cdp)
        for width in (375, 800):
            context = browser.new_context(
                viewport={"width": width, "height": 900}, color_scheme=scheme, locale="zh-CN"
            )
            page = context.new_page()
            for name, path in mails.items():
                page.goto(path.as_uri())
                # Nothing wider than a phone's screen.
                scroll = page.evaluate("() => document.documentElement.scrollWidth")
                assert scroll <= width, (name, width, scroll)
                sheet = page.eval_on_selector(
                    ".sheet-main", "e => getComputedStyle(e).backgroundColor"
                )
                assert sheet == ("rgb(255, 255, 255)" if scheme == "light" else "rgb(27, 30, 33)")
                if width == 800:
                    box = page.eval_on_selector(".sheet-main", "e => e.getBoundingClientRect()")
                    middle = box["x"] + box["width"] / 2
                    assert box["width"] == 640 and abs(middle - 400) <= 10, box
                for row in page.evaluate(CONTRAST_JS):
                    if row["ratio"] < 4.5:
                        low.append(f"{name} {scheme} {row}")
                shot = out / f"{name}-{width}-{scheme}.png"
                # A viewport as tall as the page instead of a full-page shot, which would
                # leave out the scrollbar's 15 px on the right at the phone's width.
                height = page.evaluate("() => document.documentElement.scrollHeight")
                page.set_viewport_size({"width": width, "height": height})
                page.screenshot(path=str(shot))
                page.set_viewport_size({"width": width, "height": 900})
                assert shot.stat().st_size > 20_000
            context.close()
        browser.close()
    assert low == [], low
