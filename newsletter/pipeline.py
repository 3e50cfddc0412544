"""The one place that sequences the stages and does their I/O: poll, build, (send).

Stages are pure functions over models; this module feeds them from the store and the
network and writes their results back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from . import compose, dedupe, relevance
from .config import Config
from .fetch import FetchOptions, fetch_all
from .llm import LLMClient, LLMSettings, TokenBudget
from .models import Entry, Feed, FetchResult, Issue, IssueItem, Summary
from .parse import ParsedFeed, parse_feed
from .render import Renderer
from .store import Store
from .summarize import (
    CATEGORIES,
    Prompts,
    cache_key,
    extractive_summary,
    intro_cache_key,
    llm_summary,
    load_prompts,
    write_intro,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` so the CLI can draw bars."""


@dataclass(frozen=True)
class FeedOutcome:
    url: str
    name: str
    status: str
    """``ok``, ``not_modified`` or ``error``."""
    new_entries: int = 0
    relevant_new: int = 0
    error: str | None = None
    elapsed: float = 0.0
    warnings: tuple[str, ...] = ()
    """Problems that did not stop the feed: wrong charset, garbled titles dropped."""


@dataclass(frozen=True)
class PollReport:
    outcomes: tuple[FeedOutcome, ...]
    elapsed: float

    @property
    def new_entries(self) -> int:
        return sum(o.new_entries for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status == "error" for o in self.outcomes)


@dataclass(frozen=True)
class BuildReport:
    issue: Issue | None
    reason: str
    html_path: Path | None = None
    text_path: Path | None = None
    usage: dict[str, int] = field(default_factory=dict)
    fallbacks: tuple[tuple[str, str], ...] = ()
    """(entry title, reason) for each LLM digest that was replaced by an extract."""
    issue_usage: dict[str, int] = field(default_factory=dict)
    """LLM totals over every run that built this issue."""


def _parse_job(
    body: bytes, feed: Feed, now: datetime, content_type: str | None = None
) -> ParsedFeed:
    return parse_feed(body, feed, now, content_type)


# Below this many bodies a process pool costs more to start than it saves.
_POOL_THRESHOLD = 4


def poll(
    config: Config,
    store: Store,
    *,
    progress: Progress | None = None,
    feeds: Sequence[Feed] | None = None,
) -> PollReport:
    """Fetch every feed, parse, judge relevance and store new entries. Never raises per feed."""
    started = time.monotonic()
    targets = list(feeds if feeds is not None else all_feeds(config, store))
    store.sync_feeds(targets)
    states = store.fetch_states(f.url for f in targets)
    from .models import FetchState

    jobs = [(f, states.get(f.url, FetchState())) for f in targets]
    lexicon = relevance.load_lexicon(config.relevance.lexicon, config.relevance.overrides)
    now = datetime.now(UTC)
    fetched: list[tuple[Feed, FetchResult, Future[ParsedFeed] | None]] = []
    done = 0
    pool: ProcessPoolExecutor | None = None
    remote = sum(1 for f in targets if "://" in f.url and not f.url.startswith("file://"))
    if remote >= _POOL_THRESHOLD:
        pool = ProcessPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, 4)))

    def on_result(feed: Feed, result: FetchResult) -> None:
        nonlocal done
        future: Future[ParsedFeed] | None = None
        if result.status == "ok" and result.body is not None:
            if pool is not None:
                future = pool.submit(_parse_job, result.body, feed, now, result.content_type)
            else:
                future = Future()
                future.set_result(parse_feed(result.body, feed, now, result.content_type))
        # The body now lives only in the parse job; keep the lightweight result.
        fetched.append((feed, replace(result, body=None), future))
        done += 1
        if progress:
            progress("fetch", done, len(jobs))

    options = FetchOptions(**config.fetch.model_dump())
    try:
        asyncio.run(fetch_all(jobs, options, on_result))
        outcomes = [
            _store_feed(store, lexicon, feed, result, future) for feed, result, future in fetched
        ]
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    order = {f.url: i for i, f in enumerate(targets)}
    outcomes.sort(key=lambda o: order.get(o.url, 0))
    report = PollReport(tuple(outcomes), time.monotonic() - started)
    log.info(
        "poll: %d feeds, %d new entries, %d failed, %.1fs",
        len(outcomes),
        report.new_entries,
        report.failed,
        report.elapsed,
    )
    return report


def _store_feed(
    store: Store,
    lexicon: relevance.Lexicon,
    feed: Feed,
    result: FetchResult,
    future: Future[ParsedFeed] | None,
) -> FeedOutcome:
    if future is None:
        store.record_fetch(result)
        return FeedOutcome(
            feed.url, feed.display_name, result.status, error=result.error, elapsed=result.elapsed
        )
    try:
        parsed = future.result()
    except Exception as exc:  # a crashed parse job is this feed's problem only
        parsed = ParsedFeed("", (), error=f"parser crashed: {type(exc).__name__}: {exc}"[:300])
    if parsed.error:
        store.record_fetch(result, error=parsed.error)
        return FeedOutcome(
            feed.url, feed.display_name, "error", error=parsed.error, elapsed=result.elapsed
        )
    judged = [(e, relevance.judge(e.title, e.text, lexicon)) for e in parsed.entries]
    new_ids = set(store.add_entries(judged))
    store.record_fetch(result, new_entries=len(new_ids))
    store.set_feed_site(feed.url, parsed.title, parsed.link or None)
    relevant_new = sum(1 for e, v in judged if v.relevant and e.id in new_ids)
    for problem in parsed.problems:
        log.warning("feed %s: %s", feed.display_name, problem)
    return FeedOutcome(
        feed.url,
        feed.display_name,
        "ok",
        len(new_ids),
        relevant_new,
        elapsed=result.elapsed,
        warnings=parsed.problems,
    )


def llm_client(config: Config) -> LLMClient | None:
    """A client when ``llm.model`` and the API key are both set, else ``None`` (extractive)."""
    key = config.llm.api_key()
    if not (config.llm.model and key):
        return None
    llm = config.llm
    return LLMClient(
        LLMSettings(
            model=llm.model or "",
            api_key=key,
            base_url=llm.base_url,
            extra_headers=dict(llm.extra_headers),
            timeout=llm.timeout,
            max_retries=llm.max_retries,
            max_concurrency=llm.max_concurrency,
            json_mode=llm.json_mode,
            temperature=llm.temperature,
        )
    )


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
    if client is None:
        return {e.id: extractive_summary(e, max_chars) for e in entries}
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

    def work(entry: Entry) -> Summary:
        return llm_summary(
            entry, client, prompts, max_chars=max_chars, language=config.language, budget=budget
        )

    with ThreadPoolExecutor(max_workers=config.llm.max_concurrency) as pool:
        futures = [(entry, key, pool.submit(work, entry)) for entry, key in todo]
        for entry, key, future in futures:
            summary = future.result()
            result[entry.id] = summary
            _record_call(store, run_id, issue_id, "summary", entry.id, summary)
            # A failing endpoint is worth retrying next run; a bad answer for this content
            # is not: it would cost the same tokens to get the same kind of answer.
            if not summary.transient:
                store.put_summary(key, entry.id, summary)
            done += 1
            if progress:
                progress("summarize", done, len(entries))
    return result


def _record_call(
    store: Store,
    run_id: str,
    issue_id: str,
    purpose: str,
    entry_id: str | None,
    summary: Summary,
) -> None:
    """One usage row per LLM-backed digest or intro; cache hits spent nothing and are skipped."""
    spent = summary.prompt_tokens + summary.completion_tokens + summary.reasoning_tokens
    if not spent and not (summary.kind == "extractive" and summary.error):
        return
    store.record_llm_call(
        run_id=run_id,
        issue_id=issue_id,
        purpose=purpose,
        entry_id=entry_id,
        model=summary.model,
        ok=summary.kind == "llm",
        error=summary.error,
        prompt_tokens=summary.prompt_tokens,
        completion_tokens=summary.completion_tokens,
        reasoning_tokens=summary.reasoning_tokens,
    )


def _issue_title(config: Config, number: int, end: datetime) -> str:
    local = end.astimezone(config.tz)
    return f"{config.title} 第 {number} 期（{local:%Y-%m-%d}）"


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
    pairs = store.entries_between(start, end)
    feeds = {f.url: f for f in all_feeds(config, store)}
    stories = compose.select_stories(
        pairs, feeds, window_end=end, max_items=config.issue.max_items, cluster=dedupe.cluster
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
        config, store, [s.entry for s in stories], client, prompts, budget, run_id, issue_id,
        progress,
    )
    items = compose.issue_items(stories, digests)
    ordered = _section_order(items)
    intro, intro_usage = _intro(config, store, ordered, client, prompts, budget)
    _record_call(store, run_id, issue_id, "intro", None, intro_usage)
    issue = Issue(
        id=issue_id,
        title=_issue_title(config, number, end),
        created=datetime.now(UTC),
        window_start=start,
        window_end=end,
        items=ordered,
        intro=intro,
        intro_kind=intro_usage.kind,
        sections=compose.sections(ordered, CATEGORIES),
    )
    html_path, text_path = write_issue(config, store, issue)
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
        usage["calls"],
        usage["prompt_tokens"] + usage["completion_tokens"] + usage["reasoning_tokens"],
    )
    return BuildReport(issue, "built", html_path, text_path, usage, fallbacks, issue_usage)


def _intro(
    config: Config,
    store: Store,
    items: Sequence[IssueItem],
    client: LLMClient | None,
    prompts: Prompts,
    budget: TokenBudget,
) -> tuple[tuple[str, ...], Summary]:
    """The "本周要点" bullets, cached like digests: the same digests never cost a second call."""
    pairs = [(i.entry.title, i.summary.text) for i in items]
    if client is None:
        return write_intro(pairs, None, prompts, language=config.language)
    key = intro_cache_key(pairs, client.model, prompts.version, config.language)
    cached = store.get_summary(key)
    if cached is not None:
        # Served from the cache: no tokens spent, nothing to report as a call.
        free = replace(cached, text="", prompt_tokens=0, completion_tokens=0, reasoning_tokens=0)
        return tuple(json.loads(cached.text)), replace(free, error=None)
    bullets, usage = write_intro(pairs, client, prompts, language=config.language, budget=budget)
    # A failing endpoint is retried next run; an unusable answer is not asked again.
    if not usage.transient:
        text = json.dumps(bullets, ensure_ascii=False)
        store.put_summary(key, "intro", replace(usage, text=text))
    return bullets, usage


def _section_order(items: Sequence[IssueItem]) -> tuple[IssueItem, ...]:
    """Items in the order a reader meets them: by section, rank order inside a section."""
    return tuple(item for _, group in compose.sections(items, CATEGORIES) for item in group)


def write_atomic(path: Path, text: str) -> None:
    """Write through a temp file and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def renderer(config: Config) -> Renderer:
    return Renderer(config.templates_dir, timezone=config.timezone, language=config.language)


def write_issue(config: Config, store: Store, issue: Issue) -> tuple[Path, Path]:
    """Render the issue into ``output/issues/<id>/`` and refresh ``output/index.html``."""
    render = renderer(config)
    folder = config.output_path / "issues" / issue.id
    web_url = f"{config.base_url.rstrip('/')}/issues/{issue.id}"
    page = render.issue(issue, web_url=web_url)
    html_path, text_path = folder / "index.html", folder / "issue.txt"
    write_atomic(html_path, page.html)
    write_atomic(text_path, page.text)
    store.save_issue(issue, str(folder))
    write_atomic(
        config.output_path / "index.html", render.archive(config.title, store.list_issues())
    )
    return html_path, text_path


def all_feeds(config: Config, store: Store) -> list[Feed]:
    """The feeds to poll: the config's, then those added from the command line or OPML.

    The config wins: a command-line feed whose URL is also in the config is polled once,
    with the config's name, weight, encoding and limits.
    """
    configured = config.feed_list
    known = {f.url for f in configured}
    return configured + [f for f in store.cli_feeds() if f.url not in known]
