"""Several workers on one database: ``newsletter worker`` and the daemon's ``workers: N``.

The database is the coordinator; there is no other service. A worker repeatedly leases a
small batch of due feeds and polls them through the poll flow
(:func:`flows.poll.poll_leased`), then releases them; while a batch runs a heartbeat pushes
the lease expiry forward, so a worker that dies (even by ``kill -9``) loses its feeds
``lease_seconds`` later and another worker polls them. A worker also helps send an issue
whose sending has started (:func:`flows.send.join_send`), and the one daemon that holds
the ``scheduler`` lease fires the weekly build (:class:`Leadership`).

A feed is due when it has not been polled for one poll interval (``schedule.
poll_interval_seconds``, else the period of the ``schedule.poll`` cron string), is not
backing off (``next_poll_at``) and is not disabled: workers spread polls over time
instead of polling everything at once on the cron tick.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ._lease import dead_here, owner_id
from ._lifeline import exit_with_parent, on_stop_signals
from ._logging import configure_logging, log_line
from .config import Config
from .errors import NewsletterError
from .flows import poll as poll_flow
from .flows import send as send_flow
from .store import LeaseHolder, Store

log = logging.getLogger("newsletter.worker")

SCHEDULER_LEASE = "scheduler"


@dataclass
class WorkerReport:
    owner: str
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
    interval = poll_flow.poll_interval(config)
    idle = min(5.0, max(0.2, interval / 10))
    with Store.open(config.database) as store:
        log_line(log, "worker", status="started", owner=owner, interval=interval)
        try:
            while not stop.is_set():
                before = datetime.now(UTC) - timedelta(seconds=interval)
                polled = poll_flow.poll_leased(
                    config, store, owner, polled_before=before, stop=stop
                )
                try:
                    sent = send_flow.join_send(config, store, owner, stop)
                except NewsletterError as exc:
                    log.error("worker %s: send failed: %s", owner, exc)
                    sent = None
                report.polled += len(polled.outcomes)
                report.new_entries += polled.new_entries
                report.failed += polled.failed
                report.sent += sent.sent if sent else 0
                if polled.outcomes or (sent and sent.sent):
                    log_line(
                        log,
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
            report.elapsed = time.monotonic() - started
            log_line(
                log, "worker", status="stopped", owner=owner, polled=report.polled, sent=report.sent
            )
    return report


def cancel_llm_calls() -> None:
    """Cancel LLM calls in flight (a stop must not wait out their timeouts).

    From a thread: a signal handler must not take the locks the cancelled calls hold.
    """
    from . import llm

    threading.Thread(target=llm.cancel_all, name="llm-cancel", daemon=True).start()


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM / Ctrl-C: finish the batch in progress, then stop; a second one exits now."""

    def first(signum: int) -> None:
        log.info("signal %d: finishing the current batch, then stopping", signum)
        stop.set()
        cancel_llm_calls()

    on_stop_signals(first, lambda signum: os._exit(128 + signum))


def worker_process(
    config: Config, name: str, log_format: str = "text", parent: int | None = None
) -> None:
    """Entry point of a worker process the daemon starts (``multiprocessing`` spawn).

    A worker whose daemon died (``kill -9``) finishes its batch and stops, instead of
    polling on beside the daemon that replaces it.
    """
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

    def __init__(self, config: Config, owner: str, store: Callable[[], Store]) -> None:
        self.config = config
        self.owner = owner
        # The daemon's own store (opened once, reopened after a failed job): the lease
        # checks every lease_seconds / 3 need no store, nor schema check, of their own.
        self._store = store
        self._held = False
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        return self._store()

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
                log_line(
                    log,
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
        """Give the lease up (the daemon closes the store after)."""
        with self._lock:
            if self._held:
                self.store.release_lease(SCHEDULER_LEASE, self.owner)
            self._held = False
