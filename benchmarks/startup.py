"""Start-up time of the CLI: `newsletter --help` and `newsletter feeds`, as fresh processes.

Usage (from the repository root, with the package installed in .venv)::

    python benchmarks/startup.py [--repeat 7]

Each command runs --repeat times; the median wall time is printed next to the interpreter's
own start-up (`python -c pass`, measured in the same run), so the ratio holds on a loaded
machine too. `feeds` runs against a fresh SQLite store with 18 feeds (schema creation
excluded: the first run makes it). Also lists the slowest imports of each path
(`-X importtime`). Target: each command ≤ 0.3 s. Exit status 0 when both meet it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.3
# Imports that would mean a command path loads the pipeline it does not use.
HEAVY = (
    "newsletter.relevance",
    "newsletter.flows.poll",
    "newsletter.flows.build",
    "jieba",
    "numpy",
    "openai",
    "feedparser",
    "httpx",
    "jinja2",
    "apscheduler",
    "starlette",
    "opencc",
    "css_inline",
)


def median_seconds(argv: list[str], repeat: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def slowest_imports(argv: list[str], env: dict[str, str], count: int = 5) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", argv[0]],
        capture_output=True,
        text=True,
        env=env,
    )
    rows = []
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit():
            rows.append((int(cumulative), name.strip()))
    heavy = sorted({n for _, n in rows if n in HEAVY})
    top = [f"{us / 1e6:.3f}s {n}" for us, n in sorted(rows, reverse=True)[:count]]
    return [*top, f"heavy modules imported: {', '.join(heavy) or 'none'}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    newsletter = str(Path(sys.executable).with_name("newsletter"))
    env = {**os.environ, "COLUMNS": "80"}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        feeds = "".join(f"  - https://feeds{i}.example.com/rss.xml\n" for i in range(18))
        config.write_text(f"database: sqlite:///{tmp}/n.db\nfeeds:\n{feeds}", encoding="utf-8")
        subprocess.run(
            [newsletter, "feeds", "-c", str(config)], check=True, stdout=subprocess.DEVNULL, env=env
        )
        baseline = median_seconds([sys.executable, "-c", "pass"], args.repeat, env)
        cases = {
            "newsletter --help": [newsletter, "--help"],
            "newsletter feeds": [newsletter, "feeds", "-c", str(config)],
        }
        # What each path imports: the CLI module, then what `feeds` adds (the store).
        probes = {
            "newsletter --help": "import newsletter.cli",
            "newsletter feeds": "import newsletter.cli, newsletter.store",
        }
        ok = True
        print(f"python -c pass (baseline): {baseline:.3f}s median of {args.repeat}")
        for label, argv in cases.items():
            seconds = median_seconds(argv, args.repeat, env)
            ok &= seconds <= TARGET
            print(
                f"{label}: {seconds:.3f}s ({seconds / baseline:.1f}x the baseline; "
                f"{seconds - baseline:.3f}s over it) target {TARGET}s "
                f"{'met' if seconds <= TARGET else 'MISSED'}"
            )
            for line in slowest_imports([probes[label]], env):
                print(f"    {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
