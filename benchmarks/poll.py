"""First poll of N real feeds on loopback with per-request latency: ours vs the floor and reader.

Usage (from the repository root)::

    python benchmarks/poll.py [--feeds 500] [--latency 0.05] [--hosts 25] [--repeat 3]
                              [--baseline-sample 108] [--sizes 100,500,2000] [--no-reader]

Feeds are the real documents in ``../shared/corpus/feeds/real/``, round-robin under distinct
paths, spread over ``--hosts`` loopback servers (real feed lists span many hosts; one host
would only measure our per-host politeness limit). Every response waits ``--latency``.

Measured in the same run, ``--repeat`` times interleaved (the machine is shared: only
ratios within one repetition mean anything, and the load average is printed beside them):

* CPU floor: ``feedparser.parse(bytes)`` of the same bodies in one process, with the
  options our parse uses;
* ours: ``flows.poll.poll`` into a fresh SQLite file (fetch, parse in a process pool, nh3,
  relevance, store), wall time and the CPU of every process of ours;
* reader (lemon24/reader, when installed): ``update_feeds(workers=32)`` into a fresh file;
* once: sequential ``feedparser.parse(url)`` (timed on the first ``--baseline-sample``
  feeds and extrapolated; 0 skips it).

Then, once per size in ``--sizes``, a first poll in a fresh process: wall time, CPU and
peak RSS (main process and largest parse worker), to show time growing linearly with the
feeds and memory staying bounded.

Targets: ours ≤ 1.5x the CPU floor; reader ≥ 4x ours; peak RSS at 2,000 feeds ≤ 1.5x
that at 500. Exit status 0 when all that were measured hold (medians), 1 otherwise.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import feedparser  # noqa: E402

from newsletter.config import Config  # noqa: E402
from newsletter.flows.poll import PollReport, poll  # noqa: E402
from newsletter.store import Store  # noqa: E402
from tests.servers import FeedServer  # noqa: E402

REAL = REPO.parent / "shared" / "corpus" / "feeds" / "real"
# What sites answered instead of a feed (see SOURCES.md): not "realistic feeds".
NOT_FEEDS = {
    "http-guwendong-com-feed.xml",
    "http-www-chongdiantou-com-feed.xml",
    "http-yx-bsh-me-feed.xml",
    "https-egoist-moe-atom-xml.xml",
}
FLOOR_TARGET = 1.5
READER_TARGET = 4.0
RSS_TARGET = 1.5


def load_docs(n: int) -> list[tuple[str, bytes]]:
    """``n`` realistic feed documents, round-robin over the real corpus files."""
    files = sorted(p for p in REAL.iterdir() if p.is_file() and p.name not in NOT_FEEDS)
    bodies = [(p.name, p.read_bytes()) for p in files]
    return [bodies[i % len(bodies)] for i in range(n)]


def _path(i: int, name: str) -> str:
    return f"/{i}/{name}"


def _server_process(
    docs: list[tuple[str, bytes]], hosts: int, latency: float, conn: Connection
) -> None:
    with ExitStack() as stack:
        servers = [stack.enter_context(FeedServer(latency=latency)) for _ in range(hosts)]
        urls = [
            servers[i % hosts].add(_path(i, name), body, "application/xml")
            for i, (name, body) in enumerate(docs)
        ]
        conn.send(urls)
        while True:  # until the benchmark is done
            command = conn.recv()
            if command == "stop":
                return
            for i, body in command.items():  # {feed index: new body}
                servers[i % hosts].add(_path(i, docs[i][0]), body, "application/xml")
            conn.send("ok")


@dataclass
class Served:
    """The feeds served by the loopback process; :meth:`put` changes some of their bodies."""

    urls: list[str]
    _conn: Connection

    def put(self, bodies: dict[int, bytes]) -> None:
        """Serve ``bodies[i]`` as feed ``i`` from now on (new ETag and Last-Modified)."""
        self._conn.send(bodies)
        self._conn.recv()


def serve(stack: ExitStack, docs: list[tuple[str, bytes]], hosts: int, latency: float) -> Served:
    """Serve each document under its own path, spread over ``hosts`` loopback servers.

    The servers run in a process of their own, as remote servers would: in ours, their
    Python threads would compete for the interpreter with the client being measured.
    """
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_server_process, args=(docs, hosts, latency, theirs), daemon=True
    )
    process.start()
    urls: list[str] = ours.recv()

    def stop() -> None:
        ours.send("stop")
        process.join(5)

    stack.callback(stop)
    return Served(urls, ours)


def bench_config(folder: str, urls: list[str]) -> Config:
    """Default settings, a fresh SQLite file in ``folder``, the served (loopback) feeds."""
    return Config.model_validate(
        {
            "database": f"sqlite:///{folder}/bench.db",
            "output_dir": folder,
            "feeds": [{"url": u} for u in urls],
            "fetch": {"allow_private_addresses": True},  # the servers are on loopback
        }
    )


def max_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def cpu_seconds() -> tuple[float, float]:
    """CPU so far of this process and of its reaped children (the parse workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def load() -> str:
    """The 1-minute load average, for the figures it stands beside."""
    return f"load {os.getloadavg()[0]:.1f}"


def floor_seconds(bodies: list[bytes]) -> float:
    """feedparser's CPU for ``bodies`` in this process, with our parse options."""
    started = time.process_time()
    for body in bodies:
        feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    return time.process_time() - started


@dataclass
class Run:
    wall: float
    cpu: float
    """CPU of this process and its children (parse workers)."""
    workers_cpu: float = 0.0
    """Of that, the children's."""
    report: PollReport | None = None


def timed(work: Callable[[], Any]) -> tuple[Run, Any]:
    """Wall time and CPU of ``work`` (this process and reaped children), and its result."""
    me, kids = cpu_seconds()
    started = time.perf_counter()
    result = work()
    wall = time.perf_counter() - started
    me2, kids2 = cpu_seconds()
    return Run(wall, (me2 - me) + (kids2 - kids), kids2 - kids), result


def poll_ours(config: Config, store: Store) -> Run:
    run, report = timed(lambda: poll(config, store))
    run.report = report
    return run


def reader_available() -> bool:
    try:
        import reader  # noqa: F401
    except ImportError:
        return False
    return True


class ReaderSide:
    """lemon24/reader on its own SQLite file, fed the same URLs."""

    def __init__(self, folder: str, urls: list[str]) -> None:
        from reader import make_reader

        self.reader = make_reader(f"{folder}/reader.sqlite")
        for url in urls:
            self.reader.add_feed(url, exist_ok=True)

    def update(self) -> Run:
        run, _ = timed(lambda: self.reader.update_feeds(scheduled=False, workers=32))
        return run

    def close(self) -> None:
        self.reader.close()


def _scale_child(urls: list[str], folder: str, conn: Connection) -> None:
    config = bench_config(folder, urls)
    store = Store.open(config.database)
    rss_before = max_rss_mb(resource.RUSAGE_SELF)
    run = poll_ours(config, store)
    store.close()
    assert run.report is not None
    conn.send(
        (
            run.wall,
            run.cpu,
            rss_before,
            max_rss_mb(resource.RUSAGE_SELF),
            max_rss_mb(resource.RUSAGE_CHILDREN),
            run.report.count("ok"),
        )
    )


def scale_run(urls: list[str]) -> tuple[float, float, float, float, float, int]:
    """A first poll of ``urls`` in a fresh process (its peak RSS is this poll's alone)."""
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = multiprocessing.Pipe()
        process = multiprocessing.get_context("spawn").Process(
            target=_scale_child, args=(urls, tmp, theirs)
        )
        process.start()
        result: tuple[float, float, float, float, float, int] = ours.recv()
        process.join()
    return result


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--hosts", type=int, default=25)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline-sample", type=int, default=108)
    ap.add_argument("--sizes", default="100,500,2000", help="scale figures; '' skips them")
    ap.add_argument("--no-reader", action="store_true", help="skip the reader baseline")
    args = ap.parse_args()
    if not REAL.is_dir():
        print(f"corpus not found at {REAL}", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    docs = load_docs(max([args.feeds, *sizes]))
    mine = docs[: args.feeds]
    total_bytes = sum(len(b) for _, b in mine)
    with_reader = not args.no_reader and reader_available()
    print(
        f"{args.feeds} feeds ({len(set(mine))} distinct real documents, "
        f"{total_bytes / args.feeds / 1024:.0f} KB average, {total_bytes / 1e6:.1f} MB total) "
        f"on {args.hosts} loopback hosts, {args.latency * 1000:.0f} ms latency per request, "
        f"{os.cpu_count()} cores; {load()}"
        + ("" if with_reader else "; no reader baseline (--no-reader, or reader not installed)")
    )
    vs_floor: list[float] = []
    vs_reader: list[float] = []
    ok = True
    with ExitStack() as stack:
        served = serve(stack, docs, args.hosts, args.latency)
        urls = served.urls[: args.feeds]
        if args.baseline_sample:
            sample = urls[: args.baseline_sample]
            started = time.perf_counter()
            for url in sample:
                feedparser.parse(url)
            per_feed = (time.perf_counter() - started) / len(sample)
            print(
                f"sequential feedparser.parse(url): {per_feed * args.feeds:6.2f} s "
                f"({per_feed * 1000:.1f} ms/feed over {len(sample)} feeds, extrapolated); "
                f"{load()}"
            )
        for rep in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                floor = floor_seconds([b for _, b in mine])
                config = bench_config(tmp, urls)
                store = Store.open(config.database)
                other = ReaderSide(tmp, urls) if with_reader else None
                theirs: Run | None = None
                # Alternate who goes first: a burst of load then hits each side alike.
                if other is not None and rep % 2:
                    theirs = other.update()
                ours = poll_ours(config, store)
                if other is not None and theirs is None:
                    theirs = other.update()
                entries = store.entry_count()
                store.close()
                if other is not None:
                    other.close()
            assert ours.report is not None
            failed = [o for o in ours.report.outcomes if o.status != "ok"]
            ratio = ours.wall / floor
            vs_floor.append(ratio)
            line = (
                f"[{rep + 1}] floor {floor:5.2f} s CPU | ours {ours.wall:5.2f} s wall, "
                f"{ours.cpu:5.2f} s CPU ({ours.workers_cpu:5.2f} s in parse workers; "
                f"{len(failed)} failed, {entries} entries) "
                f"= {ratio:.2f}x floor"
            )
            if theirs is not None:
                vs_reader.append(theirs.wall / ours.wall)
                line += (
                    f" | reader {theirs.wall:5.2f} s wall, {theirs.cpu:5.2f} s CPU "
                    f"= {theirs.wall / ours.wall:.1f}x ours"
                )
            print(f"{line}; {load()}")
            for outcome in failed[:5]:
                print(f"  failed: {outcome.url}: {outcome.error}")
        print(
            f"median: ours / CPU floor {median(vs_floor):.2f} (target <= {FLOOR_TARGET})"
            + (
                f"; reader / ours {median(vs_reader):.1f}x (target >= {READER_TARGET})"
                if vs_reader
                else ""
            )
        )
        ok = median(vs_floor) <= FLOOR_TARGET and (
            not vs_reader or median(vs_reader) >= READER_TARGET
        )
        peaks: dict[int, float] = {}
        for n in sizes:
            wall, cpu, before, peak, worker, good = scale_run(served.urls[:n])
            peaks[n] = peak
            print(
                f"{n:5d} feeds: {wall:6.2f} s wall ({wall / n * 1000:.1f} ms/feed), "
                f"{cpu:6.2f} s CPU, {good} ok; peak RSS main {peak:.0f} MB "
                f"({before:.0f} MB before the poll), largest parse worker {worker:.0f} MB; "
                f"{load()}"
            )
        if 500 in peaks and 2000 in peaks:
            growth = peaks[2000] / peaks[500]
            print(f"peak RSS 2,000 / 500 feeds: {growth:.2f} (target <= {RSS_TARGET})")
            ok = ok and growth <= RSS_TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
