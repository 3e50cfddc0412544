"""Temporary SMTP failures are retried on a schedule, then given up (real aiosmtpd on loopback).

The schedule is shrunk to fractions of a second here; the default (15 min, 1 h, 4 h, then
every 12 h, for 3 days) is checked on its own.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsletter._doctor import check_retries
from newsletter.config import Config, load_config
from newsletter.flows.send import next_retry, retry_due, send_issue
from newsletter.store import Store
from tests.smtp import SECRET, SMTPServer, sample_issue, write_config
from tests.test_daemon import Proc, procs  # noqa: F401 - the fixture

ISSUE = "2024-05-06"
FULL = "452 4.2.2 <{address}>: Mailbox full, try again later"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


def setup(
    folder: Path, port: int, database: str | None = None, **email: Any
) -> tuple[Path, Config, Store]:
    path = write_config(folder, port, retries=0, **email)
    if database is not None:
        data = yaml.safe_load(path.read_text("utf-8"))
        path.write_text(json.dumps({**data, "database": database}, ensure_ascii=False), "utf-8")
    config = load_config(path)
    store = Store.open(config.database)
    store.save_issue(sample_issue(2), str(folder / "output" / "issues" / ISSUE))
    for name in ("ok", "full", "gone"):
        store.add_subscriber(f"{name}@example.org")
    return path, config, store


def rows(store: Store) -> dict[str, tuple[str, int]]:
    return {r.email: (r.status, r.attempts) for r in store.deliveries(ISSUE)}


def test_the_default_schedule_runs_for_up_to_three_days() -> None:
    config = Config.model_validate({"feeds": []})
    start = datetime(2026, 11, 30, 8, tzinfo=UTC)
    waits, attempt, now = [], 1, start
    while (when := next_retry(config, attempt, now)) is not None:
        waits.append(when - now)
        attempt, now = attempt + 1, when
    minutes = [int(w.total_seconds() // 60) for w in waits]
    assert minutes == [15, 60, 240, 720, 720, 720, 720, 720]
    last_try = now - start
    assert timedelta(days=2) < last_try <= timedelta(days=3)  # 65 h 15 min
    assert attempt == 9  # the ninth try's failure is the one given up


def test_a_temporary_failure_waits_for_its_retry_time_then_is_sent_once(
    tmp_path: Path, smtp_server: SMTPServer, db_url: str
) -> None:
    _, config, store = setup(
        tmp_path,
        smtp_server.port,
        db_url,
        retry_delays_seconds=[2.0],
        give_up_after_seconds=30,
    )
    smtp_server.answer_rcpt(FULL, "full@example.org")
    first = send_issue(config, store)
    assert (first.sent, first.failed, first.deferred, first.bounced) == (3 - 1, 1, 1, 0)
    assert rows(store)["full@example.org"] == ("deferred", 1)
    assert first.retries.waiting == 1 and first.retries.given_up == 0
    assert first.retries.next_at is not None
    assert first.retries.next_at - datetime.now(UTC) <= timedelta(seconds=2)
    assert store.get_subscriber(email="full@example.org").status == "active"  # type: ignore[union-attr]

    assert retry_due(config, store) == []  # not due yet: nothing sent, nothing changed
    assert rows(store)["full@example.org"] == ("deferred", 1)

    smtp_server.answer_rcpt(None, "full@example.org")  # the mailbox has room again
    time.sleep(max(0.0, (first.retries.next_at - datetime.now(UTC)).total_seconds()) + 0.05)
    (retried,) = retry_due(config, store)
    assert (retried.sent, retried.failed, retried.already_sent) == (1, 0, 2)
    assert retried.retries.waiting == 0
    assert rows(store)["full@example.org"] == ("sent", 2)
    for name in ("ok", "full", "gone"):
        assert len(smtp_server.received_by(f"{name}@example.org")) == 1
    assert retry_due(config, store) == []


def test_retries_end_when_the_schedule_runs_out_and_doctor_says_so(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    # Waits 0.2, 0.2, ...; a fourth failed try would wait past 0.7 s: given up then.
    _, config, store = setup(
        tmp_path, smtp_server.port, retry_delays_seconds=[0.2], give_up_after_seconds=0.7
    )
    smtp_server.answer_rcpt(FULL, "full@example.org")
    smtp_server.reject("gone@example.org")  # a bounce is not retried
    send_issue(config, store)
    assert rows(store)["gone@example.org"][0] == "failed"
    (check,) = check_retries(config, store)
    assert check.status == "warn" and "1 failed temporarily and wait" in check.detail
    assert "next at" in check.detail and "given up" not in check.detail

    deadline = time.monotonic() + 10
    while rows(store)["full@example.org"][0] == "deferred" and time.monotonic() < deadline:
        time.sleep(0.21)
        retry_due(config, store)
    status, attempts = rows(store)["full@example.org"]
    assert (status, attempts) == ("failed", 4)
    answer = next(r.answer for r in store.deliveries(ISSUE) if r.email == "full@example.org")
    assert answer.startswith("gave up after 4 attempts: 452 4.2.2")
    assert store.delivery_retries(ISSUE).given_up == 1  # the bounce is not counted
    (check,) = check_retries(config, store)
    assert check.detail == "1 given up after the retry schedule"
    assert "`newsletter send`" in check.fix
    assert len(smtp_server.received_by("full@example.org")) == 0

    # An operator's `send` still tries a given-up delivery again, at once.
    smtp_server.answer_rcpt(None, "full@example.org")
    again = send_issue(config, store)
    assert again.sent == 1 and len(smtp_server.received_by("full@example.org")) == 1
    assert check_retries(config, store) == []


def test_a_retry_missed_by_more_than_the_grace_is_given_up(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    path, config, store = setup(
        tmp_path, smtp_server.port, retry_delays_seconds=[0.1], give_up_after_seconds=600
    )
    data = yaml.safe_load(path.read_text("utf-8"))
    config = Config.model_validate({**data, "schedule": {"misfire_grace_seconds": 1}})
    smtp_server.answer_rcpt(FULL, "full@example.org")
    send_issue(config, store)
    smtp_server.answer_rcpt(None, "full@example.org")
    time.sleep(1.2)  # the daemon was down past the retry time and the grace
    assert retry_due(config, store) == []
    (row,) = [r for r in store.deliveries(ISSUE) if r.email == "full@example.org"]
    assert row.status == "failed"
    assert row.answer.startswith("gave up: the retry was due too long ago; 452 4.2.2")
    assert smtp_server.received_by("full@example.org") == []


def test_the_daemon_retries_on_schedule_and_logs_it(
    tmp_path: Path, smtp_server: SMTPServer, procs: list[Proc]  # noqa: F811
) -> None:
    path, config, store = setup(
        tmp_path, smtp_server.port, retry_delays_seconds=[1.0], give_up_after_seconds=60
    )
    data = yaml.safe_load(path.read_text("utf-8"))
    # No feeds, and the weekly issue far away: the retry job is the daemon's only work.
    data.update(feeds=[], schedule={"issue": "0 8 1 1 *", "poll_interval_seconds": 3600})
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    smtp_server.answer_rcpt(FULL, "full@example.org")
    first = send_issue(config, store)
    store.close()
    assert first.deferred == 1
    smtp_server.answer_rcpt(None, "full@example.org")

    proc = Proc(path)
    procs.append(proc)
    # (A check that comes while the retry still runs logs "skipped": not this line.)
    line = proc.wait_for(lambda r: r.get("job") == "retry" and "sent" in r, timeout=20)
    assert proc.stop() == 0
    assert (line["issue"], line["sent"], line["failed"], line["already"]) == (ISSUE, 1, 0, 2)
    assert "retry_waiting" not in line
    assert len(smtp_server.received_by("full@example.org")) == 1


def test_schema_v10_adds_the_retry_time_to_an_older_database(db_url: str) -> None:
    from sqlalchemy import inspect

    from newsletter.store import SCHEMA_VERSION

    store = Store.open(db_url)
    store.save_issue(sample_issue(1), "")
    store.add_subscriber("old@example.org")
    store.queue_deliveries(ISSUE)
    with store.engine.begin() as conn:  # back to schema version 9
        conn.exec_driver_sql("ALTER TABLE deliveries DROP COLUMN retry_at")
        conn.exec_driver_sql("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    store.close()
    store = Store.open(db_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION >= 10
        assert "retry_at" in {c["name"] for c in inspect(store.engine).get_columns("deliveries")}
        assert [r.status for r in store.deliveries(ISSUE)] == ["queued"]  # kept
        assert store.delivery_retries() == store.delivery_retries(ISSUE)
        assert store.delivery_retries().waiting == 0
    finally:
        store.close()
