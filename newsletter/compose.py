"""Choose, rank and group the stories of one issue."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ._extract import DigestCaps, fits, uses_words
from ._facts import cap_length
from .models import Entry, Feed, IssueItem, Summary, Verdict

Cluster = Callable[[Sequence[Entry], Callable[[Entry], float]], list[tuple[Entry, ...]]]


@dataclass(frozen=True)
class Story:
    """One story for the issue: the chosen report first, then the other reports."""

    entry: Entry
    verdict: Verdict
    also: tuple[Entry, ...]
    rank: float


def window(
    now: datetime, previous_end: datetime | None, first_window_days: int
) -> tuple[datetime, datetime]:
    """Everything since the previous issue; the first issue looks back ``first_window_days``."""
    start = previous_end if previous_end is not None else now - timedelta(days=first_window_days)
    return start, now


def rank_value(entry: Entry, verdict: Verdict, weight: float, window_end: datetime) -> float:
    """Relevance first, then freshness, scaled by how much the operator trusts the feed."""
    age_days = max(0.0, (window_end - entry.published).total_seconds() / 86400)
    freshness = max(0.0, 1.0 - age_days / 7.0)
    return (min(verdict.score, 20.0) + 2.0 * freshness) * weight


def _other_reports(story: Entry, others: Sequence[Entry]) -> tuple[Entry, ...]:
    """The other reports worth a 另见 link: one per other feed, never the story's own.

    The same story seen twice in its own feed (a feed whose guids change) or under its
    own link adds no second source.
    """
    feeds_seen = {story.feed_url}
    links_seen = {story.link} if story.link else set()
    kept: list[Entry] = []
    for other in others:
        if other.feed_url in feeds_seen or (other.link and other.link in links_seen):
            continue
        feeds_seen.add(other.feed_url)
        if other.link:
            links_seen.add(other.link)
        kept.append(other)
    return tuple(kept)


def _named(entry: Entry, names: Mapping[str, str]) -> Entry:
    name = names.get(entry.feed_url)
    return replace(entry, source_name=name) if name and name != entry.source_name else entry


def select_stories(
    pairs: Sequence[tuple[Entry, Verdict]],
    feeds: Mapping[str, Feed],
    *,
    window_end: datetime,
    max_items: int,
    cluster: Cluster,
    names: Mapping[str, str] | None = None,
) -> list[Story]:
    """Group reports of one story, keep the best report of each, rank and cap.

    ``cluster`` is the dedupe stage, passed in so this module stays free of it.
    Per-feed ``max_items_per_issue`` limits count only the chosen reports. ``names``
    (feed URL → its current name) renames reports stored under a feed's older name, so
    a feed that renamed itself appears under one name in the issue.
    """
    if names:
        pairs = [(_named(e, names), v) for e, v in pairs]
    verdicts = {e.id: v for e, v in pairs}
    ranks = {
        e.id: rank_value(e, v, feeds[e.feed_url].weight if e.feed_url in feeds else 1.0, window_end)
        for e, v in pairs
    }
    groups = cluster([e for e, _ in pairs], lambda e: ranks[e.id])
    stories = [
        Story(
            group[0],
            verdicts[group[0].id],
            _other_reports(group[0], group[1:]),
            ranks[group[0].id],
        )
        for group in groups
    ]
    stories.sort(key=lambda s: (-s.rank, -s.entry.published.timestamp(), s.entry.id))
    per_feed: Counter[str] = Counter()
    chosen: list[Story] = []
    for story in stories:
        feed = feeds.get(story.entry.feed_url)
        cap = feed.max_items_per_issue if feed else None
        if cap is not None and per_feed[story.entry.feed_url] >= cap:
            continue
        per_feed[story.entry.feed_url] += 1
        chosen.append(story)
        if len(chosen) >= max_items:
            break
    return chosen


def sections(
    items: Sequence[IssueItem], order: Sequence[str]
) -> tuple[tuple[str, tuple[IssueItem, ...]], ...]:
    """Items grouped by category in the fixed section order, rank order kept inside each."""
    known = list(order)
    grouped: dict[str, list[IssueItem]] = {name: [] for name in known}
    for item in items:
        name = item.summary.category if item.summary.category in grouped else known[-1]
        grouped[name].append(item)
    return tuple((name, tuple(grouped[name])) for name in known if grouped[name])


def issue_items(stories: Sequence[Story], digests: Mapping[str, Summary]) -> tuple[IssueItem, ...]:
    return tuple(IssueItem(s.entry, s.verdict, digests[s.entry.id], s.also) for s in stories)


_HEADLINE_BREAK = re.compile(r"[：:，,；;｜|—]| - ")


def short_headline(title: str, max_chars: int = 28, max_words: int = 12) -> str:
    """A headline short enough for a bullet: its first clause when the whole is long.

    "视频号公布11月直播带货违规处罚：封禁违规直播间1.3万个" reads as its first clause;
    a first clause too short to say anything keeps the headline, cut at a clause or word.
    """
    title = " ".join(title.split())
    words = uses_words(title)
    caps = DigestCaps(max_chars=max_chars, max_words=max_words)
    if fits(title, caps, words=words):
        return title
    head = _HEADLINE_BREAK.split(title, maxsplit=1)[0].strip()
    if fits(head, caps, words=words) and (len(head.split()) >= 4 if words else len(head) >= 8):
        return head
    if words:
        return " ".join(title.split()[:max_words]) + "…"
    return cap_length(title, max_chars)


def highlights(items_by_rank: Sequence[IssueItem], limit: int = 4) -> tuple[str, ...]:
    """本周要点 without an LLM: the week's most important stories, short, across sections.

    The best-ranked story of each section first (so the bullets are not just the top of
    the first section, which the reader sees right below), in rank order, then the next
    best of any section until ``limit``; each bullet is a short form of its headline.
    """
    picked: list[IssueItem] = []
    seen_sections: set[str] = set()
    for item in items_by_rank:
        if item.summary.category not in seen_sections:
            seen_sections.add(item.summary.category)
            picked.append(item)
    chosen = picked[:limit]
    for item in items_by_rank:
        if len(chosen) >= limit:
            break
        if item not in chosen:
            chosen.append(item)
    rank = {id(item): i for i, item in enumerate(items_by_rank)}
    chosen.sort(key=lambda item: rank[id(item)])
    return tuple(short_headline(item.entry.title) for item in chosen)
