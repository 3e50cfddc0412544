"""Feeds: configured and command-line feeds, fetch outcomes and health, poll leases."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.engine import Connection

from ..models import Feed, FetchResult, FetchState
from ._base import StoreBase, insert_ignoring_duplicates, now_utc
from ._plain import CLI_ORIGINS, FeedHealth
from ._schema import feeds


class FeedsMixin(StoreBase):
    """The feeds table: which feeds exist, how their fetches went, who polls them."""

    # -- the feed list ----------------------------------------------------------------
    def sync_feeds(self, configured: Sequence[Feed], origin: str = "config") -> None:
        """Make sure every configured feed has a row; names and weights follow the config."""
        wanted = list({f.url: f for f in configured}.values())
        with self._tx() as conn:
            # Only the given feeds' rows, and only changed ones written: a worker syncs its
            # batch of 25 without reading or rewriting a table of thousands.
            existing: dict[str, tuple[str, float]] = {}
            for start in range(0, len(wanted), 500):
                chunk = [f.url for f in wanted[start : start + 500]]
                query = select(feeds.c.url, feeds.c.name, feeds.c.weight)
                for r in conn.execute(query.where(feeds.c.url.in_(chunk))):
                    existing[r.url] = (r.name, r.weight)
            fresh = []
            for feed in wanted:
                values = {"name": feed.name, "weight": feed.weight}
                if feed.url not in existing:
                    fresh.append({"url": feed.url, "origin": origin, **values})
                elif existing[feed.url] != (feed.name, feed.weight):
                    conn.execute(update(feeds).where(feeds.c.url == feed.url).values(**values))
            if fresh:
                # Another process may insert the same feed at the same moment.
                conn.execute(insert_ignoring_duplicates(conn, feeds), fresh)

    def cli_feeds(self) -> list[Feed]:
        """Feeds added with ``feeds add`` or ``feeds import`` (not disabled), by URL."""
        query = (
            select(feeds.c.url, feeds.c.name, feeds.c.weight)
            .where(feeds.c.origin.in_(CLI_ORIGINS), feeds.c.disabled.is_(False))
            .order_by(feeds.c.url)
        )
        with self._tx() as conn:
            return [Feed(url=r.url, name=r.name, weight=r.weight) for r in conn.execute(query)]

    def add_feed(self, feed: Feed, *, origin: str = "cli", html_url: str | None = None) -> bool:
        """Insert a command-line feed, or update its name and weight; True when it is new.

        A row left behind by a feed since removed from the config becomes a command-line
        feed: the operator asked for it again, so it must not vanish with the config.
        """
        with self._tx() as conn:
            found = conn.execute(select(feeds.c.url).where(feeds.c.url == feed.url)).first()
            values: dict[str, Any] = {"name": feed.name, "weight": feed.weight, "origin": origin}
            if html_url:
                values["html_url"] = html_url
            if found is None:
                conn.execute(feeds.insert().values(url=feed.url, **values))
                return True
            conn.execute(update(feeds).where(feeds.c.url == feed.url).values(**values))
            return False

    def remove_feed(self, url: str) -> str | None:
        """Delete a feed's row (its entries stay in the archive); returns its origin."""
        with self._tx() as conn:
            origin = conn.execute(select(feeds.c.origin).where(feeds.c.url == url)).scalar()
            if origin is not None:
                conn.execute(feeds.delete().where(feeds.c.url == url))
            return origin

    def feed_urls(self, origin: str | None = None) -> set[str]:
        """Every feed URL in the database (of one origin: ``config``, ``cli``, ``opml``)."""
        query = select(feeds.c.url)
        if origin is not None:
            query = query.where(feeds.c.origin == origin)
        with self._tx() as conn:
            return set(conn.execute(query).scalars())

    def feed_sites(self) -> dict[str, tuple[str, str | None]]:
        """URL → (feed's own title, site link) for every known feed."""
        with self._tx() as conn:
            rows = conn.execute(select(feeds.c.url, feeds.c.title, feeds.c.html_url))
            return {r.url: (r.title or "", r.html_url) for r in rows}

    # -- fetch outcomes and health ---------------------------------------------------
    def fetch_states(self, urls: Iterable[str]) -> dict[str, FetchState]:
        wanted = list(urls)
        with self._tx() as conn:
            rows = conn.execute(
                select(feeds.c.url, feeds.c.etag, feeds.c.last_modified, feeds.c.current_url).where(
                    feeds.c.url.in_(wanted)
                )
            )
            return {r.url: FetchState(r.etag, r.last_modified, r.current_url) for r in rows}

    def record_fetch(
        self,
        result: FetchResult,
        new_entries: int = 0,
        error: str | None = None,
        *,
        backoff: Callable[[int, float | None], float] | None = None,
    ) -> None:
        """Store one feed's outcome. ``error`` overrides the fetch's own (e.g. a parse error).

        On failure ``backoff(consecutive_failures, retry_after)`` gives the seconds until the
        feed is due again; HTTP 410 disables it. On success the backoff is cleared and a
        permanent redirect moves ``current_url`` (never ``url``, the feed's identity).
        """
        with self._tx() as conn:
            write_fetch(conn, result, new_entries, error, backoff)

    def record_fetches(
        self,
        results: Sequence[FetchResult],
        *,
        backoff: Callable[[int, float | None], float] | None = None,
    ) -> None:
        """:meth:`record_fetch` for many bodiless results (304s, errors) in one transaction."""
        # A repoll is mostly 304s, written alike: batched, they cost half the time.
        now = now_utc()
        worked = [(r.url, fetched_values(r, 0, now)) for r in results if r.status != "error"]
        with self._tx() as conn:
            write_fetches(conn, worked)
            for result in results:
                if result.status == "error":
                    write_fetch(conn, result, 0, None, backoff)

    def feed_health(self, urls: Sequence[str] | None = None) -> list[FeedHealth]:
        """Every feed's health, or only these feeds' (a worker's batch)."""
        query = select(feeds).order_by(feeds.c.url)
        if urls is not None:
            query = query.where(feeds.c.url.in_(list(urls)))
        with self._tx() as conn:
            rows = conn.execute(query)
            return [
                FeedHealth(
                    url=r.url,
                    name=r.name,
                    origin=r.origin,
                    last_status=r.last_status,
                    last_error=r.last_error,
                    last_new=r.last_new,
                    last_polled=r.last_polled,
                    last_success=r.last_success,
                    consecutive_failures=r.consecutive_failures,
                    disabled=r.disabled,
                    next_poll_at=r.next_poll_at,
                    current_url=r.current_url,
                    title=r.title or "",
                )
                for r in rows
            ]

    def set_feed_enabled(self, url: str, enabled: bool = True) -> bool:
        """Enable (clearing any backoff) or disable a feed; ``False`` if no such feed."""
        values: dict[str, Any] = {"disabled": not enabled}
        if enabled:
            values.update(next_poll_at=None, consecutive_failures=0)
        with self._tx() as conn:
            done = conn.execute(update(feeds).where(feeds.c.url == url).values(**values))
            return bool(done.rowcount)

    # -- poll leases (how leases work: see _coordination) ---------------------------
    def lease_feeds(
        self,
        owner: str,
        *,
        limit: int,
        seconds: float,
        polled_before: datetime,
        exclude: Sequence[str] = (),
    ) -> list[str]:
        """Lease up to ``limit`` due feeds to ``owner``; returns their URLs.

        Due: enabled, not backing off (``next_poll_at``), not polled since
        ``polled_before``, not leased by a live holder, and not in ``exclude`` (rows left
        by feeds since removed from the config, see :meth:`feed_urls`).
        """
        now = now_utc()
        due = and_(
            feeds.c.disabled.is_(False),
            or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= now),
            or_(feeds.c.last_polled.is_(None), feeds.c.last_polled < polled_before),
            or_(feeds.c.lease_until.is_(None), feeds.c.lease_until <= now),
        )
        if exclude:
            due = and_(due, feeds.c.url.not_in(list(exclude)))
        pick = (
            select(feeds.c.url)
            .where(due)
            .order_by(feeds.c.last_polled.asc().nulls_first(), feeds.c.url)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("picked")
            # Materialized: ``IN (SELECT … LIMIT n)`` may be re-run by PostgreSQL's planner
            # and then take more than n rows; a materialized CTE is evaluated exactly once.
            .prefix_with("MATERIALIZED")
        )
        take = (
            update(feeds)
            .where(feeds.c.url == pick.c.url)
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
            .returning(feeds.c.url)
        )
        with self._write_tx() as conn:
            return sorted(conn.execute(take).scalars())

    def leased_feeds(self) -> dict[str, str]:
        """URL → owner of every feed under a live lease (being polled right now)."""
        with self._tx() as conn:
            rows = conn.execute(
                select(feeds.c.url, feeds.c.lease_owner).where(feeds.c.lease_until > now_utc())
            )
            return {r.url: str(r.lease_owner) for r in rows}

    def renew_feed_leases(self, owner: str, urls: Sequence[str], seconds: float) -> int:
        """Push the expiry of ``owner``'s leases on these feeds; returns how many it holds."""
        if not urls:
            return 0
        with self._tx() as conn:
            done = conn.execute(
                update(feeds)
                .where(feeds.c.url.in_(list(urls)), feeds.c.lease_owner == owner)
                .values(lease_until=now_utc() + timedelta(seconds=seconds))
            )
            return int(done.rowcount or 0)

    def release_feeds(self, owner: str, urls: Sequence[str]) -> None:
        if not urls:
            return
        with self._tx() as conn:
            conn.execute(
                update(feeds)
                .where(feeds.c.url.in_(list(urls)), feeds.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )


def write_fetch(
    conn: Connection,
    result: FetchResult,
    new_entries: int,
    error: str | None,
    backoff: Callable[[int, float | None], float] | None,
    also: Mapping[str, Any] | None = None,
) -> None:
    """Write one fetch outcome into its feed's row (see :meth:`FeedsMixin.record_fetch`).

    ``also``: more columns of the row, set in the same statement.
    """
    now = now_utc()
    if result.status != "error" and error is None:
        values = fetched_values(result, new_entries, now)
    else:
        values = {
            "last_status": "error",
            "last_error": error or result.error,
            "last_new": new_entries,
            "last_polled": now,
            "consecutive_failures": feeds.c.consecutive_failures + 1,
        }
        if backoff is not None:
            failures = conn.execute(
                select(feeds.c.consecutive_failures).where(feeds.c.url == result.url)
            ).scalar()
            delay = backoff((failures or 0) + 1, result.retry_after)
            values["next_poll_at"] = now + timedelta(seconds=delay)
        if result.http_status == 410:
            values["disabled"] = True
    if also:
        values.update(also)
    conn.execute(update(feeds).where(feeds.c.url == result.url).values(**values))


def write_fetches(conn: Connection, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """Write many feeds' rows: ``(url, column values)``, plain values only (no SQL).

    One ``executemany`` per set of columns written: a poll's writer spent more time
    building an UPDATE per feed than SQLite spent running them.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for url, values in rows:
        params = {f"new_{column}": value for column, value in values.items()}
        params["feed_url"] = url
        groups.setdefault(tuple(sorted(values)), []).append(params)
    for columns, params_list in groups.items():
        statement = (
            update(feeds)
            .where(feeds.c.url == bindparam("feed_url"))
            .values({column: bindparam(f"new_{column}") for column in columns})
        )
        conn.execute(statement, params_list)


def fetched_values(result: FetchResult, new_entries: int, now: datetime) -> dict[str, Any]:
    """The row of a feed whose fetch worked (200 or 304)."""
    values = success_values(result.status, new_entries, now)
    if result.status == "ok":
        values.update(etag=result.etag, last_modified=result.last_modified)
    if result.permanent_redirect and result.final_url:
        values["current_url"] = result.final_url
    return values


def success_values(status: str, new_entries: int, now: datetime) -> dict[str, Any]:
    """A fetch that worked (200 or 304) ends any failure streak and backoff."""
    return {
        "last_status": status,
        "last_error": None,
        "last_new": new_entries,
        "last_polled": now,
        "consecutive_failures": 0,
        "last_success": now,
        "next_poll_at": None,
    }


def feed_site_values(title: str, html_url: str | None) -> dict[str, Any]:
    """The columns remembering a feed's own title and site link (for OPML export)."""
    values: dict[str, Any] = {"title": title}
    if html_url:
        values["html_url"] = html_url
    return values
