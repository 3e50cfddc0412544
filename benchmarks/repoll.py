"""Second poll with nothing changed vs the first: conditional GETs answer 304, nothing parses.

Usage (from the repository root)::

    python benchmarks/repoll.py [--feeds 500] [--latency 0.05] [--hosts 25]

Same feeds and servers as ``benchmarks/poll.py``. Target: second poll ≤ 10 % of the first.
Exit status 0 when it holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from poll import REAL, bench_config, load_docs, serve  # noqa: E402

from newsletter.flows.poll import poll  # noqa: E402
from newsletter.store import Store  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--hosts", type=int, default=25)
    args = ap.parse_args()
    if not REAL.is_dir():
        print(f"corpus not found at {REAL}", file=sys.stderr)
        return 2
    docs = load_docs(args.feeds)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        urls = serve(stack, docs, args.hosts, args.latency).urls
        config = bench_config(tmp, urls)
        store = Store.open(config.database)
        started = time.perf_counter()
        first = poll(config, store)
        t_first = time.perf_counter() - started
        started = time.perf_counter()
        second = poll(config, store)
        t_second = time.perf_counter() - started
        store.close()
    unchanged = second.count("not_modified")
    ratio = t_second / t_first
    print(
        f"{args.feeds} feeds on {args.hosts} loopback hosts, "
        f"{args.latency * 1000:.0f} ms latency per request"
    )
    print(
        f"first poll:  {t_first:6.2f} s ({first.count('ok')} ok, {first.new_entries} entries)"
    )
    print(
        f"second poll: {t_second:6.2f} s ({unchanged} not modified, "
        f"{second.new_entries} new entries)"
    )
    print(f"second / first: {ratio:.1%}  (target <= 10%)")
    return 0 if ratio <= 0.10 and unchanged == first.count("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
