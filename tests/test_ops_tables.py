"""What an operator reads: `feeds` and `poll` tables at 80 columns, feed labels, local times."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from newsletter._urls import feed_label
from tests.servers import LOOPBACK_FETCH_YAML, FeedServer

NEWSLETTER = [sys.executable, "-m", "newsletter"]


def rss(title: str, n: int) -> str:
    now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    items = "".join(
        f"<item><title>视频号直播带货第{i}场</title><link>https://x.example/{title}/{i}</link>"
        f"<pubDate>{now}</pubDate><description>视频号直播电商。</description></item>"
        for i in range(n)
    )
    channel = f"<channel><title>{title}</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    return subprocess.run(
        [*NEWSLETTER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_feed_label_prefers_name_then_title_then_host_and_path_tail() -> None:
    assert feed_label("36氪", "36Kr RSS", "https://36kr.com/feed") == "36氪"
    assert feed_label("", "虎嗅网", "https://www.huxiu.com/rss/0.xml") == "虎嗅网"
    assert feed_label("", "", "https://www.huxiu.com/rss/0.xml") == "huxiu.com/rss/0.xml"
    assert feed_label("", "", "https://rsshub.app/36kr/newsflashes") == "rsshub.app/…/newsflashes"
    assert feed_label("", "", "https://rsshub.app/jiemian/list/4") == "rsshub.app/…/list/4"
    # The URL as a name (what older rows hold) is no name.
    url = "https://a.example/feed"
    assert feed_label(url, "", url) == "a.example/feed"


def test_feeds_and_poll_fit_80_columns_with_errors_on_one_line(tmp_path: Path) -> None:
    with FeedServer() as server:
        urls = [server.add(f"/site{i}/channel/feed", rss(f"站点{i}号", 2)) for i in range(12)]
        urls.append(server.add("/gone/feed", "not here", content_type="text/plain", status=404))
        urls.append(server.add("/page", "<html><body>hello</body></html>", "text/html"))
        feeds = "".join(f"  - {u}\n" for u in urls)
        (tmp_path / "config.yaml").write_text(
            f"timezone: Asia/Shanghai\n{LOOPBACK_FETCH_YAML}feeds:\n{feeds}", encoding="utf-8"
        )
        polled = cli("poll", cwd=tmp_path)
        listed = cli("feeds", cwd=tmp_path)
    assert polled.returncode == 0, polled.stderr
    assert listed.returncode == 0, listed.stderr
    for output in (polled.stdout, listed.stdout):
        lines = output.splitlines()
        too_wide = [line for line in lines if len(line.rstrip()) > 80]
        assert not too_wide, output
        # Feeds without a name show their own title once polled, else host + path.
        assert "站点3号" in output
        assert "127.0.0.1:" in output and "gone/feed" in output
        # Each error is one full line under the table, never one word per line.
        error_lines = [line for line in lines if "404" in line]
        assert len(error_lines) == 1 and "gone/feed" in error_lines[0], output
        assert any("not a feed" in line and "/page" in line for line in lines), output
    # 14 feeds: title, header, rule, 14 rows, 2 errors (a long one may take a second line).
    assert len(listed.stdout.rstrip().splitlines()) <= 3 + 14 + 2 * 2, listed.stdout
    assert "times in Asia/Shanghai" in listed.stdout
    # Last success in Shanghai time, whole (MM-DD HH:MM), not cut to `2026-1…`.
    now = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert f"{now:%m-%d} " in listed.stdout
    assert "…" not in "".join(line[-24:] for line in listed.stdout.splitlines()[3:])


def test_help_texts_name_values_without_type_tags() -> None:
    import re

    import typer

    from newsletter import cli

    command = typer.main.get_command(cli.app)
    cli._name_values(command)
    seen = []

    def walk(cmd: object, name: str, parent: object | None) -> None:
        ctx = cmd.make_context(name, [], parent=parent, resilient_parsing=True)  # type: ignore[attr-defined]
        text = cmd.get_help(ctx)  # type: ignore[attr-defined]
        seen.append(name)
        tags = re.findall(r"<(?:str|bool|int|float|path|float range|int range)>", text)
        assert not tags, f"{name}: {tags}\n{text}"
        for sub_name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, sub_name, ctx)

    walk(command, "newsletter", None)
    assert len(seen) >= 20


def test_version_flag(tmp_path: Path) -> None:
    from newsletter import __version__

    result = cli("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"newsletter {__version__}"


def test_the_cli_package_imports_no_part_of_the_pipeline() -> None:
    """`--help` and `feeds` stay fast: no cli module imports the pipeline (nor rich) at its top."""
    heavy = (
        "newsletter.relevance", "newsletter.store", "newsletter.config", "newsletter.flows.poll",
        "newsletter.flows.build", "sqlalchemy", "jieba", "numpy", "openai", "feedparser",
        "httpx", "jinja2", "apscheduler", "starlette", "rich",
    )
    probe = (
        "import sys, newsletter.cli; "
        "print(' '.join(m for m in sys.argv[1:] if m in sys.modules "
        "and type(sys.modules[m]).__name__ != '_LazyModule'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe, *heavy], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not loaded, loaded


def test_feeds_loads_only_what_its_table_needs(tmp_path: Path) -> None:
    """`newsletter feeds` on a SQLite store: config, store and rich, none of the modules
    ``benchmarks/startup.py`` calls heavy (the pipeline, its HTTP, LLM and template code)."""
    spec = importlib.util.spec_from_file_location(
        "benchmarks_startup", Path(__file__).resolve().parents[1] / "benchmarks" / "startup.py"
    )
    assert spec and spec.loader
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    (tmp_path / "config.yaml").write_text(
        "database: sqlite:///n.db\nfeeds:\n  - https://a.example/rss.xml\n", encoding="utf-8"
    )
    assert cli("feeds", cwd=tmp_path).returncode == 0  # the first run creates the schema
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "newsletter", "feeds"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )
    assert "a.example/rss.xml" in run.stdout
    loaded = {
        line.rpartition("|")[2].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert {"newsletter.config", "newsletter.store", "rich.table"} <= loaded, sorted(loaded)
    assert not loaded & set(benchmark.HEAVY), sorted(loaded & set(benchmark.HEAVY))


def on_screen(args: list[str], cwd: Path, columns: int = 80) -> list[str]:
    """What a terminal of ``columns`` shows after the command: its scrollback, then screen.

    A real pseudo-terminal (so rich draws live progress bars) read by a terminal emulator
    (pyte), since the raw bytes repeat every redraw of a bar.
    """
    import fcntl
    import pty
    import select
    import struct
    import termios

    import pyte

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    proc = subprocess.Popen(
        [*NEWSLETTER, *args], cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
        env={**env, "TERM": "xterm-256color"},
    )
    os.close(slave)
    data = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(120) in (0, 1), data.decode(errors="replace")
    screen = pyte.HistoryScreen(columns, 24, history=500)
    pyte.ByteStream(screen).feed(data)
    old = ["".join(row[x].data for x in range(columns)) for row in screen.history.top]
    return [line.rstrip() for line in old + list(screen.display)]


def test_run_shows_each_progress_bar_once_above_its_table(tmp_path: Path) -> None:
    with FeedServer() as server:
        feeds = "".join(f"  - {server.add(f'/s{i}.xml', rss(f'台{i}', 3))}\n" for i in range(6))
        # min_items out of reach: the build stops at once (the bars are what is tested).
        (tmp_path / "config.yaml").write_text(
            f"timezone: Asia/Shanghai\nissue: {{min_items: 1000}}\n{LOOPBACK_FETCH_YAML}"
            f"feeds:\n{feeds}",
            encoding="utf-8",
        )
        shown = on_screen(["run"], tmp_path)
    bars = [line for line in shown if line.startswith("Polling feeds")]
    assert len(bars) == 1, "\n".join(shown)
    assert bars[0].endswith(("6/6 0:00:00", "6/6 0:00:01", "6/6 0:00:02")), bars
    table = next(i for i, line in enumerate(shown) if line.startswith("Poll: 6 feeds"))
    assert shown.index(bars[0]) < table
    assert "18 new entries, 0 feeds failed" in shown
    assert any(line.startswith("No issue built") for line in shown), shown
    assert all(len(line) <= 80 for line in shown)
