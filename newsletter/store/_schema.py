"""The schema: tables, their version number, and the migrations that bring any older
database up to date (run by :meth:`Store.open`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import text as sql_text

from ..errors import StorageError
from ._plain import SCHEMA_VERSION


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
    # Fingerprints of the items the last parsed document listed, all stored (v11): the next
    # poll skips unchanged ones before sanitizing and judging them (parse.parse_feed).
    Column("entry_fingerprints", LargeBinary),
)

entries = Table(
    "entries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("feed_url", String(2048), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("text", Text, nullable=False),
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
    # The feed's own date when it could not be true and ``published`` is first seen (v7).
    Column("claimed_published", UTCDateTime),
    # Late stories: relevant entries first seen in a window (see _issue_entries).
    Index("ix_entries_relevant_fetched", "relevant", "fetched"),
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

issue_entries = Table(
    "issue_entries",
    metadata,
    # Which issue took which entry, as its story or among its 另见 reports: the primary key
    # is the entry, so no two issues ever take the same one (v7).
    Column("entry_id", String(64), primary_key=True),
    Column("issue_id", String(64), ForeignKey("issues.id"), nullable=False, index=True),
    Column("role", String(8), nullable=False, default="story"),
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
    # A "deferred" row (failed temporarily) is tried again by the daemon from then on.
    Column("retry_at", UTCDateTime),
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


bounce_events = Table(
    "bounce_events",
    metadata,
    # One row per finding of an incoming bounce, complaint or unsubscribe report (and per
    # operator reactivation): the evidence behind every status change it made.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_key", String(100), nullable=False),
    Column("email", String(320), nullable=False, default=""),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id")),
    Column("kind", String(16), nullable=False),
    Column("source", String(40), nullable=False, default=""),
    Column("status", String(40), nullable=False, default=""),
    Column("diagnostic", Text, nullable=False, default=""),
    Column("detector", String(60), nullable=False, default=""),
    Column("message_id", String(250), nullable=False, default=""),
    Column("action", String(16), nullable=False, default=""),
    Column("previous_status", String(16), nullable=False, default=""),
    Column("received", UTCDateTime, nullable=False),
    UniqueConstraint("message_key", "email", name="uq_bounce_events_report"),
    Index("ix_bounce_events_subscriber", "subscriber_id", "received"),
    Index("ix_bounce_events_received", "received"),
)

mailbox_seen = Table(
    "mailbox_seen",
    metadata,
    # POP3 has no flags: the UIDLs of bounce-mailbox messages already handled.
    Column("mailbox", String(300), primary_key=True),
    Column("uidl", String(200), primary_key=True),
    Column("seen", UTCDateTime, nullable=False),
)

channel_deliveries = Table(
    "channel_deliveries",
    metadata,
    # One row per (issue, chat channel), claimed ("sending", with a lease) before the first
    # post and "sent" after the last: an issue reaches a chat group once. ``parts_sent``
    # counts the messages of a split issue already accepted, so a retry resumes after them.
    Column("issue_id", String(64), ForeignKey("issues.id"), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("kind", String(16), nullable=False, default=""),
    Column("status", String(16), nullable=False, default="queued"),
    Column("parts", Integer, nullable=False, default=0),
    Column("parts_sent", Integer, nullable=False, default=0),
    Column("answer", Text, nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("updated", UTCDateTime, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_until", UTCDateTime),
)


reviews = Table(
    "reviews",
    metadata,
    # An issue built while review.required: a draft until an editor approves it (v9).
    # No foreign key: the row is written before the issue, so no page lists a draft.
    Column("issue_id", String(64), primary_key=True),
    # draft → approved → sent; or held (deadline passed, on_deadline: hold)
    Column("status", String(16), nullable=False, default="draft"),
    Column("original", Text, nullable=False, default="{}"),
    Column("created", UTCDateTime, nullable=False),
    Column("deadline", UTCDateTime),
    Column("send_at", UTCDateTime),
    Column("approved_by", String(320), nullable=False, default=""),
    Column("approved_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("note", Text, nullable=False, default=""),
)

review_changes = Table(
    "review_changes",
    metadata,
    # Every editor action on a draft: who, when, what, before and after (v9).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issue_id", String(64), ForeignKey("issues.id"), nullable=False, index=True),
    Column("editor", String(320), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", Text, nullable=False, default=""),
    Column("before", Text, nullable=False, default=""),
    Column("after", Text, nullable=False, default=""),
)

review_labels = Table(
    "review_labels",
    metadata,
    # An editor's verdict on an entry (dropped from a draft, or added from the filtered
    # out): labeled examples for checking the relevance rules (v9).
    Column("entry_id", String(64), primary_key=True),
    Column("issue_id", String(64), nullable=False),
    Column("relevant", Boolean, nullable=False),
    Column("editor", String(320), nullable=False),
    Column("why", Text, nullable=False, default=""),
    Column("filter_relevant", Boolean, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

desk_links = Table(
    "desk_links",
    metadata,
    # Sign-in links mailed to editors: the nonce each signed link carries, so one is used once.
    Column("nonce", String(64), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("used", UTCDateTime),
)


def _create_v1(conn: Connection) -> None:
    metadata.create_all(conn)


def _feeds_html_url(conn: Connection) -> None:
    """v2: ``feeds.html_url``, the site a feed belongs to (OPML ``htmlUrl``)."""
    # A database created at v1 by this code already has the column from create_all.
    if "html_url" not in {c["name"] for c in inspect(conn).get_columns("feeds")}:
        conn.execute(sql_text("ALTER TABLE feeds ADD COLUMN html_url TEXT"))


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


def _bounce_events(conn: Connection) -> None:
    """v6: evidence of bounces, complaints and mailto unsubscribes; POP3 UIDLs seen."""
    for new in (bounce_events, mailbox_seen):
        new.create(conn, checkfirst=True)


def _issue_entries(conn: Connection) -> None:
    """v7: which issue took which entry, and the feed's own date of a redated entry.

    Issues built before this version are recorded from their saved items (oldest issue
    first, so an entry two old windows both showed belongs to the first), so the first
    build after upgrading repeats none of them.
    """
    if "claimed_published" not in {c["name"] for c in inspect(conn).get_columns("entries")}:
        kind = UTCDateTime().impl.compile(dialect=conn.dialect)
        conn.execute(sql_text(f"ALTER TABLE entries ADD COLUMN claimed_published {kind}"))
    wanted = next(i for i in entries.indexes if i.name == "ix_entries_relevant_fetched")
    wanted.create(conn, checkfirst=True)
    issue_entries.create(conn, checkfirst=True)
    taken: set[str] = set(conn.execute(select(issue_entries.c.entry_id)).scalars())
    rows = conn.execute(select(issues.c.id, issues.c.data).order_by(issues.c.window_end))
    for issue_id, data in rows.all():
        try:
            items = json.loads(data or "{}").get("items", [])
        except ValueError:
            continue
        fresh = []
        for item in items:
            for role, entry in [("story", item["entry"])] + [("also", a) for a in item["also"]]:
                if entry["id"] not in taken:
                    taken.add(entry["id"])
                    fresh.append({"entry_id": entry["id"], "issue_id": issue_id, "role": role})
        if fresh:
            conn.execute(issue_entries.insert(), fresh)


def _channel_deliveries(conn: Connection) -> None:
    """v8: a delivery row per (issue, chat channel)."""
    channel_deliveries.create(conn, checkfirst=True)


def _reviews(conn: Connection) -> None:
    """v9: the editor's desk: drafts, their changes, editors' labels, sign-in links."""
    for new in (reviews, review_changes, review_labels, desk_links):
        new.create(conn, checkfirst=True)


def _delivery_retry(conn: Connection) -> None:
    """v10: ``deliveries.retry_at``, when the daemon tries a temporarily failed row again."""
    if "retry_at" not in {c["name"] for c in inspect(conn).get_columns("deliveries")}:
        kind = UTCDateTime().impl.compile(dialect=conn.dialect)
        conn.execute(sql_text(f"ALTER TABLE deliveries ADD COLUMN retry_at {kind}"))


def _entry_fingerprints(conn: Connection) -> None:
    """v11: ``feeds.entry_fingerprints``, so a repoll reads only new and edited items."""
    if "entry_fingerprints" not in {c["name"] for c in inspect(conn).get_columns("feeds")}:
        kind = LargeBinary().compile(dialect=conn.dialect)
        conn.execute(sql_text(f"ALTER TABLE feeds ADD COLUMN entry_fingerprints {kind}"))


def _entry_html_dropped(conn: Connection) -> None:
    """v12: ``entries.html`` goes: nothing displayed an entry's own markup, and it was most
    of an entry's bytes (SQLite keeps the freed pages until a ``VACUUM``)."""
    if "html" not in {c["name"] for c in inspect(conn).get_columns("entries")}:
        return
    if conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        raise StorageError(
            f"SQLite {sqlite3.sqlite_version} cannot upgrade this database to schema v12:"
            " dropping a column needs SQLite 3.35 or newer; the database is unchanged"
        )
    conn.execute(sql_text("ALTER TABLE entries DROP COLUMN html"))


# Index i upgrades a database from version i to i + 1. Append, never edit.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _create_v1,
    _feeds_html_url,
    _feeds_current_url,
    _leases,
    _window_index,
    _bounce_events,
    _issue_entries,
    _channel_deliveries,
    _reviews,
    _delivery_retry,
    _entry_fingerprints,
    _entry_html_dropped,
]


# Arbitrary constant naming the migration advisory lock (PostgreSQL).
_MIGRATION_LOCK = 0x6E65777331


def migrate(conn: Connection) -> None:
    """Create or upgrade the schema to :data:`SCHEMA_VERSION` (in a write transaction)."""
    if conn.dialect.name == "postgresql":
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
            update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
        )
