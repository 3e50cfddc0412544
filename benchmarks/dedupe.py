"""Pairwise precision / recall of same-story clustering on a labeled JSONL file.

Usage (from the repo root): ``python benchmarks/dedupe.py [FILE.jsonl]``
(default ``../shared/corpus/labeled/stories.jsonl``). Each record needs ``id``,
``story`` (gold label), ``title``, ``link``, ``published`` (ISO 8601 with offset) and
``summary`` and/or ``content``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.dedupe import cluster  # noqa: E402
from newsletter.models import Entry  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "labeled" / "stories.jsonl"
TARGET_PRECISION = 0.95
TARGET_RECALL = 0.85


def load(path: Path) -> tuple[list[Entry], dict[str, str]]:
    """Entries (text = content, else summary, whitespace collapsed) and id → gold story."""
    entries: list[Entry] = []
    gold: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r: dict[str, Any] = json.loads(line)
        text = re.sub(r"\s+", " ", r.get("content") or r.get("summary") or "").strip()
        published = datetime.fromisoformat(r["published"])
        if published.tzinfo is None:
            published = published.replace(tzinfo=UTC)
        entries.append(
            Entry(
                id=r["id"],
                feed_url=r.get("source", ""),
                title=r.get("title", ""),
                link=r.get("link", ""),
                text=text,
                published=published.astimezone(UTC),
                source_name=r.get("source", ""),
            )
        )
        gold[r["id"]] = r.get("story", r["id"])
    return entries, gold


def pairs_of(groups: list[tuple[Entry, ...]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for g in groups:
        for a, b in combinations(sorted(e.id for e in g), 2):
            out.add((a, b))
    return out


def score(
    groups: list[tuple[Entry, ...]], gold: dict[str, str]
) -> tuple[float, float, float, set[tuple[str, str]], set[tuple[str, str]]]:
    """Pairwise precision, recall, F1, false-positive pairs, false-negative pairs."""
    predicted = pairs_of(groups)
    truth = {(a, b) for a, b in combinations(sorted(gold), 2) if gold[a] == gold[b]}
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, predicted - truth, truth - predicted


def workload(path: Path, n: int) -> list[Entry]:
    """``n`` entries for timing: every labeled ``*.jsonl`` next to ``path``, then rewrites.

    Rewrites (sentences reversed, first one dropped, new id and link) of those real items
    fill the rest, so the batch looks like a busy week: each story reported ~3 times.
    """
    real: list[Entry] = []
    for f in sorted(path.parent.glob("*.jsonl")):
        real.extend(load(f)[0])
    out = list(real[:n])
    k = 0
    while len(out) < n:
        base = real[k % len(real)]
        sentences = [s for s in re.split(r"(?<=[。！？.!?])\s*", base.text) if s]
        text = " ".join(reversed(sentences[1:] or sentences))
        out.append(replace(base, id=f"{base.id}-rw{k}", text=text,
                           link=f"https://example.com/rewrite/{k}"))
        k += 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--scale", type=int, default=1000,
                    help="also time cluster() on this many entries (0: skip); see workload()")
    ap.add_argument("--repeat", type=int, default=5, help="timing runs (best is reported)")
    args = ap.parse_args(argv)
    if not args.file.exists():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    entries, gold = load(args.file)
    titles = {e.id: e.title for e in entries}

    t0 = time.perf_counter()
    groups = cluster(entries)
    first = time.perf_counter() - t0
    best = first
    for _ in range(max(0, args.repeat - 1)):
        t0 = time.perf_counter()
        cluster(entries)
        best = min(best, time.perf_counter() - t0)

    p, r, f1, fps, fns = score(groups, gold)
    n_stories = len(set(gold.values()))
    print(f"file: {args.file}")
    print(f"entries: {len(entries)}  gold stories: {n_stories}  predicted clusters: {len(groups)}")
    print(f"pairwise precision: {p:.3f}  recall: {r:.3f}  F1: {f1:.3f}")
    print(f"false-positive pairs ({len(fps)}):")
    for a, b in sorted(fps):
        print(f"  {a} {titles[a][:28]} | {b} {titles[b][:28]}")
    print(f"false-negative pairs ({len(fns)}):")
    for a, b in sorted(fns):
        print(f"  {a} {titles[a][:28]} | {b} {titles[b][:28]}")
    print(f"time: first run {first * 1000:.1f} ms (includes OpenCC load), "
          f"best of {args.repeat} {best * 1000:.1f} ms")
    if args.scale:
        big = workload(args.file, args.scale)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            n_big = len(cluster(big))
            times.append(time.perf_counter() - t0)
        print(f"time for {len(big)} entries ({n_big} clusters): "
              f"best {min(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms")
    met = p >= TARGET_PRECISION and r >= TARGET_RECALL
    print(f"targets (precision >= {TARGET_PRECISION}, recall >= {TARGET_RECALL}): "
          f"{'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
