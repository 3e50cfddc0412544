"""The only package that talks to the database (SQLAlchemy Core).

SQLite file by default (WAL mode), PostgreSQL by URL. :class:`Store` is composed of one
mixin per domain, each in its own module, on top of the engine and transactions in
``_base``; the tables and migrations live in ``_schema``. A new query goes into the
module of the table it is about.

The names below are imported on first use (PEP 562): ``newsletter feeds`` reads the feeds
table through :func:`glance_feed_health` (``_glance``, the standard library's sqlite3) and
must not pay for importing SQLAlchemy, a third of its start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._base import StoreBase, now_utc
    from ._bounces import BounceEvent
    from ._channels import ChannelDelivery
    from ._coordination import LeaseHolder, WorkerOverview
    from ._deliveries import Retries
    from ._glance import glance_feed_health
    from ._issues import IssueRecord, issue_from_json, issue_to_json
    from ._plain import CLI_ORIGINS, SCHEMA_VERSION, FeedHealth
    from ._reviews import Change, Label, Review
    from ._schema import (
        MIGRATIONS,
        UTCDateTime,
        bounce_events,
        channel_deliveries,
        deliveries,
        entries,
        feeds,
        issue_entries,
        issues,
        leases,
        llm_calls,
        mailbox_seen,
        meta,
        metadata,
        rate_limits,
        subscribers,
        summaries,
        summary_claims,
    )
    from ._store import Store

_HOME = {
    "StoreBase": "_base",
    "now_utc": "_base",
    "BounceEvent": "_bounces",
    "ChannelDelivery": "_channels",
    "LeaseHolder": "_coordination",
    "WorkerOverview": "_coordination",
    "Retries": "_deliveries",
    "glance_feed_health": "_glance",
    "IssueRecord": "_issues",
    "issue_from_json": "_issues",
    "issue_to_json": "_issues",
    "CLI_ORIGINS": "_plain",
    "SCHEMA_VERSION": "_plain",
    "FeedHealth": "_plain",
    "Change": "_reviews",
    "Label": "_reviews",
    "Review": "_reviews",
    **dict.fromkeys(
        (
            "MIGRATIONS",
            "UTCDateTime",
            "bounce_events",
            "channel_deliveries",
            "deliveries",
            "entries",
            "feeds",
            "issue_entries",
            "issues",
            "leases",
            "llm_calls",
            "mailbox_seen",
            "meta",
            "metadata",
            "rate_limits",
            "subscribers",
            "summaries",
            "summary_claims",
        ),
        "_schema",
    ),
    "Store": "_store",
}

# Written out for type checkers, which do not evaluate a computed list.
__all__ = [
    "CLI_ORIGINS",
    "BounceEvent",
    "Change",
    "Label",
    "Review",
    "ChannelDelivery",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "FeedHealth",
    "IssueRecord",
    "LeaseHolder",
    "Retries",
    "Store",
    "StoreBase",
    "UTCDateTime",
    "WorkerOverview",
    "bounce_events",
    "channel_deliveries",
    "deliveries",
    "entries",
    "feeds",
    "glance_feed_health",
    "issue_entries",
    "issue_from_json",
    "issue_to_json",
    "issues",
    "leases",
    "llm_calls",
    "mailbox_seen",
    "meta",
    "metadata",
    "now_utc",
    "rate_limits",
    "subscribers",
    "summaries",
    "summary_claims",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # once imported, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
