"""Bounces, complaints and mailto unsubscribes: the evidence behind every status change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update

from ._base import StoreBase, insert_ignoring_duplicates, now_utc
from ._schema import bounce_events, mailbox_seen, subscribers


@dataclass(frozen=True)
class BounceEvent:
    """One finding of one incoming report, and what it did to the subscriber."""

    message_key: str
    """Identifies the report (a hash of the mail or webhook event): never applied twice."""
    email: str
    kind: str
    source: str
    """``pipe``, ``mailbox``, ``webhook:ses``, ... or ``operator`` for a reactivation."""
    subscriber_id: int | None = None
    status: str = ""
    diagnostic: str = ""
    detector: str = ""
    message_id: str = ""
    action: str = ""
    """``bounced``, ``complained``, ``unsubscribed``, ``counted``, ``reactivated``, ``none``."""
    previous_status: str = ""
    received: datetime | None = None
    id: int | None = None


def _event(r: Any) -> BounceEvent:
    return BounceEvent(
        message_key=r.message_key,
        email=r.email,
        kind=r.kind,
        source=r.source,
        subscriber_id=r.subscriber_id,
        status=r.status,
        diagnostic=r.diagnostic,
        detector=r.detector,
        message_id=r.message_id,
        action=r.action,
        previous_status=r.previous_status,
        received=r.received,
        id=r.id,
    )


class BouncesMixin(StoreBase):
    """The bounce_events and mailbox_seen tables."""

    def bounce_event_known(self, message_key: str, email: str) -> bool:
        with self._tx() as conn:
            row = conn.execute(
                select(bounce_events.c.id).where(
                    bounce_events.c.message_key == message_key, bounce_events.c.email == email
                )
            ).first()
        return row is not None

    def record_bounce_event(
        self, event: BounceEvent, *, new_status: str | None = None, only_from: tuple[str, ...] = ()
    ) -> BounceEvent | None:
        """Store ``event`` and, with ``new_status``, move its subscriber there if their status
        is one of ``only_from`` -- in one transaction. None when this report was already
        recorded for this address (a redelivered bounce changes nothing)."""
        now = event.received or now_utc()
        with self._write_tx() as conn:
            previous = ""
            action = event.action
            if event.subscriber_id is not None:
                row = conn.execute(
                    select(subscribers.c.status).where(subscribers.c.id == event.subscriber_id)
                ).first()
                previous = row.status if row is not None else ""
            values = {
                "message_key": event.message_key,
                "email": event.email,
                "kind": event.kind,
                "source": event.source,
                "subscriber_id": event.subscriber_id,
                "status": event.status[:40],
                "diagnostic": event.diagnostic[:1000],
                "detector": event.detector[:60],
                "message_id": event.message_id[:250],
                "previous_status": previous,
                "received": now,
            }
            if new_status is not None and previous not in only_from:
                action = "none"
            values["action"] = action
            done = conn.execute(insert_ignoring_duplicates(conn, bounce_events).values(values))
            if not done.rowcount:
                return None
            if new_status is not None and action != "none" and event.subscriber_id is not None:
                conn.execute(
                    update(subscribers)
                    .where(subscribers.c.id == event.subscriber_id)
                    .values(status=new_status, updated=now)
                )
            row = conn.execute(
                select(bounce_events).where(
                    bounce_events.c.message_key == event.message_key,
                    bounce_events.c.email == event.email,
                )
            ).one()
            return _event(row)

    def soft_bounces_since(self, subscriber_id: int, since: datetime) -> int:
        """Soft bounces counted for a subscriber since ``since`` and since their last
        reactivation (an operator's undo starts the count again)."""
        with self._tx() as conn:
            last_reset = conn.execute(
                select(func.max(bounce_events.c.received)).where(
                    bounce_events.c.subscriber_id == subscriber_id,
                    bounce_events.c.action == "reactivated",
                )
            ).scalar()
            start = max(since, last_reset) if last_reset is not None else since
            return int(
                conn.execute(
                    select(func.count()).where(
                        bounce_events.c.subscriber_id == subscriber_id,
                        bounce_events.c.kind == "soft",
                        bounce_events.c.received >= start,
                    )
                ).scalar()
                or 0
            )

    def bounce_events(
        self,
        *,
        subscriber_id: int | None = None,
        since: datetime | None = None,
        actions: tuple[str, ...] = (),
    ) -> list[BounceEvent]:
        """Events, oldest first, filtered by subscriber, time and action."""
        query = select(bounce_events).order_by(bounce_events.c.received, bounce_events.c.id)
        conditions = []
        if subscriber_id is not None:
            conditions.append(bounce_events.c.subscriber_id == subscriber_id)
        if since is not None:
            conditions.append(bounce_events.c.received >= since)
        if actions:
            conditions.append(bounce_events.c.action.in_(actions))
        if conditions:
            query = query.where(and_(*conditions))
        with self._tx() as conn:
            return [_event(r) for r in conn.execute(query)]

    def last_bounce_events(self, subscriber_ids: list[int]) -> dict[int, BounceEvent]:
        """The latest event that changed each subscriber's status (for listings)."""
        if not subscriber_ids:
            return {}
        found: dict[int, BounceEvent] = {}
        query = (
            select(bounce_events)
            .where(
                bounce_events.c.subscriber_id.in_(subscriber_ids),
                bounce_events.c.action.in_(("bounced", "complained", "unsubscribed")),
            )
            .order_by(bounce_events.c.received, bounce_events.c.id)
        )
        with self._tx() as conn:
            for r in conn.execute(query):
                found[r.subscriber_id] = _event(r)
        return found

    def mailbox_seen(self, mailbox: str, uidl: str) -> bool:
        with self._tx() as conn:
            row = conn.execute(
                select(mailbox_seen.c.uidl).where(
                    mailbox_seen.c.mailbox == mailbox, mailbox_seen.c.uidl == uidl
                )
            ).first()
        return row is not None

    def remember_mailbox_message(self, mailbox: str, uidl: str) -> None:
        with self._write_tx() as conn:
            conn.execute(
                insert_ignoring_duplicates(conn, mailbox_seen).values(
                    mailbox=mailbox[:300], uidl=uidl[:200], seen=now_utc()
                )
            )
