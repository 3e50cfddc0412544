"""The poll a daemon runs every 30 minutes: most feeds answer 304, a few have new items.

Usage (from the repository root)::

    python benchmarks/steady.py [--feeds 500] [--changed 0.2] [--latency 0.05] [--hosts 25]
                                [--repeat 3] [--no-reader]

Same feeds and servers as ``benchmarks/poll.py``. After a first poll, ``--changed`` of the
feeds (every fifth by default) get one or two new items on top of their old ones (a copy
of their first item with a new title, guid and link); the others answer 304. Measured in
the same run, ``--repeat`` times interleaved, each on fresh databases:

* ours: the first poll, then the steady poll (wall, CPU of every process of ours, items
  the changed documents list, items processed past parsing, CPU per new entry), then a
  poll with nothing changed (the repoll rate of a 304);
* floor: feedparser's CPU, in one process with our options, for just the changed
  documents, plus the 304s at the repoll rate (the all-304 poll's time per feed);
* reader (lemon24/reader, when installed): the same two polls, ``update_feeds(workers=32)``.

Targets: steady poll ≤ 1.5x that floor; reader's steady poll ≥ 5x ours. Exit status 0
when both hold (medians), 1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from poll import (  # noqa: E402
    REAL,
    ReaderSide,
    Run,
    bench_config,
    floor_seconds,
    load,
    load_docs,
    median,
    poll_ours,
    reader_available,
    serve,
)

from newsletter.store import Store  # noqa: E402

FLOOR_TARGET = 1.5
READER_TARGET = 5.0
_ITEM = re.compile(rb"<(item|entry)\b[^>]*>.*?</\1\s*>", re.S)


def with_new_items(body: bytes, count: int, mark: str) -> bytes:
    """``body`` with ``count`` new items before its first: copies of it under a new title,
    guid and link (RSS text links, CDATA links and Atom ``href`` alike)."""
    found = _ITEM.search(body)
    if found is None:
        raise ValueError("no item to copy")
    fresh = []
    for k in range(count):
        tag = f"{mark}-{k}".encode()
        item = found.group(0)
        item = re.sub(rb"(<title\b[^>]*>)", rb"\1New " + tag + b" ", item, count=1)
        item = re.sub(rb"(<(?:guid|id)\b[^>]*>)(\s*)", rb"\1\2new-" + tag + b"-", item, count=1)
        item = re.sub(
            rb"(<link\b[^>]*>\s*(?:<!\[CDATA\[)?\s*)(https?://[^<\s\]]*)",
            rb"\1\2?new=" + tag,
            item,
            count=1,
        )
        item = re.sub(rb'(<link\b[^>]*?\bhref=")([^"]*)', rb"\1\2?new=" + tag, item, count=1)
        fresh.append(item)
    return body[: found.start()] + b"".join(fresh) + body[found.start() :]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--changed", type=float, default=0.2)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--hosts", type=int, default=25)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-reader", action="store_true", help="skip the reader baseline")
    args = ap.parse_args()
    if not REAL.is_dir():
        print(f"corpus not found at {REAL}", file=sys.stderr)
        return 2
    docs = load_docs(args.feeds)
    every = max(1, round(1 / args.changed))
    changed = {
        i: with_new_items(body, 1 + (i // every) % 2, f"r{i}")
        for i, (_, body) in enumerate(docs)
        if i % every == 0
    }
    new_items = sum(1 + (i // every) % 2 for i in changed)
    originals = {i: docs[i][1] for i in changed}
    unchanged = args.feeds - len(changed)
    with_reader = not args.no_reader and reader_available()
    print(
        f"{args.feeds} feeds on {args.hosts} loopback hosts, {args.latency * 1000:.0f} ms "
        f"latency; steady poll: {len(changed)} changed with {new_items} new items, "
        f"{unchanged} answer 304; {load()}"
        + ("" if with_reader else "; no reader baseline (--no-reader, or reader not installed)")
    )
    vs_floor: list[float] = []
    vs_reader: list[float] = []
    with ExitStack() as stack:
        served = serve(stack, docs, args.hosts, args.latency)
        urls = served.urls
        for rep in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                floor_changed = floor_seconds(list(changed.values()))
                config = bench_config(tmp, urls)
                store = Store.open(config.database)
                other = ReaderSide(tmp, urls) if with_reader else None
                sides = ["ours", "reader"] if other is not None else ["ours"]
                if rep % 2:
                    sides.reverse()  # a burst of load then hits each side alike
                runs: dict[str, tuple[Run, Run]] = {}
                for side in sides:
                    served.put(originals)
                    if side == "ours":
                        first = poll_ours(config, store)
                        served.put(changed)
                        steady = poll_ours(config, store)
                        repoll = poll_ours(config, store)
                    else:
                        assert other is not None
                        first = other.update()
                        served.put(changed)
                        steady = other.update()
                    runs[side] = (first, steady)
                store.close()
                if other is not None:
                    other.close()
            first, steady = runs["ours"]
            assert steady.report is not None and repoll.report is not None
            per_304 = repoll.wall / args.feeds
            floor = floor_changed + per_304 * unchanged
            ratio = steady.wall / floor
            vs_floor.append(ratio)
            report = steady.report
            new = report.new_entries
            print(
                f"[{rep + 1}] ours: first {first.wall:5.2f} s; steady {steady.wall:5.2f} s "
                f"wall, {steady.cpu:5.2f} s CPU ({steady.workers_cpu:5.2f} s in parse "
                f"workers): {report.count('ok')} changed, "
                f"{report.count('not_modified')} not modified, {report.listed} items "
                f"parsed, {report.processed} processed past parsing, {new} new entries, "
                f"{steady.cpu / max(1, new) * 1000:.1f} ms CPU per new entry; "
                f"all-304 poll {repoll.wall:5.2f} s; {load()}"
            )
            print(
                f"    floor: {floor_changed:5.2f} s parsing the changed documents + "
                f"{per_304 * unchanged:5.2f} s for {unchanged} 304s = {floor:5.2f} s; "
                f"steady / floor {ratio:.2f}"
            )
            if "reader" in runs:
                their_first, their_steady = runs["reader"]
                vs_reader.append(their_steady.wall / steady.wall)
                print(
                    f"    reader: first {their_first.wall:5.2f} s; steady "
                    f"{their_steady.wall:5.2f} s wall, {their_steady.cpu:5.2f} s CPU "
                    f"= {their_steady.wall / steady.wall:.1f}x ours"
                )
            if new != new_items:
                print(f"    expected {new_items} new entries, stored {new}")
    print(
        f"median: steady / floor {median(vs_floor):.2f} (target <= {FLOOR_TARGET})"
        + (
            f"; reader / ours {median(vs_reader):.1f}x (target >= {READER_TARGET})"
            if vs_reader
            else ""
        )
    )
    ok = median(vs_floor) <= FLOOR_TARGET and (not vs_reader or median(vs_reader) >= READER_TARGET)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
