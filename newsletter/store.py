"""The only module that talks to the database (SQLAlchemy Core).

SQLite file by default (WAL mode), PostgreSQL by URL. The schema carries a version
number in ``meta``; :data:`MIGRATIONS` brings any older database up to date on open.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    and_,
    bindparam,
    case,
    create_engine,
    event,
    func,
    inspect,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import text as sql_text

from .errors import StorageError
from .models import (
    Delivery,
    Entry,
    Feed,
    FetchResult,
    FetchState,
    Issue,
    IssueItem,
    Subscriber,
    Summary,
    Verdict,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the engine keeps (SQLite keeps none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

meta = Table("meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text))

feeds = Table(
    "feeds",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("name", Text, nullable=False, default=""),
    Column("weight", Float, nullable=False, default=1.0),
    Column("origin", String(16), nullable=False, default="config"),
    Column("title", Text, nullable=False, default=""),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_status", String(16)),
    Column("last_error", Text),
    Column("last_new", Integer, nullable=False, default=0),
    Column("last_polled", UTCDateTime),
    Column("last_success", UTCDateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("next_poll_at", UTCDateTime),
    Column("disabled", Boolean, nullable=False, default=False),
    # Where the feed lives now after a permanent redirect; ``url`` stays its identity
    # (entries reference it and config names it), so only fetching follows the move.
    Column("current_url", String(2048)),
    Column("html_url", Text),
    # Which worker polls the feed right now, and until when (see lease_feeds).
    Column("lease_owner", String(200)),
    Column("lease_until", UTCDateTime),
)

entries = Table(
    "entries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("feed_url", String(2048), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text, nullable=False, default=""),
    Column("author", Text, nullable=False, default=""),
    Column("source_name", Text, nullable=False, default=""),
    Column("published", UTCDateTime, nullable=False, index=True),
    Column("fetched", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("relevant", Boolean, nullable=False),
    Column("score", Float, nullable=False),
    Column("reasons", Text, nullable=False, default="[]"),
    # The build's query (relevant entries of a window): equality then range on one index.
    # With one index on ``relevant`` and one on ``published``, SQLite (no statistics)
    # prefers the equality and reads every relevant entry ever stored; see _window_index.
    Index("ix_entries_relevant_published", "relevant", "published"),
)

summaries = Table(
    "summaries",
    metadata,
    Column("cache_key", String(128), primary_key=True),
    Column("entry_id", String(64), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("model", Text, nullable=False, default=""),
    Column("category", Text, nullable=False, default=""),
    Column("key_facts", Text, nullable=False, default="[]"),
    Column("error", Text),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("reasoning_tokens", Integer, nullable=False, default=0),
    Column("created", UTCDateTime, nullable=False),
)

llm_calls = Table(
    "llm_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False, index=True),
    Column("issue_id", String(64), index=True),
    Column("purpose", String(32), nullable=False),
    Column("entry_id", String(64)),
    Column("model", Text, nullable=False, default=""),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("reasoning_tokens", Integer, nullable=False, default=0),
    Column("created", UTCDateTime, nullable=False),
)

issues = Table(
    "issues",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("entry_ids", Text, nullable=False, default="[]"),
    Column("path", Text, nullable=False, default=""),
    Column("data", Text, nullable=False, default="{}"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False, default="active"),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("issue_id", String(64), ForeignKey("issues.id"), primary_key=True),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id"), primary_key=True),
    Column("status", String(16), nullable=False, default="queued"),
    Column("answer", Text, nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("updated", UTCDateTime, nullable=False),
    # The sender that holds a "sending" row, and until when (see lease_deliveries).
    Column("lease_owner", String(200)),
    Column("lease_until", UTCDateTime),
)

leases = Table(
    "leases",
    metadata,
    # Named roles only one process may hold at a time (the scheduler); see acquire_lease.
    Column("name", String(64), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("until", UTCDateTime, nullable=False),
    Column("since", UTCDateTime, nullable=False),
)

rate_limits = Table(
    "rate_limits",
    metadata,
    # Generic cell rate algorithm: ``tat`` is the theoretical arrival time (epoch seconds)
    # of the next message; one row per shared limit (e.g. all senders' SMTP rate).
    Column("name", String(64), primary_key=True),
    Column("tat", Float, nullable=False, default=0.0),
)

summary_claims = Table(
    "summary_claims",
    metadata,
    # A worker about to ask the LLM for a cache key claims it first, so two workers that
    # meet the same content make one call between them; see claim_summary.
    Column("cache_key", String(200), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("until", UTCDateTime, nullable=False),
)


def _create_v1(conn: Connection) -> None:
    metadata.create_all(conn)


def _feeds_html_url(conn: Connection) -> None:
    """v2: ``feeds.html_url``, the site a feed belongs to (OPML ``htmlUrl``)."""
    # A database created at v1 by this code already has the column from create_all.
    if "html_url" not in {c["name"] for c in inspect(conn).get_columns("feeds")}:
        conn.execute(text("ALTER TABLE feeds ADD COLUMN html_url TEXT"))


def _feeds_current_url(conn: Connection) -> None:
    # v1 creates tables from the current metadata, so a fresh database already has it.
    if "current_url" not in {c["name"] for c in inspect(conn).get_columns("feeds")}:
        conn.execute(sql_text("ALTER TABLE feeds ADD COLUMN current_url VARCHAR(2048)"))


def _leases(conn: Connection) -> None:
    """Lease columns and tables for several workers on one database (``newsletter worker``)."""
    for table in ("feeds", "deliveries"):
        have = {c["name"] for c in inspect(conn).get_columns(table)}
        # ALTER TABLE ... ADD COLUMN with these types is valid on SQLite and PostgreSQL.
        if "lease_owner" not in have:
            conn.execute(sql_text(f"ALTER TABLE {table} ADD COLUMN lease_owner VARCHAR(200)"))
        if "lease_until" not in have:
            kind = UTCDateTime().impl.compile(dialect=conn.dialect)
            conn.execute(sql_text(f"ALTER TABLE {table} ADD COLUMN lease_until {kind}"))
    for new in (leases, rate_limits, summary_claims):
        new.create(conn, checkfirst=True)


def _window_index(conn: Connection) -> None:
    """v5: ``(relevant, published)`` replaces the index on ``relevant`` alone.

    SQLite chose the single-column index for ``entries_between`` and so read every relevant
    entry ever stored (in ``benchmarks/scale.py``, 14,000 rows of 250,000 for a week's 1,333;
    96,000 when every feed is on topic): the build's cost grew with the store. The
    composite index bounds the read to the window; the old one is its prefix, so it goes.
    """
    wanted = next(i for i in entries.indexes if i.name == "ix_entries_relevant_published")
    wanted.create(conn, checkfirst=True)
    conn.execute(sql_text("DROP INDEX IF EXISTS ix_entries_relevant"))


# Index i upgrades a database from version i to i + 1. Append, never edit.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _create_v1,
    _feeds_html_url,
    _feeds_current_url,
    _leases,
    _window_index,
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class FeedHealth:
    url: str
    name: str
    origin: str
    last_status: str | None
    last_error: str | None
    last_new: int
    last_polled: datetime | None
    last_success: datetime | None
    consecutive_failures: int
    disabled: bool
    next_poll_at: datetime | None = None
    """Set while the feed backs off after failures; ``None`` means due at every poll."""
    current_url: str | None = None
    """Where a permanent redirect moved the feed, if it did."""


@dataclass(frozen=True)
class IssueRecord:
    id: str
    title: str
    created: datetime
    window_start: datetime
    window_end: datetime
    item_count: int
    entry_ids: tuple[str, ...]
    path: str


# Arbitrary constant naming the migration advisory lock (PostgreSQL).
_MIGRATION_LOCK = 0x6E65777331

CLI_ORIGINS = ("cli", "opml")
"""Origins of feeds that live in the database rather than the config file."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _insert_ignoring_duplicates(conn: Connection, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL, a plain insert elsewhere."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return table.insert()


def now_utc() -> datetime:
    return datetime.now(UTC)


class Store:
    """Every read and write of persistent state goes through here."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._rate_rows: set[str] = set()

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (creating or migrating as needed) the database at a SQLAlchemy URL."""
        try:
            if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            options: dict[str, Any] = {}
            if url.startswith("postgresql+psycopg"):
                # psycopg prepares a statement after 5 runs and PostgreSQL may then keep a
                # generic plan made while the tables were empty (a sequential scan) as they
                # grow to thousands of rows; plan each statement for the data it meets.
                options["connect_args"] = {"prepare_threshold": None}
            engine = create_engine(url, future=True, **options)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
            store = cls(engine)
            store._migrate()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot open database {_redact(url)}: {exc}") from exc
        return store

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _write_tx(self) -> Iterator[Connection]:
        """A transaction that takes the write lock up front on SQLite (``BEGIN IMMEDIATE``).

        SQLite has one writer at a time; taking the lock first serializes read-then-write
        steps (leasing, migrating) across processes instead of failing them midway with
        "database is locked" when a read snapshot cannot be upgraded. On PostgreSQL this is
        an ordinary transaction (row locks do the work there).
        """
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                # pysqlite leaves BEGIN to us here: it only begins implicitly before DML.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    # -- schema -----------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._write_tx() as conn:
            if self.engine.dialect.name == "postgresql":
                # Two processes starting at once on a new database would both create the
                # tables; the second waits here and then finds the schema current.
                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            meta.create(conn, checkfirst=True)
            found = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))
            row = found.first()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"database schema version {version} is newer than this program "
                    f"({SCHEMA_VERSION}); upgrade newsletter"
                )
            for step in MIGRATIONS[version:]:
                step(conn)
            if row is None:
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif version != SCHEMA_VERSION:
                conn.execute(
                    update(meta)
                    .where(meta.c.key == "schema_version")
                    .values(value=str(SCHEMA_VERSION))
                )

    def describe(self) -> str:
        """Engine and URL (password hidden), for ``newsletter doctor``."""
        return f"{self.engine.dialect.name} at {_redact(str(self.engine.url))}"

    def schema_version(self) -> int:
        with self._tx() as conn:
            value = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))
            return int(value.scalar_one())

    # -- feeds ------------------------------------------------------------------------
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
                conn.execute(_insert_ignoring_duplicates(conn, feeds), fresh)

    def fetch_states(self, urls: Iterable[str]) -> dict[str, FetchState]:
        wanted = list(urls)
        with self._tx() as conn:
            rows = conn.execute(
                select(
                    feeds.c.url, feeds.c.etag, feeds.c.last_modified, feeds.c.current_url
                ).where(feeds.c.url.in_(wanted))
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
            self._record_fetch(conn, result, new_entries, error, backoff)

    def record_fetches(
        self,
        results: Sequence[FetchResult],
        *,
        backoff: Callable[[int, float | None], float] | None = None,
    ) -> None:
        """:meth:`record_fetch` for many bodiless results (304s, errors) in one transaction."""
        # A repoll is mostly plain 304s, all written alike: one executemany instead of an
        # UPDATE each halves the time a 500-feed repoll spends storing.
        plain = [
            r.url for r in results if r.status == "not_modified" and not r.permanent_redirect
        ]
        with self._tx() as conn:
            if plain:
                conn.execute(
                    update(feeds)
                    .where(feeds.c.url == bindparam("feed_url"))
                    .values(**self._success_values("not_modified", 0, now_utc())),
                    [{"feed_url": url} for url in plain],
                )
            for result in results:
                if result.status != "not_modified" or result.permanent_redirect:
                    self._record_fetch(conn, result, 0, None, backoff)

    @staticmethod
    def _record_fetch(
        conn: Connection,
        result: FetchResult,
        new_entries: int,
        error: str | None,
        backoff: Callable[[int, float | None], float] | None,
    ) -> None:
        now = now_utc()
        if result.status != "error" and error is None:
            values = Store._success_values(result.status, new_entries, now)
            if result.status == "ok":
                values.update(etag=result.etag, last_modified=result.last_modified)
            if result.permanent_redirect and result.final_url:
                values["current_url"] = result.final_url
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
        conn.execute(update(feeds).where(feeds.c.url == result.url).values(**values))

    @staticmethod
    def _success_values(status: str, new_entries: int, now: datetime) -> dict[str, Any]:
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

    # -- daemon state -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._tx() as conn:
            return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            done = conn.execute(update(meta).where(meta.c.key == key).values(value=value))
            if done.rowcount == 0:
                conn.execute(meta.insert().values(key=key, value=value))

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

    @staticmethod
    def _set_feed_site(conn: Connection, url: str, title: str, html_url: str | None) -> None:
        """Remember a feed's own title and site link (for OPML export)."""
        values: dict[str, Any] = {"title": title}
        if html_url:
            values["html_url"] = html_url
        conn.execute(update(feeds).where(feeds.c.url == url).values(**values))

    def feed_sites(self) -> dict[str, tuple[str, str | None]]:
        """URL → (feed's own title, site link) for every known feed."""
        with self._tx() as conn:
            rows = conn.execute(select(feeds.c.url, feeds.c.title, feeds.c.html_url))
            return {r.url: (r.title or "", r.html_url) for r in rows}

    # -- entries ----------------------------------------------------------------------
    def add_entries(self, items: Sequence[tuple[Entry, Verdict]]) -> list[str]:
        """Insert entries not seen before; returns the ids that were new."""
        if not items:
            return []
        with self._tx() as conn:
            return self._insert_new(conn, items)

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
            new_ids = self._insert_new(conn, items) if items else []
            self._record_fetch(conn, result, len(new_ids), None, None)
            self._set_feed_site(conn, result.url, title, html_url)
        return new_ids

    @staticmethod
    def _insert_new(conn: Connection, items: Sequence[tuple[Entry, Verdict]]) -> list[str]:
        known = Store._known_ids(conn, [e.id for e, _ in items])
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

    def known_entry_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these entry ids are already stored."""
        with self._tx() as conn:
            return self._known_ids(conn, ids)

    @staticmethod
    def _known_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(ids), 500):  # SQLite caps the parameters per statement
            chunk = list(ids[start : start + 500])
            known.update(conn.execute(select(entries.c.id).where(entries.c.id.in_(chunk))).scalars())
        return known

    @staticmethod
    def _entry_from_row(r: Any) -> tuple[Entry, Verdict]:
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

    def entries_between(
        self, start: datetime, end: datetime, *, relevant_only: bool = True
    ) -> list[tuple[Entry, Verdict]]:
        query = select(entries).where(entries.c.published > start, entries.c.published <= end)
        if relevant_only:
            query = query.where(entries.c.relevant.is_(True))
        with self._tx() as conn:
            rows = conn.execute(query.order_by(entries.c.published.desc(), entries.c.id))
            return [self._entry_from_row(r) for r in rows]

    def get_entry(self, entry_id: str) -> tuple[Entry, Verdict] | None:
        with self._tx() as conn:
            row = conn.execute(select(entries).where(entries.c.id == entry_id)).first()
            if row is None:
                # Let operators paste a unique prefix of the id.
                rows = conn.execute(
                    select(entries).where(entries.c.id.like(f"{entry_id}%")).limit(2)
                ).all()
                row = rows[0] if len(rows) == 1 else None
            return None if row is None else self._entry_from_row(row)

    def entry_count(self) -> int:
        with self._tx() as conn:
            return int(conn.execute(select(func.count()).select_from(entries)).scalar_one())

    # -- summaries and LLM usage ------------------------------------------------------
    def get_summary(self, cache_key: str) -> Summary | None:
        with self._tx() as conn:
            r = conn.execute(select(summaries).where(summaries.c.cache_key == cache_key)).first()
        if r is None:
            return None
        return Summary(
            text=r.text,
            kind=r.kind,
            model=r.model,
            category=r.category,
            key_facts=tuple(json.loads(r.key_facts)),
            error=r.error,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            reasoning_tokens=r.reasoning_tokens,
        )

    def put_summary(self, cache_key: str, entry_id: str, summary: Summary) -> None:
        row = {
            "entry_id": entry_id,
            "text": summary.text,
            "kind": summary.kind,
            "model": summary.model,
            "category": summary.category,
            "key_facts": json.dumps(list(summary.key_facts), ensure_ascii=False),
            "error": summary.error,
            "prompt_tokens": summary.prompt_tokens,
            "completion_tokens": summary.completion_tokens,
            "reasoning_tokens": summary.reasoning_tokens,
            "created": now_utc(),
        }
        with self._tx() as conn:
            done = conn.execute(
                update(summaries).where(summaries.c.cache_key == cache_key).values(**row)
            )
            if done.rowcount == 0:
                conn.execute(summaries.insert().values(cache_key=cache_key, **row))

    def record_llm_call(
        self,
        *,
        run_id: str,
        issue_id: str | None = None,
        purpose: str,
        entry_id: str | None,
        model: str,
        ok: bool,
        error: str | None,
        prompt_tokens: int,
        completion_tokens: int,
        reasoning_tokens: int,
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                llm_calls.insert().values(
                    run_id=run_id,
                    issue_id=issue_id,
                    purpose=purpose,
                    entry_id=entry_id,
                    model=model,
                    ok=ok,
                    error=error,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    reasoning_tokens=reasoning_tokens,
                    created=now_utc(),
                )
            )

    def llm_usage(self, run_id: str | None = None, issue_id: str | None = None) -> dict[str, int]:
        """Token and call totals for one run, one issue (all its runs), or all time."""
        query = select(
            func.count(),
            func.coalesce(func.sum(llm_calls.c.prompt_tokens), 0),
            func.coalesce(func.sum(llm_calls.c.completion_tokens), 0),
            func.coalesce(func.sum(llm_calls.c.reasoning_tokens), 0),
            func.coalesce(func.sum(func.cast(~llm_calls.c.ok, Integer)), 0),
        )
        if run_id is not None:
            query = query.where(llm_calls.c.run_id == run_id)
        if issue_id is not None:
            query = query.where(llm_calls.c.issue_id == issue_id)
        with self._tx() as conn:
            calls, prompt, completion, reasoning, failed = conn.execute(query).one()
        return {
            "calls": int(calls),
            "failed": int(failed),
            "prompt_tokens": int(prompt),
            "completion_tokens": int(completion),
            "reasoning_tokens": int(reasoning),
        }

    # -- subscribers ------------------------------------------------------------------
    @staticmethod
    def _subscriber(r: Any) -> Subscriber:
        return Subscriber(email=r.email, name=r.name, status=r.status, id=r.id)

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
            return self._subscriber(row)

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
        return None if row is None else self._subscriber(row)

    def set_subscriber_status(self, subscriber_id: int, status: str) -> None:
        with self._tx() as conn:
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(status=status, updated=now_utc())
            )

    def list_subscribers(self, status: str | None = None) -> list[Subscriber]:
        query = select(subscribers).order_by(subscribers.c.id)
        if status:
            query = query.where(subscribers.c.status == status)
        with self._tx() as conn:
            return [self._subscriber(r) for r in conn.execute(query)]

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
        return None if row is None else self._subscriber(row)

    def delete_subscriber(self, subscriber_id: int) -> bool:
        """Forget a subscriber and their delivery history (on request, e.g. GDPR erasure)."""
        with self._tx() as conn:
            conn.execute(deliveries.delete().where(deliveries.c.subscriber_id == subscriber_id))
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

    def subscriber_counts(self) -> dict[str, int]:
        with self._tx() as conn:
            rows = conn.execute(
                select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
            )
            return {status: int(count) for status, count in rows}

    # -- deliveries -------------------------------------------------------------------
    # A row per (issue, subscriber): queued -> sending -> sent | failed. "sending" is
    # committed before the SMTP transaction and "sent" after it, so after a crash the only
    # message whose fate is unknown is the one row left in "sending"; it is sent again.

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
                _insert_ignoring_duplicates(conn, deliveries)
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

    def claim_delivery(self, issue_id: str, subscriber_id: int) -> bool:
        """Mark a row "sending" if it is unsent and its subscriber is still active."""
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
                    deliveries.c.subscriber_id.in_(active),
                )
                .values(status="sending", attempts=deliveries.c.attempts + 1, updated=now_utc())
            )
            return done.rowcount == 1

    def finish_delivery(
        self,
        issue_id: str,
        subscriber_id: int,
        status: str,
        answer: str,
        *,
        bounced: bool = False,
    ) -> None:
        """Record the outcome (sent, failed, or queued again); a bounce also marks the address."""
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

    # -- issues -----------------------------------------------------------------------
    def save_issue(self, issue: Issue, path: str) -> None:
        row = {
            "title": issue.title,
            "created": issue.created,
            "window_start": issue.window_start,
            "window_end": issue.window_end,
            "item_count": len(issue.items),
            "entry_ids": json.dumps([i.entry.id for i in issue.items]),
            "path": path,
            "data": issue_to_json(issue),
        }
        with self._tx() as conn:
            done = conn.execute(update(issues).where(issues.c.id == issue.id).values(**row))
            if done.rowcount == 0:
                conn.execute(issues.insert().values(id=issue.id, **row))

    @staticmethod
    def _issue_from_row(r: Any) -> IssueRecord:
        return IssueRecord(
            id=r.id,
            title=r.title,
            created=r.created,
            window_start=r.window_start,
            window_end=r.window_end,
            item_count=r.item_count,
            entry_ids=tuple(json.loads(r.entry_ids)),
            path=r.path,
        )

    def list_issues(self) -> list[IssueRecord]:
        """All issues, newest first."""
        with self._tx() as conn:
            rows = conn.execute(select(issues).order_by(issues.c.window_end.desc(), issues.c.id))
            return [self._issue_from_row(r) for r in rows]

    def load_issue(self, issue_id: str) -> Issue | None:
        """The full issue as it was built (items, digests, intro), for re-rendering."""
        with self._tx() as conn:
            data = conn.execute(select(issues.c.data).where(issues.c.id == issue_id)).scalar()
        return None if data is None else issue_from_json(data)

    def get_issue(self, issue_id: str) -> IssueRecord | None:
        with self._tx() as conn:
            row = conn.execute(select(issues).where(issues.c.id == issue_id)).first()
        return None if row is None else self._issue_from_row(row)

    # -- several workers on one database: leases, a shared rate, claims -----------------
    # A lease is an owner plus an expiry written into the row it guards. Taking one is a
    # single UPDATE over rows picked with FOR UPDATE SKIP LOCKED (PostgreSQL: concurrent
    # workers skip each other's rows instead of waiting) or under BEGIN IMMEDIATE (SQLite:
    # one writer at a time). A holder that dies simply stops renewing; once ``until`` has
    # passed any worker may take the rows.

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self.engine.dialect.name)

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

    def feed_urls(self, origin: str | None = None) -> set[str]:
        """Every feed URL in the database (of one origin: ``config``, ``cli``, ``opml``)."""
        query = select(feeds.c.url)
        if origin is not None:
            query = query.where(feeds.c.origin == origin)
        with self._tx() as conn:
            return set(conn.execute(query).scalars())

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
            return [self._subscriber(r) for r in rows]

    def start_delivery(self, issue_id: str, subscriber_id: int, owner: str) -> bool:
        """Mark a leased row "sending" just before its message goes out.

        False when the lease was lost (expired and taken over), the row was sent meanwhile,
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
            )
            return done.rowcount == 1

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
        """Owe again the failed rows of still-active subscribers (a rerun retries them)."""
        active = select(subscribers.c.id).where(subscribers.c.status == "active")
        with self._tx() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.status == "failed",
                    deliveries.c.subscriber_id.in_(active),
                )
                .values(status="queued", updated=now_utc())
            )
            return int(done.rowcount or 0)

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

    def acquire_lease(self, name: str, owner: str, seconds: float) -> LeaseHolder:
        """Take or renew the named lease if it is free, expired or already ours.

        Returns whoever holds it afterwards: ``owner`` on success, else the live holder.
        """
        now = now_utc()
        until = now + timedelta(seconds=seconds)
        with self._write_tx() as conn:
            conn.execute(
                _insert_ignoring_duplicates(conn, leases).values(
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
                conn.execute(_insert_ignoring_duplicates(conn, rate_limits).values(name=name))
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

    def claim_summary(self, cache_key: str, owner: str, seconds: float) -> bool:
        """Claim the right to compute ``cache_key`` (free, expired, or already ours)."""
        now = now_utc()
        until = now + timedelta(seconds=seconds)
        with self._tx() as conn:
            done = conn.execute(
                _insert_ignoring_duplicates(conn, summary_claims).values(
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

    def summary_claimed(self, cache_key: str) -> bool:
        """Whether a live claim on ``cache_key`` exists (someone is computing it)."""
        with self._tx() as conn:
            found = conn.execute(
                select(summary_claims.c.owner).where(
                    summary_claims.c.cache_key == cache_key, summary_claims.c.until > now_utc()
                )
            ).first()
        return found is not None

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


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def issue_to_json(issue: Issue) -> str:
    return json.dumps(_plain(dataclasses.asdict(issue)), ensure_ascii=False)


def issue_from_json(text: str) -> Issue:
    data = json.loads(text)

    def entry(d: dict[str, Any]) -> Entry:
        return Entry(**{**d, "published": datetime.fromisoformat(d["published"])})

    def item(d: dict[str, Any]) -> IssueItem:
        s = d["summary"]
        return IssueItem(
            entry=entry(d["entry"]),
            verdict=Verdict(
                d["verdict"]["relevant"], d["verdict"]["score"], tuple(d["verdict"]["reasons"])
            ),
            summary=Summary(**{**s, "key_facts": tuple(s["key_facts"])}),
            also=tuple(entry(a) for a in d["also"]),
        )

    items = tuple(item(d) for d in data["items"])
    by_id = {i.entry.id: i for i in items}
    return Issue(
        id=data["id"],
        title=data["title"],
        created=datetime.fromisoformat(data["created"]),
        window_start=datetime.fromisoformat(data["window_start"]),
        window_end=datetime.fromisoformat(data["window_end"]),
        items=items,
        intro=tuple(data["intro"]),
        intro_kind=data["intro_kind"],
        sections=tuple(
            (name, tuple(by_id[i["entry"]["id"]] for i in group))
            for name, group in data["sections"]
        ),
    )


def _redact(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL we cannot even parse has nothing worth showing
        return "<database url>"
