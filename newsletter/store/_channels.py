"""Channel deliveries: a row per (issue, chat channel), claimed before the first post.

A row goes queued -> sending -> sent | failed, like an email's. "sending" is committed
with a lease before anything is posted and ``parts_sent`` after each message the platform
accepted, so after a crash only the one message in flight may be posted twice; a row
"sent" is never posted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from ._base import StoreBase, insert_ignoring_duplicates, now_utc
from ._schema import channel_deliveries


@dataclass(frozen=True)
class ChannelDelivery:
    issue_id: str
    channel: str
    kind: str
    status: str
    parts: int
    parts_sent: int
    answer: str
    attempts: int
    updated: datetime
    owner: str | None = None
    """The sender holding a "sending" row (its lease may have run out)."""


def _row(r: Any) -> ChannelDelivery:
    return ChannelDelivery(
        issue_id=r.issue_id,
        channel=r.channel,
        kind=r.kind,
        status=r.status,
        parts=r.parts,
        parts_sent=r.parts_sent,
        answer=r.answer,
        attempts=r.attempts,
        updated=r.updated,
        owner=r.lease_owner,
    )


class ChannelsMixin(StoreBase):
    """The channel_deliveries table."""

    def claim_channel_delivery(
        self, issue_id: str, channel: str, kind: str, owner: str, *, seconds: float
    ) -> ChannelDelivery | None:
        """Take the row of this issue and channel for ``owner``, creating it if need be.

        None when it was sent already or another live sender holds it. Otherwise the row,
        now "sending" under a lease of ``seconds`` (renewed by :meth:`channel_part_sent`).
        """
        now = now_utc()
        key = and_(
            channel_deliveries.c.issue_id == issue_id, channel_deliveries.c.channel == channel
        )
        with self._write_tx() as conn:
            conn.execute(
                insert_ignoring_duplicates(conn, channel_deliveries).values(
                    issue_id=issue_id,
                    channel=channel,
                    kind=kind,
                    status="queued",
                    parts=0,
                    parts_sent=0,
                    answer="",
                    attempts=0,
                    updated=now,
                )
            )
            taken = conn.execute(
                update(channel_deliveries)
                .where(
                    key,
                    channel_deliveries.c.status != "sent",
                    or_(
                        channel_deliveries.c.lease_until.is_(None),
                        channel_deliveries.c.lease_until <= now,
                    ),
                )
                .values(
                    status="sending",
                    kind=kind,
                    attempts=channel_deliveries.c.attempts + 1,
                    updated=now,
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=seconds),
                )
            )
            if taken.rowcount != 1:
                return None
            return _row(conn.execute(select(channel_deliveries).where(key)).one())

    def channel_part_sent(
        self, issue_id: str, channel: str, owner: str, parts_sent: int, parts: int, seconds: float
    ) -> bool:
        """Record that the platform accepted message ``parts_sent`` of ``parts``; renew the lease.

        False when the lease was lost (it expired and another sender took the row).
        """
        now = now_utc()
        with self._tx() as conn:
            done = conn.execute(
                update(channel_deliveries)
                .where(
                    channel_deliveries.c.issue_id == issue_id,
                    channel_deliveries.c.channel == channel,
                    channel_deliveries.c.lease_owner == owner,
                )
                .values(
                    parts_sent=parts_sent,
                    parts=parts,
                    updated=now,
                    lease_until=now + timedelta(seconds=seconds),
                )
            )
            return done.rowcount == 1

    def finish_channel_delivery(
        self, issue_id: str, channel: str, owner: str, status: str, answer: str, parts: int
    ) -> None:
        """End ``owner``'s claim: "sent", or "failed" (owed again on the next send)."""
        with self._tx() as conn:
            conn.execute(
                update(channel_deliveries)
                .where(
                    channel_deliveries.c.issue_id == issue_id,
                    channel_deliveries.c.channel == channel,
                    channel_deliveries.c.lease_owner == owner,
                )
                .values(
                    status=status,
                    answer=answer[:1000],
                    parts=parts,
                    updated=now_utc(),
                    lease_owner=None,
                    lease_until=None,
                )
            )

    def release_channel_delivery(self, issue_id: str, channel: str, owner: str) -> bool:
        """End a dead sender's claim at once (its row is owed again, messages kept)."""
        with self._tx() as conn:
            done = conn.execute(
                update(channel_deliveries)
                .where(
                    channel_deliveries.c.issue_id == issue_id,
                    channel_deliveries.c.channel == channel,
                    channel_deliveries.c.status == "sending",
                    channel_deliveries.c.lease_owner == owner,
                )
                .values(lease_until=None)
            )
            return done.rowcount == 1

    def channel_deliveries(self, issue_id: str | None = None) -> list[ChannelDelivery]:
        """Rows of one issue (or all), by issue then channel."""
        query = select(channel_deliveries).order_by(
            channel_deliveries.c.issue_id, channel_deliveries.c.channel
        )
        if issue_id is not None:
            query = query.where(channel_deliveries.c.issue_id == issue_id)
        with self._tx() as conn:
            return [_row(r) for r in conn.execute(query)]
