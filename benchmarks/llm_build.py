"""A 30-story build against slow and dead LLM endpoints (issue 17).

Usage (from the repository root)::

    python benchmarks/llm_build.py [--stories 30] [--latency 1.0] [--skip-stall]

Every build runs on a fresh SQLite database holding the same 30 relevant stories (one report
of each of the first 30 Simplified-Chinese stories in ``../shared/corpus/labeled``), against
the loopback OpenAI-protocol server (``tests/servers.py``):

* ``latency``: each answer takes ``--latency`` seconds; builds at ``llm.max_concurrency``
  1, 4 and 8. The digest phase (first to last ``summarize`` progress report) is compared
  with ``ceil(stories / c) × latency``: 1.00 means no overhead. Whole builds are also
  compared with an extractive build of the same stories (the baseline, same run).
* ``dead``: nothing listens on the port (connection refused), default settings.
* ``stall``: the server accepts and never answers, default settings (``llm.timeout`` 60 s):
  the breaker must end the LLM part within 2 minutes (target ratio ≤ 1.0 against 120 s).

Exit status 0 when every target holds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.config import Config  # noqa: E402
from newsletter.flows.build import build_issue  # noqa: E402
from newsletter.models import Entry, Verdict  # noqa: E402
from newsletter.store import Store  # noqa: E402
from tests.servers import Echo, Hang, OpenAIServer  # noqa: E402

KEY_ENV = "NL_BENCH_LLM_KEY"
AS_OF = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
STALL_TARGET = 120.0
# ``../shared/corpus`` beside the repository (or beside the worktrees' folder).
CORPUS = next(
    (
        p / "shared" / "corpus" / "labeled" / "stories.jsonl"
        for p in Path(__file__).resolve().parents[1:4]
        if (p / "shared" / "corpus").is_dir()
    ),
    Path("../shared/corpus/labeled/stories.jsonl"),
)


def stories(count: int) -> list[Entry]:
    """One report of each of ``count`` distinct Simplified-Chinese stories of the corpus."""
    seen: set[str] = set()
    made: list[Entry] = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        if record.get("lang") != "zh-Hans" or record.get("story") in seen:
            continue
        seen.add(record["story"])
        i = len(made)
        made.append(
            Entry(
                id=f"bench-{i}",
                feed_url=f"https://source{i}.example/feed",
                title=record["title"],
                link=f"https://source{i}.example/a/{i}",
                text=" ".join((record.get("content") or record.get("summary") or "").split()),
                published=AS_OF - timedelta(hours=1 + i),
                source_name=str(record.get("source") or f"来源{i}"),
            )
        )
        if len(made) == count:
            break
    return made


def build_once(folder: Path, count: int, llm: dict[str, object] | None) -> tuple[float, float]:
    """(whole build, digest phase) in seconds; the phase runs from the first progress
    report of ``summarize`` to the last (cache look-ups to the last digest)."""
    config = Config.model_validate(
        {
            "database": f"sqlite:///{folder / 'news.db'}",
            "output_dir": str(folder / "out"),
            "issue": {"as_of": AS_OF.isoformat(), "max_items": count},
            **({"llm": {"model": "bench", "api_key_env": KEY_ENV, **llm}} if llm else {}),
        }
    )
    store = Store.open(config.database)
    store.add_entries([(e, Verdict(True, 5.0)) for e in stories(count)])
    marks: list[float] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "summarize":
            marks.append(time.monotonic())

    started = time.monotonic()
    report = build_issue(config, store, progress=progress)
    elapsed = time.monotonic() - started
    store.close()
    assert report.issue is not None and len(report.issue.items) == count, report.reason
    return elapsed, (marks[-1] - marks[0]) if marks else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=30)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--skip-stall", action="store_true", help="skip the 1-2 minute case")
    args = parser.parse_args()
    os.environ[KEY_ENV] = "sk-bench"
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        runs = iter(range(100))

        def fresh() -> Path:
            folder = Path(tmp) / str(next(runs))
            folder.mkdir()
            return folder

        build_once(fresh(), args.stories, None)  # warm-up: word lists, imports
        baseline, _ = build_once(fresh(), args.stories, None)
        print(f"extractive build (baseline): {baseline:.2f}s")
        with OpenAIServer(latency=args.latency) as server:
            server.default = Echo(category="行业观察")
            for concurrency in (1, 4, 8):
                wall, phase = build_once(
                    fresh(),
                    args.stories,
                    {"base_url": server.base_url, "max_concurrency": concurrency},
                )
                ideal = math.ceil(args.stories / concurrency) * args.latency
                print(
                    f"latency {args.latency:g}s, concurrency {concurrency}: digests {phase:.2f}s "
                    f"vs ceil({args.stories}/{concurrency}) x {args.latency:g}s = {ideal:.0f}s: "
                    f"{phase / ideal:.2f}x (build {wall:.2f}s = {wall / baseline:.2f}x the "
                    f"extractive build; peak {server.peak} in flight)"
                )
                ok &= phase / ideal < 1.5
                server.reset()
                server.default = Echo(category="行业观察")
        dead = OpenAIServer()
        dead.start()
        refused_url = dead.base_url
        dead.stop()
        wall, _ = build_once(fresh(), args.stories, {"base_url": refused_url})
        print(
            f"dead endpoint (connection refused), defaults: build {wall:.2f}s = "
            f"{wall / baseline:.2f}x the extractive build; {wall / STALL_TARGET:.3f}x of 2 min"
        )
        ok &= wall <= STALL_TARGET
        if not args.skip_stall:
            with OpenAIServer() as stalled:
                stalled.default = Hang(3600)
                wall, _ = build_once(fresh(), args.stories, {"base_url": stalled.base_url})
                print(
                    f"stalled endpoint, defaults (llm.timeout 60s, 4 in flight): build "
                    f"{wall:.1f}s = {wall / STALL_TARGET:.2f}x of the 2 min target; "
                    f"{stalled.request_count} requests sent"
                )
                ok &= wall <= STALL_TARGET
    print(json.dumps({"ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
