"""Quality and speed of the rule-based relevance filter on labeled JSONL files.

Usage (from the repository root)::

    python benchmarks/relevance.py ../shared/corpus/labeled/dev.jsonl [MORE.jsonl ...]

Prints precision / recall / F1 / accuracy, the misclassified ids with the label's ``why``
and our reasons, and entries per second (best of several repetitions, timing judge() only).
Exit status 0 when the targets are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.relevance import judge, load_lexicon  # noqa: E402

TARGET_F1 = 0.95
TARGET_PRECISION = 0.95


def entry_text(row: dict[str, Any]) -> str:
    """The body as the pipeline sees it: summary, then content when it adds something."""
    summary = (row.get("summary") or "").strip()
    content = (row.get("content") or "").strip()
    if content and summary and content.startswith(summary):
        return content
    return "\n".join(p for p in (summary, content) if p)


def load_rows(paths: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="labeled JSONL files")
    parser.add_argument("--repeat", type=int, default=10, help="timing repetitions")
    parser.add_argument("--reasons", type=int, default=4, help="reasons shown per error")
    args = parser.parse_args(argv)

    rows = load_rows(args.files)
    lexicon = load_lexicon()
    inputs = [(r.get("title") or "", entry_text(r)) for r in rows]
    verdicts = [judge(title, text, lexicon) for title, text in inputs]

    tp = fp = fn = tn = 0
    errors = []
    for row, verdict in zip(rows, verdicts, strict=True):
        truth = bool(row["relevant"])
        if verdict.relevant and truth:
            tp += 1
        elif verdict.relevant:
            fp += 1
        elif truth:
            fn += 1
        else:
            tn += 1
        if verdict.relevant != truth:
            errors.append((row, verdict))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = (tp + tn) / len(rows) if rows else 0.0

    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        for title, text in inputs:
            judge(title, text, lexicon)
        best = min(best, time.perf_counter() - start)
    rate = len(rows) / best if best > 0 else float("inf")

    print(f"entries: {len(rows)}  (files: {', '.join(args.files)})")
    print(f"TP {tp}  FP {fp}  FN {fn}  TN {tn}")
    print(f"precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  accuracy {accuracy:.3f}")
    hard = [(r, v) for r, v in zip(rows, verdicts, strict=True) if r.get("hard")]
    if hard:
        ok = sum(v.relevant == bool(r["relevant"]) for r, v in hard)
        print(f"hard entries: {ok}/{len(hard)} correct")
    print(f"speed: {rate:,.0f} entries/s (best of {args.repeat}, judge() only, one core)")
    if errors:
        print(f"misclassified ({len(errors)}):")
        for row, verdict in errors:
            kind = "FP" if verdict.relevant else "FN"
            print(f"  {row['id']} {kind} score {verdict.score:g}: {row.get('why', '')}")
            for reason in verdict.reasons[: args.reasons]:
                print(f"      {reason}")
    met = f1 >= TARGET_F1 and precision >= TARGET_PRECISION
    verdict_line = "MET" if met else "NOT MET"
    print(f"targets (F1 >= {TARGET_F1}, precision >= {TARGET_PRECISION}): {verdict_line}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
