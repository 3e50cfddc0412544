"""The only package that talks to the database (SQLAlchemy Core).

SQLite file by default (WAL mode), PostgreSQL by URL. :class:`Store` is composed of one
mixin per domain, each in its own module, on top of the engine and transactions in
``_base``; the tables and migrations live in ``_schema``. A new query goes into the
module of the table it is about.
"""

from __future__ import annotations

from ._base import StoreBase, now_utc
from ._bounces import BounceEvent, BouncesMixin
from ._channels import ChannelDelivery, ChannelsMixin
from ._coordination import CoordinationMixin, LeaseHolder, WorkerOverview
from ._deliveries import DeliveriesMixin, Retries
from ._entries import EntriesMixin
from ._feeds import CLI_ORIGINS, FeedHealth, FeedsMixin
from ._issues import IssueRecord, IssuesMixin, issue_from_json, issue_to_json
from ._reviews import Change, Label, Review, ReviewsMixin
from ._schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
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
from ._subscribers import SubscribersMixin
from ._summaries import SummariesMixin

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
    "UTCDateTime",
    "WorkerOverview",
    "bounce_events",
    "channel_deliveries",
    "deliveries",
    "entries",
    "feeds",
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


class Store(
    FeedsMixin,
    EntriesMixin,
    SummariesMixin,
    SubscribersMixin,
    DeliveriesMixin,
    ReviewsMixin,
    IssuesMixin,
    CoordinationMixin,
    BouncesMixin,
    ChannelsMixin,
    StoreBase,
):
    """Every read and write of persistent state goes through here."""
