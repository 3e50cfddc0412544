"""The daemon as a real process: jobs, JSON log lines, SIGTERM, the lock, catch-up on start."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Config
from newsletter.schedule import Daemon, daemon_lock, previous_fire_time
from newsletter.store import Store
from tests.servers import FeedServer, loopback_fetch

REPO = Path(__file__).resolve().parents[1]
DEMO_FEEDS = REPO / "examples" / "feeds"


class Proc:
    """``newsletter daemon`` in a subprocess, its JSON log lines collected as they come."""

    def __init__(self, config: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "daemon", "-c", str(config)]
            + ["--log-format", "json"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.raw.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                record = {"message": line.strip(), "not_json": True}
            self.lines.append(record)
            self._queue.put(record)

    def wait_for(self, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching log line in {timeout}s:\n{''.join(self.raw)}")
            try:
                record = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if predicate(record):
                return record

    def stop(self, timeout: float = 30) -> int:
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"still running {timeout}s after SIGTERM; its log:\n{''.join(self.raw)}"
            ) from None

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.kill()


def write_config(tmp_path: Path, feeds: list[str], **schedule: Any) -> Path:
    config = {
        "database": f"sqlite:///{tmp_path / 'news.db'}",
        "output_dir": str(tmp_path / "out"),
        "timezone": "UTC",
        "feeds": [{"url": f} for f in feeds],
        "fetch": loopback_fetch(timeout=2),
        "issue": {"as_of": "2026-11-26T08:00:00+08:00"},
        "schedule": {"issue": "0 8 1 1 *", **schedule},
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return path


def demo_feeds() -> list[str]:
    return sorted(str(p) for p in DEMO_FEEDS.iterdir() if p.suffix in (".xml", ".atom"))


def is_job(name: str) -> Any:
    return lambda r: r.get("job") == name and r.get("status") != "skipped"


def test_polls_logs_json_refuses_a_second_daemon_and_stops_cleanly_on_sigterm(
    tmp_path: Path, procs: list[Proc]
) -> None:
    config = write_config(tmp_path, demo_feeds(), poll_interval_seconds=1)
    proc = Proc(config)
    procs.append(proc)
    first = proc.wait_for(is_job("poll"))
    assert first["feeds"] == len(demo_feeds()) and first["new"] > 0 and first["failed"] == 0
    assert isinstance(first["seconds"], float) and first["message"].startswith("job=poll feeds=")
    second = proc.wait_for(is_job("poll"))
    assert second["new"] == 0  # nothing changed since the first poll

    other = Proc(config)
    procs.append(other)
    assert other.popen.wait(30) == 1
    refused = "".join(other.raw)
    assert "another newsletter daemon is already running on this database" in refused
    assert f"pid {proc.popen.pid}" in refused
    assert proc.popen.poll() is None  # the first one is untouched

    assert proc.stop() == 0
    assert proc.lines[-1]["message"] == "daemon stopped"
    assert not [r for r in proc.lines if r.get("not_json")], proc.raw
    assert not [r for r in proc.lines if r.get("level") == "error"], proc.raw
    # The kernel dropped the lock with the process: the next daemon may start.
    lock = daemon_lock(Config.model_validate({"database": f"sqlite:///{tmp_path / 'news.db'}"}))
    lock.acquire()
    lock.release()


def test_sigterm_during_a_poll_finishes_that_step_then_exits_zero(
    tmp_path: Path, procs: list[Proc]
) -> None:
    with FeedServer() as server:
        slow = server.add_fault("/hang", "hang")
        config = write_config(tmp_path, [slow, *demo_feeds()], poll_interval_seconds=60)
        proc = Proc(config)
        procs.append(proc)
        proc.wait_for(lambda r: r.get("message", "").startswith("daemon started"))
        deadline = time.monotonic() + 60
        while server.count("/hang") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.count("/hang") == 1  # the poll is now waiting on the hanging feed
        assert proc.stop() == 0
    poll = next(r for r in proc.lines if r.get("job") == "poll")
    assert poll["failed"] == 1 and poll["feeds"] == len(demo_feeds()) + 1
    messages = [r.get("message", "") for r in proc.lines]
    assert messages.index(poll["message"]) < messages.index("daemon stopped")
    store = Store.open(f"sqlite:///{tmp_path / 'news.db'}")
    assert store.entry_count() > 0  # the step's work was stored, not abandoned
    store.close()


def test_missed_weekly_issue_is_caught_up_once_on_start(
    tmp_path: Path, procs: list[Proc]
) -> None:
    due = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    cron = f"{due.minute} {due.hour} * * *"
    config = write_config(tmp_path, demo_feeds(), issue=cron, poll_interval_seconds=60)
    proc = Proc(config)
    procs.append(proc)
    proc.wait_for(lambda r: "catch_up" in r)
    built = proc.wait_for(is_job("issue"))
    assert built["built"] != "none" and built["stories"] > 0, built
    assert (tmp_path / "out" / "issues" / built["built"] / "index.html").is_file()
    assert proc.stop() == 0
    polls = [r for r in proc.lines if r.get("job") in ("poll", "issue-poll")]
    assert [r["job"] for r in polls][:1] == ["issue-poll"]  # no separate start-up poll

    # Caught up once: the next start finds the slot done.
    assert Daemon(Config.model_validate(json.loads(config.read_text()))).missed_issue(
        datetime.now(UTC)
    ) is None


def test_catch_up_respects_the_grace_period(tmp_path: Path) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday
    config = Config.model_validate(
        {
            "database": f"sqlite:///{tmp_path / 'news.db'}",
            "timezone": "UTC",
            "schedule": {"issue": "0 8 * * mon", "misfire_grace_seconds": 6 * 3600},
        }
    )
    daemon = Daemon(config)
    assert daemon.missed_issue(now) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert daemon.missed_issue(now + timedelta(hours=3)) is None  # 7 h late: past the grace
    store = Store.open(config.database)
    store.set_meta("daemon.issue.last_due", datetime(2026, 11, 23, 8, 0, tzinfo=UTC).isoformat())
    store.close()
    assert daemon.missed_issue(now) is None  # already ran for that slot


def test_previous_fire_time_looks_back_only_as_far_as_asked() -> None:
    now = datetime(2026, 11, 25, 10, 30, 30, tzinfo=UTC)
    assert previous_fire_time("* * * * *", UTC, now, timedelta(hours=1)) == now.replace(second=0)
    assert previous_fire_time("0 8 * * mon", UTC, now) == datetime(2026, 11, 23, 8, tzinfo=UTC)
    assert previous_fire_time("0 8 * * mon", UTC, now, timedelta(hours=1)) is None


@pytest.mark.parametrize("policy", ["hold", "send"])
def test_review_deadline_policies_in_the_daemon(
    tmp_path: Path,
    procs: list[Proc],
    policy: str,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: Any,
) -> None:
    """review.required: the weekly run makes a draft; past its deadline the review job holds
    it (then sends it once approved) or sends it, as ``review.on_deadline`` says."""
    from newsletter.flows import review

    monkeypatch.setenv("NEWSLETTER_SECRET", "daemon-review-secret-0123456789")
    due = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    path = write_config(
        tmp_path, demo_feeds(), issue=f"{due.minute} {due.hour} * * *", poll_interval_seconds=60
    )
    data = json.loads(path.read_text())
    data["base_url"] = "https://news.zhibo-weekly.cn"
    data["email"] = {
        "from": "news@zhibo-weekly.cn",
        "retries": 0,
        "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "starttls": False},
    }
    data["review"] = {
        "required": True,
        "editors": ["desk@example.org"],
        "deadline": "Mon 07:30",
        "on_deadline": policy,
        "check_seconds": 0.3,
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    config = Config.model_validate(data)
    store = Store.open(config.database)
    store.add_subscriber("reader@example.com")
    store.close()

    proc = Proc(path)
    procs.append(proc)
    built = proc.wait_for(is_job("issue"))
    issue_id = built["built"]
    assert issue_id != "none", built
    assert smtp_server.wait_for(2)  # the editor's test copy and desk link
    assert {r for m in smtp_server.messages for r in m.rcpt_tos} == {"desk@example.org"}
    store = Store.open(config.database)
    try:
        draft = store.get_review(issue_id)
        assert draft is not None and draft.status == "draft" and draft.deadline is not None
        # The deadline passes (the week's Monday 07:30 is moved to just now).
        store.set_review_status(
            issue_id, "draft", deadline=datetime.now(UTC) - timedelta(seconds=1)
        )
        if policy == "hold":
            held = proc.wait_for(is_job("review"))
            assert held.get("action") == "held" and held.get("issue") == issue_id, held
            assert any("was not approved by" in r.get("message", "") for r in proc.lines)
            assert store.get_review(issue_id).status == "held"  # type: ignore[union-attr]
            assert not smtp_server.received_by("reader@example.com")
            review.approve(Config.model_validate(data), store, issue_id, "desk@example.org")
        sent = proc.wait_for(lambda r: is_job("review")(r) and r.get("action") != "held")
    finally:
        store.close()
    expected = "sent" if policy == "hold" else "sent-at-deadline"
    assert sent["action"] == expected and sent["sent"] == 1, sent
    assert len(smtp_server.received_by("reader@example.com")) == 1
    assert proc.stop() == 0


def test_log_counts_every_feed_names_failing_ones_and_says_what_is_next(
    tmp_path: Path, procs: list[Proc], feed_server: FeedServer
) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app

    first, second, third = demo_feeds()[:3]
    config = write_config(tmp_path, [first], poll_interval_seconds=1)
    data = json.loads(config.read_text())
    data["timezone"] = "Asia/Shanghai"
    data["feeds"] += [
        {"url": feed_server.url("/gone.xml")},
        # A name with a newline must not forge a second log line.
        {"url": feed_server.url("/moved.xml"), "name": "搬走了\njob=poll failed=0"},
        {"url": second, "name": "demo two"},
    ]
    data["llm"] = {"model": "qwen-plus", "api_key_env": "NEWSLETTER_TEST_NO_SUCH_KEY"}
    config.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    added = CliRunner().invoke(app, ["feeds", "add", third, "-c", str(config)])
    assert added.exit_code == 0, added.output

    proc = Proc(config)
    procs.append(proc)
    start = proc.wait_for(lambda r: r.get("message", "").startswith("daemon started"))
    assert start["feeds"] == 5, start
    assert "5 feeds (4 from the config, 1 added with feeds add/import)" in start["message"]
    # The issue cron is "0 8 1 1 *": next 1 January, 08:00 in the configured zone.
    year = datetime.now(UTC).year + 1
    assert start["next_issue"] == f"{year}-01-01T08:00:00+08:00", start
    assert start["next_poll"].endswith("+08:00")
    warning = proc.wait_for(lambda r: r.get("level") == "warning")
    assert "NEWSLETTER_TEST_NO_SUCH_KEY is unset or empty" in warning["message"]

    poll, again = proc.wait_for(is_job("poll")), proc.wait_for(is_job("poll"))
    assert proc.stop() == 0
    assert poll["failed"] == 2 and poll["feeds"] == 5
    assert poll["failing"] == [
        f"127.0.0.1:{feed_server.port}/gone.xml (HTTP 404 Not Found)",
        "搬走了 job=poll failed=0 (HTTP 404 Not Found)",
    ], poll
    assert 'failing="127.0.0.1:' in poll["message"]
    assert poll["next_poll"].endswith("+08:00")
    assert again["failed"] == 0 and again["skipped"] == 2 and "failing" not in again
    # One line per poll: the poll flow does not log its own summary next to the job line.
    assert not [r for r in proc.lines if r.get("logger") == "newsletter.flows.poll"], proc.raw
    assert not [r for r in proc.lines if r.get("not_json")], proc.raw
