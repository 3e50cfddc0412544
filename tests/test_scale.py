"""Several workers on one database: storage on both engines, leases, real worker processes.

Storage tests run on SQLite and PostgreSQL (``db_url``); the multi-process tests run real
``newsletter worker`` / ``send`` / ``daemon`` processes against a throwaway PostgreSQL,
loopback feed servers and a loopback SMTP server.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.models import Entry, Feed, FetchResult, Summary, Verdict
from newsletter.store import SCHEMA_VERSION, Store, feeds, now_utc
from tests.servers import FeedServer, Func, OpenAIServer, Reply, loopback_fetch
from tests.smtp import SECRET, SMTPServer, sample_issue, write_config
from tests.test_daemon import Proc, demo_feeds

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NEWSLETTER_SECRET": SECRET}


def rss(i: int, items: int = 2) -> str:
    body = "".join(
        f"<item><title>视频号直播带货 {i}-{k}</title><link>https://example.com/{i}/{k}</link>"
        f"<guid>g{i}-{k}</guid><description>微信视频号直播电商 {i} {k}</description>"
        "<pubDate>Mon, 23 Nov 2026 10:00:00 +0800</pubDate></item>"
        for k in range(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>f{i}</title><link>https://example.com/</link><description>d</description>"
        f"{body}</channel></rss>"
    )


def write(path: Path, data: dict[str, Any]) -> Path:
    data = {**data, "fetch": loopback_fetch(**data.get("fetch", {}))}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return path


def worker(config: Path, name: str, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "newsletter", "worker", "-c", str(config), "--id", name]
    return subprocess.Popen(
        [*command, *extra], env=ENV, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def finish(procs: list[subprocess.Popen[str]], timeout: float = 60) -> list[str]:
    outputs = []
    for proc in procs:
        out, errors = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, errors[-2000:]
        outputs.append(out)
    return outputs


def feed(url: str) -> Feed:
    return Feed(url=url, name=url.rsplit("/", 1)[-1])


# -- storage on both engines -------------------------------------------------------------


def test_store_round_trip(db_url: str) -> None:
    store = Store.open(db_url)
    assert store.schema_version() == SCHEMA_VERSION
    store.sync_feeds([feed("https://a.example/rss"), feed("https://b.example/rss")])
    store.sync_feeds([Feed(url="https://a.example/rss", name="A", weight=2.0)])  # rename
    when = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    entry = Entry(
        id="e1", feed_url="https://a.example/rss", title="视频号直播", link="https://x/1",
        text="微信视频号直播带货", published=when,
    )  # fmt: skip
    assert store.add_entries([(entry, Verdict(True, 2.5, ("视频号",)))]) == ["e1"]
    assert store.add_entries([(entry, Verdict(True, 2.5, ()))]) == []
    (got, verdict), = store.entries_between(when - timedelta(days=1), when)
    assert got.published == when and got.published.tzinfo is not None and verdict.relevant
    store.put_summary("k", "e1", Summary("摘要", "llm", model="m", key_facts=("65%",)))
    store.put_summary("k", "e1", Summary("摘要二", "llm", model="m"))
    assert store.get_summary("k") == Summary("摘要二", "llm", model="m")
    store.record_fetch(FetchResult(url="https://a.example/rss", status="error", error="boom"),
                       backoff=lambda failures, _retry: 60.0 * failures)  # fmt: skip
    health = {h.url: h for h in store.feed_health()}
    a = health["https://a.example/rss"]
    assert (a.name, a.consecutive_failures, a.last_error) == ("A", 1, "boom")
    assert a.next_poll_at is not None and a.next_poll_at > now_utc()
    store.save_issue(sample_issue(2), "/tmp/x")
    assert [i.id for i in store.list_issues()] == ["2024-05-06"]
    people = [store.add_subscriber(f"r{n}@example.com") for n in range(3)]
    assert store.queue_deliveries("2024-05-06") == 3
    assert store.queue_deliveries("2024-05-06") == 0
    assert people[0].id is not None
    store.finish_delivery("2024-05-06", people[0].id, "sent", "250 ok")
    assert store.delivery_counts("2024-05-06") == {"sent": 1, "queued": 2}
    store.set_meta("daemon.issue.last_due", "x")
    store.set_meta("daemon.issue.last_due", "y")
    assert store.get_meta("daemon.issue.last_due") == "y"
    store.close()
    again = Store.open(db_url)  # reopening a current database changes nothing
    assert again.schema_version() == SCHEMA_VERSION and again.entry_count() == 1
    again.close()


def test_processes_starting_at_once_migrate_once(db_url: str) -> None:
    start = time.time() + 2.0
    code = (
        "import sys, time; from newsletter.store import Store; "
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); "
        "s = Store.open(sys.argv[1]); print(s.schema_version()); s.close()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, db_url, str(start)], env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    assert [o.strip() for o in finish(procs)] == [str(SCHEMA_VERSION)] * 4


def test_feed_leases_are_exclusive_expire_and_respect_backoff(db_url: str) -> None:
    store = Store.open(db_url)
    urls = [f"https://f{n:02d}.example/rss" for n in range(12)]
    store.sync_feeds([feed(u) for u in urls])
    now = now_utc()
    with store.engine.begin() as conn:  # set up states directly: backoff, disabled, fresh
        conn.execute(update(feeds).where(feeds.c.url == urls[0])
                     .values(next_poll_at=now + timedelta(hours=1)))  # fmt: skip
        conn.execute(update(feeds).where(feeds.c.url == urls[1]).values(disabled=True))
        conn.execute(update(feeds).where(feeds.c.url == urls[2]).values(last_polled=now))
    before = now - timedelta(seconds=1)

    def lease(owner: str, limit: int, seconds: float = 60) -> list[str]:
        return store.lease_feeds(owner, limit=limit, seconds=seconds, polled_before=before)

    a, b, c = lease("a", 4), lease("b", 4), lease("c", 4)
    assert len(a) == 4 and len(b) == 4 and len(c) == 1
    assert not set(a) & set(b) and not set(a + b) & set(c)
    assert set(a + b + c) == set(urls[3:])  # not the backing-off, disabled or fresh ones
    assert lease("d", 4) == []
    # Feeds removed from the config are left alone.
    store.release_feeds("a", a)
    assert store.lease_feeds("d", limit=9, seconds=60, polled_before=now, exclude=a) == []
    assert store.renew_feed_leases("b", b, 60) == 4 and store.renew_feed_leases("x", b, 60) == 0
    # A holder that stops renewing loses its feeds once the lease runs out.
    assert lease("e", 9, seconds=0.3) == a
    time.sleep(0.5)
    assert lease("f", 9) == a
    overview = store.worker_overview()
    assert overview.feed_leases == {"b": 4, "c": 1, "f": 4}
    store.close()


def test_delivery_leases_start_release_and_takeover(db_url: str) -> None:
    store = Store.open(db_url)
    store.save_issue(sample_issue(1), "/tmp/x")
    people = [store.add_subscriber(f"r{n}@example.com") for n in range(6)]
    ids = [p.id for p in people if p.id is not None]
    store.update_subscriber(ids[5], status="unsubscribed")
    store.queue_deliveries("2024-05-06")
    a = store.lease_deliveries("2024-05-06", "a", limit=3, seconds=60)
    b = store.lease_deliveries("2024-05-06", "b", limit=3, seconds=60)
    assert [p.id for p in a] == ids[:3] and [p.id for p in b] == ids[3:5]  # not the unsubscribed
    assert store.lease_deliveries("2024-05-06", "c", limit=3, seconds=60) == []
    assert not store.start_delivery("2024-05-06", ids[0], "b")  # not b's row
    assert store.start_delivery("2024-05-06", ids[0], "a")
    store.finish_delivery("2024-05-06", ids[0], "sent", "250 ok")
    assert not store.start_delivery("2024-05-06", ids[0], "a")  # sent: never again
    store.release_deliveries("2024-05-06", "a", ids[:3])
    assert [p.id for p in store.lease_deliveries("2024-05-06", "c", limit=9, seconds=60)] == ids[
        1:3
    ]
    assert store.delivery_lease_owners("2024-05-06") == {"b": 2, "c": 2}
    assert store.expire_delivery_leases("2024-05-06", ["b"]) == 2  # b died
    assert [p.id for p in store.lease_deliveries("2024-05-06", "d", limit=9, seconds=60)] == ids[
        3:5
    ]
    store.close()


def test_scheduler_lease_rate_slots_and_summary_claims(db_url: str) -> None:
    store = Store.open(db_url)
    # Leases long enough that a slow first connection cannot let one expire between calls.
    assert store.acquire_lease("scheduler", "a", 2.0).owner == "a"
    assert store.acquire_lease("scheduler", "b", 2.0).owner == "a"
    first = store.acquire_lease("scheduler", "a", 2.0)  # renewal keeps "since"
    time.sleep(2.1)
    taken = store.acquire_lease("scheduler", "b", 30)
    assert taken.owner == "b" and taken.since > first.since
    store.release_lease("scheduler", "a")  # not a's any more: nothing happens
    assert store.lease_holder("scheduler").owner == "b"  # type: ignore[union-attr]

    now = time.time()
    waits = [store.take_rate_slot("smtp", 50, now) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08], abs=1e-6)
    assert store.take_rate_slot("smtp", 50, now + 10) == 0.0  # idle time is not banked

    assert store.claim_summary("k", "a", 0.3)
    assert not store.claim_summary("k", "b", 0.3) and store.summary_claim_owner("k") == "a"
    time.sleep(0.4)
    assert store.claim_summary("k", "b", 30)  # a's claim expired
    store.release_summary_claim("k", "b")
    assert store.summary_claim_owner("k") is None and store.claim_summary("k", "c", 30)
    store.close()


def test_every_command_works_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    config = write(tmp_path / "c.yaml", {
        "database": pg_url, "output_dir": str(tmp_path / "out"), "timezone": "UTC",
        "feeds": [{"url": f} for f in demo_feeds()[:2]],
        "issue": {"as_of": "2026-11-26T08:00:00+08:00"},
    })  # fmt: skip
    runner = CliRunner()
    commands = (
        ["run"], ["feeds", "list"], ["subscribers", "add", "a@example.com"],
        ["send", "--dry-run"], ["worker", "--once", "--id", "solo"], ["doctor"],
    )  # fmt: skip
    for args in commands:
        result = runner.invoke(app, [*args, "-c", str(config)], env={"NEWSLETTER_SECRET": SECRET})
        assert result.exit_code in (0, 1), (args, result.output)
        if args == ["doctor"]:
            assert "postgresql at postgresql+psycopg://postgres@127.0.0.1" in result.output
            assert f"schema version {SCHEMA_VERSION}" in result.output
        elif args[0] != "doctor":
            assert result.exit_code == 0, (args, result.output)
    store = Store.open(pg_url)
    assert store.entry_count() > 0 and len(store.list_issues()) == 1
    store.close()


# -- real worker processes on PostgreSQL -------------------------------------------------


def test_four_workers_poll_each_feed_exactly_once_per_round(tmp_path: Path, pg_url: str) -> None:
    # "Once per round" means: no feed is fetched again before its interval has passed. Under
    # load a round can outlast the interval, so counting polls at the moment the slowest feed
    # gets its first one would see early feeds on their (legitimate) second poll; the gaps
    # between one feed's fetches are what a double poll would shorten.
    # 120 feeds in batches of 6: 20 batches a round for four workers to contend for, as 400
    # feeds in the default batches of 25 gave, at less than a third of the fetching and storing.
    interval, count = 4.0, 120
    with FeedServer(latency=0.02) as server:
        urls = [server.add(f"/f{i}.xml", rss(i)) for i in range(count)]
        paths = [u.removeprefix(server.origin) for u in urls]
        config = write(tmp_path / "c.yaml", {
            "database": pg_url, "output_dir": str(tmp_path / "out"),
            "feeds": [{"url": u} for u in urls], "worker_batch": 6,
            "schedule": {"poll_interval_seconds": interval}, "lease_seconds": 30,
        })  # fmt: skip
        Store.open(pg_url).close()
        started = time.monotonic()
        fetched_at: dict[str, list[float]] = {p: [] for p in paths}
        procs = [worker(config, f"w{n}") for n in range(4)]
        try:
            deadline = time.monotonic() + 90
            while min(len(times) for times in fetched_at.values()) < 2:
                assert time.monotonic() < deadline, Counter(server.count(p) for p in paths)
                now = time.monotonic()
                for path, times in fetched_at.items():
                    times.extend([now] * (server.count(path) - len(times)))
                time.sleep(0.05)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
        finish(procs)  # SIGTERM: each finishes its batch and exits 0
        # Observed by polling every 50 ms, so allow that much (and the fetch latency) of slack.
        gaps = [b - a for times in fetched_at.values() for a, b in itertools.pairwise(times)]
        assert min(gaps) > interval - 0.5, sorted(gaps)[:5]
    store = Store.open(pg_url)
    polled = Counter(store.worker_overview().feed_leases)
    assert not polled  # every lease was released
    assert store.entry_count() == 2 * count
    store.close()
    print(f"{count} feeds x 2 rounds, 4 workers: {time.monotonic() - started:.1f}s")


def test_sigkilled_worker_loses_its_feeds_when_the_lease_expires(
    tmp_path: Path, pg_url: str
) -> None:
    with FeedServer(latency=0.5) as server:
        urls = [server.add(f"/f{i}.xml", rss(i)) for i in range(20)]
        config = write(tmp_path / "c.yaml", {
            "database": pg_url, "output_dir": str(tmp_path / "out"),
            "feeds": [{"url": u} for u in urls], "worker_batch": 10, "lease_seconds": 2,
            "schedule": {"poll_interval_seconds": 3600},
        })  # fmt: skip
        store = Store.open(pg_url)
        victim = worker(config, "victim")
        deadline = time.monotonic() + 60
        while not server.counts:  # its first batch is in flight (each answer takes 0.5 s)
            assert time.monotonic() < deadline and victim.poll() is None
            time.sleep(0.02)
        time.sleep(0.2)
        victim.kill()
        victim.wait()
        killed_at = now_utc()
        with store.engine.begin() as conn:
            held = conn.execute(
                select(feeds.c.url, feeds.c.lease_until).where(
                    feeds.c.lease_owner.like("victim@%"), feeds.c.last_polled.is_(None)
                )
            ).all()
        orphaned = sorted(u for u, _ in held)
        assert len(orphaned) == 10, "the kill must land mid-batch"
        assert all(until > killed_at for _, until in held)
        # While the lease holds, nobody else takes those feeds.
        others = store.lease_feeds("probe", limit=100, seconds=60, polled_before=now_utc())
        assert len(others) == 10 and not set(others) & set(orphaned)
        store.release_feeds("probe", others)
        time.sleep(max(0.0, (max(u for _, u in held) - now_utc()).total_seconds()) + 0.1)
        finish([worker(config, "rescue1", "--once"), worker(config, "rescue2", "--once")])
        health = {h.url: h for h in store.feed_health()}
        assert all(health[u].last_status == "ok" for u in urls)
        for url in orphaned:  # fetched at most once more than its single successful poll
            assert 1 <= server.count(url.removeprefix(server.origin)) <= 2
        store.close()


def test_three_senders_deliver_one_issue_to_every_subscriber_once(
    tmp_path: Path, pg_url: str
) -> None:
    # Enough lease batches (30 of 5 readers) that the three senders' leases interleave many
    # times over; more readers only cost time.
    people = 150
    with SMTPServer() as smtp:
        path = write_config(tmp_path, smtp.port, max_per_second=2000)
        text = path.read_text(encoding="utf-8").replace(
            f"sqlite:///{tmp_path / 'newsletter.db'}", pg_url
        )
        path.write_text(text + "worker_batch: 5\n", encoding="utf-8")
        store = Store.open(pg_url)
        store.save_issue(sample_issue(3), str(tmp_path / "output" / "issues" / "2024-05-06"))
        store.import_subscribers([(f"reader{n}@example.com", "") for n in range(people)])
        command = [sys.executable, "-m", "newsletter", "send", "-c", str(path)]
        started = time.monotonic()
        senders = [
            subprocess.Popen(command, env=ENV, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]  # fmt: skip
        outputs = finish(senders, timeout=120)
        elapsed = time.monotonic() - started
        per_reader = Counter(r for m in smtp.messages for r in m.rcpt_tos)
        assert len(per_reader) == people and set(per_reader.values()) == {1}
        assert smtp.count == people
        assert store.delivery_counts("2024-05-06") == {"sent": people}
        shares = [int(_sent(o)) for o in outputs]
        assert sum(shares) == people and min(shares) > 0, shares  # all three did part of it
        store.close()
        print(f"3 senders, {people} subscribers: {elapsed:.1f}s, shares {shares}")


def _sent(output: str) -> str:
    import re

    found = re.search(r"│\s*(\d+)\s*│", output)  # the first cell of `send`'s table: sent
    assert found, output
    return found.group(1)


def test_senders_share_one_rate_limit(tmp_path: Path, pg_url: str) -> None:
    rate, people = 30, 45
    with SMTPServer() as smtp:
        path = write_config(tmp_path, smtp.port, max_per_second=rate)
        path.write_text(path.read_text(encoding="utf-8").replace(
            f"sqlite:///{tmp_path / 'newsletter.db'}", pg_url), encoding="utf-8")  # fmt: skip
        store = Store.open(pg_url)
        store.save_issue(sample_issue(1), str(tmp_path / "output" / "issues" / "2024-05-06"))
        store.import_subscribers([(f"reader{n}@example.com", "") for n in range(people)])
        arrivals: list[float] = []

        def watch() -> None:
            seen = 0
            while seen < people:
                if smtp.count > seen:
                    arrivals.extend([time.monotonic()] * (smtp.count - seen))
                    seen = smtp.count
                time.sleep(0.002)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        command = [sys.executable, "-m", "newsletter", "send", "-c", str(path)]
        finish([subprocess.Popen(command, env=ENV, cwd=tmp_path, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)])  # fmt: skip
        watcher.join(10)
        assert len(arrivals) == people
        # One shared rate: three senders at 30/s each would take a third of this.
        assert arrivals[-1] - arrivals[0] >= (people - 1) / rate * 0.9
        window = [t for t in arrivals if t - arrivals[0] < 1.0]
        assert len(window) <= rate + 2
        store.close()


def test_two_workers_meeting_one_new_entry_make_one_llm_call(
    tmp_path: Path, pg_url: str
) -> None:
    from tests.test_relevance_judge import ITEMS
    from tests.test_relevance_judge import rss as judge_rss

    release = threading.Event()

    def slow_answer(request: dict[str, Any]) -> Reply:
        release.wait(30)  # hold the first call open until the second worker meets the entry
        text = request["messages"][-1]["content"]
        said = {"relevant": "抖音商城" in text, "reason": "测试"}
        return Reply(json.dumps(said, ensure_ascii=False))

    doubtful = [i for i in ITEMS if i[0].startswith("doubt")]
    with FeedServer() as server, OpenAIServer() as llm:
        llm.default = Func(slow_answer)
        # Two feeds carrying the same two stories (syndication): same content, same cache key.
        urls = [server.add(p, judge_rss(doubtful)) for p in ("/a.xml", "/b.xml")]
        config = write(tmp_path / "c.yaml", {
            "database": pg_url, "output_dir": str(tmp_path / "out"),
            "feeds": [{"url": u} for u in urls], "worker_batch": 1,
            "relevance": {"llm_judge": True},
            "llm": {"base_url": llm.base_url, "model": "m", "api_key_env": "NL_SCALE_KEY"},
        })  # fmt: skip
        env_key = {"NL_SCALE_KEY": "k"}
        os.environ.update(env_key)
        ENV.update(env_key)
        store = Store.open(pg_url)
        try:
            first = worker(config, "first", "--once")
            deadline = time.monotonic() + 60
            while llm.request_count < 1:
                assert time.monotonic() < deadline and first.poll() is None
                time.sleep(0.02)
            second = worker(config, "second", "--once")
            while True:  # the second worker has leased the other feed and meets the entries
                with store.engine.begin() as conn:
                    owners = set(conn.execute(select(feeds.c.lease_owner)).scalars())
                if any(o and o.startswith("second@") for o in owners):
                    break
                assert time.monotonic() < deadline and second.poll() is None
                time.sleep(0.02)
            time.sleep(1.0)
            release.set()
            finish([first, second])
        finally:
            release.set()
            del os.environ["NL_SCALE_KEY"]
            ENV.pop("NL_SCALE_KEY")
        assert llm.request_count == len(doubtful)  # not twice that: one call per story
        assert store.llm_usage().calls == len(doubtful)
        store.close()


def test_one_of_two_daemons_builds_and_the_other_takes_over(tmp_path: Path, pg_url: str) -> None:
    due = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    # The builder waits at most lease_seconds for the other daemon's first poll: 2 s was less
    # than that poll takes on a loaded CI machine, and the build then found nothing.
    config = write(tmp_path / "c.yaml", {
        "database": pg_url, "output_dir": str(tmp_path / "out"), "timezone": "UTC",
        "feeds": [{"url": f} for f in demo_feeds()], "lease_seconds": 4,
        "issue": {"as_of": "2026-11-26T08:00:00+08:00"},
        "schedule": {"issue": f"{due.minute} {due.hour} * * *", "poll_interval_seconds": 60},
    })  # fmt: skip
    Store.open(pg_url).close()
    daemons = [Proc(config), Proc(config)]
    try:
        deadline = time.monotonic() + 60
        while not any(r.get("job") == "issue" and "built" in r for d in daemons for r in d.lines):
            assert time.monotonic() < deadline, [d.raw for d in daemons]
            time.sleep(0.05)
        time.sleep(1.0)
        builders = [
            d for d in daemons if any(r.get("job") == "issue" and "built" in r for r in d.lines)
        ]
        assert len(builders) == 1  # exactly one daemon fired the weekly build
        if builders[0] is not daemons[0]:
            daemons.reverse()
        built = next(r for r in daemons[0].lines if r.get("job") == "issue" and "built" in r)
        assert built["built"] != "none", built
        assert any(r.get("job") == "scheduler" and r.get("status") == "acquired"
                   for r in daemons[0].lines)  # fmt: skip
        assert not any(r.get("job") == "scheduler" for r in daemons[1].lines)
        store = Store.open(pg_url)
        assert len(store.list_issues()) == 1
        # The holder dies: the other daemon takes the scheduler over once the lease expires.
        daemons[0].popen.send_signal(signal.SIGKILL)
        daemons[0].popen.wait()
        took = daemons[1].wait_for(
            lambda r: r.get("job") == "scheduler" and r.get("status") == "acquired", 30
        )
        assert took["owner"].startswith("daemon@")
        assert store.lease_holder("scheduler").owner == took["owner"]  # type: ignore[union-attr]
        assert len(store.list_issues()) == 1  # the slot was done: no second issue
        store.close()
        doctor = CliRunner().invoke(app, ["doctor", "-c", str(config)])
        assert f"scheduler: {took['owner']}" in " ".join(
            doctor.output.split()
        ), doctor.output
        assert daemons[1].stop() == 0
    finally:
        for d in daemons:
            d.kill()


def test_daemon_runs_and_stops_its_worker_processes(tmp_path: Path, pg_url: str) -> None:
    with FeedServer(latency=0.02) as server:
        urls = [server.add(f"/f{i}.xml", rss(i)) for i in range(40)]
        config = write(tmp_path / "c.yaml", {
            "database": pg_url, "output_dir": str(tmp_path / "out"), "timezone": "UTC",
            "feeds": [{"url": u} for u in urls], "workers": 2, "worker_batch": 5,
            "schedule": {"poll_interval_seconds": 600, "issue": "0 8 1 1 *"},
        })  # fmt: skip
        Store.open(pg_url).close()
        daemon = Proc(config)
        try:
            deadline = time.monotonic() + 90
            while min(server.count(f"/f{i}.xml") for i in range(40)) < 1:
                assert time.monotonic() < deadline, "".join(daemon.raw)
                time.sleep(0.05)
            assert daemon.stop() == 0  # SIGTERM reaches the workers too; all exit cleanly
        finally:
            daemon.kill()
        assert max(server.count(f"/f{i}.xml") for i in range(40)) == 1
    stopped = [r for r in daemon.lines if r.get("job") == "worker" and r.get("status") == "stopped"]
    assert len(stopped) == 2 and sum(r["polled"] for r in stopped) == 40
    assert len({r["owner"] for r in stopped}) == 2
