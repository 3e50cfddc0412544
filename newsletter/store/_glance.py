"""The feeds table read with the standard library's sqlite3, for ``newsletter feeds``.

Hand-written beside the SQLAlchemy queries on purpose: importing SQLAlchemy (its package
loads all of Core) and opening an engine is most of what ``feeds`` would otherwise spend
starting up. It answers only what it can answer exactly as :meth:`Store.feed_health`
would, after :meth:`Store.sync_feeds` of the same config; anything else (PostgreSQL, a
missing file, a schema this program would migrate, a configured feed whose row is missing
or out of date) returns ``None`` and the caller opens the full store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

from ..models import Feed
from ._plain import SCHEMA_VERSION, FeedHealth

_COLUMNS = (
    "url, name, origin, last_status, last_error, last_new, last_polled, last_success,"
    " consecutive_failures, disabled, next_poll_at, current_url, title"
)
_CHUNK = 500  # SQLite's default limit on bound parameters is far above this


def _sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL as SQLAlchemy reads it, or None for any other."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None  # another engine, a driver in the URL (sqlite+pysqlite), or memory
    path = unquote(url[len(prefix) :].partition("?")[0])
    return Path(path) if path and path != ":memory:" else None


def _when(value: str | None) -> datetime | None:
    # SQLAlchemy's SQLite DateTime stores "YYYY-MM-DD HH:MM:SS[.ffffff]"; the store writes UTC.
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def glance_feed_health(database: str, configured: Sequence[Feed]) -> list[FeedHealth] | None:
    """Every feed's health, read-only, or None when only the full store can say it."""
    path = _sqlite_path(database)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or str(row[0]) != str(SCHEMA_VERSION):
            return None
        wanted = {f.url: (f.name, f.weight) for f in configured}
        urls = list(wanted)
        stored: dict[str, tuple[str, float]] = {}
        for start in range(0, len(urls), _CHUNK):
            chunk = urls[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT url, name, weight FROM feeds WHERE url IN ({marks})"
            stored.update((u, (n, w)) for u, n, w in conn.execute(query, chunk))
        if stored != wanted:
            return None  # a sync would write: the full store does that
        rows = conn.execute(f"SELECT {_COLUMNS} FROM feeds ORDER BY url").fetchall()
    except sqlite3.Error:
        return None  # locked past the timeout, not our schema, not a database: let Store say
    finally:
        conn.close()
    return [
        FeedHealth(
            url=url,
            name=name,
            origin=origin,
            last_status=status,
            last_error=error,
            last_new=new,
            last_polled=_when(polled),
            last_success=_when(success),
            consecutive_failures=failures,
            disabled=bool(disabled),
            next_poll_at=_when(next_poll),
            current_url=current,
            title=title or "",
        )
        for (
            url, name, origin, status, error, new, polled, success, failures, disabled,
            next_poll, current, title,
        ) in rows
    ]  # fmt: skip
