"""Entries: stored stories with their relevance verdicts."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from ..models import Entry, PolledFeed, Verdict
from ._base import StoreBase, now_utc
from ._feeds import feed_site_values, fetched_values, write_fetch, write_fetches
from ._schema import entries, feeds, issue_entries


class EntriesMixin(StoreBase):
    """The entries table: every story kept, with the verdict it was stored with."""

    def add_entries(self, items: Sequence[tuple[Entry, Verdict]]) -> list[str]:
        """Insert entries not seen before; returns the ids that were new."""
        if not items:
            return []
        with self._tx() as conn:
            return insert_new_entries(conn, items)

    def store_polled_feeds(
        self,
        polled: Sequence[PolledFeed],
        *,
        backoff: Callable[[int, float | None], float] | None = None,
    ) -> list[list[str]]:
        """Parsed feeds in one transaction: their new entries, fetch outcomes and sites.

        Returns each feed's new ids. A poll's single writer stores the feeds parsed by the
        time it gets to them together: one commit, and one query for what is known, for
        all of them keeps it ahead of the parse workers. A crash never stores half a feed.
        ``fingerprints`` name items that are all stored once this commits, the feed's
        ``items`` included: stored new, or dropped as already known.
        """
        with self._tx() as conn:
            items = [item for p in polled if p.error is None for item in p.items]
            new = set(insert_new_entries(conn, items)) if items else set()
            new_ids: list[list[str]] = []
            worked: list[tuple[str, dict[str, Any]]] = []
            now = now_utc()
            for p in polled:
                if p.error is not None:
                    write_fetch(conn, p.result, 0, p.error, backoff)
                    new_ids.append([])
                    continue
                mine = [e.id for e, _ in p.items if e.id in new]
                values = fetched_values(p.result, len(mine), now)
                values.update(feed_site_values(p.title, p.html_url))
                if p.fingerprints is not None:
                    values["entry_fingerprints"] = p.fingerprints
                worked.append((p.result.url, values))
                new_ids.append(mine)
            write_fetches(conn, worked)
        return new_ids

    def entry_fingerprints(self, urls: Sequence[str]) -> dict[str, bytes]:
        """Per feed, fingerprints of the stored items its last parsed document listed."""
        found: dict[str, bytes] = {}
        with self._tx() as conn:
            for start in range(0, len(urls), 500):
                chunk = list(urls[start : start + 500])
                query = select(feeds.c.url, feeds.c.entry_fingerprints).where(
                    feeds.c.url.in_(chunk), feeds.c.entry_fingerprints.is_not(None)
                )
                found.update((r.url, bytes(r.entry_fingerprints)) for r in conn.execute(query))
        return found

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

    def window_entries(
        self,
        start: datetime,
        end: datetime,
        *,
        late_since: datetime | None,
        issue_id: str,
    ) -> list[tuple[Entry, Verdict]]:
        """The relevant entries an issue for ``(start, end]`` may take.

        Those published in the window, and, with ``late_since``, those first seen after
        ``start`` though published earlier (down to ``late_since``): a feed that failed
        during the last build must not lose its stories for good. Entries another issue
        took are left out; those ``issue_id`` took itself stay (a rebuild in place).
        """
        in_window = and_(entries.c.published > start, entries.c.published <= end)
        window = in_window
        if late_since is not None:
            late = and_(
                entries.c.fetched > start,
                entries.c.published > late_since,
                entries.c.published <= end,
            )
            window = or_(in_window, late)
        taken = select(issue_entries.c.entry_id).where(issue_entries.c.issue_id != issue_id)
        query = select(entries).where(
            entries.c.relevant.is_(True), window, entries.c.id.not_in(taken)
        )
        with self._tx() as conn:
            rows = conn.execute(query.order_by(entries.c.published.desc(), entries.c.id))
            return [entry_from_row(r) for r in rows]

    def recent_entries(
        self,
        since: datetime,
        *,
        relevant_only: bool = False,
        feed_urls: Sequence[str] | None = None,
        limit: int = 200,
    ) -> list[tuple[Entry, Verdict]]:
        """Entries published since ``since`` (of these feeds), newest first, at most ``limit``."""
        query = select(entries).where(entries.c.published >= since)
        if relevant_only:
            query = query.where(entries.c.relevant.is_(True))
        if feed_urls is not None:
            query = query.where(entries.c.feed_url.in_(list(feed_urls)))
        query = query.order_by(entries.c.published.desc(), entries.c.id).limit(limit)
        with self._tx() as conn:
            return [entry_from_row(r) for r in conn.execute(query)]

    def entries_with_link(self, links: Sequence[str]) -> list[tuple[Entry, Verdict]]:
        """Entries whose stored (canonical) link is one of ``links``, newest first."""
        query = select(entries).where(entries.c.link.in_(list(links)))
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
    """Insert the entries not stored yet; returns their ids.

    An entry is known by its id, and also by its feed, canonical link and title: a feed
    whose guids change on every poll (session ids, timestamps) must not add the story
    again. The title takes part because some feeds link every item to one page.
    """
    # Ids and links are per feed: a feed with nothing stored yet (every feed of a first
    # poll) cannot know any of its entries, and asking costs more than the inserts.
    stocked = _feeds_with_entries(conn, {e.feed_url for e, _ in items})
    known = known_ids(conn, [e.id for e, _ in items if e.feed_url in stocked])
    fresh: list[tuple[Entry, Verdict]] = []
    seen: set[tuple[str, str, str]] = set()
    for e, v in items:
        key = (e.feed_url, e.link, e.title)
        if e.id in known or (e.link and key in seen):
            continue
        seen.add(key)
        fresh.append((e, v))
    if fresh:
        taken = _known_links(
            conn, [(e.feed_url, e.link) for e, _ in fresh if e.link and e.feed_url in stocked]
        )
        fresh = [
            (e, v) for e, v in fresh if not (e.link and (e.feed_url, e.link, e.title) in taken)
        ]
    now = now_utc()
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
                    "author": e.author,
                    "source_name": e.source_name,
                    "published": e.published,
                    "claimed_published": e.claimed_published,
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


def _known_links(
    conn: Connection, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str, str]]:
    """(feed, link, title) of stored entries with these feeds and links; asked only about
    entries new by id, so a repoll of known entries costs no query."""
    wanted = set(keys)
    feed_urls = sorted({feed_url for feed_url, _ in wanted})
    links = sorted({link for _, link in wanted})
    found: set[tuple[str, str, str]] = set()
    # Chunks: SQLite caps the parameters of a statement (999 in older builds).
    for f in range(0, len(feed_urls), 100):
        for start in range(0, len(links), 400):
            query = select(entries.c.feed_url, entries.c.link, entries.c.title).where(
                entries.c.feed_url.in_(feed_urls[f : f + 100]),
                entries.c.link.in_(links[start : start + 400]),
            )
            found.update(
                (r.feed_url, r.link, r.title)
                for r in conn.execute(query)
                if (r.feed_url, r.link) in wanted
            )
    return found


def _stored(conn: Connection, column: Any, values: Collection[str]) -> set[str]:
    """Which of ``values`` the entries table holds in ``column``."""
    wanted = sorted(set(values))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):  # SQLite caps the parameters per statement
        chunk = wanted[start : start + 500]
        found.update(conn.execute(select(column).where(column.in_(chunk)).distinct()).scalars())
    return found


def _feeds_with_entries(conn: Connection, feed_urls: Collection[str]) -> set[str]:
    """Which of these feeds have at least one stored entry."""
    return _stored(conn, entries.c.feed_url, feed_urls)


def known_ids(conn: Connection, ids: Collection[str]) -> set[str]:
    return _stored(conn, entries.c.id, ids)


def entry_from_row(r: Any) -> tuple[Entry, Verdict]:
    entry = Entry(
        id=r.id,
        feed_url=r.feed_url,
        title=r.title,
        link=r.link,
        text=r.text,
        published=r.published,
        author=r.author,
        source_name=r.source_name,
        claimed_published=r.claimed_published,
    )
    verdict = Verdict(bool(r.relevant), float(r.score), tuple(json.loads(r.reasons)))
    return entry, verdict
