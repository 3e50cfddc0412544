"""What the store defines without SQLAlchemy: the schema's version, the feed-health row.

``_glance`` reads the feeds table with the standard library's sqlite3 so that ``newsletter
feeds`` starts without importing SQLAlchemy (its package loads all of Core, a third of the
command's start-up); it needs these, so they live apart from the modules that import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SCHEMA_VERSION = 12
"""The number of migrations in ``_schema.MIGRATIONS``: append one, bump this."""

CLI_ORIGINS = ("cli", "opml")
"""Origins of feeds that live in the database rather than the config file."""


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
    title: str = ""
    """The feed's own title, as its last parse gave it."""
