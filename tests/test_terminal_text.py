"""Text from outside never breaks or restyles the terminal (the real CLI, a real HTTP server).

A reason phrase ``[/]`` made ``run`` exit 1 and ``feeds list`` fail for as long as the
error was stored; names with Rich markup did the same; escape sequences went out raw.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from tests.servers import LOOPBACK_FETCH_YAML

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>[bold]源[/bold]</title><link>https://example.org/</link>
<item><title>视频号直播带货[/] \u202e新规\u202c [link=https://evil.example]点[/link]</title>
<link>https://example.org/a</link><guid>a-1</guid>
<pubDate>Tue, 24 Nov 2026 10:00:00 +0800</pubDate>
<description>视频号直播电商平台公布带货新规，主播须标注商品来源。</description></item>
</channel></rss>
"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/broken.xml":
            self.send_response(503, "[/]")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = FEED.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _config(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "database: sqlite:///nl.db\noutput_dir: out\n"
        "issue:\n  as_of: '2026-11-26T08:00:00+08:00'\n"
        f"{LOOPBACK_FETCH_YAML}feeds:\n"
        f"  - {{url: '{base}/broken.xml', name: '[red]坏[/'}}\n"
        f"  - {{url: '{base}/good.xml', name: '好源'}}\n",
        encoding="utf-8",
    )
    return path


def test_markup_and_control_characters_from_outside_are_printed_as_text(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = str(_config(tmp_path, server))
    runner = CliRunner()
    ran = runner.invoke(app, ["run", "-c", path])
    assert ran.exit_code == 0, ran.output
    assert "HTTP 503 [/]" in ran.output and "[red]坏[/" in ran.output
    listed = runner.invoke(app, ["feeds", "list", "-c", path])
    assert listed.exit_code == 0, listed.output
    assert "[/]" in listed.output

    added = runner.invoke(
        app, ["subscribers", "add", "m@example.org", "--name", "[bold]读者[/", "-c", path]
    )
    assert added.exit_code == 0, added.output
    people = runner.invoke(app, ["subscribers", "list", "-c", path])
    assert people.exit_code == 0 and "[bold]读者[/" in people.output, people.output

    from newsletter.config import load_config
    from newsletter.store import Store

    config = load_config(Path(path))
    store = Store.open(config.database)
    end = config.issue.as_of
    assert end is not None
    [(entry, _)] = store.entries_between(end.replace(year=2000), end, relevant_only=False)
    store.close()
    explained = runner.invoke(app, ["explain", entry.id[:12], "-c", path])
    assert explained.exit_code == 0, explained.output
    assert "[link=https://evil.example]" in explained.output
    assert "\u202e" not in explained.output and "\x1b" not in explained.output


def test_daemon_refuses_to_start_without_the_secret_when_it_would_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    from newsletter.config import load_config
    from newsletter.store import Store

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text("database: sqlite:///nl.db\noutput_dir: out\n", encoding="utf-8")
    store = Store.open(load_config(path).database)
    store.add_subscriber("reader@example.org")
    store.close()
    env = {k: v for k, v in os.environ.items() if k != "NEWSLETTER_SECRET"}
    done = subprocess.run(
        [sys.executable, "-m", "newsletter", "daemon", "-c", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "NEWSLETTER_SECRET" in lines[0], done.stderr
