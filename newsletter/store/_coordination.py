"""Several processes on one database: named leases, a shared rate, LLM claims.

A lease is an owner plus an expiry written into the row it guards (feeds and deliveries
carry their own, see ``lease_feeds`` and ``lease_deliveries``). Taking one is a single
UPDATE over rows picked with FOR UPDATE SKIP LOCKED (PostgreSQL: concurrent workers skip
each other's rows instead of waiting) or under BEGIN IMMEDIATE (SQLite: one writer at a
time). A holder that dies simply stops renewing; once ``until`` has passed any worker may
take the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select, update

from ._base import StoreBase, insert_ignoring_duplicates, now_utc
from ._schema import deliveries, feeds, leases, rate_limits, summary_claims


@dataclass(frozen=True)
class LeaseHolder:
    name: str
    owner: str
    until: datetime
    since: datetime


@dataclass(frozen=True)
class WorkerOverview:
    feed_leases: dict[str, int]
    """Live feed leases per owner: which workers are polling right now."""
    expired_feed_leases: int
    """Feeds whose holder stopped renewing (died mid-batch); they are polled again."""
    oldest_poll: datetime | None
    """The least recent poll of any enabled feed: it lags when workers are too few."""
    sending: int
    """Deliveries leased by a live sender right now (being sent)."""
    scheduler: LeaseHolder | None


class CoordinationMixin(StoreBase):
    """Named leases (the scheduler), shared rate limits, LLM claims, the workers' overview."""

    def acquire_lease(self, name: str, owner: str, seconds: float) -> LeaseHolder:
        """Take or renew the named lease if it is free, expired or already ours.

        Returns whoever holds it afterwards: ``owner`` on success, else the live holder.
        """
        now = now_utc()
        until = now + timedelta(seconds=seconds)
        with self._write_tx() as conn:
            conn.execute(
                insert_ignoring_duplicates(conn, leases).values(
                    name=name, owner=owner, until=until, since=now
                )
            )
            mine = leases.c.owner == owner
            conn.execute(
                update(leases)
                .where(leases.c.name == name, or_(mine, leases.c.until <= now))
                .values(owner=owner, until=until, since=case((mine, leases.c.since), else_=now))
            )
            row = conn.execute(select(leases).where(leases.c.name == name)).one()
        return LeaseHolder(row.name, row.owner, row.until, row.since)

    def lease_holder(self, name: str) -> LeaseHolder | None:
        with self._tx() as conn:
            row = conn.execute(select(leases).where(leases.c.name == name)).first()
        return None if row is None else LeaseHolder(row.name, row.owner, row.until, row.since)

    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up (only if ``owner`` holds it) so another process need not wait."""
        with self._tx() as conn:
            conn.execute(leases.delete().where(leases.c.name == name, leases.c.owner == owner))

    def take_rate_slot(self, name: str, per_second: float, now: float) -> float:
        """Seconds to wait before the next event of a limit shared by every process.

        Generic cell rate algorithm on one row: each call books the next free slot
        ``1 / per_second`` after the previous booking, so all callers together stay at or
        under ``per_second`` whichever process they run in. ``now`` is epoch seconds.
        """
        interval = 1.0 / per_second
        with self._tx() as conn:
            if name not in self._rate_rows:
                conn.execute(insert_ignoring_duplicates(conn, rate_limits).values(name=name))
                self._rate_rows.add(name)
            booked = conn.execute(
                update(rate_limits)
                .where(rate_limits.c.name == name)
                .values(
                    tat=case((rate_limits.c.tat > now, rate_limits.c.tat), else_=now) + interval
                )
                .returning(rate_limits.c.tat)
            ).scalar_one()
        return max(0.0, float(booked) - interval - now)

    def take_capped_slot(self, name: str, interval: float, burst: float, now: float) -> bool:
        """Book an event of a limit shared by every process, or refuse it (False).

        The same cell rate algorithm, but a refused event books nothing, so hammering a
        limit never pushes it further out. ``burst`` seconds of events may come at once:
        ``interval=burst=86400`` is one event a day; ``interval=36, burst=3600`` is 100 an
        hour. ``now`` is epoch seconds.
        """
        start = case((rate_limits.c.tat > now, rate_limits.c.tat), else_=now)
        with self._tx() as conn:
            conn.execute(insert_ignoring_duplicates(conn, rate_limits).values(name=name))
            done = conn.execute(
                update(rate_limits)
                .where(rate_limits.c.name == name, start + interval <= now + burst)
                .values(tat=start + interval)
            )
            return done.rowcount == 1

    def give_back_slot(self, name: str, interval: float) -> None:
        """Undo one :meth:`take_capped_slot` of ``interval`` (the event did not happen)."""
        with self._tx() as conn:
            conn.execute(
                update(rate_limits)
                .where(rate_limits.c.name == name)
                .values(tat=rate_limits.c.tat - interval)
            )

    def claim_summary(self, cache_key: str, owner: str, seconds: float) -> bool:
        """Claim the right to compute ``cache_key`` (free, expired, or already ours)."""
        now = now_utc()
        until = now + timedelta(seconds=seconds)
        with self._tx() as conn:
            done = conn.execute(
                insert_ignoring_duplicates(conn, summary_claims).values(
                    cache_key=cache_key, owner=owner, until=until
                )
            )
            if done.rowcount == 1:
                return True
            taken = conn.execute(
                update(summary_claims)
                .where(
                    summary_claims.c.cache_key == cache_key,
                    or_(summary_claims.c.until <= now, summary_claims.c.owner == owner),
                )
                .values(owner=owner, until=until)
            )
            return taken.rowcount == 1

    def summary_claim_owner(self, cache_key: str) -> str | None:
        """Who holds a live claim on ``cache_key``, if anyone."""
        with self._tx() as conn:
            found = conn.execute(
                select(summary_claims.c.owner).where(
                    summary_claims.c.cache_key == cache_key, summary_claims.c.until > now_utc()
                )
            ).scalar()
        return None if found is None else str(found)

    def expire_summary_claim(self, cache_key: str, owner: str) -> bool:
        """Drop ``owner``'s claim on ``cache_key`` (its holder is known to be dead)."""
        with self._tx() as conn:
            done = conn.execute(
                summary_claims.delete().where(
                    summary_claims.c.cache_key == cache_key, summary_claims.c.owner == owner
                )
            )
        return done.rowcount == 1

    def release_summary_claim(self, cache_key: str, owner: str) -> None:
        with self._tx() as conn:
            conn.execute(
                summary_claims.delete().where(
                    summary_claims.c.cache_key == cache_key, summary_claims.c.owner == owner
                )
            )

    def worker_overview(self) -> WorkerOverview:
        """What an operator watches with several workers: who holds what, what is late."""
        now = now_utc()
        with self._tx() as conn:
            holders = conn.execute(
                select(feeds.c.lease_owner, func.count())
                .where(feeds.c.lease_until > now)
                .group_by(feeds.c.lease_owner)
            )
            feed_leases = {str(o): int(n) for o, n in holders if o is not None}
            expired = conn.execute(
                select(func.count())
                .select_from(feeds)
                .where(feeds.c.lease_until <= now, feeds.c.lease_owner.is_not(None))
            ).scalar_one()
            oldest = conn.execute(
                select(func.min(feeds.c.last_polled)).where(feeds.c.disabled.is_(False))
            ).scalar()
            sending = conn.execute(
                select(func.count())
                .select_from(deliveries)
                .where(deliveries.c.status != "sent", deliveries.c.lease_until > now)
            ).scalar_one()
            scheduler = conn.execute(select(leases).where(leases.c.name == "scheduler")).first()
        return WorkerOverview(
            feed_leases=feed_leases,
            expired_feed_leases=int(expired),
            oldest_poll=oldest,
            sending=int(sending),
            scheduler=None
            if scheduler is None
            else LeaseHolder(scheduler.name, scheduler.owner, scheduler.until, scheduler.since),
        )
