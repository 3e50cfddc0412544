"""Build the weekly issue from a store of 5,000 feeds × 50 entries (250,000 rows) and time it.

Usage (from the repository root)::

    python benchmarks/scale.py [--feeds 5000] [--per-feed 50] [--baseline-feeds 50]
                               [--repeat 3] [--seed 7] [--profile]

Fills a fresh SQLite store through ``Store`` as a poll would (feeds registered as an
OPML import, entries inserted with ``Store.add_entries`` together with the verdict of the
real relevance judge), then times ``flows.build.build_issue`` offline (no LLM configured, so
extractive digests), which is what ``newsletter build`` runs: compose the window, dedupe,
summarize, render, write the issue files, the archive index and ``feed.xml``.

The data. Every entry is a real text from ``../shared/corpus``: the labeled on-topic /
hard-negative entries (``labeled/dev.jsonl``, ``labeled/stories.jsonl``, whose stories come
in several rewrites) and the items of the real feeds in ``feeds/real/`` (blogs, news,
podcasts: mostly off topic). Each copy is varied by its
outlet (a credit line, a title suffix, a dateline, or an excerpt of the first sentences),
so no two entries have the same text, and the judge scores every copy.

* Topicality: 10 % of the feeds are industry feeds (60 % of their entries drawn from the
  labeled pool, about half of which is on topic); the rest are general feeds (2 %).
* Posting rate, per feed (its 50 entries are its latest 50 posts, a Poisson process going
  back from its newest post): 5 % wires posting 4-12 a day (50 posts = 4-12 days), 15 %
  daily (0.7-2 a day), 50 % weekly (1-3.5 a week, a year or so of history), 30 % rare
  (1-10 a quarter, years of history). 10 % of all feeds are dormant: their newest post is
  1-24 months old.
* So about 9 % of the rows fall in the issue's 7-day window and about 6 % of those are
  on topic (about 1,300 entries: the labeled stories, each run by several outlets, which
  dedupe groups); the counts are printed.

Measured in the same run, each build repeated ``--repeat`` times after one untimed warm-up
(imports, template compilation), median printed:

* scale: the build on the full store;
* baseline, small store: ``--baseline-feeds`` feeds × the same entries per feed, same
  distribution (the brief's "same build on a small store");
* baseline, week only: a store holding only the full store's entries of the issue's
  window, no history: the same stories, a fraction of the rows. scale / week-only near 1
  means the build's cost follows the week's stories, not the store's size.

Also printed: fill time (not part of the target), the database file size and bytes per
entry, and the wall time of ``newsletter build`` as a fresh process on the full store
(interpreter start-up and imports included). Target: the build on the full store ≤ 2 s.
Exit status 0 when the target holds, 1 otherwise, 2 when the corpus is missing.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from newsletter import relevance  # noqa: E402
from newsletter.config import Config  # noqa: E402
from newsletter.flows.build import build_issue  # noqa: E402
from newsletter.models import Entry, Feed, Verdict  # noqa: E402
from newsletter.parse import entry_id, parse_feed  # noqa: E402
from newsletter.store import Store  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
LABELED = (CORPUS / "labeled" / "dev.jsonl", CORPUS / "labeled" / "stories.jsonl")
REAL = CORPUS / "feeds" / "real"

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
"""The moment the issue is built (``issue.as_of``): its window is the 7 days before."""
WINDOW_DAYS = 7
TARGET_SECONDS = 2.0

# (share of feeds, posts per day: low, high)
RATES = (
    (0.05, 4.0, 12.0),  # wires, aggregators
    (0.15, 0.7, 2.0),  # daily
    (0.50, 1 / 7, 3.5 / 7),  # weekly
    (0.30, 1 / 90, 10 / 90),  # rare
)
DORMANT = 0.10
INDUSTRY_FEEDS, INDUSTRY_TOPICAL, GENERAL_TOPICAL = 0.10, 0.60, 0.02
OUTLETS = ("科技", "电商", "财经", "零售", "新闻", "观察", "Daily", "Tech", "Insider", "博客")
SENTENCE = re.compile(r"(?<=[。！？!?.])\s*")


@dataclass(frozen=True)
class Base:
    title: str
    text: str
    lang: str


@dataclass(frozen=True)
class FeedPlan:
    feed: Feed
    host: str
    rate: float
    """Posts per day."""
    newest_age_days: float
    topical: float
    """Share of its entries drawn from the labeled (mostly on-topic) pool."""


def load_pools() -> tuple[list[Base], list[Base]]:
    """(labeled pool, real-feed pool) of texts to copy from."""
    labeled: list[Base] = []
    for path in LABELED:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            text = re.sub(r"\s+", " ", r.get("content") or r.get("summary") or "").strip()
            labeled.append(Base(r["title"], text, r.get("lang", "zh-Hans")))
    real: list[Base] = []
    for path in sorted(REAL.iterdir()):
        parsed = parse_feed(path.read_bytes(), Feed(url=f"https://example.com/{path.name}"), NOW)
        for e in parsed.entries:
            lang = "en" if sum(c.isascii() for c in e.title) > len(e.title) * 0.8 else "zh-Hans"
            real.append(Base(e.title, e.text, lang))
    return labeled, real


def plan_feeds(n: int, rng: random.Random, prefix: str) -> list[FeedPlan]:
    plans = []
    for i in range(n):
        pick, rate = rng.random(), RATES[-1]
        for share_rate in RATES:
            if pick < share_rate[0]:
                rate = share_rate
                break
            pick -= share_rate[0]
        per_day = rng.uniform(rate[1], rate[2])
        # The newest post is as old as a typical gap, or months for a dormant feed.
        newest = rng.expovariate(per_day)
        if rng.random() < DORMANT:
            newest += rng.uniform(30, 730)
        industry = rng.random() < INDUSTRY_FEEDS
        name = f"{rng.choice(OUTLETS)}{prefix}{i:04d}"
        host = f"{prefix}{i:04d}.example.{rng.choice(('com', 'cn', 'net'))}"
        feed = Feed(url=f"https://{host}/feed.xml", name=name)
        topical = INDUSTRY_TOPICAL if industry else GENERAL_TOPICAL
        plans.append(FeedPlan(feed, host, per_day, newest, topical))
    return plans


def vary(base: Base, outlet: str, k: int, style: int) -> tuple[str, str]:
    """Title and text of this outlet's copy number ``k`` of a base text."""
    en = base.lang == "en"
    credit = f"(via {outlet}, #{k})" if en else f"（来源：{outlet}，第 {k} 篇）"
    title, text = base.title, base.text
    if style == 1:
        title = f"{title} | {outlet}" if en else f"{title}｜{outlet}"
    elif style == 2:
        dateline = f"{outlet} - " if en else f"{outlet}讯 "
        text = dateline + text
    elif style == 3:
        # An excerpt: the first sentences, as teaser feeds publish.
        sentences = [s for s in SENTENCE.split(text) if s]
        keep = max(1, (len(sentences) * 2) // 3)
        text = "".join(sentences[:keep]) + (" …" if en else "……")
    return title, f"{text} {credit}"


def entries_of(
    plan: FeedPlan,
    per_feed: int,
    pools: tuple[list[Base], list[Base]],
    lexicon: relevance.Lexicon,
    rng: random.Random,
) -> Iterator[tuple[Entry, Verdict]]:
    """One feed's latest ``per_feed`` posts, newest first, each judged as poll judges it."""
    labeled, real = pools
    age = plan.newest_age_days
    for k in range(per_feed, 0, -1):
        base = rng.choice(labeled if rng.random() < plan.topical else real)
        title, text = vary(base, plan.feed.name, k, rng.randrange(4))
        published = (NOW - timedelta(days=age)).replace(microsecond=0)
        link = f"https://{plan.host}/{published:%Y/%m}/{k}.html"
        entry = Entry(
            id=entry_id(plan.feed.url, f"{plan.host}-{k}", link, title, published.isoformat()),
            feed_url=plan.feed.url,
            title=title,
            link=link,
            text=text,
            published=published,
            source_name=plan.feed.name,
        )
        yield entry, relevance.judge(entry.title, entry.text, lexicon)
        age += rng.expovariate(plan.rate)


@dataclass
class Filled:
    rows: int = 0
    in_window: int = 0
    relevant_in_window: int = 0
    seconds: float = 0.0


def in_window(entry: Entry) -> bool:
    return NOW - timedelta(days=WINDOW_DAYS) < entry.published <= NOW


def fill(
    stores: list[Store],
    plans: list[FeedPlan],
    per_feed: int,
    pools: tuple[list[Base], list[Base]],
    lexicon: relevance.Lexicon,
    rng: random.Random,
) -> Filled:
    """Write every feed's entries into ``stores[0]`` and the window's into ``stores[1]``.

    Feeds are registered as an OPML import would (origin ``opml``); entries go in through
    ``Store.add_entries``, 20 feeds per call (poll calls it per feed; batching only saves
    commits, the statements are the same).
    """
    started = time.perf_counter()
    counts = Filled()
    for store in stores:
        store.sync_feeds([p.feed for p in plans], origin="opml")
    batch: list[tuple[Entry, Verdict]] = []
    week: list[tuple[Entry, Verdict]] = []
    for index, plan in enumerate(plans, 1):
        for entry, verdict in entries_of(plan, per_feed, pools, lexicon, rng):
            batch.append((entry, verdict))
            if in_window(entry):
                week.append((entry, verdict))
                counts.in_window += 1
                counts.relevant_in_window += verdict.relevant
        if index % 20 == 0 or index == len(plans):
            counts.rows += len(stores[0].add_entries(batch))
            batch = []
    if len(stores) > 1:
        for start in range(0, len(week), 1000):
            stores[1].add_entries(week[start : start + 1000])
    counts.seconds = time.perf_counter() - started
    return counts


def config_for(folder: Path) -> Config:
    return Config.model_validate(
        {
            "database": f"sqlite:///{folder}/newsletter.db",
            "output_dir": str(folder / "output"),
            "issue": {"as_of": NOW.isoformat()},
            "llm": {"model": None},
        }
    )


@dataclass
class Built:
    median: float
    low: float
    high: float
    stories: int


def time_builds(config: Config, store: Store, repeat: int) -> Built:
    """Median of ``repeat`` builds of the issue (the same window: rebuilt in place)."""
    times: list[float] = []
    stories = 0
    for _ in range(repeat):
        started = time.perf_counter()
        report = build_issue(config, store)
        times.append(time.perf_counter() - started)
        if report.issue is None:
            raise SystemExit(f"build produced no issue: {report.reason}")
        stories = len(report.issue.items)
    return Built(statistics.median(times), min(times), max(times), stories)


def time_window_query(store: Store, repeat: int) -> float:
    """Median time of the build's one entries query (the window's relevant entries)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        store.entries_between(NOW - timedelta(days=WINDOW_DAYS), NOW)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cli_build(folder: Path) -> float:
    """Wall time of ``newsletter build`` as a fresh process (start-up and imports included)."""
    config = config_for(folder)
    path = folder / "config.yaml"
    plain = {"database": config.database, "output_dir": str(config.output_path)}
    # JSON is YAML.
    path.write_text(json.dumps({**plain, "issue": {"as_of": NOW.isoformat()}}), "utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("OPENAI_API_KEY", None)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "newsletter", "build", "-c", str(path)],
        env=env,
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def db_size(folder: Path) -> int:
    """The database file with its WAL (checkpointed by closing the store first)."""
    return sum(p.stat().st_size for p in folder.glob("newsletter.db*"))


def describe(label: str, feeds: int, filled: Filled, size: int) -> str:
    return (
        f"{label:<22} {feeds:>5} feeds, {filled.rows:>7,} entries, {filled.in_window:>6,} in "
        f"the window, {filled.relevant_in_window:>5,} relevant there; "
        f"DB {size / 1e6:7.1f} MB ({size / max(filled.rows, 1):,.0f} B/entry)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=5000)
    ap.add_argument("--per-feed", type=int, default=50)
    ap.add_argument("--baseline-feeds", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", action="store_true", help="cProfile one build of the full store")
    args = ap.parse_args()
    if not all(p.is_file() for p in LABELED) or not REAL.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    os.environ.pop("OPENAI_API_KEY", None)  # offline: extractive digests
    pools = load_pools()
    print(
        f"texts: {len(pools[0])} labeled entries, {len(pools[1])} real feed items; "
        f"issue window: the {WINDOW_DAYS} days to {NOW:%Y-%m-%d %H:%M} UTC"
    )
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        root = Path(tmp)
        folders = {name: root / name for name in ("scale", "week", "small")}
        configs = {name: config_for(folder) for name, folder in folders.items()}
        stores = {name: Store.open(c.database) for name, c in configs.items()}
        lexicon = relevance.load_lexicon(
            configs["scale"].relevance.lexicon, configs["scale"].relevance.overrides
        )
        rng = random.Random(args.seed)
        big = fill(
            [stores["scale"], stores["week"]],
            plan_feeds(args.feeds, rng, "f"),
            args.per_feed,
            pools,
            lexicon,
            rng,
        )
        week = Filled(big.in_window, big.in_window, big.relevant_in_window)
        small = fill(
            [stores["small"]],
            plan_feeds(args.baseline_feeds, rng, "s"),
            args.per_feed,
            pools,
            lexicon,
            rng,
        )
        print(
            f"fill (judge + Store.add_entries): {big.seconds:.1f} s for the full store "
            f"({big.rows / big.seconds:,.0f} entries/s, with its week-only copy)"
        )
        for store in stores.values():
            store.close()  # checkpoints the WAL into the file: the size an operator sees
        sizes = {name: db_size(folder) for name, folder in folders.items()}
        print(describe("scale:", args.feeds, big, sizes["scale"]))
        print(describe("baseline, week only:", args.feeds, week, sizes["week"]))
        print(describe("baseline, small store:", args.baseline_feeds, small, sizes["small"]))

        stores = {name: Store.open(c.database) for name, c in configs.items()}
        # Warm-up: imports (dedupe's numpy, jieba), template compilation, lexicon.
        build_issue(configs["small"], stores["small"])
        built = {
            name: time_builds(configs[name], stores[name], args.repeat)
            for name in ("small", "week", "scale")
        }
        query = {name: time_window_query(stores[name], args.repeat) for name in ("scale", "week")}
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(build_issue, configs["scale"], stores["scale"])
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        for store in stores.values():
            store.close()
        cli = cli_build(folders["scale"])

    scale = built["scale"]
    print(f"build_issue, median of {args.repeat} (min-max), stories in the issue:")
    for name, label in (
        ("scale", "scale"),
        ("week", "baseline, week only"),
        ("small", "baseline, small store"),
    ):
        b = built[name]
        print(f"  {label:<22} {b.median:6.2f} s ({b.low:.2f}-{b.high:.2f}), {b.stories} stories")
    print(
        f"scale / week only:  {scale.median / built['week'].median:5.2f}x  "
        f"(same stories, {big.rows / max(week.rows, 1):.0f}x the rows)"
    )
    print(
        f"scale / small store: {scale.median / built['small'].median:5.2f}x  "
        f"({big.relevant_in_window / max(small.relevant_in_window, 1):.0f}x the week's "
        f"relevant entries, {big.rows / max(small.rows, 1):.0f}x the rows)"
    )
    print(
        f"of which the window's query (Store.entries_between): scale {query['scale'] * 1000:.0f} ms"
        f", week only {query['week'] * 1000:.0f} ms"
    )
    print(f"`newsletter build` as a fresh process on the full store: {cli:.2f} s wall")
    met = scale.median <= TARGET_SECONDS
    print(
        f"target: build <= {TARGET_SECONDS:.0f} s on the full store: "
        + ("met" if met else "MISSED")
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
