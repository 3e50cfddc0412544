"""The one place that sequences the stages and does their I/O: poll, build, (send).

Stages are pure functions over models; this module feeds them from the store and the
network and writes their results back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import multiprocessing
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from . import compose, deliver, relevance
from ._lease import Heartbeat, dead_here, owner_id
from .config import Config
from .errors import DeliveryError, NewsletterError
from .fetch import FetchOptions, fetch_all
from .llm import LLMClient, LLMSettings, TokenBudget
from .models import Entry, Feed, FetchResult, Issue, IssueItem, Subscriber, Summary, Verdict
from .parse import ParsedFeed, parse_feed
from .render import FeedEntry, Renderer, WebRenderer
from .store import Store
from .summarize import (
    CATEGORIES,
    MAX_SOURCE_CHARS,
    Prompts,
    cache_key,
    extractive_summary,
    intro_cache_key,
    llm_summary,
    load_prompts,
    write_intro,
)
from .tokens import Signer, secret_from_env

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


def _parse_job(
    body: bytes, feed: Feed, now: datetime, lexicon: LexiconKey, content_type: str | None = None
) -> Parsed:
    """Parse and judge one body: both are CPU-bound, so both run in the pool."""
    parsed = parse_feed(body, feed, now, content_type)
    lex = _lexicon(lexicon)
    return parsed, tuple(relevance.judge(e.title, e.text, lex) for e in parsed.entries)


def _ignore_stop_signals() -> None:
    # Ctrl-C and systemd signal the whole process group; the parent decides when to stop,
    # and a worker killed mid-poll would turn every pending feed into a "parser crashed".
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


# Fork explicitly: a process started with "spawn" (a daemon's worker) would otherwise spawn
# its parse workers too, each importing everything and compiling the lexicon per poll.
_FORK = (
    multiprocessing.get_context("fork")
    if "fork" in multiprocessing.get_all_start_methods()
    else None
)

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
    configured = list(feeds if feeds is not None else all_feeds(config, store))
    store.sync_feeds(configured)
    targets, skipped = _due_feeds(store, configured, force=force)
    states = store.fetch_states(f.url for f in targets)
    from .models import FetchState

    jobs = [(f, states.get(f.url, FetchState())) for f in targets]
    lexicon = _lexicon_key(config)
    _lexicon(lexicon)  # load (and validate) before forking workers
    now = datetime.now(UTC)
    stored: list[Future[FeedOutcome | None]] = []
    bodiless: list[FetchResult] = []
    done = 0
    schedule = config.schedule

    def backoff(failures: int, retry_after: float | None) -> float:
        return backoff_seconds(
            failures, retry_after, schedule.backoff_base_seconds, schedule.backoff_max_seconds
        )

    second_opinion = llm_second_opinion(config, store)
    # One writer thread stores each feed as soon as it is parsed, while others still
    # download; SQLite wants one writer anyway.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-store")
    pool: ProcessPoolExecutor | None = None
    remote = sum(1 for f in targets if "://" in f.url and not f.url.startswith("file://"))
    if remote >= _POOL_THRESHOLD:
        pool = ProcessPoolExecutor(
            max_workers=max(1, min(os.cpu_count() or 1, 4)),
            initializer=_ignore_stop_signals,
            mp_context=_FORK,
        )

    def on_result(feed: Feed, result: FetchResult) -> None:
        nonlocal done
        future: Future[Parsed] | None = None
        if result.status == "ok" and result.body is not None:
            if pool is not None:
                future = pool.submit(
                    _parse_job, result.body, feed, now, lexicon, result.content_type
                )
            else:
                future = Future()
                future.set_result(
                    _parse_job(result.body, feed, now, lexicon, result.content_type)
                )
        # The body now lives only in the parse job; keep the lightweight result.
        light = replace(result, body=None)
        if future is None:
            # 304s and failures: no entries, so they are recorded together in one transaction.
            bodiless.append(light)
            outcome = FeedOutcome(
                feed.url, feed.display_name, light.status, error=light.error, elapsed=light.elapsed
            )
            done_future: Future[FeedOutcome | None] = Future()
            done_future.set_result(outcome)
            stored.append(done_future)
        else:
            stored.append(
                writer.submit(_store_feed, store, feed, light, future, backoff, second_opinion)
            )
        done += 1
        if progress:
            progress("fetch", done, len(jobs))

    options = FetchOptions(**config.fetch.model_dump())
    try:
        asyncio.run(fetch_all(jobs, options, on_result))
        stored.append(writer.submit(_record_bodiless, store, bodiless, backoff))
        outcomes = [o for o in (future.result() for future in stored) if o is not None]
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
    # A worker's small batch reads only its rows; a whole poll reads the table once.
    urls = [f.url for f in configured] if len(configured) <= 500 else None
    health = {h.url: h for h in store.feed_health(urls)}
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


def _record_bodiless(
    store: Store, results: list[FetchResult], backoff: Callable[[int, float | None], float]
) -> None:
    if results:
        store.record_fetches(results, backoff=backoff)


def _store_feed(
    store: Store,
    feed: Feed,
    result: FetchResult,
    future: Future[Parsed] | None,
    backoff: Callable[[int, float | None], float] | None = None,
    second_opinion: SecondOpinion | None = None,
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
    if second_opinion is not None:
        judged = second_opinion(judged)
    new_ids = set(
        store.store_polled_feed(result, judged, title=parsed.title, html_url=parsed.link or None)
    )
    relevant_new = sum(1 for e, v in judged if v.relevant and e.id in new_ids)
    for problem in parsed.problems:
        # Shown in the poll table; the daemon's INFO log carries it for operators.
        log.info("feed %s: %s", feed.display_name, problem)
    return FeedOutcome(
        feed.url,
        feed.display_name,
        "ok",
        len(new_ids),
        relevant_new,
        elapsed=result.elapsed,
        warnings=parsed.problems,
    )


def _explain_parse_error(error: str, result: FetchResult) -> str:
    """Name the usual cause of "not a feed": a web page where the feed URL should be."""
    ctype = (result.content_type or "").split(";")[0].strip().lower()
    if error.startswith("not a feed") and ctype in ("text/html", "application/xhtml+xml"):
        return f"not a feed: the server sent a web page ({ctype}); use the site's feed URL"
    return error


SecondOpinion = Callable[[list[tuple[Entry, Verdict]]], list[tuple[Entry, Verdict]]]


def llm_second_opinion(config: Config, store: Store) -> SecondOpinion | None:
    """With ``relevance.llm_judge`` on and an LLM configured, a step that asks the LLM about
    new entries whose rule score is in the uncertain band (answers cached like digests)."""
    client = llm_client(config) if config.relevance.llm_judge else None
    if client is None:
        return None
    lexicon = _lexicon(_lexicon_key(config))
    prompts = load_prompts(config.templates_dir)
    system = prompts.render("judge_system")
    run_id = uuid.uuid4().hex

    owner = owner_id()

    def ask(entry: Entry, rules: Verdict) -> Verdict:
        key = "judge-" + cache_key(entry, client.model, prompts.version, 0, config.language)

        def call() -> Summary:
            user = prompts.render(
                "judge_user", title=entry.title, text=entry.text[:MAX_SOURCE_CHARS]
            )
            answer = relevance.llm_judge(
                rules,
                client,
                [{"role": "system", "content": system}, {"role": "user", "content": user}],
            )
            said = {"relevant": answer.verdict.relevant, "reason": answer.reason}
            return Summary(
                text=json.dumps(said, ensure_ascii=False),
                kind="llm" if answer.answered else "extractive",
                model=client.model,
                error=answer.error,
                prompt_tokens=answer.prompt_tokens,
                completion_tokens=answer.completion_tokens,
                reasoning_tokens=answer.reasoning_tokens,
            )

        outcome, called = computed_once(
            store, key, entry.id, owner, _claim_seconds(config), call, lambda s: s.kind == "llm"
        )
        if called:
            _record_call(store, run_id, None, "judge", entry.id, outcome)
            if outcome.kind != "llm":
                if outcome.error:
                    log.info(
                        "llm judge failed for %s, rule verdict kept: %s", entry.id, outcome.error
                    )
                return rules
        said = json.loads(outcome.text)
        return relevance.apply_judgement(rules, bool(said["relevant"]), str(said["reason"]))

    def refine(judged: list[tuple[Entry, Verdict]]) -> list[tuple[Entry, Verdict]]:
        known = store.known_entry_ids([e.id for e, _ in judged])
        doubtful = [
            (i, e, v)
            for i, (e, v) in enumerate(judged)
            if e.id not in known and relevance.is_uncertain(v, lexicon)
        ]
        if not doubtful:
            return judged
        refined = list(judged)
        with ThreadPoolExecutor(max_workers=config.llm.max_concurrency) as pool:
            futures = [(i, e, pool.submit(ask, e, v)) for i, e, v in doubtful]
            for i, e, future in futures:
                refined[i] = (e, future.result())
        return refined

    return refine


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

    owner = owner_id()

    def work(entry: Entry, key: str) -> tuple[Summary, bool]:
        def call() -> Summary:
            return llm_summary(
                entry, client, prompts, max_chars=max_chars, language=config.language, budget=budget
            )

        # A failing endpoint is worth retrying next run; a bad answer for this content
        # is not: it would cost the same tokens to get the same kind of answer.
        return computed_once(
            store, key, entry.id, owner, _claim_seconds(config), call, lambda s: not s.transient
        )

    with ThreadPoolExecutor(max_workers=config.llm.max_concurrency) as pool:
        futures = [(entry, key, pool.submit(work, entry, key)) for entry, key in todo]
        for entry, _key, future in futures:
            summary, called = future.result()
            result[entry.id] = summary
            if called:
                _record_call(store, run_id, issue_id, "summary", entry.id, summary)
            done += 1
            if progress:
                progress("summarize", done, len(entries))
    return result


def _claim_seconds(config: Config) -> float:
    """How long a claim on a cache key lasts: longer than one LLM call with its retries."""
    llm = config.llm
    return min(config.lease_seconds, llm.timeout * (llm.max_retries + 1) + 30)


def computed_once(
    store: Store,
    key: str,
    entry_id: str,
    owner: str,
    seconds: float,
    compute: Callable[[], Summary],
    keep: Callable[[Summary], bool],
) -> tuple[Summary, bool]:
    """The cached value of ``key``, computing it at most once across processes.

    The cache row is claimed before ``compute`` (the LLM call) runs: a second worker that
    meets the same content waits for the first one's answer instead of paying for its own.
    A claim whose holder died expires after ``seconds``; a result ``keep`` rejects (a
    transient failure) is not stored, so a waiter then claims and tries itself.
    Returns ``(summary, True)`` when this call ran ``compute``.
    """
    while True:
        cached = store.get_summary(key)
        if cached is not None:
            return cached, False
        if store.claim_summary(key, owner, seconds):
            try:
                summary = compute()
                if keep(summary):
                    store.put_summary(key, entry_id, summary)
            finally:
                store.release_summary_claim(key, owner)
            return summary, True
        time.sleep(0.05)


def _cluster(
    entries: Sequence[Entry], rank: Callable[[Entry], float]
) -> list[tuple[Entry, ...]]:
    # Imported on first build: numpy and OpenCC, which poll, send and serve never need.
    from . import dedupe

    return dedupe.cluster(entries, rank)


def _record_call(
    store: Store,
    run_id: str,
    issue_id: str | None,
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
        pairs, feeds, window_end=end, max_items=config.issue.max_items, cluster=_cluster
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


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write through a temp file and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
            handle.flush()
            # mkstemp makes 0600 files; the archive must be readable by a static web server.
            os.fchmod(handle.fileno(), 0o644)
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
    export_feed(config, store)
    return html_path, text_path


def all_feeds(config: Config, store: Store) -> list[Feed]:
    """The feeds to poll: the config's, then those added from the command line or OPML.

    The config wins: a command-line feed whose URL is also in the config is polled once,
    with the config's name, weight, encoding and limits.
    """
    configured = config.feed_list
    known = {f.url for f in configured}
    return configured + [f for f in store.cli_feeds() if f.url not in known]


# -- subscribers and delivery ----------------------------------------------------------


def signer(config: Config) -> Signer:
    """Token signer keyed by the secret in the env variable named by ``secret_env``."""
    return Signer(secret_from_env(config.secret_env))


def mail_sender(config: Config) -> deliver.Sender:
    email = config.email
    return deliver.Sender(
        from_addr=email.from_,
        reply_to=email.reply_to,
        list_id=email.list_id,
        unsubscribe_mailbox=email.unsubscribe_mailto,
    )


def smtp_settings(config: Config) -> deliver.SMTPSettings:
    """SMTP settings with the login read from the env variables the config names."""
    smtp, email = config.email.smtp, config.email
    return deliver.SMTPSettings(
        host=smtp.host,
        port=smtp.port,
        starttls=smtp.starttls,
        ssl=smtp.ssl,
        username=os.environ.get(smtp.username_env) or None,
        password=os.environ.get(smtp.password_env) or None,
        timeout=smtp.timeout,
        max_per_second=email.max_per_second,
        retries=email.retries,
        backoff=email.retry_backoff,
        cafile=smtp.cafile,
    )


def _send_one(config: Config, message: EmailMessage, to: str) -> deliver.SendResult:
    with deliver.SMTPSender(smtp_settings(config)) as smtp:
        return smtp.send(message, to)


def subscribe(config: Config, store: Store, email: str, name: str = "") -> Subscriber:
    """Add a subscriber: active, or pending plus a confirmation mail with double opt-in.

    Behaves the same whether or not the address was already known, so callers (the web
    form) cannot reveal who subscribes. Raises :class:`AddressError` for an invalid address
    and :class:`DeliveryError` when the confirmation mail could not be sent (the subscriber
    stays pending; subscribing again resends it).
    """
    address = deliver.normalize_address(email)
    wanted = "pending" if config.email.double_opt_in else "active"
    subscriber = store.get_subscriber(email=address)
    if subscriber is None:
        subscriber = store.add_subscriber(address, deliver.clean_header_text(name, 100), wanted)
    elif subscriber.status != "active" and subscriber.status != wanted:
        assert subscriber.id is not None
        subscriber = store.update_subscriber(subscriber.id, status=wanted) or subscriber
    if subscriber.status == "pending" and config.email.double_opt_in:
        assert subscriber.id is not None
        token = signer(config).sign("confirm", subscriber.id)
        message = deliver.build_confirmation(
            mail_sender(config),
            to=subscriber.email,
            name=subscriber.name,
            list_title=config.title,
            link=deliver.confirm_url(config.base_url, token),
        )
        result = _send_one(config, message, subscriber.email)
        if result.status != "sent":
            raise DeliveryError(
                f"the confirmation mail to {subscriber.email} was not sent: {result.answer}"
            )
        log.info("subscribe: confirmation mail sent to subscriber %d", subscriber.id)
    return subscriber


def confirm(config: Config, store: Store, token: str) -> Subscriber | None:
    """Activate the pending subscriber a confirmation token names; None for a bad token."""
    subscriber_id = signer(config).verify("confirm", token)
    subscriber = None if subscriber_id is None else store.get_subscriber(id=subscriber_id)
    if subscriber is None or subscriber.id is None:
        return None
    if subscriber.status == "pending":
        subscriber = store.update_subscriber(subscriber.id, status="active")
    return subscriber


def unsubscribe(config: Config, store: Store, token: str) -> Subscriber | None:
    """Unsubscribe whoever an unsubscribe token names (idempotent); None for a bad token."""
    subscriber_id = signer(config).verify("unsubscribe", token)
    subscriber = None if subscriber_id is None else store.get_subscriber(id=subscriber_id)
    if subscriber is None or subscriber.id is None:
        return None
    if subscriber.status in ("active", "pending"):
        subscriber = store.update_subscriber(subscriber.id, status="unsubscribed")
        log.info("unsubscribe: subscriber %d", subscriber_id)
    return subscriber


@dataclass(frozen=True)
class SendReport:
    issue_id: str
    sent: int = 0
    """Messages accepted by the server in this run (with ``dry_run``: .eml files written)."""
    failed: int = 0
    bounced: int = 0
    """Of the failed, those refused permanently at RCPT: the address is now bounced."""
    skipped: int = 0
    """Owed rows whose subscriber is no longer active."""
    already_sent: int = 0
    failures: tuple[tuple[str, str], ...] = ()
    """(address, server answer) for every failure."""
    dry_run_dir: Path | None = None
    trimmed: int = 0
    """Stories left out of the email to stay under Gmail's clipping size."""
    error: str | None = None
    """Why the run stopped early (server unreachable, login refused); rerun to continue."""


def _trim_issue(issue: Issue, keep: int) -> Issue:
    items = issue.items[:keep]
    kept = {id(i) for i in items}
    sections = tuple(
        (name, tuple(i for i in group if id(i) in kept)) for name, group in issue.sections
    )
    return replace(issue, items=items, sections=tuple(s for s in sections if s[1]))


def _fit_for_email(render: Renderer, issue: Issue, web_url: str, sample_link: str) -> Issue:
    """The issue with as many stories as fit in an HTML part Gmail will not clip."""
    keep = len(issue.items)
    fitted = issue

    def size_of(candidate: Issue) -> int:
        page = render.issue(candidate, web_url=web_url, unsubscribe_url=sample_link)
        return deliver.html_size(page.html)

    size = size_of(issue)
    while size > deliver.HTML_BUDGET_BYTES and keep > 1:
        # Items are roughly the same size: jump near the answer, then step.
        estimate = int(keep * deliver.HTML_BUDGET_BYTES / size)
        keep = max(1, min(keep - 1, estimate))
        fitted = _trim_issue(issue, keep)
        size = size_of(fitted)
    if keep < len(issue.items):
        log.warning(
            "issue %s: the HTML would exceed Gmail's 102 KB clipping size; the email carries "
            "the first %d of %d stories, the rest are on the web page %s",
            issue.id,
            keep,
            len(issue.items),
            web_url,
        )
    return fitted


class _IssueMail:
    """Builds each recipient's copy of one issue (their own unsubscribe link)."""

    def __init__(self, config: Config, issue: Issue) -> None:
        self.config = config
        self.render = renderer(config)
        self.sender = mail_sender(config)
        self.signer = signer(config)
        self.web_url = f"{config.base_url.rstrip('/')}/issues/{issue.id}"
        sample = deliver.unsubscribe_url(config.base_url, self.signer.sign("unsubscribe", 10**9))
        self.issue = _fit_for_email(self.render, issue, self.web_url, sample)
        self.trimmed = len(issue.items) - len(self.issue.items)
        end = issue.window_end.astimezone(config.tz).strftime("%Y-%m-%d")
        self.subject = issue.title if end in issue.title else f"{issue.title}（{end}）"
        # Render (and inline CSS) once; each copy differs only by its signed token, which
        # is URL-safe and so reads the same escaped in HTML as in text.
        self._placeholder = f"UNSUBSCRIBETOKEN{uuid.uuid4().hex}"
        link = deliver.unsubscribe_url(config.base_url, self._placeholder)
        self._page = self.render.issue(self.issue, web_url=self.web_url, unsubscribe_url=link)

    def message(self, to: str, name: str, subscriber_id: int) -> EmailMessage:
        token = self.signer.sign("unsubscribe", subscriber_id)
        link = deliver.unsubscribe_url(self.config.base_url, token)
        return deliver.build_message(
            self.sender,
            to=to,
            name=name,
            subject=self.subject,
            html=self._page.html.replace(self._placeholder, token),
            text=self._page.text.replace(self._placeholder, token),
            unsubscribe=link,
            unsubscribe_token=token,
        )


def _eml_name(index: int, address: str) -> str:
    safe = "".join(c if c.isalnum() or c in "@._-" else "_" for c in address)[:80]
    return f"{index:05d}-{safe}.eml"


def send_issue(
    config: Config,
    store: Store,
    *,
    issue_id: str | None = None,
    dry_run: bool = False,
    to: str | None = None,
    progress: Progress | None = None,
    owner: str | None = None,
    join: bool = False,
    stop: Callable[[], bool] | None = None,
) -> SendReport:
    """Send an issue (default: the newest) to every active subscriber who has not had it.

    Safe to rerun at any time: rows already "sent" are never sent again; after a crash only
    the one message that was in flight may arrive twice. ``dry_run`` writes .eml files into
    the issue's folder instead; ``to`` sends one test copy to that address and records
    nothing.

    Several senders (processes, machines) may run at once: each leases small batches of
    owed rows as ``owner``, so every subscriber gets the issue once, and they share one
    ``email.max_per_second``. ``join`` only helps with rows already queued (what a worker
    does); ``stop`` is asked between batches.
    """
    record = store.get_issue(issue_id) if issue_id else next(iter(store.list_issues()), None)
    issue = None if record is None else store.load_issue(record.id)
    if record is None or issue is None:
        wanted = f"issue {issue_id!r}" if issue_id else "issue"
        raise NewsletterError(f"cannot send: no {wanted} in the database (run `build` first)")
    if to is not None:
        return _send_test_copy(config, store, issue, to)
    if dry_run:
        return _write_eml(config, store, issue, Path(record.path or "") or None)

    if not join:
        store.queue_deliveries(issue.id)
        # A rerun retries what failed last time (a 4xx that outlasted the retries).
        store.requeue_failed_deliveries(issue.id)
    rows = store.deliveries(issue.id)
    already = sum(1 for r in rows if r.status == "sent")
    people = {s.id: s for s in store.list_subscribers()}
    inactive = {i for i, s in people.items() if s.status != "active"}
    skipped = sum(1 for r in rows if r.status != "sent" and r.subscriber_id in inactive)
    skipped = 0 if join else skipped
    owed = sum(1 for r in rows if r.status != "sent" and r.subscriber_id not in inactive)
    sent = failed = bounced = 0
    failures: list[tuple[str, str]] = []
    error: str | None = None
    mail: _IssueMail | None = None
    me = owner or owner_id()
    lease = config.lease_seconds
    # About a second of sending per lease: a small batch keeps a subscriber who unsubscribes
    # mid-run from being mailed long after, and spreads rows evenly over several senders.
    batch_size = max(1, min(config.worker_batch, math.ceil(config.email.max_per_second)))
    done = 0
    if progress:
        progress("send", 0, owed)
    with deliver.SMTPSender(smtp_settings(config)) as smtp:
        while error is None and not (stop and stop()):
            batch = store.lease_deliveries(issue.id, me, limit=batch_size, seconds=lease)
            if not batch:
                # Rows held by a sender that died on this machine need not wait for expiry.
                gone = [o for o in store.delivery_lease_owners(issue.id) if dead_here(o)]
                if gone and store.expire_delivery_leases(issue.id, gone):
                    continue
                break
            mail = mail or _IssueMail(config, issue)
            ids = [p.id for p in batch if p.id is not None]

            def renew(ids: list[int] = ids) -> None:
                store.renew_delivery_leases(issue.id, me, ids, lease)

            with Heartbeat(lease / 3, renew):
                for index, person in enumerate(batch):
                    assert person.id is not None
                    if not store.start_delivery(issue.id, person.id, me):
                        skipped += 1  # unsubscribed since the lease, or the lease was lost
                        continue
                    message = mail.message(person.email, person.name, person.id)
                    # One rate for all senders on this database, not one per process.
                    wait = store.take_rate_slot(
                        "smtp", config.email.max_per_second, time.time()
                    )
                    if wait > 0:
                        time.sleep(wait)
                    try:
                        result = smtp.send(message, person.email)
                    except DeliveryError as exc:
                        # Nothing reached the server for these rows: they are simply owed.
                        for rest in batch[index:]:
                            assert rest.id is not None
                            store.finish_delivery(issue.id, rest.id, "queued", str(exc))
                        error = str(exc)
                        break
                    if result.status == "sent":
                        store.finish_delivery(issue.id, person.id, "sent", result.answer)
                        sent += 1
                    else:
                        is_bounce = result.status == "bounced"
                        store.finish_delivery(
                            issue.id, person.id, "failed", result.answer, bounced=is_bounce
                        )
                        failed += 1
                        bounced += is_bounce
                        failures.append((person.email, result.answer))
                    done += 1
                    if progress:
                        progress("send", done, max(owed, done))
            store.release_deliveries(issue.id, me, ids)
    log.info(
        "send: issue %s sent=%d failed=%d bounced=%d skipped=%d already=%d%s",
        issue.id,
        sent,
        failed,
        bounced,
        skipped,
        already,
        f" stopped: {error}" if error else "",
    )
    return SendReport(
        issue.id,
        sent=sent,
        failed=failed,
        bounced=bounced,
        skipped=skipped,
        already_sent=already,
        failures=tuple(failures),
        trimmed=mail.trimmed if mail else 0,
        error=error,
    )


def _send_test_copy(config: Config, store: Store, issue: Issue, to: str) -> SendReport:
    address = deliver.normalize_address(to)
    known = store.get_subscriber(email=address)
    # Not a subscriber: the copy still has working-looking links, tied to no one (id 0).
    subscriber_id = known.id if known and known.id is not None else 0
    mail = _IssueMail(config, issue)
    message = mail.message(address, known.name if known else "", subscriber_id)
    result = _send_one(config, message, address)
    if result.status == "sent":
        return SendReport(issue.id, sent=1, trimmed=mail.trimmed)
    return SendReport(
        issue.id, failed=1, failures=((address, result.answer),), trimmed=mail.trimmed
    )


def _write_eml(config: Config, store: Store, issue: Issue, folder: Path | None) -> SendReport:
    """What ``send`` would send now, as .eml files under ``<issue folder>/eml/``."""
    target = (folder or config.output_path / "issues" / issue.id) / "eml"
    target.mkdir(parents=True, exist_ok=True)
    owed = {r.subscriber_id for r in store.deliveries(issue.id, unsent_only=True)}
    done = {r.subscriber_id for r in store.deliveries(issue.id)} - owed
    people = [s for s in store.list_subscribers("active") if s.id not in done]
    mail = _IssueMail(config, issue) if people else None
    for index, person in enumerate(people, 1):
        assert mail is not None and person.id is not None
        message = mail.message(person.email, person.name, person.id)
        path = target / _eml_name(index, person.email)
        write_atomic(path, message.as_bytes())
    return SendReport(
        issue.id,
        sent=len(people),
        already_sent=len(done),
        dry_run_dir=target,
        trimmed=mail.trimmed if mail else 0,
    )


# -- the newsletter's own feed (web archive) ---------------------------------------------


def web_renderer(config: Config) -> WebRenderer:
    return WebRenderer(
        config.templates_dir,
        timezone=config.timezone,
        language=config.language,
        title=config.title,
    )


def atom_feed(config: Config, store: Store, render: WebRenderer | None = None) -> str:
    """The newsletter as an Atom feed: the newest issues, each with its full content."""
    render = render or web_renderer(config)
    base = config.base_url.rstrip("/")
    records = store.list_issues()[: config.web.feed_issues]
    issues = [i for i in (store.load_issue(r.id) for r in records) if i is not None]
    updated = max((i.created for i in issues), default=datetime.now(UTC))
    return render.atom(
        [FeedEntry(i, f"{base}/issues/{i.id}") for i in issues],
        feed_url=f"{base}/feed.xml",
        site_url=f"{base}/",
        updated=updated,
    )


def export_feed(config: Config, store: Store) -> Path:
    """Write ``output/feed.xml`` next to ``output/index.html``, for static hosting."""
    path = config.output_path / "feed.xml"
    write_atomic(path, atom_feed(config, store))
    return path
