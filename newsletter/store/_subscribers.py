"""Subscribers: who gets the newsletter and in which state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update

from ..models import Subscriber
from ._base import StoreBase, now_utc
from ._schema import bounce_events, deliveries, subscribers


class SubscribersMixin(StoreBase):
    """The subscribers table."""

    def add_subscriber(self, email: str, name: str = "", status: str = "active") -> Subscriber:
        """Insert a subscriber, or return the existing one unchanged (idempotent)."""
        now = now_utc()
        with self._tx() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
            if row is None:
                conn.execute(
                    subscribers.insert().values(
                        email=email, name=name, status=status, created=now, updated=now
                    )
                )
                row = conn.execute(select(subscribers).where(subscribers.c.email == email)).one()
            return subscriber_from_row(row)

    def get_subscriber(
        self, *, email: str | None = None, id: int | None = None
    ) -> Subscriber | None:
        query = select(subscribers)
        query = (
            query.where(subscribers.c.email == email)
            if email
            else query.where(subscribers.c.id == id)
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return None if row is None else subscriber_from_row(row)

    def list_subscribers(self, status: str | None = None) -> list[Subscriber]:
        query = select(subscribers).order_by(subscribers.c.id)
        if status:
            query = query.where(subscribers.c.status == status)
        with self._tx() as conn:
            return [subscriber_from_row(r) for r in conn.execute(query)]

    def update_subscriber(
        self, subscriber_id: int, *, status: str | None = None, name: str | None = None
    ) -> Subscriber | None:
        """Change a subscriber's status and/or name; the updated subscriber, or None."""
        values: dict[str, Any] = {"updated": now_utc()}
        if status is not None:
            values["status"] = status
        if name is not None:
            values["name"] = name
        with self._tx() as conn:
            where = subscribers.c.id == subscriber_id
            conn.execute(update(subscribers).where(where).values(values))
            row = conn.execute(select(subscribers).where(where)).first()
        return None if row is None else subscriber_from_row(row)

    def subscriber_counts(self) -> dict[str, int]:
        """How many subscribers are in each status."""
        with self._tx() as conn:
            rows = conn.execute(
                select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
            )
            return {status: int(count) for status, count in rows}

    def delete_subscriber(self, subscriber_id: int) -> bool:
        """Forget a subscriber and their delivery history (on request, e.g. GDPR erasure)."""
        with self._tx() as conn:
            conn.execute(deliveries.delete().where(deliveries.c.subscriber_id == subscriber_id))
            conn.execute(
                bounce_events.delete().where(bounce_events.c.subscriber_id == subscriber_id)
            )
            done = conn.execute(subscribers.delete().where(subscribers.c.id == subscriber_id))
            return bool(done.rowcount)

    def import_subscribers(
        self, people: Sequence[tuple[str, str]], status: str = "active"
    ) -> list[str]:
        """Insert the (email, name) pairs not stored yet, in one transaction; returns those.

        Existing subscribers are left exactly as they are: re-importing an old list must not
        bring back anyone who unsubscribed or bounced.
        """
        now = now_utc()
        with self._tx() as conn:
            known: set[str] = set()
            emails = [e for e, _ in people]
            for start in range(0, len(emails), 500):
                chunk = emails[start : start + 500]
                known.update(
                    conn.execute(
                        select(subscribers.c.email).where(subscribers.c.email.in_(chunk))
                    ).scalars()
                )
            fresh: dict[str, str] = {}
            for email, name in people:
                if email not in known and email not in fresh:
                    fresh[email] = name
            if fresh:
                conn.execute(
                    subscribers.insert(),
                    [
                        {"email": e, "name": n, "status": status, "created": now, "updated": now}
                        for e, n in fresh.items()
                    ],
                )
        return list(fresh)


def subscriber_from_row(r: Any) -> Subscriber:
    return Subscriber(email=r.email, name=r.name, status=r.status, id=r.id)
