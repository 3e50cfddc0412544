"""Core data types passed between pipeline stages.

Every type is a small frozen dataclass: stages take and return these, never
database rows or config objects, so each stage can be tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

FetchStatus = Literal["ok", "not_modified", "error"]
SummaryKind = Literal["llm", "extractive"]


@dataclass(frozen=True)
class Feed:
    """A source to poll: an http(s) URL or a local file path."""

    url: str
    name: str = ""
    weight: float = 1.0
    encoding: str | None = None
    max_items_per_issue: int | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.url


@dataclass(frozen=True)
class FetchState:
    """What we remember between polls of one feed (conditional GET validators)."""

    etag: str | None = None
    last_modified: str | None = None
    url: str | None = None
    """Where to fetch from when a permanent redirect moved the feed; else its own URL."""


@dataclass(frozen=True)
class FetchResult:
    """Outcome of fetching one feed. ``body`` is set only when status is ``ok``."""

    url: str
    status: FetchStatus
    body: bytes | None = None
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    final_url: str | None = None
    permanent_redirect: bool = False
    retry_after: float | None = None
    error: str | None = None
    elapsed: float = 0.0


@dataclass(frozen=True)
class Entry:
    """One normalized feed item. Text fields are already sanitized."""

    id: str
    feed_url: str
    title: str
    link: str
    text: str
    """Plain text of the summary/content, markup removed, whitespace collapsed."""
    published: datetime
    """Timezone-aware UTC."""
    author: str = ""
    source_name: str = ""
    claimed_published: datetime | None = None
    """The feed's own date when it was impossible (future, before feeds existed) and
    ``published`` is when the entry was first seen instead."""

    @property
    def content_hash(self) -> str:
        import hashlib

        return hashlib.sha256(f"{self.title}\n{self.text}".encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """Relevance decision with the reasons an operator can read."""

    relevant: bool
    score: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolledFeed:
    """One fetched feed as the poll stores it: its parsed entries, or why it failed."""

    result: FetchResult
    items: tuple[tuple[Entry, Verdict], ...] = ()
    title: str = ""
    html_url: str | None = None
    fingerprints: bytes | None = None
    """The items the next parse may skip (see ``parse.ParsedFeed.known_fingerprints``)."""
    error: str | None = None
    """Set when the body was no usable feed: recorded as the fetch's failure."""


@dataclass(frozen=True)
class Tokens:
    """What LLM calls cost: prompt, visible completion and hidden reasoning tokens."""

    prompt: int = 0
    completion: int = 0
    reasoning: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion + self.reasoning

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.prompt + other.prompt,
            self.completion + other.completion,
            self.reasoning + other.reasoning,
        )


@dataclass(frozen=True)
class LLMUsage:
    """Calls and tokens over some LLM calls (one run, one issue, all time)."""

    calls: int = 0
    failed: int = 0
    tokens: Tokens = Tokens()


@dataclass(frozen=True)
class Summary:
    """A digest of one entry. ``kind`` says whether an LLM wrote it."""

    text: str
    kind: SummaryKind
    model: str = ""
    category: str = ""
    key_facts: tuple[str, ...] = ()
    error: str | None = None
    """Why an LLM digest was not used (the fallback reason), if any."""
    transient: bool = False
    """The fallback came from the endpoint failing (not the answer): worth retrying next run."""
    tokens: Tokens = Tokens()
    edited_by: str = ""
    """The editor who rewrote this digest on the desk (readers see "编辑改写"), if any."""


@dataclass(frozen=True)
class Judgement:
    """What the LLM judge said about one uncertain entry; cached only when it answered."""

    relevant: bool
    reason: str = ""
    model: str = ""
    answered: bool = True
    error: str | None = None
    tokens: Tokens = Tokens()


@dataclass(frozen=True)
class IntroRecord:
    """The issue's "本周要点" bullets made from one set of digests, as cached."""

    bullets: tuple[str, ...]
    kind: SummaryKind
    model: str = ""
    tokens: Tokens = Tokens()


@dataclass(frozen=True)
class IssueItem:
    entry: Entry
    verdict: Verdict
    summary: Summary
    also: tuple[Entry, ...] = ()
    """Other reports of the same story, shown as "also reported by"."""


@dataclass(frozen=True)
class Issue:
    id: str
    title: str
    created: datetime
    window_start: datetime
    window_end: datetime
    items: tuple[IssueItem, ...]
    """Best-ranked first (an email too long for Gmail drops the end); ``sections`` holds
    the same items in the order a reader meets them."""
    intro: tuple[str, ...] = ()
    intro_kind: SummaryKind = "extractive"
    sections: tuple[tuple[str, tuple[IssueItem, ...]], ...] = field(default=())


SubscriberStatus = Literal["pending", "active", "unsubscribed", "bounced", "complained"]
DeliveryStatus = Literal[
    "queued", "sending", "sent", "deferred", "failed", "rejected", "unknown"
]


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str = ""
    status: SubscriberStatus = "active"
    id: int | None = None


@dataclass(frozen=True)
class Delivery:
    issue_id: str
    subscriber_id: int
    email: str
    status: DeliveryStatus
    answer: str = ""
    attempts: int = 0
