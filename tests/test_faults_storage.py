"""Issue 16, the storage side: contention, a full disk, killed polls.

Real processes where they matter: another process holding SQLite's write lock, the CLI as
``python -m newsletter`` in a tmpfs filled to the last byte in a private mount namespace,
a poll killed with ``kill -9``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from newsletter.cli import app
from tests.servers import FeedServer, alive, child_pids, loopback_fetch
from tests.test_faults_integrity import STORIES, recent, rss

REPO = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, urls: list[str], **extra: Any) -> Path:
    config = {
        "database": f"sqlite:///{tmp_path / 'news.db'}",
        "output_dir": str(tmp_path / "out"),
        "timezone": "UTC",
        "feeds": [{"url": u} for u in urls],
        "fetch": loopback_fetch(timeout=5),
        "issue": {"min_items": 1},
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path


def cli(*args: str) -> Result:
    """The CLI in-process: the other party (a lock holder, a full disk) is what is real here."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def items(stories: list[tuple[str, str]], prefix: str, hours: float = 1) -> list[dict[str, Any]]:
    return [
        {"title": t, "text": x, "link": f"http://news.example.com/{prefix}/{i}",
         "guid": f"{prefix}-{i}", "date": recent(hours + i)}
        for i, (t, x) in enumerate(stories)
    ]


def entry_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("select count(*) from entries").fetchone()[0])


# -- SQLite contention -------------------------------------------------------------------


class WriteLock:
    """Another process holding SQLite's write lock (``BEGIN IMMEDIATE``).

    Held until :meth:`release`, or for ``seconds`` when given; commands that finish while
    it is held did not wait for it, however slow the machine is.
    """

    def __init__(self, db: Path, seconds: float | None = None) -> None:
        code = (
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "c.execute(\"update meta set value = value where key = 'schema_version'\")\n"
            "print('locked', flush=True)\n"
            "time.sleep(float(sys.argv[2])) if sys.argv[2] else sys.stdin.readline()\n"
            "c.execute('COMMIT')\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(db), "" if seconds is None else str(seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "locked\n"

    @property
    def held(self) -> bool:
        return self.proc.poll() is None

    def release(self) -> None:
        assert self.proc.stdin is not None
        if self.held:
            self.proc.stdin.write("go\n")
            self.proc.stdin.close()
        assert self.proc.wait(30) == 0


def test_read_only_commands_do_not_wait_for_another_writer(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: the migration check took the write lock, so ``feeds list`` exited 2 after 11 s."""
    url = feed_server.add("/a.xml", rss("甲", items(STORIES[:2], "a")))
    config = write_config(tmp_path, [url])
    assert cli("poll", "-c", str(config)).exit_code == 0
    lock = WriteLock(tmp_path / "news.db")
    try:
        for args in (["feeds", "list"], ["subscribers", "list"], ["feeds", "export"]):
            done = cli(*args, "-c", str(config))
            assert done.exit_code == 0, (args, done.stdout, done.stderr)
            assert lock.held  # finished while the other process still writes
    finally:
        lock.release()


def test_a_poll_waits_for_a_short_lock_and_keeps_what_it_fetched(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: a lock held mid-poll ended it with a 93-line traceback, results dropped."""
    urls = [
        feed_server.add("/a.xml", rss("甲", items(STORIES[:3], "a"))),
        feed_server.add("/b.xml", rss("乙", items(STORIES[3:], "b"))),
    ]
    config = write_config(tmp_path, urls)
    db = tmp_path / "news.db"
    assert cli("feeds", "list", "-c", str(config)).exit_code == 0  # creates the database
    lock = WriteLock(db, 2.5)
    try:
        done = cli("poll", "-c", str(config))
    finally:
        lock.release()
    assert done.exit_code == 0, done.stderr
    assert entry_count(db) == len(STORIES)


def test_a_lock_held_past_the_bound_fails_in_one_line_and_nothing_is_lost(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    urls = [
        feed_server.add("/a.xml", rss("甲", items(STORIES[:3], "a"))),
        feed_server.add("/b.xml", rss("乙", items(STORIES[3:], "b"))),
    ]
    db = tmp_path / "news.db"
    # ``timeout`` in a SQLite URL: how long one write waits for the lock.
    config = write_config(tmp_path, urls, database=f"sqlite:///{db}?timeout=0.5")
    assert cli("feeds", "list", "-c", str(config)).exit_code == 0
    lock = WriteLock(db)
    try:
        done = cli("poll", "-c", str(config))
        assert lock.held  # it gave up within its bound, not when the lock went away
    finally:
        lock.release()
    assert done.exit_code == 1, (done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors == [
        f"error: database {db} is locked by another process: gave up after waiting 0.5 s "
        "(twice); 2 feeds fetched but not stored, they are fetched again next poll"
    ], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    # Nothing was stored, not even the validators: the next poll fetches in full.
    assert cli("poll", "-c", str(config)).exit_code == 0
    assert entry_count(db) == len(STORIES)


# -- a full disk ---------------------------------------------------------------------------


def _namespaces() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount a private tmpfs")
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True, check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a private tmpfs: {probe.stderr.decode().strip()}")


def in_full_disk(mount: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run a sh ``script`` with a small tmpfs at ``mount`` (``$FILL`` fills it to the brim)."""
    mount.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", "PY": sys.executable,
           "M": str(mount)}
    fill = 'dd if=/dev/zero of="$M/fill" bs=4096 2>/dev/null; true'
    body = f'mount -t tmpfs -o size=2m tmpfs "$M" || exit 97\nFILL() {{ {fill}; }}\n{script}'
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", body], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )


def test_a_full_disk_under_build_names_the_path_and_writes_nothing_half(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Before: ``OSError: [Errno 28]`` in a traceback."""
    _namespaces()
    url = feed_server.add("/a.xml", rss("甲", items(STORIES[:3], "a")))
    out = tmp_path / "out"
    config = write_config(tmp_path, [url])
    assert cli("poll", "-c", str(config)).exit_code == 0
    done = in_full_disk(out, f"""
FILL
"$PY" -m newsletter build -c {config} >/dev/null; echo "rc=$?"
echo "tmp=$(find "$M" -name '*.tmp' | wc -l) issues=$(find "$M" -name index.html | wc -l)"
rm "$M/fill"
"$PY" -m newsletter build -c {config} >/dev/null; echo "rc=$?"
echo "issues=$(find "$M" -name index.html | wc -l)"
""")
    lines = done.stdout.splitlines()
    assert lines[:2] == ["rc=1", "tmp=0 issues=0"], (done.stdout, done.stderr)
    assert lines[2:] == ["rc=0", "issues=2"], (done.stdout, done.stderr)  # issue + archive
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert errors[0].startswith(f"error: cannot write {out}/issues/"), errors
    assert errors[0].endswith("/index.html: No space left on device"), errors


def test_a_full_disk_under_poll_fails_in_one_line_and_the_database_stays_whole(
    tmp_path: Path,
) -> None:
    _namespaces()
    root = tmp_path / "feeds"
    root.mkdir()
    big = [(f"{t} 第{n}篇", x * 40) for n in range(40) for t, x in STORIES]
    (root / "a.xml").write_text(rss("甲", items(STORIES[:2], "a")), encoding="utf-8")
    (root / "later.xml").write_text(rss("甲", items(big, "big")), encoding="utf-8")
    disk = tmp_path / "disk"
    with FeedServer(root) as server:
        config = write_config(tmp_path, [server.url("/a.xml")],
                              database=f"sqlite:///{disk / 'news.db'}")
        done = in_full_disk(disk, f"""
"$PY" -m newsletter poll -c {config} >/dev/null; echo "rc=$?"
FILL
cp {root / 'later.xml'} {root / 'a.xml'}
"$PY" -m newsletter poll -c {config} >/dev/null; echo "failed=$(test $? -ne 0 && echo yes)"
rm "$M/fill"
"$PY" -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);
print(c.execute('pragma integrity_check').fetchone()[0],
      c.execute('select count(*) from entries').fetchone()[0])" "$M/news.db"
""")
    # The second poll failed; with space again the database is whole, the first poll's rows.
    assert done.stdout.splitlines() == ["rc=0", "failed=yes", "ok 2"], (done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert errors[0].startswith(f"error: database {disk / 'news.db'} is full"), errors


# -- kill -9 of a poll -----------------------------------------------------------------------


def test_parse_workers_exit_when_the_poll_is_killed(tmp_path: Path) -> None:
    """Before: 6 parse-pool processes were still alive 20 s after ``kill -9`` of the poll."""
    with FeedServer() as server:
        urls = [server.add(f"/f{i}.xml", rss(f"源{i}", items(STORIES, f"f{i}"))) for i in range(6)]
        urls.append(server.add_fault("/hang", "hang"))  # keeps the poll running
        config = write_config(tmp_path, urls, fetch=loopback_fetch(timeout=60))
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        poll = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "poll", "-c", str(config)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not (child_pids(poll.pid) and server.count("/hang")):
                assert time.monotonic() < deadline, "the poll never started its parse workers"
                time.sleep(0.1)
            workers = child_pids(poll.pid)
            poll.send_signal(signal.SIGKILL)
            poll.wait(10)
            deadline = time.monotonic() + 10
            while any(alive(w) for w in workers):
                assert time.monotonic() < deadline, [w for w in workers if alive(w)]
                time.sleep(0.1)
        finally:
            if poll.poll() is None:
                poll.kill()
