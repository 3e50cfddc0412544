"""Polling throughput of 1 vs 4 worker processes sharing one PostgreSQL database.

Usage (from the repository root)::

    python benchmarks/workers.py [--feeds 5000] [--latency 0.05] [--hosts 50] [--pg-url URL]

``--feeds`` loopback feeds, spread over ``--hosts`` loopback servers (a real feed list
spans many hosts; one host would only measure our per-host politeness limit), every
response delayed ``--latency`` seconds. Each feed has two stories of its own and one of
50 syndicated stories whose relevance is uncertain, so the LLM judge (a loopback
OpenAI-protocol server) is asked about it: 50 distinct stories, however many feeds and
workers meet them.

In the same run, on a fresh database each (a throwaway PostgreSQL unless ``--pg-url`` or
``$NEWSLETTER_TEST_PG_URL`` names a server): ``worker --once`` in 1 process, then in 4.
Printed per side: feeds/s (first lease to last release, process start-up excluded; wall
time with start-up too), LLM calls, and database round trips per feed (statements counted
with SQLAlchemy's ``before_cursor_execute`` event in each worker).

Target: 4 workers ≥ 3x the feeds/s of 1 where the work is I/O-bound (latency-bound);
exit status 0 when it holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_RATIO = 3.0
SIDES = (1, 4)
SYNDICATED = 50


def feed_body(i: int) -> str:
    own = "".join(
        f"<item><title>视频号直播带货数据 {i}-{k}</title><link>https://example.com/{i}/{k}</link>"
        f"<guid>own-{i}-{k}</guid><description>微信视频号直播电商第 {i} 号店铺 GMV 增长 {k}0%。"
        "</description><pubDate>Mon, 23 Nov 2026 10:00:00 +0800</pubDate></item>"
        for k in range(2)
    )
    s = i % SYNDICATED
    shared = (
        f"<item><title>品牌{s}号入驻抖音商城</title><link>https://wire.example.com/{s}</link>"
        f"<guid>wire-{s}</guid><description>某国货品牌{s}号宣布入驻抖音商城，主推货架销售。"
        "</description><pubDate>Mon, 23 Nov 2026 09:00:00 +0800</pubDate></item>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>feed {i}</title><link>https://example.com/{i}</link><description>d</description>"
        f"{own}{shared}</channel></rss>"
    )


def _worker(config: Any, name: str, results: Any) -> None:
    """One worker process: count statements, run one pass, report."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from newsletter.workers import run_worker

    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(Engine, "before_cursor_execute", count)
    report = run_worker(config, name=name, once=True)
    results.put((name, report.polled, statements))


def run_side(
    workers: int, server_url: str, feeds: list[str], llm_url: str, folder: Path
) -> dict[str, Any]:
    from newsletter.config import Config
    from newsletter.store import Store
    from tests.pgserver import create_database

    url = create_database(server_url, f"bench_{workers}_{uuid.uuid4().hex[:8]}")
    config = Config.model_validate(
        {
            "database": url,
            "output_dir": str(folder / f"out{workers}"),
            "feeds": [{"url": f} for f in feeds],
            "fetch": {"timeout": 30},
            "relevance": {"llm_judge": True},
            "llm": {"base_url": llm_url, "model": "bench", "api_key_env": "BENCH_LLM_KEY"},
            "schedule": {"poll_interval_seconds": 3600},
        }
    )
    Store.open(url).close()  # schema first: not part of the timing
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    started = time.monotonic()
    procs = [
        context.Process(target=_worker, args=(config, f"bench{n}", results))
        for n in range(workers)
    ]
    for proc in procs:
        proc.start()
    reports = [results.get(timeout=3600) for _ in procs]
    for proc in procs:
        proc.join()
    wall = time.monotonic() - started
    store = Store.open(url)
    try:
        from sqlalchemy import func, select

        from newsletter.store import feeds as feeds_table

        with store.engine.connect() as conn:
            first, last, polled = conn.execute(
                select(
                    func.min(feeds_table.c.last_polled),
                    func.max(feeds_table.c.last_polled),
                    func.count(feeds_table.c.last_polled),
                )
            ).one()
        calls = store.llm_usage().calls
        entries = store.entry_count()
    finally:
        store.close()
    span = (last - first).total_seconds()
    statements = sum(r[2] for r in reports)
    return {
        "workers": workers,
        "polled": polled,
        "per_worker": sorted(r[1] for r in reports),
        "span": span,
        "wall": wall,
        "rate": polled / span if span > 0 else float("inf"),
        "calls": calls,
        "entries": entries,
        "round_trips": statements / max(1, polled),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--pg-url", default=os.environ.get("NEWSLETTER_TEST_PG_URL"))
    args = parser.parse_args()

    from tests.pgserver import ThrowawayPostgres
    from tests.servers import FeedServer, Func, OpenAIServer, Reply

    os.environ["BENCH_LLM_KEY"] = "bench"

    def judge(_request: dict[str, Any]) -> Reply:
        return Reply('{"relevant": true, "reason": "品牌入驻电商平台"}')

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        server_url = args.pg_url
        if not server_url:
            server_url = stack.enter_context(ThrowawayPostgres()).url()
        servers = [
            stack.enter_context(FeedServer(latency=args.latency)) for _ in range(args.hosts)
        ]
        feeds = [
            servers[i % len(servers)].add(f"/feed{i}.xml", feed_body(i)) for i in range(args.feeds)
        ]
        llm = stack.enter_context(OpenAIServer(model="bench"))
        llm.default = Func(judge)
        print(
            f"{args.feeds} feeds on {args.hosts} loopback hosts, {args.latency * 1000:.0f} ms "
            f"latency, PostgreSQL, {os.cpu_count()} CPUs"
        )
        sides = []
        for workers in SIDES:
            before = llm.request_count
            side = run_side(workers, server_url, feeds, llm.base_url, Path(tmp))
            side["requests"] = llm.request_count - before
            sides.append(side)
            print(
                f"  {workers} worker{'s' if workers > 1 else ' '}: {side['rate']:7.1f} feeds/s "
                f"({side['polled']} feeds in {side['span']:.1f}s; wall {side['wall']:.1f}s with "
                f"start-up; per worker {side['per_worker']}), LLM calls {side['calls']} "
                f"(server saw {side['requests']}), {side['round_trips']:.1f} DB round trips/feed"
            )
        ratio = sides[1]["rate"] / sides[0]["rate"]
        print(f"  ratio 4 vs 1 worker: {ratio:.2f}x (target >= {TARGET_RATIO:g}x)")
        ok = ratio >= TARGET_RATIO and all(s["polled"] == args.feeds for s in sides)
        ok = ok and all(s["calls"] == SYNDICATED for s in sides)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
