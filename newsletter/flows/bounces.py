"""List hygiene: what a bounce, complaint or mailto unsubscribe does to a subscriber.

Every way a report arrives (``newsletter bounces process`` on an MTA pipe, the bounce
mailbox the daemon polls, an ESP webhook) ends in :func:`apply`, so the actions are the
same everywhere:

- hard bounce → ``bounced``; soft bounce → counted, ``email.soft_bounce_limit`` of them
  within ``email.soft_bounce_days`` → ``bounced``; a delay notice only stored;
- complaint → ``complained`` (never mailed again); mailto unsubscribe → ``unsubscribed``.

Each finding is stored with its evidence (report, status code, the server's words) under
a key derived from the report, so a redelivered bounce changes nothing. The subscriber is
the one a signed token names (VERP return path, the returned List-Unsubscribe header, the
mailto subject) or, failing that, the stored subscriber with the reported address.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .. import bounces
from .._logging import log_line
from ..config import Config
from ..models import Subscriber
from ..store import BounceEvent, Store
from ..tokens import secret_from_env
from ._mail import signer

log = logging.getLogger(__name__)

# Which statuses an action may move a subscriber from. A complaint outranks everything
# but itself: someone who unsubscribed and then pressed "spam" must never be re-added.
_FROM: dict[str, tuple[str, ...]] = {
    "bounced": ("active", "pending"),
    "complained": ("active", "pending", "unsubscribed", "bounced"),
    "unsubscribed": ("active", "pending"),
}


@dataclass(frozen=True)
class Outcome:
    """What one report did."""

    kind: bounces.Kind
    detector: str
    actions: tuple[tuple[str, str], ...] = ()
    """(address, action) per finding applied: bounced, complained, counted, none..."""
    unmatched: tuple[str, ...] = ()
    """Addresses the report names that are no subscriber of ours."""
    duplicate: bool = False
    reason: str = ""


@dataclass
class Tally:
    """Counts over many reports (``bounces process`` on several files, a mailbox poll)."""

    kinds: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    unmatched: int = 0
    duplicates: int = 0

    def add(self, outcome: Outcome) -> None:
        self.kinds[outcome.kind] += 1
        self.actions.update(action for _, action in outcome.actions)
        self.unmatched += len(outcome.unmatched)
        self.duplicates += outcome.duplicate

    def line(self) -> str:
        kinds = " ".join(f"{k}={v}" for k, v in sorted(self.kinds.items())) or "none"
        acts = " ".join(f"{k}={v}" for k, v in sorted(self.actions.items())) or "none"
        return (
            f"kinds: {kinds}; actions: {acts}; unmatched={self.unmatched} repeats={self.duplicates}"
        )


def report_key(report: bounces.Report) -> str:
    """The same report (a redelivered mail, a retried webhook) always gets the same key."""
    parts = [report.detector, report.message_id, report.subject]
    parts += [f"{f.kind}|{f.address}|{f.status}|{f.diagnostic}" for f in report.findings]
    parts += list(report.envelope_to) + list(report.list_tokens) + [report.mailto_token]
    return hashlib.sha256("\n".join(parts).encode("utf-8", "replace")).hexdigest()


def _token_subscriber(config: Config, store: Store, report: bounces.Report) -> Subscriber | None:
    """The subscriber a signed token in the report names, if any (forged tokens are not)."""
    secret = secret_from_env(config.secret_env)
    ids: list[int] = []
    for address in report.envelope_to:
        found = bounces.verp_subscriber(address, secret)
        if found is not None:
            ids.append(found)
    check = signer(config)
    for token in (*report.list_tokens, report.mailto_token):
        found = check.verify("unsubscribe", token) if token else None
        if found is not None:
            ids.append(found)
    for subscriber_id in dict.fromkeys(ids):
        subscriber = store.get_subscriber(id=subscriber_id)
        if subscriber is not None:
            return subscriber
    return None


def apply(
    config: Config,
    store: Store,
    report: bounces.Report,
    *,
    source: str,
    now: datetime | None = None,
) -> Outcome:
    """Change subscribers as ``report`` says and store the evidence; idempotent per report."""
    now = now or datetime.now(UTC)
    if report.kind == "ignored" or not report.findings:
        return Outcome(report.kind, report.detector, reason=report.reason or "nothing to do")
    key = report_key(report)
    named = _token_subscriber(config, store, report)
    if report.kind == "unsubscribe" and report.detector == "mailto" and named is None:
        # Anyone can write a From line; only our signed token unsubscribes by mail.
        return Outcome(report.kind, report.detector, reason="no valid unsubscribe token")
    actions: list[tuple[str, str]] = []
    unmatched: list[str] = []
    duplicate = False
    findings = report.findings
    if named is not None:
        # Our mail goes to one recipient per message: the token names who it was, even when
        # the report shows a forwarding address, a redacted one or none.
        findings = (max(findings, key=lambda f: _RANK[f.kind]),)
    for finding in findings:
        subscriber = named
        if subscriber is None and finding.address:
            subscriber = store.get_subscriber(email=finding.address)
        if subscriber is None or subscriber.id is None:
            unmatched.append(finding.address or "(no address)")
            continue
        address = finding.address or subscriber.email
        event = BounceEvent(
            message_key=key,
            email=address,
            kind=finding.kind,
            source=source,
            subscriber_id=subscriber.id,
            status=finding.status,
            diagnostic=finding.diagnostic,
            detector=report.detector,
            message_id=report.message_id,
            received=now,
        )
        stored = _record(config, store, event, subscriber)
        if stored is None:
            duplicate = True
            continue
        actions.append((subscriber.email, stored.action))
        if stored.action in _FROM:
            log.info(
                "bounces: subscriber %d %s (%s %s, %s)",
                subscriber.id,
                stored.action,
                finding.kind,
                finding.status or "-",
                source,
            )
    return Outcome(report.kind, report.detector, tuple(actions), tuple(unmatched), duplicate)


_RANK = {"complaint": 5, "unsubscribe": 4, "hard": 3, "soft": 2, "delayed": 1, "ignored": 0}


def _record(
    config: Config, store: Store, event: BounceEvent, subscriber: Subscriber
) -> BounceEvent | None:
    if store.bounce_event_known(event.message_key, event.email):
        return None
    target = {"hard": "bounced", "complaint": "complained", "unsubscribe": "unsubscribed"}.get(
        event.kind
    )
    if event.kind == "soft":
        assert subscriber.id is not None and event.received is not None
        window = event.received - timedelta(days=config.email.soft_bounce_days)
        earlier = store.soft_bounces_since(subscriber.id, window)
        if earlier + 1 >= config.email.soft_bounce_limit:
            target = "bounced"
        else:
            return store.record_bounce_event(_with(event, "counted"))
    if target is None:
        return store.record_bounce_event(_with(event, "none"))
    return store.record_bounce_event(
        _with(event, target), new_status=target, only_from=_FROM[target]
    )


def _with(event: BounceEvent, action: str) -> BounceEvent:
    from dataclasses import replace

    return replace(event, action=action)


def process_message(
    config: Config, store: Store, raw: bytes, *, source: str, envelope_to: tuple[str, ...] = ()
) -> Outcome:
    """Parse one incoming mail and :func:`apply` it."""
    return apply(config, store, bounces.parse(raw, envelope_to=envelope_to), source=source)


def reactivate(
    store: Store, subscriber: Subscriber, *, now: datetime | None = None, note: str = ""
) -> bool:
    """Make a bounced or complained subscriber active again, recorded as the operator's act."""
    if subscriber.id is None or subscriber.status not in ("bounced", "complained"):
        return False
    when = now or datetime.now(UTC)
    event = BounceEvent(
        message_key=f"reactivate:{subscriber.id}:{when.isoformat()}",
        email=subscriber.email,
        kind="reactivate",
        source="operator",
        subscriber_id=subscriber.id,
        diagnostic=note[:500],
        action="reactivated",
        received=when,
    )
    done = store.record_bounce_event(
        event, new_status="active", only_from=("bounced", "complained")
    )
    return done is not None and done.action == "reactivated"


def reactivate_since(store: Store, since: datetime) -> list[Subscriber]:
    """Undo a wrong run: everyone bounced or complained by a report received since ``since``
    and still in that state becomes active again."""
    ids = dict.fromkeys(
        e.subscriber_id
        for e in store.bounce_events(since=since, actions=("bounced", "complained"))
        if e.subscriber_id is not None
    )
    done: list[Subscriber] = []
    for subscriber_id in ids:
        subscriber = store.get_subscriber(id=subscriber_id)
        if subscriber is not None and reactivate(
            store, subscriber, note=f"--bounced-since {since.isoformat()}"
        ):
            done.append(subscriber)
    return done


def poll_mailbox(config: Config, store: Store) -> Tally:
    """Read the bounce mailbox once (daemon job); raises MailboxError if it is unusable."""
    import os

    from .. import _mailbox

    box = config.email.bounce_mailbox
    tally = Tally()
    if box is None:
        return tally
    settings = _mailbox.MailboxSettings(
        host=box.host,
        username=os.environ.get(box.username_env, ""),
        password=os.environ.get(box.password_env, ""),
        protocol=box.protocol,
        port=box.port,
        ssl=box.ssl,
        starttls=box.starttls,
        folder=box.folder,
        move_to=box.move_to,
        delete=box.delete,
        cafile=box.cafile,
        timeout=box.timeout,
    )
    where = f"{settings.where}/{box.folder}"

    def handle(raw: bytes) -> None:
        tally.add(process_message(config, store, raw, source="mailbox"))

    result = _mailbox.poll(
        settings,
        handle,
        seen=lambda uidl: store.mailbox_seen(where, uidl),
        remember=lambda uidl: store.remember_mailbox_message(where, uidl),
    )
    log_line(
        log,
        "bounces",
        handled=result.handled,
        failed=result.failed,
        skipped=result.skipped,
        **{f"kind_{k}": v for k, v in sorted(tally.kinds.items())},
        **{f"action_{k}": v for k, v in sorted(tally.actions.items())},
    )
    return tally
