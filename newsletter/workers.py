"""Several workers on one database: ``newsletter worker`` and the daemon's ``workers: N``.

The database is the coordinator; there is no other service. A worker repeatedly leases a
small batch of due feeds (:meth:`Store.lease_feeds`), polls them through the ordinary
:func:`pipeline.poll`, and releases them; while a batch runs a heartbeat pushes the lease
expiry forward, so a worker that dies (even by ``kill -9``) loses its feeds
``lease_seconds`` later and another worker polls them. A worker also helps send an issue
whose sending has started (:func:`pipeline.send_issue` with ``join``), and the one daemon
that holds the ``scheduler`` lease fires the weekly build (:class:`Leadership`).

A feed is due when it has not been polled for one poll interval (``schedule.
poll_interval_seconds``, else the period of the ``schedule.poll`` cron string), is not
backing off (``next_poll_at``) and is not disabled: workers spread polls over time
instead of polling everything at once on the cron tick.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from . import pipeline
from ._lease import Heartbeat, dead_here, owner_id
from ._lifeline import exit_with_parent
from .config import Config
from .errors import NewsletterError
from .models import Feed
from .store import LeaseHolder, Store

log = logging.getLogger("newsletter.worker")

SCHEDULER_LEASE = "scheduler"


def _line(job: str, **fields: Any) -> None:
    """One log line per step, ``job=… key=value …``; the same keys as JSON fields."""
    parts = " ".join(
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()
    )
    log.info("job=%s %s", job, parts, extra={"fields": {"job": job, **fields}})


def poll_interval(config: Config) -> float:
    """Seconds between two polls of one feed: the interval, or the poll cron's period."""
    if config.schedule.poll_interval_seconds:
        return float(config.schedule.poll_interval_seconds)
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(config.schedule.poll, timezone=config.tz)
    first = trigger.get_next_fire_time(None, datetime.now(config.tz))
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    if first is None or second is None:
        return 1800.0
    return max(1.0, (second - first).total_seconds())


def poll_pass(
    config: Config,
    store: Store,
    owner: str,
    *,
    polled_before: datetime,
    stop: threading.Event | None = None,
) -> pipeline.PollReport:
    """Lease due feeds batch by batch and poll them, until none is due (or ``stop``)."""
    started = time.monotonic()
    known = pipeline.all_feeds(config, store)
    store.sync_feeds(config.feed_list)
    by_url = {f.url: f for f in known}
    # Rows of feeds since removed from the config stay (their stories are archived) but
    # are not polled; found once per pass, not sent with every lease.
    removed = sorted(store.feed_urls("config") - {f.url for f in config.feed_list})
    outcomes: list[pipeline.FeedOutcome] = []
    seconds = config.lease_seconds
    while not (stop and stop.is_set()):
        urls = store.lease_feeds(
            owner,
            limit=config.worker_batch,
            seconds=seconds,
            polled_before=polled_before,
            exclude=removed,
        )
        if not urls:
            break
        if any(u not in by_url for u in urls):
            # Added with `feeds add` since this pass began.
            by_url.update({f.url: f for f in pipeline.all_feeds(config, store)})
        batch: list[Feed] = [by_url[u] for u in urls if u in by_url]
        # A leased URL this worker cannot resolve keeps its lease until it expires, so the
        # loop does not take it again at once; a worker that knows the feed polls it then.
        mine = [f.url for f in batch]

        def renew(mine: list[str] = mine) -> None:
            store.renew_feed_leases(owner, mine, seconds)

        try:
            with Heartbeat(seconds / 3, renew):
                report = pipeline.poll(config, store, feeds=batch)
        finally:
            store.release_feeds(owner, mine)
        outcomes.extend(report.outcomes)
    return pipeline.PollReport(tuple(outcomes), time.monotonic() - started)


def wait_for_polls(store: Store, timeout: float, poll_every: float = 0.2) -> bool:
    """Wait until the polls in flight now (other workers' leases) are done; False on timeout.

    The weekly build runs after this, so it sees what another worker was storing right
    then. Leases taken later do not count: busy workers must not hold the build up.
    """
    deadline = time.monotonic() + timeout
    pending = store.leased_feeds()
    while pending:
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_every)
        now = store.leased_feeds()
        pending = {u: o for u, o in pending.items() if now.get(u) == o}
    return True


def send_pass(
    config: Config, store: Store, owner: str, stop: threading.Event | None = None
) -> pipeline.SendReport | None:
    """Help send the newest issue if its sending has started and rows are still owed.

    Only an issue created within ``schedule.misfire_grace_seconds`` (the same rule as the
    daemon's resume): a worker never starts a send nobody asked for, nor finishes a stale one.
    """
    newest = next(iter(store.list_issues()), None)
    if newest is None:
        return None
    grace = timedelta(seconds=config.schedule.misfire_grace_seconds)
    if datetime.now(UTC) - newest.created > grace:
        return None
    counts = store.delivery_counts(newest.id)
    if not (counts.get("queued", 0) or counts.get("sending", 0)):
        return None
    return pipeline.send_issue(
        config,
        store,
        issue_id=newest.id,
        owner=owner,
        join=True,
        stop=stop.is_set if stop else None,
    )


@dataclass
class WorkerReport:
    owner: str
    passes: int = 0
    polled: int = 0
    new_entries: int = 0
    failed: int = 0
    sent: int = 0
    elapsed: float = 0.0


def run_worker(
    config: Config,
    *,
    name: str | None = None,
    once: bool = False,
    stop: threading.Event | None = None,
) -> WorkerReport:
    """Poll due feeds and help with sends until ``stop`` (or one pass with ``once``)."""
    stop = stop or threading.Event()
    owner = owner_id(name)
    report = WorkerReport(owner)
    started = time.monotonic()
    interval = poll_interval(config)
    idle = min(5.0, max(0.2, interval / 10))
    store = Store.open(config.database)
    _line("worker", status="started", owner=owner, interval=interval)
    try:
        while not stop.is_set():
            before = datetime.now(UTC) - timedelta(seconds=interval)
            polled = poll_pass(config, store, owner, polled_before=before, stop=stop)
            try:
                sent = send_pass(config, store, owner, stop)
            except NewsletterError as exc:
                log.error("worker %s: send failed: %s", owner, exc)
                sent = None
            report.passes += 1
            report.polled += len(polled.outcomes)
            report.new_entries += polled.new_entries
            report.failed += polled.failed
            report.sent += sent.sent if sent else 0
            if polled.outcomes or (sent and sent.sent):
                _line(
                    "worker-pass",
                    owner=owner,
                    feeds=len(polled.outcomes),
                    new=polled.new_entries,
                    failed=polled.failed,
                    sent=sent.sent if sent else 0,
                    seconds=round(polled.elapsed, 2),
                )
            if once:
                break
            if not polled.outcomes and not (sent and sent.sent):
                stop.wait(idle)
    finally:
        store.close()
        report.elapsed = time.monotonic() - started
        _line("worker", status="stopped", owner=owner, polled=report.polled, sent=report.sent)
    return report


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM / Ctrl-C: finish the batch in progress, then stop; a second one exits now."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(128 + signum)
        log.info("signal %d: finishing the current batch, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def worker_process(
    config: Config, name: str, log_format: str = "text", parent: int | None = None
) -> None:
    """Entry point of a worker process the daemon starts (``multiprocessing`` spawn).

    A worker whose daemon died (``kill -9``) finishes its batch and stops, instead of
    polling on beside the daemon that replaces it.
    """
    from .schedule import configure_logging

    configure_logging(log_format)
    stop = threading.Event()
    stop_on_signals(stop)

    def orphaned() -> None:
        log.warning("worker %s: the daemon (pid %s) is gone; stopping", name, parent)
        stop.set()

    exit_with_parent(parent, orphaned)
    run_worker(config, name=name, stop=stop)


class Leadership:
    """The scheduler role, held by one daemon per database through a lease row.

    ``check()`` takes or renews the lease and says whether this process holds it; the
    holder renews it every ``lease_seconds / 3``. When the holder dies its lease runs out
    and the next daemon to check takes over (at once if the holder died on this machine).
    """

    def __init__(self, config: Config, owner: str) -> None:
        self.config = config
        self.owner = owner
        self._store: Store | None = None
        self._held = False
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.config.database)
        return self._store

    def check(self) -> bool:
        """Take or renew the lease; True while this process holds it."""
        with self._lock:
            seconds = self.config.lease_seconds
            holder = self.store.acquire_lease(SCHEDULER_LEASE, self.owner, seconds)
            if holder.owner != self.owner and dead_here(holder.owner):
                self.store.release_lease(SCHEDULER_LEASE, holder.owner)
                holder = self.store.acquire_lease(SCHEDULER_LEASE, self.owner, seconds)
            held = holder.owner == self.owner
            if held != self._held:
                _line(
                    "scheduler",
                    status="acquired" if held else "lost",
                    owner=self.owner,
                    holder=holder.owner,
                )
            self._held = held
            return held

    @property
    def held(self) -> bool:
        """Whether the last check found this process holding the lease."""
        return self._held

    def holder(self) -> LeaseHolder | None:
        return self.store.lease_holder(SCHEDULER_LEASE)

    def release(self) -> None:
        with self._lock:
            if self._store is not None:
                if self._held:
                    self._store.release_lease(SCHEDULER_LEASE, self.owner)
                self._store.close()
                self._store = None
            self._held = False
