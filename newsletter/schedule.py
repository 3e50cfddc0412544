"""The daemon: APScheduler runs poll on ``schedule.poll`` and build on ``schedule.issue``.

Guarantees, each for a reason an operator would otherwise find out the hard way:

* one daemon per database: a second one refuses to start (:class:`DaemonLock`), since two
  would fetch every feed twice and race on the weekly build;
* jobs never overlap: APScheduler's ``max_instances=1`` per job, plus one work lock shared by
  poll and issue, so a build never reads a half-stored poll;
* a weekly run missed while the daemon was down is caught up once on start (coalesced) if
  it is within ``schedule.misfire_grace_seconds``;
* SIGTERM / Ctrl-C finish the step in progress (a poll or a build), start nothing new, and
  exit 0; a second signal exits at once;
* a SQLite file removed or replaced under the daemon stops it with an error
  (:class:`DatabaseWatch`): opening the path again would create an empty database and
  re-poll every old story as new.

Why one file over 600 lines: the daemon's guarantees (lock, catch-up, no overlap,
stop, database watch) act on one scheduler object and its jobs; they are read together.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from . import workers
from ._lease import owner_id
from ._lifeline import on_stop_signals
from ._logging import current_format, log_line, one_line
from ._urls import feed_label
from .config import Config
from .errors import LLMCancelled, NewsletterError
from .flows import build as build_flow
from .flows import channels as channels_flow
from .flows import poll as poll_flow
from .flows import send as send_flow
from .store import Store

log = logging.getLogger("newsletter.daemon")

# meta key holding the scheduled time of the last weekly run that completed (ISO, UTC).
ISSUE_RUN_KEY = "daemon.issue.last_due"


# -- single-instance lock ----------------------------------------------------------------


class DaemonRunning(NewsletterError):
    """Another daemon already holds the lock for this database."""


class DaemonLock(Protocol):
    """Exclusive right to run the daemon for one database.

    A file lock serves SQLite (the database is a local file, so every daemon that can open
    it can see the lock file). A shared server database needs a lease kept in the database
    itself (e.g. a row with holder and expiry, or ``pg_try_advisory_lock``); it only has
    to implement these two methods and be returned by :func:`daemon_lock`.
    """

    def acquire(self) -> None:
        """Take the lock or raise :class:`DaemonRunning` with a message naming the holder."""

    def release(self) -> None: ...


class FileLock:
    """``flock`` on a file: released by the kernel when the process dies, so never stale."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise DaemonRunning(
                f"another newsletter daemon is already running on this database "
                f"({holder}; lock file {self.path}); stop it first"
            ) from None
        os.ftruncate(fd, 0)
        since = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
        os.pwrite(fd, f"pid {os.getpid()} since {since}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class NoLock:
    """For a server database: any number of daemons, coordinated by database leases."""

    def acquire(self) -> None:
        return None

    def release(self) -> None:
        return None


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def daemon_lock(config: Config) -> DaemonLock:
    """The lock for this config's database: a file next to a SQLite file, else in output_dir."""
    db = sqlite_path(config.database)
    if db is not None:
        return FileLock(db.with_name(db.name + ".daemon.lock"))
    # A server database is shared by design: leases in the database coordinate daemons.
    return NoLock()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL, or None (server database, in-memory)."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///") :].split("?", 1)[0])
    return None


class DatabaseGone(NewsletterError):
    """The SQLite file the daemon started with was removed or replaced."""


class DatabaseWatch:
    """Remembers which file the database was at start (device and inode) and checks it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._identity: tuple[int, int] | None = None
        if path is not None:
            info = path.stat()
            self._identity = (info.st_dev, info.st_ino)

    def check(self) -> None:
        """Raise :class:`DatabaseGone` if the file is missing or is another file now."""
        if self.path is None or self._identity is None:
            return
        try:
            info = self.path.stat()
        except FileNotFoundError:
            raise DatabaseGone(
                f"database file {self.path} was removed while the daemon ran; stopping "
                "(restore it, or restart the daemon to start a new database)"
            ) from None
        if (info.st_dev, info.st_ino) != self._identity:
            raise DatabaseGone(
                f"database file {self.path} was replaced by another file while the daemon "
                "ran; stopping (restart the daemon to use the new file)"
            )


# -- schedule ----------------------------------------------------------------------------


def previous_fire_time(
    cron: str, tz: Any, now: datetime, within: timedelta = timedelta(days=35)
) -> datetime | None:
    """The most recent scheduled time at or before ``now``, looking back at most ``within``."""
    trigger = CronTrigger.from_crontab(cron, timezone=tz)
    moment = now - within
    last = None
    fire = trigger.get_next_fire_time(None, moment)
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last


class Daemon:
    """Holds the scheduler and the jobs, and one store they share.

    The store is opened (and its schema checked) once per daemon, not per job, and again
    after a job that failed; its engine gives each job thread a connection of its own.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.scheduler = BlockingScheduler(timezone=config.tz)
        self._work = threading.Lock()
        self._stopping = threading.Event()
        self.lock = daemon_lock(config)
        # Several daemons may share a server database: they poll through feed leases and
        # only the holder of the scheduler lease builds and sends (see workers.Leadership).
        self.owner = owner_id("daemon")
        self.shared = config.workers > 0 or not _is_sqlite(config.database)
        self.leader: workers.Leadership | None = None
        if not _is_sqlite(config.database):
            self.leader = workers.Leadership(config, self.owner, self._opened)
        self._procs: dict[str, Any] = {}
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self.watch = DatabaseWatch(None)
        self.failure: NewsletterError | None = None

    def _opened(self) -> Store:
        """The daemon's one store, opened (and its schema checked) on first use."""
        with self._store_lock:
            if self._store is None:
                self._store = Store.open(self.config.database)
            return self._store

    def close(self) -> None:
        """Close the store (``start`` does it on the way out; the next use opens it again)."""
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    @contextmanager
    def _job_store(self) -> Iterator[Store]:
        """The store for one job, once the database is known to be the one we started with.

        A job that fails closes the store, so the next job opens it afresh (new connections,
        the schema checked again) rather than reusing connections a database failure broke.
        """
        self.watch.check()
        try:
            yield self._opened()
        except BaseException:
            self.close()
            raise

    def _check_database(self) -> None:
        try:
            self.watch.check()
        except DatabaseGone as exc:
            if self.failure is None:
                log.error("%s", exc, extra={"fields": {"job": "database", "failed": True}})
                self.failure = exc
            self.stop()

    # -- jobs ---------------------------------------------------------------------------
    def _poll(self, store: Store, job: str) -> poll_flow.PollReport:
        if self.shared:
            # Half an interval: daemons on the same cron poll each feed once per round.
            half = timedelta(seconds=poll_flow.poll_interval(self.config) / 2)
            before = datetime.now(UTC) - half
            report = poll_flow.poll_leased(self.config, store, self.owner, polled_before=before)
        else:
            report = poll_flow.poll(self.config, store)
        fields: dict[str, Any] = {}
        if report.failed:
            fields["failing"] = failing_feeds(report, store)
        log_line(
            log,
            job,
            feeds=len(report.outcomes),
            ok=report.count("ok"),
            not_modified=report.count("not_modified"),
            failed=report.failed,
            **fields,
            skipped=report.skipped,
            new=report.new_entries,
            relevant_new=sum(o.relevant_new for o in report.outcomes),
            seconds=round(report.elapsed, 2),
            next_poll=self._local(self._poll_trigger()),
        )
        if report.storage_error:
            fields = {"job": job, "failed": True}
            log.error("job=%s %s", job, report.storage_error, extra={"fields": fields})
        return report

    def poll_job(self) -> None:
        if self._stopping.is_set():
            return
        # The issue job polls first anyway; waiting for it would only poll twice.
        if not self._work.acquire(blocking=False):
            log_line(log, "poll", status="skipped", reason="issue job running")
            return
        try:
            with self._job_store() as store:
                self._poll(store, "poll")
                # A channel that failed at the weekly send (a long rate-limit wait, a fixed
                # secret) is tried again here, within the misfire grace.
                owed = channels_flow.owed(self.config, store, datetime.now(UTC))
                if owed is not None and self._leading(None):
                    post_channels(self.config, store, owed)
        finally:
            self._work.release()

    def bounces_job(self) -> None:
        """Read the bounce mailbox; an unreachable one is logged, never kills the daemon."""
        from .flows.bounces import poll_mailbox

        if self._stopping.is_set() or not self._leading("bounces"):
            return
        try:
            with self._job_store() as store:
                poll_mailbox(self.config, store)  # logs its own job=bounces line
        except NewsletterError as exc:
            log_line(log, "bounces", failed=True, error=str(exc))

    def issue_job(self, due: datetime | None = None) -> None:
        """Poll, then build; ``due`` is the scheduled time this run stands for."""
        due = due or datetime.now(UTC)
        if not self._leading("issue"):
            return
        while not self._work.acquire(timeout=1):
            if self._stopping.is_set():
                return
        try:
            if self._stopping.is_set():
                return
            started = time.monotonic()
            with self._job_store() as store:
                self._poll(store, "issue-poll")
                if self.shared and not poll_flow.wait_for_polls(store, self.config.lease_seconds):
                    log.warning("feeds still being polled by other workers; building anyway")
                if self._stopping.is_set():
                    # Not recorded as done: the next start catches it up within the grace.
                    log_line(log, "issue", built="none", reason="stopping before the build")
                    return
                try:
                    report = build_flow.build_issue(self.config, store)
                except LLMCancelled:
                    # Not recorded as done: the next start builds it with its LLM digests.
                    log_line(log, "issue", built="none", reason="stopping during the LLM calls")
                    return
                store.set_meta(ISSUE_RUN_KEY, due.astimezone(UTC).isoformat())
                # Build and send are one step: a built issue is sent even when stopping
                # (per-recipient state makes a cut-off send resumable: see
                # flows.send.unfinished_send).
                if report.issue is not None and not report.draft:
                    send_built(self.config, store, report.issue.id)
            seconds = round(time.monotonic() - started, 2)
            if report.issue is None:
                log_line(
                    log,
                    "issue",
                    built="none",
                    reason=report.reason,
                    seconds=seconds,
                    next_issue=self._local(self._issue_trigger()),
                )
                return
            log_line(
                log,
                "issue",
                built=report.issue.id,
                stories=len(report.issue.items),
                llm_calls=report.usage.calls,
                llm_fallbacks=len(report.fallbacks),
                seconds=seconds,
                next_issue=self._local(self._issue_trigger()),
            )
        finally:
            self._work.release()

    def send_job(self, issue_id: str) -> None:
        """Finish sending an issue whose send was interrupted (crash, kill, restart)."""
        if not self._leading("send"):
            return
        while not self._work.acquire(timeout=1):
            if self._stopping.is_set():
                return
        try:
            with self._job_store() as store:
                send_built(self.config, store, issue_id)
        finally:
            self._work.release()

    def review_job(self) -> None:
        """Send approved drafts when due; apply ``review.on_deadline`` to overdue ones."""
        from .flows import review

        if self._stopping.is_set() or not self._leading("review"):
            return
        if not self._work.acquire(timeout=1):
            return  # the issue job is running; the next round comes soon
        try:
            with self._job_store() as store:
                for done in review.run_due(self.config, store):
                    fields: dict[str, Any] = {"issue": done.issue_id, "action": done.action}
                    if done.report is not None:
                        fields.update(sent=done.report.sent, failed=done.report.failed)
                    if done.error:
                        fields.update(failed=True, error=done.error)
                    log_line(log, "review", **fields)
        finally:
            self._work.release()

    def retry_job(self) -> None:
        """Send again the deliveries that failed temporarily, once their retry time came."""
        if self._stopping.is_set() or not self._leading(None):
            return
        if not self._work.acquire(blocking=False):
            return  # a poll, build or send is running: the next check retries
        try:
            with self._job_store() as store:
                due = send_flow.retry_due(
                    self.config, store, owner=self.owner, stop=self._stopping.is_set
                )
        except NewsletterError as exc:
            log_line(log, "retry", failed=True, error=str(exc))
            return
        finally:
            self._work.release()
        for report in due:
            log_line(log, "retry", **send_fields(report, self.config.tz))

    def _scheduled_issue(self) -> None:
        self.issue_job(datetime.now(UTC))

    # -- catch-up -----------------------------------------------------------------------
    def missed_issue(self, now: datetime) -> datetime | None:
        """The scheduled time of a weekly run missed while the daemon was down, if within grace.

        Only the latest missed run counts: several missed weeks are caught up once.
        """
        grace = timedelta(seconds=self.config.schedule.misfire_grace_seconds)
        due = previous_fire_time(self.config.schedule.issue, self.config.tz, now, grace)
        if due is None:
            return None
        last = self._opened().get_meta(ISSUE_RUN_KEY)
        issues = self._opened().list_issues()
        if last is not None and datetime.fromisoformat(last) >= due:
            return None
        # An issue built by hand (``newsletter build``) since then also counts as the run.
        if any(i.created >= due for i in issues):
            return None
        return due

    def _unfinished_send(self, now: datetime) -> str | None:
        return send_flow.unfinished_send(self.config, self._opened(), now)

    # -- running ------------------------------------------------------------------------
    def _local(self, trigger: BaseTrigger, after: datetime | None = None) -> str | None:
        """A trigger's next time after ``after`` (default now), in the configured zone."""
        now = (after or datetime.now(UTC)).astimezone(self.config.tz)
        fire = trigger.get_next_fire_time(None, now)
        return fire.astimezone(self.config.tz).isoformat(timespec="seconds") if fire else None

    def _issue_trigger(self) -> BaseTrigger:
        return CronTrigger.from_crontab(self.config.schedule.issue, timezone=self.config.tz)

    def _poll_trigger(self) -> BaseTrigger:
        interval = self.config.schedule.poll_interval_seconds
        if interval is not None:
            return IntervalTrigger(seconds=interval, timezone=self.config.tz)
        return CronTrigger.from_crontab(self.config.schedule.poll, timezone=self.config.tz)

    def start(self) -> None:
        """Take the lock, schedule the jobs and block until a signal stops the daemon."""
        self.lock.acquire()
        try:
            # Opening creates and migrates the database; from then on it must stay that file.
            self._opened()
            self.watch = DatabaseWatch(sqlite_path(self.config.database))
            self._run()
        finally:
            self.lock.release()
        if self.failure is not None:
            raise self.failure

    def _run(self) -> None:
        tz = self.config.tz
        common: dict[str, Any] = {
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": self.config.schedule.misfire_grace_seconds,
        }
        now = datetime.now(UTC)
        leading = self._leading(None)
        missed = self.missed_issue(now) if leading else None
        first: dict[str, Any] = {}
        if not missed:
            # Poll right away on start, unless the catch-up below is about to poll anyway.
            first["next_run_time"] = now.astimezone(tz)
        if self.config.workers == 0:
            self.scheduler.add_job(
                self.poll_job, self._poll_trigger(), id="poll", name="poll", **common, **first
            )
        else:
            self._start_workers()
            self.scheduler.add_job(
                self._start_workers, IntervalTrigger(seconds=5), id="workers", name="workers"
            )
        if self.leader is not None:
            self.scheduler.add_job(
                self._lead,
                IntervalTrigger(seconds=max(0.2, self.config.lease_seconds / 3)),
                id="leadership",
                name="leadership",
                max_instances=1,
                coalesce=True,
            )
        mailbox = self.config.email.bounce_mailbox
        if mailbox is not None:
            self.scheduler.add_job(
                self.bounces_job,
                IntervalTrigger(seconds=mailbox.interval_seconds),
                id="bounces",
                name="bounces",
                max_instances=1,
                coalesce=True,
                next_run_time=now.astimezone(tz),
            )
        self.scheduler.add_job(
            self.retry_job,
            IntervalTrigger(seconds=min(60.0, self.config.email.retry_delays_seconds[0])),
            id="retry",
            name="send retries",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self._scheduled_issue,
            self._issue_trigger(),
            id="issue",
            name="issue",
            **common,
        )
        if missed:
            log.info(
                "weekly issue due %s was missed while the daemon was down; running it now",
                missed.astimezone(tz).isoformat(),
                extra={"fields": {"catch_up": missed.isoformat()}},
            )
            self.scheduler.add_job(
                self.issue_job,
                args=(missed,),
                id="issue-catch-up",
                name="issue catch-up",
                **common,
            )
        if self.config.review.required:
            self.scheduler.add_job(
                self.review_job,
                IntervalTrigger(seconds=self.config.review.check_seconds),
                id="review",
                name="review",
                max_instances=1,
                coalesce=True,
                next_run_time=now.astimezone(tz),
            )
        unfinished = self._unfinished_send(datetime.now(UTC)) if leading else None
        if unfinished is not None:
            log.info("issue %s was not sent to everyone; finishing that now", unfinished)
            self.scheduler.add_job(
                self.send_job, args=[unfinished], id="send-resume", name="send resume", **common
            )
        if self.watch.path is not None:
            self.scheduler.add_job(
                self._check_database,
                IntervalTrigger(seconds=1),
                id="database-watch",
                name="database watch",
                max_instances=1,
                coalesce=True,
            )
        self.scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        self.scheduler.add_listener(self._on_overlap, EVENT_JOB_MAX_INSTANCES)
        self._install_signals()
        self._log_start(now, missed)
        try:
            self.scheduler.start()
        finally:
            self._stop_workers()
        # The scheduler has stopped; a job may still be in its step. Let it finish.
        with self._work:
            pass
        if self.leader is not None:
            self.leader.release()
        self.close()
        log.info("daemon stopped")

    def _log_start(self, now: datetime, missed: datetime | None) -> None:
        """What the daemon will do: every feed it polls, when it polls and builds next."""
        total = len(poll_flow.all_feeds(self.config, self._opened()))
        configured = len(self.config.feeds)
        schedule = self.config.schedule
        every = (
            f"every {schedule.poll_interval_seconds:g}s"
            if schedule.poll_interval_seconds
            else repr(schedule.poll)
        )
        # The first poll runs at once, unless the catch-up (which polls first) runs instead.
        next_poll = now if not missed else None
        shown_poll = (
            next_poll.astimezone(self.config.tz).isoformat(timespec="seconds")
            if next_poll
            else self._local(self._poll_trigger(), now)
        )
        next_issue = "now (catch-up)" if missed else self._local(self._issue_trigger(), now)
        log.info(
            "daemon started (pid %d): %d feeds (%d from the config, %d added with feeds "
            "add/import), poll %s, next poll %s; issue %r, next issue %s (%s)",
            os.getpid(),
            total,
            configured,
            total - configured,
            every,
            shown_poll,
            schedule.issue,
            next_issue,
            self.config.timezone,
            extra={
                "fields": {
                    "feeds": total,
                    "next_poll": shown_poll,
                    "next_issue": next_issue,
                    "timezone": self.config.timezone,
                }
            },
        )
        problem = self.config.llm.missing_key()
        if problem:
            log.warning("%s", problem, extra={"fields": {"llm": "no key"}})

    # -- several daemons and workers on one database -------------------------------------
    def _leading(self, job: str | None) -> bool:
        """Whether this daemon may fire scheduler jobs now (always, on SQLite's file lock)."""
        if self.leader is None:
            return True
        try:
            leading = self.leader.check()
        except Exception as exc:  # noqa: BLE001 - a database hiccup skips one job, no more
            log.error("scheduler lease check failed: %s", exc)
            return False
        if not leading and job is not None:
            holder = self.leader.holder()
            log_line(
                log,
                job,
                status="skipped",
                reason="another daemon holds the scheduler lease",
                holder=holder.owner if holder else "unknown",
            )
        return leading

    def _lead(self) -> None:
        """Renew the scheduler lease; on taking it over, catch up what the last holder missed."""
        assert self.leader is not None
        was = self.leader.held
        if not self._leading(None) or was or self._stopping.is_set():
            return
        now = datetime.now(UTC)
        missed = self.missed_issue(now)
        if missed is not None:
            log.info("took over the scheduler; weekly issue due %s was missed", missed.isoformat())
            self.scheduler.add_job(
                self.issue_job, args=(missed,), id="issue-catch-up", replace_existing=True
            )
        unfinished = self._unfinished_send(now)
        if unfinished is not None:
            self.scheduler.add_job(
                self.send_job, args=[unfinished], id="send-resume", replace_existing=True
            )

    def _start_workers(self) -> None:
        """Start the ``workers`` processes, and restart any that died."""
        import multiprocessing

        if self._stopping.is_set():
            return
        context = multiprocessing.get_context("spawn")
        for index in range(self.config.workers):
            name = f"{self.owner.split('@')[0]}-w{index + 1}"
            proc = self._procs.get(name)
            if proc is not None and proc.is_alive():
                continue
            if proc is not None:
                log_line(log, "workers", status="restarting", worker=name, exitcode=proc.exitcode)
            # Workers log like the daemon (``--log-format`` may differ from the config).
            fmt = "json" if current_format() == "json" else self.config.log_format
            proc = context.Process(
                target=workers.worker_process,
                args=(self.config, name, fmt, os.getpid()),
                name=name,
            )
            proc.start()
            self._procs[name] = proc

    def _stop_workers(self) -> None:
        """SIGTERM every worker (each finishes its batch), then wait; kill any that hang."""
        for proc in self._procs.values():
            if proc.is_alive():
                proc.terminate()
        deadline = time.monotonic() + 60
        for proc in self._procs.values():
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        self._procs.clear()

    def stop(self) -> None:
        """Stop scheduling; the step in progress finishes (``start`` returns after it),
        except LLM calls in flight: they are cancelled and a build in them is abandoned."""
        self._stopping.set()
        workers.cancel_llm_calls()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _install_signals(self) -> None:
        def first(signum: int) -> None:
            log.info("signal %d: finishing the current step, then stopping", signum)
            self.stop()

        def again(signum: int) -> None:
            log.warning("signal %d again: exiting now", signum)
            os._exit(128 + signum)

        on_stop_signals(first, again)

    @staticmethod
    def _on_error(event: JobExecutionEvent) -> None:
        log.error(
            "job=%s failed: %s: %s",
            event.job_id,
            type(event.exception).__name__,
            event.exception,
            extra={"fields": {"job": event.job_id, "failed": True}},
        )

    @staticmethod
    def _on_overlap(event: Any) -> None:
        log_line(log, str(event.job_id), status="skipped", reason="previous run still going")


def failing_feeds(report: poll_flow.PollReport, store: Store) -> list[str]:
    """``label (reason)`` per feed that failed, labelled as the CLI tables label it."""
    titles = {url: title for url, (title, _) in store.feed_sites().items()}
    named = []
    for o in report.outcomes:
        if o.status != "error":
            continue
        label = feed_label(o.name if o.name != o.url else "", titles.get(o.url, ""), o.url)
        named.append(f"{one_line(label, 60)} ({one_line(o.error or 'failed', 80)})")
    return named


def send_built(config: Config, store: Store, issue_id: str) -> None:
    """Send a just-built issue, then post it to the chat channels; problems are logged,
    never kill the daemon."""
    started = time.monotonic()
    try:
        sent = send_flow.send_issue(config, store, issue_id=issue_id)
    except NewsletterError as exc:
        log.error(
            "job=send issue=%s failed: %s",
            issue_id,
            exc,
            extra={"fields": {"job": "send", "issue": issue_id, "failed": True}},
        )
        post_channels(config, store, issue_id)  # a mail problem is no reason to skip chat
        return
    seconds = round(time.monotonic() - started, 2)
    log_line(log, "send", **send_fields(sent, config.tz), seconds=seconds)
    post_channels(config, store, issue_id)


def send_fields(sent: send_flow.SendReport, tz: Any) -> dict[str, Any]:
    """The counts of a send's job line, with the retries still waiting and when (in ``tz``)."""
    fields: dict[str, Any] = {
        "issue": sent.issue_id,
        "sent": sent.sent,
        "failed": sent.failed,
        "bounced": sent.bounced,
        "skipped": sent.skipped,
        "already": sent.already_sent,
    }
    retries = sent.retries
    if retries.waiting:
        fields["retry_waiting"] = retries.waiting
        if retries.next_at is not None:
            fields["next_retry"] = retries.next_at.astimezone(tz).isoformat(timespec="seconds")
    if retries.given_up:
        fields["given_up"] = retries.given_up
    if sent.error:
        fields["stopped"] = sent.error
    return fields


def post_channels(config: Config, store: Store, issue_id: str) -> None:
    """After the email: the issue to every chat channel still owed it; failures logged."""
    if not config.channels:
        return
    started = time.monotonic()
    try:
        report = channels_flow.post_issue(config, store, issue_id)
    except NewsletterError as exc:
        log_line(log, "channels", issue=issue_id, failed=True, error=str(exc))
        return
    counts = {s: sum(1 for r in report.results if r.status == s) for s in ("sent", "already")}
    log_line(
        log,
        "channels",
        issue=issue_id,
        **counts,
        failed=len(report.failed),
        seconds=round(time.monotonic() - started, 2),
    )


def run_daemon(config: Config) -> None:
    """Block running the schedule until SIGTERM or Ctrl-C."""
    Daemon(config).start()
