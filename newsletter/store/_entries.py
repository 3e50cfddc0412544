"""Entries: stored stories with their relevance verdicts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ..models import Entry, FetchResult, Verdict
from ._base import StoreBase, now_utc
from ._feeds import set_feed_site, write_fetch
from ._schema import entries


class EntriesMixin(StoreBase):
    """The entries table: every story kept, with the verdict it was stored with."""

    def add_entries(self, items: Sequence[tuple[Entry, Verdict]]) -> list[str]:
        """Insert entries not seen before; returns the ids that were new."""
        if not items:
            return []
        with self._tx() as conn:
            return insert_new_entries(conn, items)

    def store_polled_feed(
        self,
        result: FetchResult,
        items: Sequence[tuple[Entry, Verdict]],
        *,
        title: str,
        html_url: str | None,
    ) -> list[str]:
        """One parsed feed in one transaction: its new entries, its fetch outcome, its site.

        Returns the ids that were new. One commit per feed instead of three keeps a poll's
        single writer ahead of the parse workers, and a crash never stores half a feed.
        """
        with self._tx() as conn:
            new_ids = insert_new_entries(conn, items) if items else []
            write_fetch(conn, result, len(new_ids), None, None)
            set_feed_site(conn, result.url, title, html_url)
        return new_ids

    def known_entry_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these entry ids are already stored."""
        with self._tx() as conn:
            return known_ids(conn, ids)

    def entries_between(
        self, start: datetime, end: datetime, *, relevant_only: bool = True
    ) -> list[tuple[Entry, Verdict]]:
        query = select(entries).where(entries.c.published > start, entries.c.published <= end)
        if relevant_only:
            query = query.where(entries.c.relevant.is_(True))
        with self._tx() as conn:
            rows = conn.execute(query.order_by(entries.c.published.desc(), entries.c.id))
            return [entry_from_row(r) for r in rows]

    def get_entry(self, entry_id: str) -> tuple[Entry, Verdict] | None:
        with self._tx() as conn:
            row = conn.execute(select(entries).where(entries.c.id == entry_id)).first()
            if row is None:
                # Let operators paste a unique prefix of the id.
                rows = conn.execute(
                    select(entries).where(entries.c.id.like(f"{entry_id}%")).limit(2)
                ).all()
                row = rows[0] if len(rows) == 1 else None
            return None if row is None else entry_from_row(row)

    def entry_count(self) -> int:
        with self._tx() as conn:
            return int(conn.execute(select(func.count()).select_from(entries)).scalar_one())


def insert_new_entries(conn: Connection, items: Sequence[tuple[Entry, Verdict]]) -> list[str]:
    known = known_ids(conn, [e.id for e, _ in items])
    now = now_utc()
    fresh = [(e, v) for e, v in items if e.id not in known]
    if fresh:
        conn.execute(
            entries.insert(),
            [
                {
                    "id": e.id,
                    "feed_url": e.feed_url,
                    "title": e.title,
                    "link": e.link,
                    "text": e.text,
                    "html": e.html,
                    "author": e.author,
                    "source_name": e.source_name,
                    "published": e.published,
                    "fetched": now,
                    "content_hash": e.content_hash,
                    "relevant": v.relevant,
                    "score": v.score,
                    "reasons": json.dumps(list(v.reasons), ensure_ascii=False),
                }
                for e, v in fresh
            ],
        )
    return [e.id for e, _ in fresh]


def known_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(ids), 500):  # SQLite caps the parameters per statement
        chunk = list(ids[start : start + 500])
        known.update(conn.execute(select(entries.c.id).where(entries.c.id.in_(chunk))).scalars())
    return known


def entry_from_row(r: Any) -> tuple[Entry, Verdict]:
    entry = Entry(
        id=r.id,
        feed_url=r.feed_url,
        title=r.title,
        link=r.link,
        text=r.text,
        published=r.published,
        html=r.html,
        author=r.author,
        source_name=r.source_name,
    )
    verdict = Verdict(bool(r.relevant), float(r.score), tuple(json.loads(r.reasons)))
    return entry, verdict
