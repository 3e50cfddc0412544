"""The daemon: APScheduler runs poll on ``schedule.poll`` and build on ``schedule.issue``."""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from . import pipeline
from .config import Config
from .errors import NewsletterError
from .store import Store

log = logging.getLogger("newsletter.daemon")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(fmt: str = "text") -> None:
    """Log lines to stderr: human text, or one JSON object per line for machines."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default", "openai", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def previous_fire_time(cron: str, tz: Any, now: datetime) -> datetime | None:
    """The most recent scheduled time at or before ``now`` within the last 35 days."""
    trigger = CronTrigger.from_crontab(cron, timezone=tz)
    moment = now - timedelta(days=35)
    last = None
    fire = trigger.get_next_fire_time(None, moment)
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last


class Daemon:
    """Holds the scheduler and the jobs; one store per job run keeps threads apart."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.scheduler = BlockingScheduler(timezone=config.tz)

    def poll_job(self) -> None:
        started = time.monotonic()
        store = Store.open(self.config.database)
        try:
            report = pipeline.poll(self.config, store)
        finally:
            store.close()
        log.info(
            "job=poll feeds=%d new=%d failed=%d seconds=%.1f",
            len(report.outcomes),
            report.new_entries,
            report.failed,
            time.monotonic() - started,
        )

    def issue_job(self) -> None:
        started = time.monotonic()
        store = Store.open(self.config.database)
        try:
            pipeline.poll(self.config, store)
            report = pipeline.build_issue(self.config, store)
            if report.issue is not None:
                send_built(self.config, store, report.issue.id)
        finally:
            store.close()
        if report.issue is None:
            log.info("job=issue built=none reason=%r", report.reason)
            return
        log.info(
            "job=issue built=%s stories=%d llm_calls=%d seconds=%.1f",
            report.issue.id,
            len(report.issue.items),
            report.usage.get("calls", 0),
            time.monotonic() - started,
        )

    def send_job(self, issue_id: str) -> None:
        """Finish sending an issue whose send was interrupted (crash, kill, restart)."""
        store = Store.open(self.config.database)
        try:
            send_built(self.config, store, issue_id)
        finally:
            store.close()

    def missed_issue(self, now: datetime) -> bool:
        """True when the weekly build was due while the daemon was down (within grace)."""
        due = previous_fire_time(self.config.schedule.issue, self.config.tz, now)
        if due is None or now - due > timedelta(seconds=self.config.schedule.misfire_grace_seconds):
            return False
        store = Store.open(self.config.database)
        try:
            issues = store.list_issues()
        finally:
            store.close()
        return not any(i.created >= due for i in issues)

    def start(self) -> None:
        tz = self.config.tz
        common: dict[str, Any] = {
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": self.config.schedule.misfire_grace_seconds,
        }
        self.scheduler.add_job(
            self.poll_job,
            CronTrigger.from_crontab(self.config.schedule.poll, timezone=tz),
            id="poll",
            name="poll",
            **common,
        )
        self.scheduler.add_job(
            self.issue_job,
            CronTrigger.from_crontab(self.config.schedule.issue, timezone=tz),
            id="issue",
            name="issue",
            **common,
        )
        if self.missed_issue(datetime.now(UTC)):
            log.info("weekly issue was missed while the daemon was down; running it now")
            self.scheduler.add_job(
                self.issue_job, id="issue-catch-up", name="issue catch-up", **common
            )
        unfinished = unfinished_send(self.config, datetime.now(UTC))
        if unfinished is not None:
            log.info("issue %s was not sent to everyone; finishing that now", unfinished)
            self.scheduler.add_job(
                self.send_job, args=[unfinished], id="send-resume", name="send resume", **common
            )
        self.scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)

        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: finishing the current job, then stopping", signum)
            self.scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info(
            "daemon started: poll %r, issue %r (%s), %d feeds",
            self.config.schedule.poll,
            self.config.schedule.issue,
            self.config.timezone,
            len(self.config.feeds),
        )
        self.scheduler.start()
        log.info("daemon stopped")

    @staticmethod
    def _on_error(event: JobExecutionEvent) -> None:
        log.error("job=%s failed: %s", event.job_id, event.exception)


def send_built(config: Config, store: Store, issue_id: str) -> None:
    """Send a just-built issue; a delivery problem is logged, never kills the daemon."""
    try:
        sent = pipeline.send_issue(config, store, issue_id=issue_id)
    except NewsletterError as exc:
        log.error("job=send issue=%s failed: %s", issue_id, exc)
        return
    log.info(
        "job=send issue=%s sent=%d failed=%d bounced=%d skipped=%d already=%d%s",
        issue_id,
        sent.sent,
        sent.failed,
        sent.bounced,
        sent.skipped,
        sent.already_sent,
        f" stopped={sent.error!r}" if sent.error else "",
    )


def unfinished_send(config: Config, now: datetime) -> str | None:
    """The newest issue if its send was cut short within the misfire grace, else None.

    An issue older than the grace is left alone: a week-old issue arriving late is worse
    than not at all; ``newsletter send --issue ID`` still finishes it by hand.
    """
    store = Store.open(config.database)
    try:
        newest = next(iter(store.list_issues()), None)
        if newest is None:
            return None
        if now - newest.created > timedelta(seconds=config.schedule.misfire_grace_seconds):
            return None
        owed = store.deliveries(newest.id, unsent_only=True)
    finally:
        store.close()
    # "failed" rows got their answer (bounce or retries used up); resume only cut-off runs.
    return newest.id if any(d.status in ("queued", "sending") for d in owed) else None


def run_daemon(config: Config) -> None:
    """Block running the schedule until SIGTERM or Ctrl-C."""
    Daemon(config).start()
