"""Build: compose the week's stories, digest them (LLM or extract), render the issue."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .. import compose
from .._extract import DigestCaps
from .._lease import owner_id
from ..config import Config
from ..llm import LLMClient, TokenBudget
from ..models import Entry, Feed, IntroRecord, Issue, IssueItem, LLMUsage, Summary
from ..store import Store
from ..summarize import (
    CATEGORIES,
    Prompts,
    cache_key,
    extractive_summary,
    intro_cache_key,
    llm_summary,
    load_prompts,
    write_intro,
)
from . import Progress, review
from ._llm import claim_seconds, computed_once, llm_client, record_summary
from .archive import write_issue
from .poll import all_feeds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildReport:
    issue: Issue | None
    reason: str
    html_path: Path | None = None
    text_path: Path | None = None
    usage: LLMUsage = LLMUsage()
    fallbacks: tuple[tuple[str, str], ...] = ()
    """(entry title, reason) for each LLM digest that was replaced by an extract."""
    issue_usage: LLMUsage = LLMUsage()
    """LLM totals over every run that built this issue."""
    draft: bool = False
    """The issue waits on the editor's desk (``review.required``): nothing may send it yet."""

def _summaries(
    config: Config,
    store: Store,
    entries: Sequence[Entry],
    client: LLMClient | None,
    prompts: Prompts,
    budget: TokenBudget,
    run_id: str,
    issue_id: str,
    progress: Progress | None,
) -> dict[str, Summary]:
    max_chars = config.llm.max_chars
    caps = DigestCaps(max_chars, config.llm.max_words)
    if client is None:
        return {e.id: extractive_summary(e, caps) for e in entries}
    result: dict[str, Summary] = {}
    todo: list[tuple[Entry, str]] = []
    for entry in entries:
        key = cache_key(entry, client.model, prompts.version, max_chars, config.language)
        cached = store.get_summary(key)
        if cached is not None:
            result[entry.id] = cached
        else:
            todo.append((entry, key))
    done = len(result)
    if progress:
        progress("summarize", done, len(entries))

    owner = owner_id()

    def work(entry: Entry, key: str) -> tuple[Summary, bool]:
        def call() -> Summary:
            return llm_summary(
                entry,
                client,
                prompts,
                max_chars=max_chars,
                max_words=config.llm.max_words,
                language=config.language,
                budget=budget,
                min_units=config.llm.min_digest,
            )

        # A failing endpoint is worth retrying next run; a bad answer for this content
        # is not: it would cost the same tokens to get the same kind of answer.
        return computed_once(
            store,
            key,
            owner,
            claim_seconds(config),
            call,
            load=lambda: store.get_summary(key),
            save=lambda summary: store.put_summary(key, entry.id, summary),
            keep=lambda summary: not summary.transient,
        )

    with ThreadPoolExecutor(max_workers=config.llm.max_concurrency) as pool:
        futures = [(entry, key, pool.submit(work, entry, key)) for entry, key in todo]
        for entry, _key, future in futures:
            summary, called = future.result()
            result[entry.id] = summary
            if called:
                record_summary(store, run_id, issue_id, "summary", entry.id, summary)
            done += 1
            if progress:
                progress("summarize", done, len(entries))
    return result


def _cluster(
    entries: Sequence[Entry], rank: Callable[[Entry], float]
) -> list[tuple[Entry, ...]]:
    # Imported on first build: numpy and OpenCC, which poll, send and serve never need.
    from .. import dedupe

    return dedupe.cluster(entries, rank)


def _issue_title(config: Config, number: int, end: datetime) -> str:
    local = end.astimezone(config.tz)
    return f"{config.title} 第 {number} 期（{local:%Y-%m-%d}）"


def current_names(feeds: dict[str, Feed], store: Store) -> dict[str, str]:
    """Feed URL → the name to show now: the config's, else the feed's title at its last poll."""
    names = {url: title for url, (title, _) in store.feed_sites().items() if title}
    names.update({url: f.name for url, f in feeds.items() if f.name})
    return names


def build_issue(
    config: Config,
    store: Store,
    *,
    now: datetime | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Compose, summarize and render the issue for the window since the previous one."""
    now = now or config.issue.as_of or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=config.tz)
    now = now.astimezone(UTC)
    run_id = uuid.uuid4().hex
    previous = store.list_issues()
    rebuild = next((i for i in previous if i.window_end == now), None)
    if rebuild is not None:
        # Same moment, same input: rebuild that issue in place instead of an empty one.
        start, end, issue_id = rebuild.window_start, rebuild.window_end, rebuild.id
        number = len(previous) - previous.index(rebuild)
    else:
        earlier = [i for i in previous if i.window_end < now]
        start, end = compose.window(
            now, earlier[0].window_end if earlier else None, config.issue.first_window_days
        )
        number = len(previous) + 1
        issue_id = end.astimezone(config.tz).strftime("%Y-%m-%d")
        if store.get_issue(issue_id) is not None:
            issue_id = f"{issue_id}-{number}"
    # After the first issue, stories first seen late (their feed was failing during the
    # last build) still count if published within the first window's span before it.
    lookback = timedelta(days=config.issue.first_window_days)
    late_since = start - lookback if number > 1 else None
    pairs = store.window_entries(start, end, late_since=late_since, issue_id=issue_id)
    feeds = {f.url: f for f in all_feeds(config, store)}
    stories = compose.select_stories(
        pairs,
        feeds,
        window_end=end,
        max_items=config.issue.max_items,
        cluster=_cluster,
        names=current_names(feeds, store),
    )
    if len(stories) < config.issue.min_items and not force:
        reason = (
            f"{len(stories)} relevant stories between {start:%Y-%m-%d %H:%M} and "
            f"{end:%Y-%m-%d %H:%M} UTC, fewer than issue.min_items={config.issue.min_items}; "
            "nothing built"
        )
        log.info("build: %s", reason)
        return BuildReport(None, reason)
    client = llm_client(config)
    prompts = load_prompts(config.templates_dir)
    budget = TokenBudget(config.llm.max_tokens_per_run)
    digests = _summaries(
        config,
        store,
        [s.entry for s in stories],
        client,
        prompts,
        budget,
        run_id,
        issue_id,
        progress,
    )
    items = compose.issue_items(stories, digests)  # rank order: the email trims from its end
    ordered = _section_order(items)
    highlights = compose.highlights(items)
    intro, intro_usage = _intro(config, store, ordered, highlights, client, prompts, budget)
    record_summary(store, run_id, issue_id, "intro", None, intro_usage)
    issue = Issue(
        id=issue_id,
        title=_issue_title(config, number, end),
        created=datetime.now(UTC),
        window_start=start,
        window_end=end,
        items=items,
        intro=intro,
        intro_kind=intro_usage.kind,
        sections=compose.sections(items, CATEGORIES),
    )
    draft = config.review.required and review.begin_draft(config, store, issue).status != "sent"
    html_path, text_path = write_issue(config, store, issue)
    if draft:
        review.notify_editors(config, store, issue)
    fallbacks = tuple(
        (i.entry.title, i.summary.error or "")
        for i in items
        if client is not None and i.summary.kind != "llm"
    )
    usage = store.llm_usage(run_id)
    issue_usage = store.llm_usage(issue_id=issue_id)
    log.info(
        "build: issue %s with %d stories, %d LLM calls, %d tokens",
        issue.id,
        len(items),
        usage.calls,
        usage.tokens.total,
    )
    return BuildReport(
        issue,
        "built",
        html_path,
        text_path,
        usage,
        fallbacks,
        issue_usage,
        draft=draft,
    )


def _intro(
    config: Config,
    store: Store,
    items: Sequence[IssueItem],
    highlights: tuple[str, ...],
    client: LLMClient | None,
    prompts: Prompts,
    budget: TokenBudget,
) -> tuple[tuple[str, ...], Summary]:
    """The "本周要点" bullets, cached like digests: the same digests never cost a second call.

    ``items`` in reading order (what the LLM is shown); ``highlights`` are the bullets
    without an LLM or when its answer is not usable.
    """
    pairs = [(i.entry.title, i.summary.text) for i in items]
    if client is None:
        return write_intro(pairs, None, prompts, language=config.language, fallback=highlights)
    key = intro_cache_key(pairs, client.model, prompts.version, config.language)
    cached = store.get_intro(key)
    if cached is not None:
        # Served from the cache: no tokens spent, nothing to report as a call.
        return cached.bullets, Summary(text="", kind=cached.kind, model=cached.model)
    bullets, usage = write_intro(
        pairs, client, prompts, language=config.language, budget=budget, fallback=highlights
    )
    # A failing endpoint is retried next run; an unusable answer is not asked again.
    if not usage.transient:
        store.put_intro(key, IntroRecord(bullets, usage.kind, usage.model, usage.tokens))
    return bullets, usage


def _section_order(items: Sequence[IssueItem]) -> tuple[IssueItem, ...]:
    """Items in the order a reader meets them: by section, rank order inside a section."""
    return tuple(item for _, group in compose.sections(items, CATEGORIES) for item in group)
