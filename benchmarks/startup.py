"""Start-up time of the CLI: `newsletter --help` and `newsletter feeds`, as fresh processes.

Usage (from the repository root, with the package installed in .venv)::

    python benchmarks/startup.py [--repeat 7]

Each command runs --repeat times; the median wall time is printed next to the interpreter's
own start-up (`python -c pass`, measured in the same run), so the ratio holds on a loaded
machine too. `feeds` runs against a fresh SQLite store with 18 feeds (schema creation
excluded: the first run makes it). Also lists the costliest imports of each command
(`-X importtime`, top level, each with what it pulls in). Target: each command ≤ 0.3 s.
Exit status 0 when both meet it. The CPU time each run spent is printed too: on a loaded
machine it is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import resource
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
    "sqlalchemy",
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


def measure(argv: list[str], repeat: int, env: dict[str, str]) -> tuple[float, float]:
    """Median wall seconds, and the least CPU seconds (user + system) of one run.

    On a machine shared with other work the wall time mostly measures the queue for a
    core; the CPU time the process itself spent is steadier, and its least is the cost.
    """
    times, cpu = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times), min(cpu)


def imports(argv: list[str], env: dict[str, str]) -> list[tuple[int, int, str]]:
    """What ``argv`` (a Python command line) imports: (depth, cumulative µs, module) rows."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=env
    )
    rows = []
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit():
            depth = (len(name) - len(name.lstrip()) - 1) // 2
            rows.append((depth, int(cumulative), name.strip()))
    return rows


def slowest_imports(
    argv: list[str], env: dict[str, str], interpreter: set[str], count: int = 6
) -> list[str]:
    """The command's costliest imports at the top level (each with what it pulls in), the
    interpreter's own start-up and imports under a millisecond left out, and which HEAVY
    modules it loaded."""
    rows = imports(argv, env)
    heavy = sorted({n for _, _, n in rows if n in HEAVY})
    top = sorted((us, n) for d, us, n in rows if d == 0 and us >= 1000 and n not in interpreter)
    listed = [f"{us / 1e6:.3f}s {n}" for us, n in reversed(top[-count:])]
    return [*listed, f"heavy modules imported: {', '.join(heavy) or 'none'}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    newsletter = str(Path(sys.executable).with_name("newsletter"))
    # An installed package runs from its bytecode; PYTHONDONTWRITEBYTECODE (set in some
    # shells and CI images) would make every run compile our modules from source again.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["COLUMNS"] = "80"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        feeds = "".join(f"  - https://feeds{i}.example.com/rss.xml\n" for i in range(18))
        config.write_text(f"database: sqlite:///{tmp}/n.db\nfeeds:\n{feeds}", encoding="utf-8")
        subprocess.run(
            [newsletter, "feeds", "-c", str(config)], check=True, stdout=subprocess.DEVNULL, env=env
        )
        subprocess.run([newsletter, "--help"], check=True, stdout=subprocess.DEVNULL, env=env)
        baseline, base_cpu = measure([sys.executable, "-c", "pass"], args.repeat, env)
        cases = {
            "newsletter --help": [newsletter, "--help"],
            "newsletter feeds": [newsletter, "feeds", "-c", str(config)],
        }
        # What each command imports, run as itself (`-m newsletter`: the same code path).
        probes = {
            "newsletter --help": ["-m", "newsletter", "--help"],
            "newsletter feeds": ["-m", "newsletter", "feeds", "-c", str(config)],
        }
        interpreter = {n for _, _, n in imports(["-c", "pass"], env)}
        ok = True
        print(
            f"python -c pass (baseline): {baseline:.3f}s median of {args.repeat}, "
            f"cpu {base_cpu:.3f}s least (load average {os.getloadavg()[0]:.1f})"
        )
        for label, argv in cases.items():
            seconds, cpu = measure(argv, args.repeat, env)
            ok &= seconds <= TARGET
            print(
                f"{label}: {seconds:.3f}s ({seconds / baseline:.1f}x the baseline; "
                f"{seconds - baseline:.3f}s over it) target {TARGET}s "
                f"{'met' if seconds <= TARGET else 'MISSED'}; "
                f"cpu {cpu:.3f}s ({cpu / base_cpu:.1f}x the baseline's)"
            )
            for line in slowest_imports(probes[label], env, interpreter):
                print(f"    {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
