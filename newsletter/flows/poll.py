"""Poll: fetch every due feed, parse, judge relevance and store new entries.

Why one file over 600 lines: the poll is one protocol with three concurrent parts (downloads,
a parse pool fed under back-pressure by ``_Backlog``, one store writer that survives a locked
database in ``_StoreGate``) whose state all speaks in ``FeedOutcome``; the leased variant the
daemon's workers run and the optional LLM second opinion are steps of the same poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from .. import relevance
from .._lease import Heartbeat, owner_id
from .._lifeline import exit_with_parent
from .._urls import feed_key
from ..config import Config
from ..errors import DatabaseBusy, LLMCancelled, StorageError
from ..fetch import FetchOptions, fetch_all
from ..models import Entry, Feed, FetchResult, FetchState, Judgement, PolledFeed, Verdict
from ..parse import ParsedFeed, parse_feed, speed_up_feedparser, unpack_fingerprints
from ..store import Store
from ..summarize import MAX_SOURCE_CHARS, cache_key, load_prompts
from . import Progress
from ._llm import claim_seconds, computed_once, llm_client, record_call

log = logging.getLogger(__name__)


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
    listed: int = 0
    """Items in the document fetched (none for a 304)."""
    processed: int = 0
    """Of those, the ones sanitized and judged: new or edited since the last poll."""


@dataclass(frozen=True)
class PollReport:
    outcomes: tuple[FeedOutcome, ...]
    elapsed: float
    storage_error: str | None = None
    """Why some fetched feeds could not be stored (database locked, disk full), in a line."""

    @property
    def new_entries(self) -> int:
        return sum(o.new_entries for o in self.outcomes)

    @property
    def listed(self) -> int:
        return sum(o.listed for o in self.outcomes)

    @property
    def processed(self) -> int:
        return sum(o.processed for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status == "error" for o in self.outcomes)

    @property
    def skipped(self) -> int:
        return sum(o.status == "skipped" for o in self.outcomes)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

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
    """The compiled lexicon, kept across polls: compiling it costs 0.15-0.45 s.

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
    body: bytes,
    feed: Feed,
    now: datetime,
    lexicon: LexiconKey,
    content_type: str | None = None,
    known: bytes | None = None,
) -> Parsed:
    """Parse and judge one body: both are CPU-bound, so both run in the pool.

    ``known`` (the feed's stored fingerprints) lets the parse skip unchanged items, so
    only new and edited entries are sanitized, judged and sent back.
    """
    parsed = parse_feed(body, feed, now, content_type, unpack_fingerprints(known))
    lex = _lexicon(lexicon)
    return parsed, tuple(relevance.judge(e.title, e.text, lex) for e in parsed.entries)


def _parse_worker_start(parent: int) -> None:
    # Ctrl-C and systemd signal the whole process group; the parent decides when to stop,
    # and a worker killed mid-poll would turn every pending feed into a "parser crashed".
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Ignoring signals, a worker would outlive a poll killed with -9 forever.
    exit_with_parent(parent)
    speed_up_feedparser()
    # A tracer the parent runs under (coverage, a debugger) is inherited through fork and
    # doubled the workers' CPU, for nothing: a worker leaves by os._exit and ignores SIGTERM,
    # so a tracer's data is never saved here.
    sys.settrace(None)
    threading.settrace(None)


@dataclass(frozen=True)
class _Deferred:
    feeds: tuple[Feed, ...]
    """The feeds whose results this write holds (none for the batch of 304s and errors)."""
    attempt: Callable[[], list[FeedOutcome]]


class _StoreGate:
    """The poll's writes, a few feeds each, surviving a database that refuses them for a while.

    Once a write fails (SQLite's lock held past its wait, a full disk), it and every later
    write are set aside instead of ending the poll; at the end a locked database gets one
    more try of each, in order. What still fails is reported per feed: those feeds keep
    their old validators, so the next poll fetches them again and nothing is lost for good.
    """

    def __init__(self) -> None:
        self.error: StorageError | None = None
        self.retried = False
        self._deferred: list[_Deferred] = []

    def run(
        self, feeds: tuple[Feed, ...], attempt: Callable[[], list[FeedOutcome]]
    ) -> list[FeedOutcome]:
        if self.error is None:
            try:
                return attempt()
            except StorageError as exc:
                self.error = exc
        self._deferred.append(_Deferred(feeds, attempt))
        return []

    def finish(self) -> list[FeedOutcome]:
        """Outcomes of the writes set aside: stored on the second try, or failed."""
        done: list[FeedOutcome] = []
        if self._deferred and isinstance(self.error, DatabaseBusy):
            self.retried, self.error = True, None
            while self._deferred:
                try:
                    done += self._deferred[0].attempt()
                except StorageError as exc:
                    self.error = exc
                    break
                self._deferred.pop(0)
        reason = f"fetched but not stored: {self.error}"
        done += [
            FeedOutcome(f.url, f.display_name, "error", error=reason)
            for d in self._deferred
            for f in d.feeds
        ]
        return done

    def summary(self) -> str | None:
        if self.error is None:
            return None
        lost = sum(len(d.feeds) for d in self._deferred)
        twice = " (twice)" if self.retried else ""
        feeds = "1 feed" if lost == 1 else f"{lost} feeds"
        again = "it is" if lost == 1 else "they are"
        return (
            f"{self.error}{twice}; {feeds} fetched but not stored, {again} fetched again "
            "next poll"
        )


class _Backlog:
    """Bodies handed to the parse pool and not parsed yet, in count and bytes.

    Downloads outrun parsing on a first poll: without a bound every body of a large poll
    would wait in memory at once. Over either bound, :meth:`add` returns an awaitable
    that ``fetch_all`` waits on before it starts more downloads.
    """

    def __init__(self, max_bodies: int, max_bytes: int) -> None:
        self.max_bodies = max_bodies
        self.max_bytes = max_bytes
        self.bodies = 0
        self.bytes = 0
        self._waiting: list[asyncio.Future[None]] = []

    def _over(self) -> bool:
        return self.bodies > self.max_bodies or self.bytes > self.max_bytes

    def add(self, job: Future[Parsed], size: int) -> asyncio.Future[None] | None:
        loop = asyncio.get_running_loop()
        self.bodies += 1
        self.bytes += size

        def parsed(_: Future[Parsed]) -> None:
            # After the downloads the loop is closed, and nothing waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._parsed, size)

        job.add_done_callback(parsed)
        if not self._over():
            return None
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiting.append(waiter)
        return waiter

    def _parsed(self, size: int) -> None:
        self.bodies -= 1
        self.bytes -= size
        while self._waiting and not self._over():
            waiter = self._waiting.pop(0)
            if not waiter.done():
                waiter.set_result(None)


# Fork explicitly: a process started with "spawn" (a daemon's worker) would otherwise spawn
# its parse workers too, each importing everything and compiling the lexicon per poll.
_FORK = (
    multiprocessing.get_context("fork")
    if "fork" in multiprocessing.get_all_start_methods()
    else None
)

# Below this many bodies a process pool costs more to start than it saves.
_POOL_THRESHOLD = 4
# Bodies waiting for a parse worker beyond this hold further downloads back.
_BACKLOG_BYTES = 64 * 1024 * 1024
# Feeds stored in one transaction at most: a commit per feed was a third of the writer's
# time; a few dozen keep each write (and SQLite's lock) short.
_WRITE_BATCH = 32
_WRITE_MIN = 8
_WRITE_WAIT = 0.05  # seconds


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
    fingerprints = store.entry_fingerprints([f.url for f in targets])
    jobs = [(f, states.get(f.url, FetchState())) for f in targets]
    lexicon = _lexicon_key(config)
    _lexicon(lexicon)  # load (and validate) before forking workers
    now = datetime.now(UTC)
    stored: list[Future[list[FeedOutcome]]] = []
    bodiless: list[FetchResult] = []
    # Fetched bodies in the parse pool, in order: each write takes the next and those
    # parsed by then (the writer's deque; on_result appends, the writer pops).
    parsing: deque[tuple[Feed, FetchResult, Future[Parsed]]] = deque()
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
    workers = max(1, min(os.cpu_count() or 1, 4))
    backlog = _Backlog(max_bodies=8 * workers, max_bytes=_BACKLOG_BYTES)
    remote = sum(1 for f in targets if "://" in f.url and not f.url.startswith("file://"))
    if remote >= _POOL_THRESHOLD:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            initializer=_parse_worker_start,
            initargs=(os.getpid(),),
            mp_context=_FORK,
        )
        # Workers fork at the first job and share the parent's heap copy-on-write until a
        # collection walks it: frozen, those objects are never walked (nor copied) in them,
        # nor in the parent during the poll. A steady poll spends ~13 % less CPU.
        gc.freeze()
    gate = _StoreGate()

    def write_parsed() -> list[FeedOutcome]:
        """Store the next feed once parsed, and with it those parsed meanwhile."""
        if not parsing:
            return []  # an earlier write took this call's feed along
        wait([parsing[0][2]])
        batch = [parsing.popleft()]
        # A transaction costs the writer a few milliseconds of CPU whatever it holds: below
        # _WRITE_MIN feeds, wait a moment for the next parses rather than commit each.
        deadline = time.monotonic() + _WRITE_WAIT
        while parsing and len(batch) < _WRITE_BATCH:
            following = parsing[0][2]
            if not following.done():
                left = deadline - time.monotonic()
                if len(batch) >= _WRITE_MIN or left <= 0 or wait([following], left).not_done:
                    break
            batch.append(parsing.popleft())
        attempt = functools.partial(_store_feeds, store, batch, backoff, second_opinion)
        return gate.run(tuple(feed for feed, _, _ in batch), attempt)

    def on_result(feed: Feed, result: FetchResult) -> asyncio.Future[None] | None:
        nonlocal done
        future: Future[Parsed] | None = None
        behind: asyncio.Future[None] | None = None
        if result.status == "ok" and result.body is not None:
            known = fingerprints.pop(feed.url, None)
            args = (result.body, feed, now, lexicon, result.content_type, known)
            if pool is not None:
                future = pool.submit(_parse_job, *args)
                behind = backlog.add(future, len(result.body))
            else:
                future = Future()
                future.set_result(_parse_job(*args))
        # The body now lives only in the parse job; keep the lightweight result.
        light = replace(result, body=None)
        if future is None:
            # 304s and failures: no entries, so they are recorded together in one transaction.
            bodiless.append(light)
            outcome = FeedOutcome(
                feed.url, feed.display_name, light.status, error=light.error, elapsed=light.elapsed
            )
            done_future: Future[list[FeedOutcome]] = Future()
            done_future.set_result([outcome])
            stored.append(done_future)
        else:
            parsing.append((feed, light, future))
            stored.append(writer.submit(write_parsed))
        done += 1
        if progress:
            progress("fetch", done, len(jobs))
        return behind

    options = FetchOptions(**config.fetch.model_dump())
    try:
        asyncio.run(fetch_all(jobs, options, on_result))
        record = functools.partial(_record_bodiless, store, bodiless, backoff)
        stored.append(writer.submit(gate.run, (), record))
        outcomes = [o for future in stored for o in future.result()]
        outcomes += writer.submit(gate.finish).result()
    finally:
        writer.shutdown(wait=True, cancel_futures=True)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            gc.unfreeze()  # a daemon's garbage from before this poll is collectable again
    outcomes.extend(skipped)
    order = {f.url: i for i, f in enumerate(configured)}
    outcomes.sort(key=lambda o: order.get(o.url, 0))
    report = PollReport(tuple(outcomes), time.monotonic() - started, gate.summary())
    # Debug only: the daemon and workers log each poll once, in their own job line.
    log.debug(
        "poll: %d feeds, %d new entries (%d items read, %d new or edited), %d failed, "
        "%d skipped, %.1fs",
        len(outcomes),
        report.new_entries,
        report.listed,
        report.processed,
        report.failed,
        report.skipped,
        report.elapsed,
    )
    return report


def backoff_seconds(failures: int, retry_after: float | None, base: float, cap: float) -> float:
    """Exponential backoff for a failing feed: base, 2x, 4x … capped; Retry-After if longer."""
    delay = base * 2.0 ** min(max(failures, 1) - 1, 32)
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
) -> list[FeedOutcome]:
    if results:
        store.record_fetches(results, backoff=backoff)
    return []  # their outcomes are known without the store


def _store_feeds(
    store: Store,
    batch: Sequence[tuple[Feed, FetchResult, Future[Parsed]]],
    backoff: Callable[[int, float | None], float] | None = None,
    second_opinion: SecondOpinion | None = None,
) -> list[FeedOutcome]:
    """Store parsed feeds in one transaction; their outcomes."""
    polled: list[PolledFeed] = []
    parses: list[ParsedFeed] = []
    for _feed, result, future in batch:
        try:
            parsed, verdicts = future.result()
        except Exception as exc:  # a crashed parse job is this feed's problem only
            parsed = ParsedFeed("", (), error=f"parser crashed: {type(exc).__name__}: {exc}"[:300])
            verdicts = ()
        parses.append(parsed)
        if parsed.error:
            polled.append(PolledFeed(result, error=_explain_parse_error(parsed.error, result)))
            continue
        judged = list(zip(parsed.entries, verdicts, strict=True))
        if second_opinion is not None:
            judged = second_opinion(judged)
        polled.append(
            PolledFeed(
                result,
                tuple(judged),
                title=parsed.title,
                html_url=parsed.link or None,
                fingerprints=parsed.known_fingerprints(),
            )
        )
    new_ids = store.store_polled_feeds(polled, backoff=backoff)
    outcomes: list[FeedOutcome] = []
    for (feed, result, _), written, parsed, new in zip(
        batch, polled, parses, new_ids, strict=True
    ):
        if written.error is not None:
            error, elapsed = written.error, result.elapsed
            outcomes.append(
                FeedOutcome(feed.url, feed.display_name, "error", error=error, elapsed=elapsed)
            )
            continue
        fresh = set(new)
        relevant_new = sum(1 for e, v in written.items if v.relevant and e.id in fresh)
        for problem in parsed.problems:
            # Shown in the poll table; the daemon's INFO log carries it for operators.
            log.info("feed %s: %s", feed.display_name, problem)
        outcomes.append(
            FeedOutcome(
                feed.url,
                feed.display_name,
                "ok",
                len(fresh),
                relevant_new,
                elapsed=result.elapsed,
                warnings=parsed.problems,
                listed=parsed.listed,
                processed=len(parsed.entries),
            )
        )
    return outcomes


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
    floor = lexicon.uncertain_band[0]
    prompts = load_prompts(config.templates_dir)
    system = prompts.render("judge_system")
    run_id = uuid.uuid4().hex

    owner = owner_id()

    def ask(entry: Entry, rules: Verdict) -> Verdict:
        key = "judge-" + cache_key(entry, client.model, prompts.version, 0, config.language)

        def call() -> Judgement:
            user = prompts.render(
                "judge_user", title=entry.title, text=entry.text[:MAX_SOURCE_CHARS]
            )
            answer = relevance.llm_judge(
                rules,
                client,
                [{"role": "system", "content": system}, {"role": "user", "content": user}],
                floor=floor,
            )
            return Judgement(
                answer.verdict.relevant,
                answer.reason,
                client.model,
                answered=answer.answered,
                error=answer.error,
                tokens=answer.tokens,
            )

        try:
            outcome, called = computed_once(
                store,
                key,
                owner,
                claim_seconds(config),
                call,
                load=lambda: store.get_judgement(key),
                save=lambda said: store.put_judgement(key, entry.id, said),
                keep=lambda said: said.answered,
            )
        except LLMCancelled:
            return rules  # stopping: the entry is kept with its rule verdict
        if called:
            record_call(
                store,
                run_id,
                None,
                "judge",
                entry.id,
                model=outcome.model,
                ok=outcome.answered,
                error=outcome.error,
                tokens=outcome.tokens,
            )
            if not outcome.answered:
                if outcome.error:
                    log.info(
                        "llm judge failed for %s, rule verdict kept: %s", entry.id, outcome.error
                    )
                return rules
        return relevance.apply_judgement(rules, outcome.relevant, outcome.reason, floor=floor)

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

def all_feeds(config: Config, store: Store) -> list[Feed]:
    """The feeds to poll: the config's, then those added from the command line or OPML.

    The config wins: a command-line feed whose URL is also in the config is polled once,
    with the config's name, weight, encoding and limits.
    """
    configured = config.feed_list
    known = {feed_key(f.url) for f in configured}
    return configured + [f for f in store.cli_feeds() if feed_key(f.url) not in known]


def probe(
    config: Config, feeds: Sequence[Feed], *, timeout: float
) -> list[tuple[FetchResult, ParsedFeed | None]]:
    """Fetch and parse each feed as its first poll would, storing nothing (``doctor``).

    No conditional headers, so every working feed sends its body; ``timeout`` caps the
    configured one. The parse is None for a feed that could not be fetched.
    """
    options = FetchOptions(
        **{**config.fetch.model_dump(), "timeout": min(config.fetch.timeout, timeout)}
    )
    results = asyncio.run(fetch_all([(f, FetchState()) for f in feeds], options))
    now = datetime.now(UTC)
    return [
        (r, None if r.status == "error" else parse_feed(r.body or b"", f, now, r.content_type))
        for f, r in zip(feeds, results, strict=True)
    ]


# -- several workers on one database: feeds leased in small batches ---------------------


def poll_interval(config: Config) -> float:
    """Seconds between two polls of one feed: the interval, or the poll cron's period."""
    if config.schedule.poll_interval_seconds:
        return float(config.schedule.poll_interval_seconds)
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(config.schedule.poll, timezone=config.tz)
    first = trigger.get_next_fire_time(None, datetime.now(config.tz))
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    if first is None or second is None:
        return 1800.0
    return max(1.0, float((second - first).total_seconds()))


def poll_leased(
    config: Config,
    store: Store,
    owner: str,
    *,
    polled_before: datetime,
    stop: threading.Event | None = None,
) -> PollReport:
    """Lease due feeds batch by batch and poll them, until none is due (or ``stop``)."""
    started = time.monotonic()
    known = all_feeds(config, store)
    store.sync_feeds(config.feed_list)
    by_url = {f.url: f for f in known}
    # Rows of feeds since removed from the config stay (their stories are archived) but
    # are not polled; found once per pass, not sent with every lease.
    removed = sorted(store.feed_urls("config") - {f.url for f in config.feed_list})
    outcomes: list[FeedOutcome] = []
    storage_error: str | None = None
    seconds = config.lease_seconds
    while not (stop and stop.is_set()):
        urls = store.lease_feeds(
            owner,
            limit=config.worker_batch,
            seconds=seconds,
            polled_before=polled_before,
            exclude=removed,
        )
        if not urls:
            break
        if any(u not in by_url for u in urls):
            # Added with `feeds add` since this pass began.
            by_url.update({f.url: f for f in all_feeds(config, store)})
        batch: list[Feed] = [by_url[u] for u in urls if u in by_url]
        # A leased URL this worker cannot resolve keeps its lease until it expires, so the
        # loop does not take it again at once; a worker that knows the feed polls it then.
        mine = [f.url for f in batch]

        def renew(mine: list[str] = mine) -> None:
            store.renew_feed_leases(owner, mine, seconds)

        try:
            with Heartbeat(seconds / 3, renew):
                report = poll(config, store, feeds=batch)
        finally:
            store.release_feeds(owner, mine)
        outcomes.extend(report.outcomes)
        storage_error = report.storage_error or storage_error
    return PollReport(tuple(outcomes), time.monotonic() - started, storage_error)


def wait_for_polls(store: Store, timeout: float, poll_every: float = 0.2) -> bool:
    """Wait until the polls in flight now (other workers' leases) are done; False on timeout.

    The weekly build runs after this, so it sees what another worker was storing right
    then. Leases taken later do not count: busy workers must not hold the build up.
    """
    deadline = time.monotonic() + timeout
    pending = store.leased_feeds()
    while pending:
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_every)
        now = store.leased_feeds()
        pending = {u: o for u, o in pending.items() if now.get(u) == o}
    return True
