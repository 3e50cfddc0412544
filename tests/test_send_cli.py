"""``newsletter send`` as an operator runs it: asked first on a real terminal (a pty), exit 1
when deliveries failed, the retries reported, a demo setup refused with the key to fix."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import load_config
from newsletter.store import Store
from tests.smtp import SECRET, SMTPServer, sample_issue, write_config

REPO = Path(__file__).resolve().parents[1]
ISSUE = "2024-05-06"
TITLE = "视频号与直播电商周报 第 1 期（2024-05-06）"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


def setup(folder: Path, port: int, people: int = 3, **email: object) -> Path:
    path = write_config(folder, port, retries=0, **email)
    store = Store.open(load_config(path).database)
    store.save_issue(sample_issue(2), str(folder / "output" / "issues" / ISSUE))
    for n in range(people):
        store.add_subscriber(f"reader{n}@example.org")
    store.close()
    return path


def on_terminal(path: Path, *extra: str, answer: bytes | None) -> tuple[int, str]:
    """``newsletter send`` with a pseudo-terminal as stdin and stdout; ``answer`` is typed
    at the prompt (None: no prompt is expected)."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "send", "-c", str(path), *extra],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=path.parent,
    )
    os.close(slave)
    seen = b""
    answered = answer is None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"Send it now?" in seen:
            os.write(master, answer or b"")
            answered = True
        if proc.poll() is not None and not ready:
            break
    os.close(master)
    code = proc.wait(timeout=30)
    return code, ANSI.sub("", seen.decode("utf-8", "replace")).replace("\r", "")


def test_from_a_terminal_send_asks_first_and_no_sends_nothing(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    path = setup(tmp_path, smtp_server.port)
    code, out = on_terminal(path, answer=b"n\n")
    assert code == 1, out
    assert f"Issue {ISSUE}: {TITLE}" in out
    assert "to 3 subscribers, from 视频号周报 <news@zhibo-weekly.cn>" in out
    assert "Send it now? [y/N]:" in out and "Not sent." in out
    assert smtp_server.count == 0

    code, out = on_terminal(path, answer=b"y\n")
    assert code == 0, out
    assert smtp_server.count == 3
    # Nobody is owed the issue any more: nothing to ask about.
    code, out = on_terminal(path, answer=None)
    assert code == 0 and "Send it now?" not in out, out
    assert smtp_server.count == 3


def test_yes_skips_the_question_and_scripts_are_never_asked(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    path = setup(tmp_path, smtp_server.port)
    code, out = on_terminal(path, "--yes", answer=None)
    assert code == 0 and "Send it now?" not in out, out
    assert smtp_server.count == 3
    store = Store.open(load_config(path).database)
    store.add_subscriber("late@example.org")
    store.close()
    # No terminal (cron, CI): no question, the send goes ahead.
    result = CliRunner().invoke(app, ["send", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "Send it now?" not in result.output and smtp_server.count == 4


def test_exit_status_1_when_a_delivery_failed_and_the_retry_is_reported(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    path = setup(tmp_path, smtp_server.port, retry_delays_seconds=[900.0])
    greylisted = "451 4.7.1 <{address}>: Greylisted, try again later"
    smtp_server.answer_rcpt(greylisted, "reader1@example.org")
    result = CliRunner().invoke(app, ["send", "-c", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert "failed reader1@example.org: 451 4.7.1" in flat
    assert "1 failed temporarily: `newsletter daemon` tries them again from 20" in flat
    assert smtp_server.count == 2


def test_a_demo_setup_is_refused_with_the_key_and_the_fix(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    path = setup(tmp_path, smtp_server.port)
    path.write_text(
        path.read_text("utf-8").replace("https://news.zhibo-weekly.cn", "http://localhost:8000"),
        "utf-8",
    )
    result = CliRunner().invoke(app, ["send", "-c", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "error: not mailing the list: base_url: 'http://localhost:8000'" in flat
    assert "fix: set base_url to the public address" in flat
    assert smtp_server.count == 0
