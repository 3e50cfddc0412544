"""Send: deliver an issue to every active subscriber who has not had it."""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from .. import deliver
from .._lease import Heartbeat, dead_here, owner_id
from ..config import Config
from ..errors import ConfigError, DeliveryError, NewsletterError
from ..models import Issue
from ..render import Renderer
from ..store import Retries, Store
from . import Progress
from ._mail import (
    envelope_sender,
    mail_sender,
    mailing_problems,
    send_one,
    signer,
    smtp_sender,
)
from .archive import renderer, write_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendReport:
    issue_id: str
    sent: int = 0
    """Messages accepted by the server in this run (with ``dry_run``: .eml files written)."""
    failed: int = 0
    bounced: int = 0
    """Of the failed, those refused permanently at RCPT: the address is now bounced."""
    deferred: int = 0
    """Of the failed, those that failed temporarily: the daemon tries them again later."""
    skipped: int = 0
    """Owed rows whose subscriber is no longer active."""
    already_sent: int = 0
    failures: tuple[tuple[str, str], ...] = ()
    """(address, server answer) for every failure."""
    dry_run_dir: Path | None = None
    trimmed: int = 0
    """Stories left out of the email to stay under Gmail's clipping size."""
    error: str | None = None
    """Why the run stopped early (server unreachable, login refused); rerun to continue."""
    retries: Retries = Retries()
    """The issue's temporarily failed deliveries after this run: waiting, next, given up."""


KEPT = frozenset({"rejected", "unknown"})
"""Delivery row statuses a rerun does not simply retry (see ``requeue_failed_deliveries``)."""


def _trim_issue(issue: Issue, keep: int) -> Issue:
    """The issue without its lowest-ranked stories (``issue.items`` is in rank order)."""
    items = issue.items[:keep]
    kept = {id(i) for i in items}
    sections = tuple(
        (name, tuple(i for i in group if id(i) in kept)) for name, group in issue.sections
    )
    return replace(issue, items=items, sections=tuple(s for s in sections if s[1]))


def _fit_for_email(render: Renderer, issue: Issue, web_url: str, sample_link: str) -> Issue:
    """The issue with as many stories as fit in an HTML part Gmail will not clip.

    Sizes are of the part as sent (base64 for Chinese text, a third over the decoded HTML).
    The lowest-ranked stories go first, wherever they sit in the sections, and the email
    says how many more are on the web page.
    """
    keep = len(issue.items)
    fitted = issue

    def size_of(candidate: Issue) -> int:
        more = len(issue.items) - len(candidate.items)
        page = render.issue(candidate, web_url=web_url, unsubscribe_url=sample_link, more=more)
        return deliver.html_wire_size(page.html)

    size = size_of(issue)
    while size > deliver.HTML_BUDGET_BYTES and keep > 1:
        # Items are roughly the same size: jump near the answer, then step.
        estimate = int(keep * deliver.HTML_BUDGET_BYTES / size)
        keep = max(1, min(keep - 1, estimate))
        fitted = _trim_issue(issue, keep)
        size = size_of(fitted)
    if keep < len(issue.items):
        log.warning(
            "issue %s: the email would exceed Gmail's 102 KB clipping size as sent; it carries "
            "the %d best-ranked of %d stories and points to the web page %s for the rest",
            issue.id,
            keep,
            len(issue.items),
            web_url,
        )
    return fitted


class _IssueMail:
    """Builds each recipient's copy of one issue (their own unsubscribe link)."""

    def __init__(self, config: Config, issue: Issue) -> None:
        self.config = config
        self.render = renderer(config)
        self.sender = mail_sender(config)
        self.signer = signer(config)
        self.web_url = f"{config.base_url.rstrip('/')}/issues/{issue.id}"
        sample_token = self.signer.sign("unsubscribe", 10**9, email="sample@example.org")
        sample = deliver.unsubscribe_url(config.base_url, sample_token)
        self.issue = _fit_for_email(self.render, issue, self.web_url, sample)
        self.trimmed = len(issue.items) - len(self.issue.items)
        end = issue.window_end.astimezone(config.tz).strftime("%Y-%m-%d")
        self.subject = issue.title if end in issue.title else f"{issue.title}（{end}）"
        # Render (and inline CSS) once; each copy differs only by its signed token, which
        # is URL-safe and so reads the same escaped in HTML as in text.
        self._placeholder = f"UNSUBSCRIBETOKEN{uuid.uuid4().hex}"
        link = deliver.unsubscribe_url(config.base_url, self._placeholder)
        self._page = self.render.issue(
            self.issue, web_url=self.web_url, unsubscribe_url=link, more=self.trimmed
        )

    def message(self, to: str, name: str, subscriber_id: int) -> EmailMessage:
        token = self.signer.sign("unsubscribe", subscriber_id, email=to)
        link = deliver.unsubscribe_url(self.config.base_url, token)
        return deliver.build_message(
            self.sender,
            to=to,
            name=name,
            subject=self.subject,
            html=self._page.html.replace(self._placeholder, token),
            text=self._page.text.replace(self._placeholder, token),
            unsubscribe=link,
            unsubscribe_token=token,
        )


@dataclass(frozen=True)
class SendPreview:
    """What ``send`` is about to do: which issue, its title, how many people it mails."""

    issue_id: str
    title: str
    recipients: int


def preview(store: Store, issue_id: str | None = None) -> SendPreview | None:
    """The issue a send would mail (default: the newest) and how many subscribers would
    get it now: active, without a copy, and not refused for good; None without an issue."""
    record = store.get_issue(issue_id) if issue_id else next(iter(store.list_issues()), None)
    issue = None if record is None else store.load_issue(record.id)
    if record is None or issue is None:
        return None
    rows = {r.subscriber_id: r for r in store.deliveries(issue.id)}

    def owed(subscriber_id: int | None) -> bool:
        row = rows.get(subscriber_id or 0)
        if row is None:
            return True
        return row.status not in ("sent", "rejected") and not (
            row.status == "unknown" and row.attempts > 1
        )

    people = sum(1 for s in store.list_subscribers("active") if owed(s.id))
    return SendPreview(issue.id, issue.title, people)


def next_retry(config: Config, attempt: int, now: datetime) -> datetime | None:
    """When to try again a delivery whose ``attempt``-th try failed temporarily; None once
    the schedule (``email.retry_delays_seconds``, the last repeating) would pass
    ``email.give_up_after_seconds`` counted from the first try."""
    delays = config.email.retry_delays_seconds
    waits = [delays[min(i, len(delays) - 1)] for i in range(max(1, attempt))]
    if sum(waits) > config.email.give_up_after_seconds:
        return None
    return now + timedelta(seconds=waits[-1])


def _eml_name(index: int, address: str) -> str:
    safe = "".join(c if c.isalnum() or c in "@._-" else "_" for c in address)[:80]
    return f"{index:05d}-{safe}.eml"


def send_issue(
    config: Config,
    store: Store,
    *,
    issue_id: str | None = None,
    dry_run: bool = False,
    to: str | None = None,
    progress: Progress | None = None,
    owner: str | None = None,
    join: bool = False,
    stop: Callable[[], bool] | None = None,
) -> SendReport:
    """Send an issue (default: the newest) to every active subscriber who has not had it.

    Safe to rerun at any time: rows already "sent" are never sent again; after a crash only
    the one message that was in flight may arrive twice. ``dry_run`` writes .eml files into
    the issue's folder instead; ``to`` sends one test copy to that address and records
    nothing.

    Several senders (processes, machines) may run at once: each leases small batches of
    owed rows as ``owner``, so every subscriber gets the issue once, and they share one
    ``email.max_per_second``. ``join`` only helps with rows already queued (what a worker
    does); ``stop`` is asked between batches.

    Raises :class:`ConfigError` before mailing anyone while :func:`mailing_problems` finds
    a demo setting (``base_url``, ``email.from``); a test copy (``to``) goes out with a warning.
    """
    record = store.get_issue(issue_id) if issue_id else next(iter(store.list_issues()), None)
    issue = None if record is None else store.load_issue(record.id)
    if record is None or issue is None:
        wanted = f"issue {issue_id!r}" if issue_id else "issue"
        raise NewsletterError(f"cannot send: no {wanted} in the database (run `build` first)")
    problems = [] if dry_run else mailing_problems(config)
    if to is not None:
        for problem in problems:
            log.warning("test copy only: the list would not be mailed: %s", problem)
        return _send_test_copy(config, store, issue, to)
    if dry_run:
        return _write_eml(config, store, issue, Path(record.path or "") or None)
    if problems:
        raise ConfigError(
            "not mailing the list: "
            + "; ".join(str(p) for p in problems)
            + " (`newsletter send --to ADDR` still sends you a test copy)"
        )
    review = store.get_review(issue.id)
    if review is not None and review.status != "sent":
        raise NewsletterError(
            f"cannot send: issue {issue.id} is {review.status} on the editor's desk; the "
            f"desk sends it once approved (`newsletter review show {issue.id}`)"
        )

    if not join:
        store.queue_deliveries(issue.id)
        # A rerun retries what failed last time (a 4xx that outlasted the retries).
        store.requeue_failed_deliveries(issue.id)
    rows = store.deliveries(issue.id)
    already = sum(1 for r in rows if r.status == "sent")
    people = {s.id: s for s in store.list_subscribers()}
    inactive = {i for i, s in people.items() if s.status != "active"}
    skipped = sum(1 for r in rows if r.status != "sent" and r.subscriber_id in inactive)
    skipped = 0 if join else skipped
    owed = sum(1 for r in rows if r.status != "sent" and r.subscriber_id not in inactive)
    sent = failed = bounced = deferred = 0
    failures: list[tuple[str, str]] = []
    error: str | None = None
    mail: _IssueMail | None = None
    me = owner or owner_id()
    lease = config.lease_seconds
    # About a second of sending per lease: a small batch keeps a subscriber who unsubscribes
    # mid-run from being mailed long after, and spreads rows evenly over several senders.
    batch_size = max(1, min(config.worker_batch, math.ceil(config.email.max_per_second)))
    done = 0
    if progress:
        progress("send", 0, owed)
    with smtp_sender(config) as smtp:
        while error is None and not (stop and stop()):
            batch = store.lease_deliveries(issue.id, me, limit=batch_size, seconds=lease)
            if not batch:
                # Rows held by a sender that died on this machine need not wait for expiry.
                gone = [o for o in store.delivery_lease_owners(issue.id) if dead_here(o)]
                if gone and store.expire_delivery_leases(issue.id, gone):
                    continue
                break
            mail = mail or _IssueMail(config, issue)
            ids = [p.id for p in batch if p.id is not None]

            def renew(ids: list[int] = ids) -> None:
                store.renew_delivery_leases(issue.id, me, ids, lease)

            with Heartbeat(lease / 3, renew):
                for index, person in enumerate(batch):
                    assert person.id is not None
                    attempt = store.start_delivery(issue.id, person.id, me)
                    if not attempt:
                        skipped += 1  # unsubscribed since the lease, or the lease was lost
                        continue
                    message = mail.message(person.email, person.name, person.id)
                    # One rate for all senders on this database, not one per process.
                    wait = store.take_rate_slot(
                        "smtp", config.email.max_per_second, time.time()
                    )
                    if wait > 0:
                        time.sleep(wait)
                    try:
                        result = smtp.send(
                            message, person.email, from_addr=envelope_sender(config, person.id)
                        )
                    except DeliveryError as exc:
                        # Nothing reached the server for these rows: they are simply owed.
                        for rest in batch[index:]:
                            assert rest.id is not None
                            store.finish_delivery(issue.id, rest.id, "queued", str(exc))
                        error = str(exc)
                        break
                    if result.status == "sent":
                        store.finish_delivery(issue.id, person.id, "sent", result.answer)
                        sent += 1
                    elif result.status == "failed":
                        # Temporary (a 4xx outlasting the quick retries): the daemon's retry
                        # job sends it again on the schedule, then gives up.
                        when = next_retry(config, attempt, datetime.now(UTC))
                        answer = result.answer
                        if when is None:
                            answer = f"gave up after {attempt} attempts: {answer}"
                        store.finish_delivery(
                            issue.id,
                            person.id,
                            "failed" if when is None else "deferred",
                            answer,
                            retry_at=when,
                        )
                        failed += 1
                        deferred += when is not None
                        failures.append((person.email, answer))
                    else:
                        is_bounce = result.status == "bounced"
                        # "rejected" (refused for good after DATA) is never retried, and
                        # "unknown" (no answer once the message left) only once, later; a
                        # bounce's row is "failed" and its subscriber no longer active.
                        row_status = result.status if result.status in KEPT else "failed"
                        store.finish_delivery(
                            issue.id, person.id, row_status, result.answer, bounced=is_bounce
                        )
                        failed += 1
                        bounced += is_bounce
                        failures.append((person.email, result.answer))
                    done += 1
                    if progress:
                        progress("send", done, max(owed, done))
            store.release_deliveries(issue.id, me, ids)
    log.info(
        "send: issue %s sent=%d failed=%d bounced=%d deferred=%d skipped=%d already=%d%s",
        issue.id,
        sent,
        failed,
        bounced,
        deferred,
        skipped,
        already,
        f" stopped: {error}" if error else "",
    )
    return SendReport(
        issue.id,
        sent=sent,
        failed=failed,
        bounced=bounced,
        deferred=deferred,
        skipped=skipped,
        already_sent=already,
        failures=tuple(failures),
        trimmed=mail.trimmed if mail else 0,
        error=error,
        retries=store.delivery_retries(issue.id),
    )


def _send_test_copy(config: Config, store: Store, issue: Issue, to: str) -> SendReport:
    address = deliver.normalize_address(to)
    known = store.get_subscriber(email=address)
    # Not a subscriber: the copy still has working-looking links, tied to no one (id 0).
    subscriber_id = known.id if known and known.id is not None else 0
    mail = _IssueMail(config, issue)
    message = mail.message(address, known.name if known else "", subscriber_id)
    result = send_one(config, message, address, subscriber_id or None)
    if result.status == "sent":
        return SendReport(issue.id, sent=1, trimmed=mail.trimmed)
    return SendReport(
        issue.id, failed=1, failures=((address, result.answer),), trimmed=mail.trimmed
    )


def _write_eml(config: Config, store: Store, issue: Issue, folder: Path | None) -> SendReport:
    """What ``send`` would send now, as .eml files under ``<issue folder>/eml/``."""
    target = (folder or config.output_path / "issues" / issue.id) / "eml"
    target.mkdir(parents=True, exist_ok=True)
    owed = {r.subscriber_id for r in store.deliveries(issue.id, unsent_only=True)}
    done = {r.subscriber_id for r in store.deliveries(issue.id)} - owed
    people = [s for s in store.list_subscribers("active") if s.id not in done]
    mail = _IssueMail(config, issue) if people else None
    for index, person in enumerate(people, 1):
        assert mail is not None and person.id is not None
        message = mail.message(person.email, person.name, person.id)
        path = target / _eml_name(index, person.email)
        write_atomic(path, message.as_bytes())
    return SendReport(
        issue.id,
        sent=len(people),
        already_sent=len(done),
        dry_run_dir=target,
        trimmed=mail.trimmed if mail else 0,
    )


def unfinished_send(config: Config, store: Store, now: datetime) -> str | None:
    """The newest issue if its send was started and cut short within the misfire grace.

    An issue older than ``schedule.misfire_grace_seconds`` is left alone: a week-old issue
    arriving late is worse than not at all; ``newsletter send --issue ID`` still finishes
    it by hand. "failed" rows got their answer (bounce or retries used up): only rows still
    queued or in flight make a send unfinished.
    """
    newest = next(iter(store.list_issues()), None)
    if newest is None:
        return None
    if now - newest.created > timedelta(seconds=config.schedule.misfire_grace_seconds):
        return None
    counts = store.delivery_counts(newest.id)
    return newest.id if counts.get("queued", 0) or counts.get("sending", 0) else None


def retry_due(
    config: Config,
    store: Store,
    *,
    owner: str | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[SendReport]:
    """Send again every deferred delivery whose retry time has come (the daemon's job).

    Any issue's, not only the newest: retries end ``email.give_up_after_seconds`` after
    the first try. One missed by more than ``schedule.misfire_grace_seconds`` (the daemon
    was down) is given up instead: a week-old issue arriving late is worse than not at all.
    """
    now = datetime.now(UTC)
    grace = timedelta(seconds=config.schedule.misfire_grace_seconds)
    return [
        send_issue(config, store, issue_id=issue_id, owner=owner, join=True, stop=stop)
        for issue_id in store.requeue_due_deliveries(now, missed_before=now - grace)
    ]


def join_send(
    config: Config, store: Store, owner: str, stop: threading.Event | None = None
) -> SendReport | None:
    """Help send the newest issue if its sending has started and rows are still owed.

    The same rule as the daemon's resume (:func:`unfinished_send`): a worker never starts
    a send nobody asked for, nor finishes a stale one.
    """
    issue_id = unfinished_send(config, store, datetime.now(UTC))
    if issue_id is None:
        return None
    return send_issue(
        config,
        store,
        issue_id=issue_id,
        owner=owner,
        join=True,
        stop=stop.is_set if stop else None,
    )
