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
from .models import Entry, Feed, FetchResult, Issue, IssueItem, Summary, Verdict
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
    """``ok``, ``not_modified``, ``error`` or ``skipped`` (backing off or disabled)."""
    new_entries: int = 0
    relevant_new: int = 0
    error: str | None = None
    elapsed: float = 0.0


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

    @property
    def skipped(self) -> int:
        return sum(o.status == "skipped" for o in self.outcomes)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


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


LexiconKey = tuple[str | None, float, str]
_LEXICONS: dict[LexiconKey, relevance.Lexicon] = {}


def _lexicon_key(config: Config) -> LexiconKey:
    path = config.relevance.lexicon
    try:
        mtime = os.stat(path).st_mtime if path else 0.0
    except OSError:
        mtime = -1.0  # load_lexicon will name the problem
    overrides = json.dumps(config.relevance.overrides, sort_keys=True, default=str)
    return path, mtime, overrides


def _lexicon(key: LexiconKey) -> relevance.Lexicon:
    """The compiled lexicon, kept across polls: compiling it costs about a second.

    Parse workers are forked after the parent has loaded it, so they inherit it too.
    """
    lexicon = _LEXICONS.get(key)
    if lexicon is None:
        path, _, overrides = key
        lexicon = relevance.load_lexicon(path, json.loads(overrides))
        _LEXICONS.clear()
        _LEXICONS[key] = lexicon
    return lexicon


Parsed = tuple[ParsedFeed, tuple[Verdict, ...]]


def _parse_job(body: bytes, feed: Feed, now: datetime, lexicon: LexiconKey) -> Parsed:
    """Parse and judge one body: both are CPU-bound, so both run in the pool."""
    parsed = parse_feed(body, feed, now)
    lex = _lexicon(lexicon)
    return parsed, tuple(relevance.judge(e.title, e.text, lex) for e in parsed.entries)


def _ignore_stop_signals() -> None:
    # Ctrl-C and systemd signal the whole process group; the parent decides when to stop,
    # and a worker killed mid-poll would turn every pending feed into a "parser crashed".
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


# Below this many bodies a process pool costs more to start than it saves.
_POOL_THRESHOLD = 4


def poll(
    config: Config,
    store: Store,
    *,
    progress: Progress | None = None,
    feeds: Sequence[Feed] | None = None,
    force: bool = False,
) -> PollReport:
    """Fetch every due feed, parse, judge relevance and store new entries.

    Never raises per feed. Feeds backing off after failures are skipped until due (``force``
    polls them anyway); feeds disabled by HTTP 410 are always skipped.
    """
    started = time.monotonic()
    configured = list(feeds if feeds is not None else config.feed_list)
    store.sync_feeds(configured)
    targets, skipped = _due_feeds(store, configured, force=force)
    states = store.fetch_states(f.url for f in targets)
    from .models import FetchState

    jobs = [(f, states.get(f.url, FetchState())) for f in targets]
    lexicon = _lexicon_key(config)
    _lexicon(lexicon)  # load (and validate) before forking workers
    now = datetime.now(UTC)
    stored: list[Future[FeedOutcome]] = []
    done = 0
    schedule = config.schedule

    def backoff(failures: int, retry_after: float | None) -> float:
        return backoff_seconds(
            failures, retry_after, schedule.backoff_base_seconds, schedule.backoff_max_seconds
        )

    # One writer thread stores each feed as soon as it is parsed, while others still
    # download; SQLite wants one writer anyway.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-store")
    pool: ProcessPoolExecutor | None = None
    remote = sum(1 for f in targets if "://" in f.url and not f.url.startswith("file://"))
    if remote >= _POOL_THRESHOLD:
        pool = ProcessPoolExecutor(
            max_workers=max(1, min(os.cpu_count() or 1, 4)), initializer=_ignore_stop_signals
        )

    def on_result(feed: Feed, result: FetchResult) -> None:
        nonlocal done
        future: Future[Parsed] | None = None
        if result.status == "ok" and result.body is not None:
            if pool is not None:
                future = pool.submit(_parse_job, result.body, feed, now, lexicon)
            else:
                future = Future()
                future.set_result(_parse_job(result.body, feed, now, lexicon))
        # The body now lives only in the parse job; keep the lightweight result.
        light = replace(result, body=None)
        stored.append(writer.submit(_store_feed, store, feed, light, future, backoff))
        done += 1
        if progress:
            progress("fetch", done, len(jobs))

    options = FetchOptions(**config.fetch.model_dump())
    try:
        asyncio.run(fetch_all(jobs, options, on_result))
        outcomes = [future.result() for future in stored]
    finally:
        writer.shutdown(wait=True, cancel_futures=True)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    outcomes.extend(skipped)
    order = {f.url: i for i, f in enumerate(configured)}
    outcomes.sort(key=lambda o: order.get(o.url, 0))
    report = PollReport(tuple(outcomes), time.monotonic() - started)
    log.info(
        "poll: %d feeds, %d new entries, %d failed, %d skipped, %.1fs",
        len(outcomes),
        report.new_entries,
        report.failed,
        report.skipped,
        report.elapsed,
    )
    return report


def backoff_seconds(failures: int, retry_after: float | None, base: float, cap: float) -> float:
    """Exponential backoff for a failing feed: base, 2x, 4x … capped; Retry-After if longer."""
    delay = base * 2 ** min(max(failures, 1) - 1, 32)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


def _due_feeds(
    store: Store, configured: Sequence[Feed], *, force: bool
) -> tuple[list[Feed], list[FeedOutcome]]:
    """Split feeds into those to fetch now and skipped outcomes (disabled, backing off)."""
    health = {h.url: h for h in store.feed_health()}
    now = datetime.now(UTC)
    due: list[Feed] = []
    skipped: list[FeedOutcome] = []
    for feed in configured:
        h = health.get(feed.url)
        if h is not None and h.disabled:
            reason = f"disabled ({h.last_error})" if h.last_error else "disabled"
            skipped.append(FeedOutcome(feed.url, feed.display_name, "skipped", error=reason))
        elif h is not None and not force and h.next_poll_at is not None and h.next_poll_at > now:
            reason = (
                f"backing off after {h.consecutive_failures} failures until "
                f"{h.next_poll_at:%Y-%m-%d %H:%M:%S} UTC (last: {h.last_error or 'error'})"
            )
            skipped.append(FeedOutcome(feed.url, feed.display_name, "skipped", error=reason))
        else:
            due.append(feed)
    return due, skipped


def _store_feed(
    store: Store,
    feed: Feed,
    result: FetchResult,
    future: Future[Parsed] | None,
    backoff: Callable[[int, float | None], float] | None = None,
) -> FeedOutcome:
    if future is None:
        store.record_fetch(result, backoff=backoff)
        return FeedOutcome(
            feed.url, feed.display_name, result.status, error=result.error, elapsed=result.elapsed
        )
    try:
        parsed, verdicts = future.result()
    except Exception as exc:  # a crashed parse job is this feed's problem only
        parsed = ParsedFeed("", (), error=f"parser crashed: {type(exc).__name__}: {exc}"[:300])
        verdicts = ()
    if parsed.error:
        error = _explain_parse_error(parsed.error, result)
        store.record_fetch(result, error=error, backoff=backoff)
        return FeedOutcome(
            feed.url, feed.display_name, "error", error=error, elapsed=result.elapsed
        )
    judged = list(zip(parsed.entries, verdicts, strict=True))
    new_ids = set(store.add_entries(judged))
    store.record_fetch(result, new_entries=len(new_ids))
    relevant_new = sum(1 for e, v in judged if v.relevant and e.id in new_ids)
    return FeedOutcome(
        feed.url, feed.display_name, "ok", len(new_ids), relevant_new, elapsed=result.elapsed
    )


def _explain_parse_error(error: str, result: FetchResult) -> str:
    """Name the usual cause of "not a feed": a web page where the feed URL should be."""
    ctype = (result.content_type or "").split(";")[0].strip().lower()
    if error.startswith("not a feed") and ctype in ("text/html", "application/xhtml+xml"):
        return f"not a feed: the server sent a web page ({ctype}); use the site's feed URL"
    return error


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
    feeds = {f.url: f for f in config.feed_list}
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
