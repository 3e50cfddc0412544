"""Processes that stop or die during LLM calls: SIGTERM to the daemon, ``kill -9`` of a build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.config import Config, load_config
from newsletter.flows.build import build_issue
from newsletter.flows.poll import poll
from newsletter.schedule import Daemon
from newsletter.store import Store
from tests.servers import Echo, Hang, OpenAIServer
from tests.test_daemon import Proc, demo_feeds

REPO = Path(__file__).resolve().parents[1]
KEY_ENV = "NL_STOP_TEST_KEY"


def write_config(
    tmp_path: Path, base_url: str, feeds: list[str] | None = None, **extra: object
) -> Path:
    config = {
        "database": f"sqlite:///{tmp_path / 'news.db'}",
        "output_dir": str(tmp_path / "out"),
        "timezone": "UTC",
        "feeds": [{"url": f} for f in feeds or demo_feeds()],
        "issue": {"as_of": "2026-11-26T08:00:00+08:00"},
        # Defaults that make a stalled endpoint expensive: 60 s a call, 3 attempts.
        "llm": {"base_url": base_url, "model": "m", "api_key_env": KEY_ENV, "timeout": 60},
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return path


def wait_for_requests(server: OpenAIServer, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while server.request_count < count:
        assert time.monotonic() < deadline, f"{server.request_count} LLM requests in {timeout}s"
        time.sleep(0.05)


@pytest.fixture
def stalled(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    """An endpoint that accepts every request and answers none (for two minutes)."""
    monkeypatch.setenv(KEY_ENV, "sk-test")
    with OpenAIServer() as server:
        server.default = Hang(120)
        yield server


def test_sigterm_during_llm_calls_exits_within_ten_seconds(
    tmp_path: Path, stalled: OpenAIServer
) -> None:
    due = time.gmtime(time.time() - 120)
    cron = f"{due.tm_min} {due.tm_hour} * * *"
    path = write_config(
        tmp_path, stalled.base_url, schedule={"issue": cron, "poll_interval_seconds": 600}
    )
    proc = Proc(path)
    try:
        wait_for_requests(stalled, 1, timeout=60)  # the catch-up build is in its LLM calls
        started = time.monotonic()
        assert proc.stop(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        proc.kill()
    issue = next(r for r in proc.lines if r.get("job") == "issue")
    assert issue["built"] == "none" and "stopping during the LLM calls" in issue["reason"]
    # Not recorded as done: the next start catches the issue up.
    config = Config.model_validate(json.loads(path.read_text()))
    assert Daemon(config).missed_issue(datetime.now(UTC)) is not None


def test_next_build_takes_over_claims_of_a_killed_build(
    tmp_path: Path, stalled: OpenAIServer
) -> None:
    path = write_config(tmp_path, stalled.base_url, demo_feeds()[:4])
    config = load_config(path)
    store = Store.open(config.database)
    poll(config, store)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    build = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "build", "-c", str(path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_requests(stalled, 4)  # four claims held, four calls in flight
    finally:
        build.kill()  # SIGKILL: no chance to release anything
        build.wait()
    stalled.default = Echo()
    started = time.monotonic()
    report = build_issue(config, store)
    elapsed = time.monotonic() - started
    store.close()
    assert report.issue is not None
    # Before: each dead claim was waited out (timeout × attempts + 30 s = 210 s).
    assert elapsed < 30, elapsed
    assert any(i.summary.kind == "llm" for i in report.issue.items)
