"""Render a 30-item issue (HTML with inlined CSS + plain text) and time it.

Usage (from the repository root)::

    python benchmarks/render.py [--items 30] [--repeat 20]

Prints the first render (cold: template compile included), the median warm render, the
share spent inlining CSS (the baseline is the same templates rendered without inlining,
measured in the same run) and the HTML / text sizes. Target: a render ≤ 0.2 s.
Exit status 0 when the cold render meets the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from newsletter import compose  # noqa: E402
from newsletter.models import Entry, Issue, IssueItem, Summary, Verdict  # noqa: E402
from newsletter.render import Renderer  # noqa: E402
from newsletter.summarize import CATEGORIES  # noqa: E402

ARTICLE = REPO.parent / "shared" / "corpus" / "articles" / "000_2801cbfc706f1353.txt"
FALLBACK_TEXT = "视频号直播电商团队并入微信开放平台，商家与达人的开放能力将统一对外提供。" * 20


def make_issue(n: int) -> Issue:
    text = ARTICLE.read_text(encoding="utf-8") if ARTICLE.is_file() else FALLBACK_TEXT
    end = datetime(2026, 11, 26, tzinfo=UTC)
    items = []
    for i in range(n):
        entry = Entry(
            id=f"e{i:03d}",
            feed_url=f"https://feeds.example.com/{i % 7}.xml",
            title=f"视频号直播电商第 {i + 1} 条：微信小店与达人带货新规则",
            link=f"https://news.example.com/{i}",
            text=text[i * 50 : i * 50 + 2000],
            published=end - timedelta(hours=i),
            source_name=f"来源 {i % 7}",
        )
        also = tuple(
            Entry(
                id=f"e{i:03d}-{k}",
                feed_url="https://other.example.com/feed.xml",
                title=entry.title,
                link=f"https://other.example.com/{i}/{k}",
                text=entry.text[:200],
                published=entry.published,
                source_name=f"转载 {k}",
            )
            for k in range(i % 3)
        )
        summary = Summary(
            text=text[i * 30 : i * 30 + 120],
            kind="llm" if i % 2 else "extractive",
            model="bench",
            category=CATEGORIES[i % len(CATEGORIES)],
            key_facts=("GMV 同比增长 65%", "覆盖 10 万商家"),
        )
        items.append(IssueItem(entry, Verdict(True, 3.0, ("title 视频号 +3",)), summary, also))
    ordered = tuple(item for _, group in compose.sections(items, CATEGORIES) for item in group)
    return Issue(
        id="2026-11-26",
        title="视频号与直播电商周报 第 1 期",
        created=end,
        window_start=end - timedelta(days=7),
        window_end=end,
        items=ordered,
        intro=("本周要点一。", "本周要点二。"),
        intro_kind="extractive",
        sections=compose.sections(ordered, CATEGORIES),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    issue = make_issue(args.items)
    url = "https://news.example.com/issues/2026-11-26"

    started = time.perf_counter()
    renderer = Renderer()
    page = renderer.issue(issue, web_url=url, unsubscribe_url=url + "/unsubscribe")
    cold = time.perf_counter() - started

    warm, plain = [], []
    template = renderer._html.get_template("issue.html.j2")
    for _ in range(args.repeat):
        started = time.perf_counter()
        renderer.issue(issue, web_url=url, unsubscribe_url=url + "/unsubscribe")
        warm.append(time.perf_counter() - started)
        started = time.perf_counter()
        raw = template.render(
            issue=issue,
            lang=renderer.lang,
            window_label=renderer.window_label(issue),
            any_llm=True,
            web_url=url,
            unsubscribe_url=url + "/unsubscribe",
        )
        plain.append(time.perf_counter() - started)
    warm_s, plain_s = statistics.median(warm), statistics.median(plain)
    print(f"{args.items}-item issue")
    print(f"first render (templates compiled, CSS inlined, text part): {cold * 1000:6.1f} ms")
    print(f"warm render, median of {args.repeat}:                         {warm_s * 1000:6.1f} ms")
    print(
        f"baseline, HTML template without inlining, median:          {plain_s * 1000:6.1f} ms"
        f"  (inlining + text part = {warm_s / plain_s:.1f}x the bare template)"
    )
    print(
        f"HTML {len(page.html.encode()) / 1024:.1f} KB (template output "
        f"{len(raw.encode()) / 1024:.1f} KB), text {len(page.text.encode()) / 1024:.1f} KB"
    )
    print("target: render <= 200 ms: " + ("met" if cold <= 0.2 else "MISSED"))
    return 0 if cold <= 0.2 else 1


if __name__ == "__main__":
    sys.exit(main())
