"""Deliveries: a row per (issue, subscriber), and the leases senders take on them.

A row goes queued -> sending -> sent | deferred | failed. "sending" is committed before
the SMTP transaction and "sent" after it, so after a crash the only message whose fate is
unknown is the one row left in "sending"; it is sent again. A "deferred" row failed
temporarily and is owed again at its ``retry_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, literal, or_, select, update

from ..models import Delivery, Subscriber
from ._base import StoreBase, insert_ignoring_duplicates, now_utc
from ._schema import UTCDateTime, deliveries, subscribers
from ._subscribers import subscriber_from_row


@dataclass(frozen=True)
class Retries:
    """Temporarily failed deliveries: waiting for the daemon's retry, and given up."""

    waiting: int = 0
    next_at: datetime | None = None
    given_up: int = 0
    """"failed" rows of subscribers still active: retried until the schedule ran out."""


class DeliveriesMixin(StoreBase):
    """The deliveries table: what each subscriber is owed of each issue."""

    def queue_deliveries(self, issue_id: str) -> int:
        """A queued row for every active subscriber who has none for this issue yet."""
        have = select(deliveries.c.subscriber_id).where(deliveries.c.issue_id == issue_id)
        source = select(
            literal(issue_id),
            subscribers.c.id,
            literal("queued"),
            literal(""),
            literal(0),
            literal(now_utc(), UTCDateTime()),
        ).where(subscribers.c.status == "active", subscribers.c.id.not_in(have))
        with self._tx() as conn:
            # Several senders may queue the same issue at once; the primary key keeps one row.
            done = conn.execute(
                insert_ignoring_duplicates(conn, deliveries)
                .from_select(
                    ["issue_id", "subscriber_id", "status", "answer", "attempts", "updated"],
                    source,
                )
                # psycopg reports no rowcount for INSERT … SELECT; count what came back.
                .returning(deliveries.c.subscriber_id)
            )
            return len(done.all())

    def deliveries(self, issue_id: str, *, unsent_only: bool = False) -> list[Delivery]:
        """Rows of one issue in subscriber order; ``unsent_only`` keeps those still owed."""
        query = (
            select(deliveries, subscribers.c.email)
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .where(deliveries.c.issue_id == issue_id)
            .order_by(deliveries.c.subscriber_id)
        )
        if unsent_only:
            query = query.where(deliveries.c.status != "sent")
        with self._tx() as conn:
            return [
                Delivery(
                    issue_id=r.issue_id,
                    subscriber_id=r.subscriber_id,
                    email=r.email,
                    status=r.status,
                    answer=r.answer,
                    attempts=r.attempts,
                )
                for r in conn.execute(query)
            ]

    def finish_delivery(
        self,
        issue_id: str,
        subscriber_id: int,
        status: str,
        answer: str,
        *,
        bounced: bool = False,
        retry_at: datetime | None = None,
    ) -> None:
        """Record the outcome (sent, deferred until ``retry_at``, failed, or queued again);
        a bounce also marks the address."""
        now = now_utc()
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.subscriber_id == subscriber_id,
                )
                .values(
                    status=status,
                    answer=answer[:1000],
                    updated=now,
                    lease_owner=None,
                    lease_until=None,
                    retry_at=retry_at,
                )
            )
            if bounced:
                conn.execute(
                    update(subscribers)
                    .where(subscribers.c.id == subscriber_id)
                    .values(status="bounced", updated=now)
                )

    def delivery_counts(self, issue_id: str) -> dict[str, int]:
        with self._tx() as conn:
            rows = conn.execute(
                select(deliveries.c.status, func.count())
                .where(deliveries.c.issue_id == issue_id)
                .group_by(deliveries.c.status)
            )
            return {status: int(count) for status, count in rows}

    # -- send leases (how leases work: see _coordination) ---------------------------
    def lease_deliveries(
        self, issue_id: str, owner: str, *, limit: int, seconds: float
    ) -> list[Subscriber]:
        """Lease up to ``limit`` owed rows of an issue to ``owner``; their subscribers.

        Owed: "queued", or "sending" left by a sender that crashed, with no live lease
        and an active subscriber. The status stays as it is: :meth:`start_delivery` marks
        the one row whose message is in flight, as a single sender always did.
        """
        now = now_utc()
        pick = (
            select(deliveries.c.subscriber_id)
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .where(
                deliveries.c.issue_id == issue_id,
                subscribers.c.status == "active",
                deliveries.c.status.in_(("queued", "sending")),
                or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now),
            )
            .order_by(deliveries.c.subscriber_id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=deliveries)
            .cte("picked")
            .prefix_with("MATERIALIZED")  # evaluated once: see lease_feeds
        )
        take = (
            update(deliveries)
            .where(
                deliveries.c.issue_id == issue_id,
                deliveries.c.subscriber_id == pick.c.subscriber_id,
            )
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
            .returning(deliveries.c.subscriber_id)
        )
        with self._write_tx() as conn:
            ids = list(conn.execute(take).scalars())
            if not ids:
                return []
            rows = conn.execute(
                select(subscribers).where(subscribers.c.id.in_(ids)).order_by(subscribers.c.id)
            )
            return [subscriber_from_row(r) for r in rows]

    def start_delivery(self, issue_id: str, subscriber_id: int, owner: str) -> int:
        """Mark a leased row "sending" just before its message goes out; its attempt number.

        0 when the lease was lost (expired and taken over), the row was sent meanwhile,
        or the subscriber is no longer active (unsubscribed on the web since the lease).
        """
        active = select(subscribers.c.id).where(
            subscribers.c.id == subscriber_id, subscribers.c.status == "active"
        )
        with self._tx() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.subscriber_id == subscriber_id,
                    deliveries.c.status != "sent",
                    deliveries.c.lease_owner == owner,
                    deliveries.c.subscriber_id.in_(active),
                )
                .values(status="sending", attempts=deliveries.c.attempts + 1, updated=now_utc())
                .returning(deliveries.c.attempts)
            )
            return int(done.scalar() or 0)

    def release_deliveries(self, issue_id: str, owner: str, subscriber_ids: Sequence[int]) -> None:
        """Give back ``owner``'s leases on these rows (whatever was not finished)."""
        if not subscriber_ids:
            return
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.subscriber_id.in_(list(subscriber_ids)),
                    deliveries.c.lease_owner == owner,
                )
                .values(lease_owner=None, lease_until=None)
            )

    def requeue_failed_deliveries(self, issue_id: str) -> int:
        """Owe again the failed rows of still-active subscribers (a rerun retries them).

        "deferred" rows are owed at once, without waiting for their retry time. An "unknown"
        row (the message left but no answer came: it may have arrived) is owed again only if
        that was its first attempt, so it is sent at most twice; "rejected" rows (refused
        for good after DATA) are never retried.
        """
        active = select(subscribers.c.id).where(subscribers.c.status == "active")
        retry = or_(
            deliveries.c.status.in_(("failed", "deferred")),
            and_(deliveries.c.status == "unknown", deliveries.c.attempts <= 1),
        )
        with self._tx() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.issue_id == issue_id,
                    retry,
                    deliveries.c.subscriber_id.in_(active),
                )
                .values(status="queued", updated=now_utc(), retry_at=None)
            )
            return int(done.rowcount or 0)

    def requeue_due_deliveries(self, now: datetime, *, missed_before: datetime) -> list[str]:
        """Owe again every "deferred" row whose retry time has come; their issues' ids.

        A row whose retry was due before ``missed_before`` is given up ("failed") instead.
        """
        active = select(subscribers.c.id).where(subscribers.c.status == "active")
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.status == "deferred", deliveries.c.retry_at < missed_before)
                .values(
                    status="failed",
                    answer=func.substr(
                        literal("gave up: the retry was due too long ago; ") + deliveries.c.answer,
                        1,
                        1000,
                    ),
                    updated=now_utc(),
                    retry_at=None,
                )
            )
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.status == "deferred",
                    deliveries.c.retry_at <= now,
                    deliveries.c.subscriber_id.in_(active),
                )
                .values(status="queued", updated=now_utc(), retry_at=None)
                .returning(deliveries.c.issue_id)
            )
            return sorted(set(done.scalars()))

    def delivery_retries(self, issue_id: str | None = None) -> Retries:
        """Deferred and given-up rows of one issue, or of all issues (``doctor``)."""
        active = select(subscribers.c.id).where(subscribers.c.status == "active")
        query = (
            select(deliveries.c.status, func.count(), func.min(deliveries.c.retry_at))
            .where(
                deliveries.c.status.in_(("deferred", "failed")),
                deliveries.c.subscriber_id.in_(active),
            )
            .group_by(deliveries.c.status)
        )
        if issue_id is not None:
            query = query.where(deliveries.c.issue_id == issue_id)
        with self._tx() as conn:
            found = {status: (int(n), first) for status, n, first in conn.execute(query)}
        waiting, next_at = found.get("deferred", (0, None))
        return Retries(waiting, next_at, found.get("failed", (0, None))[0])

    def renew_delivery_leases(
        self, issue_id: str, owner: str, subscriber_ids: Sequence[int], seconds: float
    ) -> int:
        if not subscriber_ids:
            return 0
        with self._tx() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.subscriber_id.in_(list(subscriber_ids)),
                    deliveries.c.lease_owner == owner,
                )
                .values(lease_until=now_utc() + timedelta(seconds=seconds))
            )
            return int(done.rowcount or 0)

    def delivery_lease_owners(self, issue_id: str) -> dict[str, int]:
        """Owner → number of unsent rows of this issue under a live lease."""
        with self._tx() as conn:
            rows = conn.execute(
                select(deliveries.c.lease_owner, func.count())
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.status != "sent",
                    deliveries.c.lease_until > now_utc(),
                )
                .group_by(deliveries.c.lease_owner)
            )
            return {str(owner): int(count) for owner, count in rows if owner is not None}

    def expire_delivery_leases(self, issue_id: str, owners: Sequence[str]) -> int:
        """End the leases of owners known to be dead, so their rows are owed again now."""
        if not owners:
            return 0
        with self._tx() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.status != "sent",
                    deliveries.c.lease_owner.in_(list(owners)),
                )
                .values(lease_until=None)
            )
            return int(done.rowcount or 0)
