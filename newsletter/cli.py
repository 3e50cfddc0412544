"""Thin command line over the pipeline, the scheduler and the web app.

Why one file over 600 lines: every command is a few lines over a flow, and typer wants
them registered on one app; the split into a ``cli/`` package by command group is on branch
``flows`` waiting for its merge (issue 14).
"""

from __future__ import annotations

import errno
import importlib.util
import json
import logging
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer

from ._urls import feed_key, feed_label
from .errors import NewsletterError, StorageError


def _lazy(name: str) -> ModuleType:
    """``name``, imported on first attribute access (the stdlib LazyLoader recipe).

    ``--help`` and ``feeds`` must not pay for the pipeline (sqlalchemy, jieba, numpy,
    feedparser, openai ...): each command touches only the modules it uses.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, name
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from . import flows, relevance
    from .config import Config
    from .flows import archive, subscriptions
    from .flows import build as build_flow
    from .flows import channels as channels_flow
    from .flows import poll as poll_flow
    from .flows import send as send_flow
    from .models import Subscriber
    from .store import Store
else:
    relevance = _lazy("newsletter.relevance")
    archive = _lazy("newsletter.flows.archive")
    subscriptions = _lazy("newsletter.flows.subscriptions")
    build_flow = _lazy("newsletter.flows.build")
    channels_flow = _lazy("newsletter.flows.channels")
    poll_flow = _lazy("newsletter.flows.poll")
    send_flow = _lazy("newsletter.flows.send")


app = typer.Typer(
    help="RSS/Atom feeds in, one trustworthy weekly email out (视频号 / 直播电商 digest).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: no `<bool>` type tags, and no rich help renderer (markdown) to import.
    rich_markup_mode=None,
)


class _Console:
    """A rich ``Console`` made on first use: ``--help`` prints through typer alone and
    never imports rich, which is a third of its start-up."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def get(self) -> Console:
        """The console itself: rich's own objects (a Progress) use it as a context manager."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


console = cast("Console", _Console())
err = cast("Console", _Console(stderr=True))

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", metavar="FILE", help="Config file (YAML).", show_default=True),
]
DEFAULT_CONFIG = Path("config.yaml")
ForceOption = Annotated[
    bool, typer.Option("--force", help="Build even with fewer than issue.min_items stories.")
]
STAGE_LABELS = {"fetch": "Polling feeds", "summarize": "Writing digests", "send": "Sending"}


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        console.print(f"newsletter {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """RSS/Atom feeds in, one trustworthy weekly email out (视频号 / 直播电商 digest)."""


def shown(value: object) -> str:
    """Text from outside (a feed, a server, a subscriber, an OPML file) safe to print:
    control and format characters (ESC, CR, bidi overrides) become spaces and Rich markup
    is escaped, so ``[/]`` in a reason phrase or a name cannot break or restyle output."""
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\n" else ch
        for ch in str(value)
    )
    from rich.markup import escape

    return escape(text)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {shown(message)}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def load(config_path: Path) -> Config:
    from .config import load_config

    try:
        return load_config(config_path)
    except NewsletterError as exc:
        raise fail(str(exc)) from None


@contextmanager
def opened(config: Config) -> Iterator[Store]:
    from .store import Store

    try:
        store = Store.open(config.database)
    except NewsletterError as exc:
        raise fail(str(exc)) from None
    try:
        yield store
    finally:
        store.close()


@contextmanager
def storage_errors() -> Iterator[None]:
    """A database that refuses a write (locked too long, disk full): one line, exit 1."""
    try:
        yield
    except StorageError as exc:
        raise fail(str(exc), 1) from None


@contextmanager
def progress_bars() -> Iterator[flows.Progress]:
    """A rich progress bar per stage, fed by the pipeline's progress callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=cast(_Console, err).get(),
        transient=False,
        disable=not err.is_terminal,
    ) as bars:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(STAGE_LABELS.get(stage, stage), total=total)
            bars.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

        yield update


def _setup_logging(
    config: Config | None = None, fmt: str | None = None, *, daemon: bool = False
) -> None:
    """The daemon logs what it did; one-shot commands print tables, so only problems log."""
    from ._logging import configure_logging

    configure_logging(fmt or (config.log_format if config else "text"))
    if not daemon:
        logging.getLogger().setLevel(logging.WARNING)


def warn_llm_key(config: Config) -> None:
    """Once per command: a model is configured but its key variable is empty."""
    problem = config.llm.missing_key()
    if problem:
        err.print(f"[yellow]warning:[/yellow] {shown(problem)}", highlight=False)


def print_poll(report: poll_flow.PollReport, titles: dict[str, str] | None = None) -> None:
    titles = titles or {}
    table = _fitting_table(f"Poll: {len(report.outcomes)} feeds in {report.elapsed:.1f}s")
    short = (("result", 12), ("new", 3), ("relevant", 8), ("time", 6))
    table.add_column("feed", overflow="ellipsis", no_wrap=True, max_width=_rest(short, 48))
    table.add_column("result", no_wrap=True, min_width=12)
    table.add_column("new", justify="right", no_wrap=True, min_width=3)
    table.add_column("relevant", justify="right", no_wrap=True, min_width=8)
    table.add_column("time", justify="right", no_wrap=True, min_width=6)
    problems = []
    for o in report.outcomes:
        style = {"ok": "green", "not_modified": "cyan", "error": "red", "skipped": "yellow"}.get(
            o.status, "white"
        )
        label = feed_label(o.name, titles.get(o.url, ""), o.url)
        if o.error or o.warnings:
            problems.append((label, o.error or "; ".join(o.warnings)))
        table.add_row(
            shown(label),
            f"[{style}]{o.status.replace('_', ' ')}[/{style}]",
            str(o.new_entries),
            str(o.relevant_new),
            f"{o.elapsed:.2f}s",
        )
    console.print(table)
    _print_problems(problems)
    skipped = f", {report.skipped} skipped (backing off or disabled)" if report.skipped else ""
    console.print(
        f"{report.new_entries} new entries, {report.failed} feeds failed{skipped}", highlight=False
    )


def print_build(report: build_flow.BuildReport) -> None:
    if report.issue is None:
        console.print(f"[yellow]No issue built:[/yellow] {shown(report.reason)}", highlight=False)
        return
    issue = report.issue
    llm_items = sum(1 for i in issue.items if i.summary.kind == "llm")
    console.print(
        f"[green]Issue {issue.id}[/green]: {shown(issue.title)} — {len(issue.items)} stories "
        f"({llm_items} AI digests, {len(issue.items) - llm_items} extracted)",
        highlight=False,
    )
    console.print(f"  HTML: {report.html_path}\n  text: {report.text_path}", highlight=False)
    usage = report.usage
    if usage.get("calls"):
        console.print(
            f"  LLM this run: {usage['calls']} calls ({usage['failed']} fell back), "
            f"{usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion + "
            f"{usage['reasoning_tokens']} reasoning tokens",
            highlight=False,
        )
    total = report.issue_usage
    if total.get("calls"):
        console.print(
            f"  LLM for this issue, all runs: {total['calls']} calls, "
            f"{total['prompt_tokens'] + total['completion_tokens'] + total['reasoning_tokens']} "
            f"tokens ({total['reasoning_tokens']} reasoning)",
            highlight=False,
        )
    for title, reason in report.fallbacks:
        console.print(
            f"  [yellow]extracted instead:[/yellow] {shown(title[:40])} — {shown(reason)}",
            highlight=False,
        )


@app.command()
def poll(
    config_path: ConfigOption = DEFAULT_CONFIG,
    all_feeds: Annotated[
        bool, typer.Option("--all", help="Also poll feeds that are backing off after failures.")
    ] = False,
) -> None:
    """Fetch all due feeds once and store new entries."""
    config = load(config_path)
    _setup_logging(config)
    with opened(config) as store, progress_bars() as bars, storage_errors():
        report = poll_flow.poll(config, store, progress=bars, force=all_feeds)
        titles = {url: title for url, (title, _) in store.feed_sites().items()}
    print_poll(report, titles)
    if report.storage_error:
        raise fail(report.storage_error, 1)


@app.command()
def build(
    config_path: ConfigOption = DEFAULT_CONFIG,
    force: Annotated[
        bool, typer.Option(help="Build even with fewer than issue.min_items.")
    ] = False,
) -> None:
    """Build the issue for the window since the previous issue (no polling)."""
    config = load(config_path)
    _setup_logging(config)
    warn_llm_key(config)
    with opened(config) as store, progress_bars() as bars, storage_errors():
        report = build_flow.build_issue(config, store, force=force, progress=bars)
    print_build(report)
    if report.issue is None:
        raise typer.Exit(1)


@app.command()
def run(
    config_path: ConfigOption = DEFAULT_CONFIG,
    force: Annotated[
        bool, typer.Option(help="Build even with fewer than issue.min_items.")
    ] = False,
) -> None:
    """Poll all feeds, then build the issue."""
    config = load(config_path)
    _setup_logging(config)
    warn_llm_key(config)
    with opened(config) as store, storage_errors():
        # The bars end before the table is printed: a live bar on stderr redrawn under
        # output on stdout would leave a stale copy of itself above the table.
        with progress_bars() as bars:
            report = poll_flow.poll(config, store, progress=bars)
        titles = {url: title for url, (title, _) in store.feed_sites().items()}
        print_poll(report, titles)
        if report.storage_error:
            # Building from a poll half stored would leave its stories to a later issue.
            raise fail(report.storage_error, 1)
        with progress_bars() as bars:
            built = build_flow.build_issue(config, store, force=force, progress=bars)
    print_build(built)
    if built.issue is None:
        raise typer.Exit(1)
    console.print(f"Archive: {config.output_path / 'index.html'}", highlight=False)


@app.command()
def classify(
    file: Annotated[
        Path, typer.Argument(help="JSONL: {id, title, summary|content, link?} per line.")
    ],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Judge relevance of each JSONL entry; print one JSON line per entry.

    Exit status 1 when some lines were not JSON objects (the others are judged).
    """
    overrides: dict[str, object] = {}
    lexicon_path: str | None = None
    if config_path.exists() or config_path != DEFAULT_CONFIG:
        config = load(config_path)
        overrides, lexicon_path = config.relevance.overrides, config.relevance.lexicon
    lexicon = relevance.load_lexicon(lexicon_path, overrides)
    try:
        handle = sys.stdin if str(file) == "-" else file.open(encoding="utf-8")
    except OSError as exc:
        raise fail(f"{file}: cannot read ({exc.strerror})") from None
    bad = 0
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                err.print(f"{file}:{number}: skipped, invalid JSON ({exc})", highlight=False)
                bad += 1
                continue
            text = " ".join(
                str(record.get(k) or "") for k in ("summary", "content") if record.get(k)
            )
            verdict = relevance.judge(str(record.get("title") or ""), text, lexicon)
            print(
                json.dumps(
                    {
                        "id": record.get("id", str(number)),
                        "relevant": verdict.relevant,
                        "score": round(verdict.score, 3),
                        "reasons": list(verdict.reasons),
                    },
                    ensure_ascii=False,
                )
            )
    if bad:
        raise typer.Exit(1)


@app.command()
def daemon(
    config_path: ConfigOption = DEFAULT_CONFIG,
    log_format: Annotated[str | None, typer.Option(help="text or json")] = None,
) -> None:
    """Run the scheduler in the foreground until SIGTERM / Ctrl-C."""
    from .schedule import run_daemon
    from .tokens import secret_from_env

    config = load(config_path)
    with opened(config) as store:
        mails = store.subscriber_counts().get("active", 0) > 0
    if mails:
        # The weekly job would fail days from now at its first send: say so at start.
        try:
            secret_from_env(config.secret_env)
        except NewsletterError as exc:
            raise fail(f"the daemon sends to active subscribers, but {exc}") from None
    _setup_logging(config, log_format, daemon=True)
    try:
        run_daemon(config)
    except NewsletterError as exc:
        raise fail(str(exc), 1) from None


feeds_app = typer.Typer(
    help="Feeds and their health; with no command, the health table.", rich_markup_mode=None
)
app.add_typer(feeds_app, name="feeds")


@feeds_app.callback(invoke_without_command=True)
def feeds_main(ctx: typer.Context, config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """With no command, print the health table (as `feeds list`)."""
    if ctx.invoked_subcommand is None:
        feeds_list(config_path)


@feeds_app.command("list")
def feeds_list(config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """Every feed with its last result, failures and last success."""
    config = load(config_path)
    with opened(config) as store:
        store.sync_feeds(config.feed_list)
        health = store.feed_health()
    tz = config.tz
    table = _fitting_table(f"{len(health)} feeds (times in {config.timezone})")
    short = (
        ("from", 6), ("result", 12), ("new", 3), ("fail", 4), ("last ok", 11), ("next try", 11)
    )
    # The short columns keep their full width; only the feed's label gives way.
    table.add_column("feed", overflow="ellipsis", no_wrap=True, max_width=_rest(short, 40))
    for column, width in short:
        justify: Literal["left", "right"] = "right" if column in {"new", "fail"} else "left"
        table.add_column(column, no_wrap=True, justify=justify, min_width=width)
    problems = []
    for h in health:
        label = feed_label(h.name, h.title, h.url)
        if h.last_error:
            problems.append((label, h.last_error))
        if h.current_url:
            problems.append((label, f"moved to {h.current_url} (update the config)"))
        table.add_row(
            shown(label),
            shown(h.origin),
            ("disabled" if h.disabled else (h.last_status or "never").replace("_", " ")),
            str(h.last_new),
            str(h.consecutive_failures),
            _when(h.last_success, tz),
            "never" if h.disabled else _next_retry(h.next_poll_at, tz),
            style="red" if h.disabled else ("yellow" if h.consecutive_failures else None),
        )
    console.print(table)
    _print_problems(problems)


def _fitting_table(title: str) -> Table:
    """A table that fits an 80-column terminal: light rules, no outer padding."""
    from rich import box
    from rich.table import Table

    return Table(
        title=title, box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
        show_edge=False, pad_edge=False, title_justify="left",
    )


def _rest(columns: tuple[tuple[str, int], ...], most: int) -> int:
    """Width left for the first column next to these (two spaces between columns)."""
    return max(10, min(most, console.width - sum(w for _, w in columns) - 2 * len(columns)))


def _print_problems(problems: list[tuple[str, str]]) -> None:
    # Full-width lines below the table: an error squeezed into a column wraps one word a line.
    for label, text in problems:
        console.print(f"  [bold]{shown(label)}[/bold]: {shown(text)}", highlight=False)


def _when(moment: datetime | None, tz: tzinfo) -> str:
    """A stored time in the configured zone, short: this year's as MM-DD HH:MM."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    return f"{local:%m-%d %H:%M}" if local.year == datetime.now(tz).year else f"{local:%Y-%m-%d}"

# -- email delivery and subscribers ---------------------------------------------------


def print_send(report: send_flow.SendReport) -> None:
    if report.dry_run_dir is not None:
        console.print(
            f"Dry run: {report.sent} messages written to {report.dry_run_dir} "
            f"({report.already_sent} subscribers already have issue {report.issue_id})",
            highlight=False,
        )
        return
    from rich.table import Table

    table = Table(title=f"Issue {report.issue_id}")
    table.add_column("sent", justify="right", style="green")
    table.add_column("failed", justify="right", style="red")
    table.add_column("skipped", justify="right")
    table.add_column("already sent", justify="right")
    failed = f"{report.failed} ({report.bounced} bounced)" if report.bounced else str(report.failed)
    table.add_row(str(report.sent), failed, str(report.skipped), str(report.already_sent))
    console.print(table)
    for address, answer in report.failures[:20]:
        console.print(f"  [red]failed[/red] {shown(address)}: {shown(answer)}", highlight=False)
    if len(report.failures) > 20:
        console.print(f"  ... and {len(report.failures) - 20} more", highlight=False)
    if report.trimmed:
        console.print(
            f"[yellow]{report.trimmed} stories left out of the email[/yellow] to stay under "
            "Gmail's 102 KB clipping size (they are on the web page)",
            highlight=False,
        )
    if report.error:
        console.print(
            f"[red]stopped:[/red] {shown(report.error)}; run `send` again to continue",
            highlight=False,
        )


@app.command()
def send(
    config_path: ConfigOption = DEFAULT_CONFIG,
    issue: Annotated[
        str | None, typer.Option("--issue", help="Issue id (default: the newest).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write .eml files into the issue folder instead.")
    ] = False,
    to: Annotated[
        str | None, typer.Option("--to", help="Send one test copy to ADDR; records nothing.")
    ] = None,
    channels_only: Annotated[
        bool,
        typer.Option("--channels-only", help="Post to the chat channels only, no email."),
    ] = False,
) -> None:
    """Email an issue to every active subscriber who has not received it yet, then post it
    to every chat channel (`channels:`) that has not had it."""
    from .errors import AddressError, ConfigError

    config = load(config_path)
    _setup_logging(config)
    report = None
    with opened(config) as store:
        if not channels_only:
            with progress_bars() as bars:
                try:
                    report = send_flow.send_issue(
                        config, store, issue_id=issue, dry_run=dry_run, to=to, progress=bars
                    )
                except (ConfigError, AddressError) as exc:
                    raise fail(str(exc)) from None
                except NewsletterError as exc:
                    raise fail(str(exc), 1) from None
            print_send(report)
        chat = None
        if dry_run or to is not None or not (config.channels or channels_only):
            pass  # a rehearsal or a test copy posts nothing to the groups
        else:
            try:
                chat = channels_flow.post_issue(config, store, report.issue_id if report else issue)
            except ConfigError as exc:
                raise fail(str(exc)) from None
            except NewsletterError as exc:
                raise fail(str(exc), 1) from None
            print_channels(chat)
    if report is not None and (report.error or (to is not None and report.sent == 0)):
        raise typer.Exit(1)
    if chat is not None and chat.failed:
        raise typer.Exit(1)


subscribers_app = typer.Typer(
    help="Subscribers: add, remove, list, import, export.", rich_markup_mode=None
)
app.add_typer(subscribers_app, name="subscribers", no_args_is_help=True)
SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")


@subscribers_app.command("add")
def subscribers_add(
    email: Annotated[str, typer.Argument(help="Email address.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    resubscribe: Annotated[
        bool,
        typer.Option(
            "--resubscribe",
            help="Re-activate an address that unsubscribed, bounced or complained "
            "(only when its owner asked to come back).",
        ),
    ] = False,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Add a subscriber (pending plus a confirmation mail when email.double_opt_in).

    An address that unsubscribed, bounced or complained is left as it is (exit 1) unless
    --resubscribe is given.
    """
    from .deliver import HeaderInjectionError, check_header_text
    from .errors import AddressError, ConfigError

    try:
        check_header_text(name, "--name")
    except HeaderInjectionError as exc:
        raise fail(str(exc)) from None
    config = load(config_path)
    with opened(config) as store:
        try:
            subscriber = subscriptions.subscribe(
                config, store, email, name, resubscribe=resubscribe
            )
        except (AddressError, ConfigError) as exc:
            raise fail(str(exc)) from None
        except NewsletterError as exc:
            raise fail(str(exc), 1) from None
    note = " (confirmation mail sent)" if subscriber.status == "pending" else ""
    console.print(f"{shown(subscriber.email)}: {subscriber.status}{note}", highlight=False)


@subscribers_app.command("remove")
def subscribers_remove(
    email: Annotated[str, typer.Argument(help="Email address.")],
    purge: Annotated[
        bool, typer.Option("--purge", help="Delete the address and its delivery history.")
    ] = False,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Unsubscribe an address (kept, so an import cannot bring it back), or --purge it."""
    from .deliver import normalize_address
    from .errors import AddressError

    config = load(config_path)
    try:
        address = normalize_address(email)
    except AddressError as exc:
        raise fail(str(exc)) from None
    with opened(config) as store:
        subscriber = store.get_subscriber(email=address)
        if subscriber is None or subscriber.id is None:
            raise fail(f"{address} is not a subscriber", 1)
        if purge:
            store.delete_subscriber(subscriber.id)
        else:
            store.update_subscriber(subscriber.id, status="unsubscribed")
    console.print(f"{address}: {'deleted' if purge else 'unsubscribed'}", highlight=False)


StatusOption = Annotated[
    str | None,
    typer.Option("--status", help="Only subscribers with this status: pending, active, "
                 "unsubscribed, bounced or complained."),
]


def _subscribers(config_path: Path, status: str | None) -> list[Subscriber]:
    """The subscribers with ``status`` (all when None), after checking the status name."""
    if status is not None and status not in SUBSCRIBER_STATUSES:
        raise fail(f"--status must be one of {', '.join(SUBSCRIBER_STATUSES)} (got {status!r})")
    with opened(load(config_path)) as store:
        return store.list_subscribers(status)


@subscribers_app.command("list")
def subscribers_list(
    status: StatusOption = None, config_path: ConfigOption = DEFAULT_CONFIG
) -> None:
    """Subscribers with their status."""
    people = _subscribers(config_path, status)
    from rich.table import Table

    table = Table(title=f"{len(people)} subscribers" + (f" ({status})" if status else ""))
    for column in ("id", "email", "name", "status", "evidence"):
        table.add_column(column)
    with opened(load(config_path)) as store:
        # Why a bounced, complained or mail-unsubscribed address is so: the stored report.
        evidence = store.last_bounce_events([p.id for p in people if p.id is not None])
    for p in people:
        e = evidence.get(p.id or -1)
        why = "" if e is None else (
            f"{e.kind} {e.status} {e.diagnostic[:60]} ({e.source}, "
            f"{e.received:%Y-%m-%d})" if e.received else e.kind
        )
        table.add_row(str(p.id), shown(p.email), shown(p.name), p.status, shown(why))
    console.print(table)


def _read_csv_text(file: Path) -> str:
    raw = file.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets on Chinese Windows save CSV as GBK.
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            raise fail(f"{file}: not UTF-8 or GB18030 text") from None


@subscribers_app.command("import")
def subscribers_import(
    file: Annotated[Path, typer.Argument(help="CSV with a header row: email,name.")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Import subscribers as active; bad lines are reported by number, the rest imported.

    Re-importing is harmless: known addresses (also unsubscribed ones) are left as they are.
    Exit status 1 when some lines were bad.
    """
    import csv
    import io

    from .deliver import clean_header_text, normalize_address, unsafe_header_text
    from .errors import AddressError

    config = load(config_path)
    try:
        text = _read_csv_text(file)
    except OSError as exc:
        raise fail(f"{file}: cannot read ({exc.strerror})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = [(f or "").strip().lower() for f in reader.fieldnames or []]
    if "email" not in fields:
        raise fail(f"{file}:1: the header row must name an 'email' column (and optionally 'name')")
    reader.fieldnames = fields
    people: dict[str, str] = {}
    bad = repeated = 0
    for row in reader:
        line = reader.line_num
        try:
            address = normalize_address(str(row.get("email") or ""))
        except AddressError as exc:
            err.print(
                f"{file}:{line}: skipped, {exc}", highlight=False, markup=False, soft_wrap=True
            )
            bad += 1
            continue
        name = str(row.get("name") or "").strip()
        reason = unsafe_header_text(name)
        if reason is not None:
            err.print(
                f"{file}:{line}: skipped, the name is not allowed: {reason}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
            bad += 1
            continue
        if address in people:
            repeated += 1
            continue
        people[address] = clean_header_text(name, 100)
    with opened(config) as store:
        added = store.import_subscribers(list(people.items()))
    console.print(
        f"{len(added)} imported, {len(people) - len(added)} already known, "
        f"{repeated} repeated in the file, {bad} invalid lines",
        highlight=False,
    )
    if bad:
        raise typer.Exit(1)


@subscribers_app.command("export")
def subscribers_export(
    status: StatusOption = None, config_path: ConfigOption = DEFAULT_CONFIG
) -> None:
    """Write all subscribers as CSV (email,name,status) to standard output."""
    import csv

    people = _subscribers(config_path, status)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["email", "name", "status"])
    for p in people:
        out.writerow([p.email, p.name, p.status])


@app.command()
def serve(
    config_path: ConfigOption = DEFAULT_CONFIG,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the web archive, the Atom feed and subscribe / unsubscribe (uvicorn)."""
    import uvicorn

    from .web import create_app

    config = load(config_path)
    _setup_logging(config)
    try:
        web_app = create_app(config)
    except NewsletterError as exc:
        raise fail(str(exc)) from None
    console.print(f"Serving {config.title} on http://{host}:{port}/", highlight=False)
    # X-Forwarded-For is believed only from web.trusted_proxies (the app checks it);
    # uvicorn's own proxy_headers would trust it from any process on this host.
    uvicorn.run(web_app, host=host, port=port, proxy_headers=False, log_level="info")


def _next_retry(when: datetime | None, tz: tzinfo) -> str:
    if when is None:
        return "next poll"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return "next poll" if when <= datetime.now(UTC) else _when(when, tz)


@feeds_app.command("enable")
def feeds_enable(
    url: Annotated[str, typer.Argument(help="The feed's URL as in the config.")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Re-enable a feed (after HTTP 410) and clear its backoff, so the next poll tries it."""
    config = load(config_path)
    with opened(config) as store:
        found = store.set_feed_enabled(url, True)
    if not found:
        raise fail(f"no feed with URL {url!r} (see `newsletter feeds list`)", 1)
    console.print(f"enabled {url}", highlight=False)


# -- init, doctor, feeds from the command line and OPML ---------------------------------


def _say(text: str, stream: Console = console) -> None:
    """Plain text, never re-wrapped: commands and URLs must stay copyable."""
    stream.print(shown(text), highlight=False, soft_wrap=True)


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="Where to write config.yaml (created if missing).")
    ] = Path("."),
) -> None:
    """Write a commented, working config.yaml (real feeds, extractive digests, SQLite)."""
    from importlib import resources

    target = directory / "config.yaml"
    if target.exists():
        raise fail(f"{target} already exists; not overwritten (edit it, or pick another DIR)")
    template = resources.files("newsletter").joinpath("data/init_config.yaml").read_text("utf-8")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # "x" mode: never clobber a file that appeared since the check above.
        with target.open("x", encoding="utf-8") as handle:
            handle.write(template)
    except FileExistsError:
        raise fail(f"{target} already exists; not overwritten") from None
    except OSError as exc:
        raise fail(f"cannot write {target}: {exc.strerror or exc}") from None
    shown = str(target)
    _say(f"Wrote {shown}: real Chinese industry feeds, extractive digests, SQLite under output/.")
    steps = (
        (f"newsletter doctor -c {shown}", "check every feed, the LLM endpoint and SMTP"),
        (f"newsletter run -c {shown}", "poll the feeds and build the first issue"),
        (f"newsletter daemon -c {shown}", "poll every 30 minutes, build an issue on Mondays"),
    )
    width = max(len(command) for command, _ in steps)
    _say("Next:")
    for command, why in steps:
        _say(f"  {command:<{width}}  # {why}")


@app.command()
def doctor(config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """Check the config, database, every feed, the LLM endpoint and SMTP; say what to fix."""
    from ._doctor import run_checks

    config = load(config_path)
    checks = run_checks(config)
    marks = {
        "ok": "[green]  ok[/green]",
        "warn": "[yellow]warn[/yellow]",
        "fail": "[red]FAIL[/red]",
        "skip": "[dim]skip[/dim]",
    }
    for check in checks:
        console.print(f"{marks[check.status]} ", end="")
        _say(f"{check.area}{' ' + check.name if check.name else ''}: {check.detail}")
        if check.fix and check.status in ("fail", "warn", "skip"):
            _say(f"     fix: {check.fix}")
    failed = [c for c in checks if c.status == "fail"]
    warned = sum(c.status == "warn" for c in checks)
    _say(
        f"{len(checks)} checks: {len(checks) - len(failed) - warned} fine, "
        f"{warned} warnings, {len(failed)} failed"
    )
    if failed:
        raise typer.Exit(1)


def _local_or_url(url: str) -> str:
    from ._opml import is_feed_url

    url = url.strip()
    if is_feed_url(url):
        return url
    path = Path(url[len("file://") :] if url.startswith("file://") else url).expanduser()
    if "://" not in url and path.is_file():
        return str(path.resolve())
    from .config import looks_like_host

    if looks_like_host(url):
        raise fail(f"{url!r} has no scheme; write https://{url} (or http://)")
    raise fail(f"{url!r} is neither an http(s) URL nor an existing feed file")


def _check_feed(config: Config, url: str) -> tuple[str | None, str, str]:
    """Fetch a feed once as a poll would: why it is unusable (or None), its title, what
    it holds."""
    from .flows.poll import probe
    from .models import Feed

    [(result, parsed)] = probe(config, [Feed(url=url)], timeout=15)
    if parsed is None:
        return result.error or "could not be fetched", "", ""
    if parsed.error:
        where = f"reachable (HTTP {result.http_status or 200})" if "://" in url else "readable"
        return f"{where} but {parsed.error}", "", ""
    newest = max((e.published for e in parsed.entries), default=None)
    found = f"{len(parsed.entries)} entries" + (
        f", newest {_when(newest, config.tz)}" if newest else ""
    )
    return None, parsed.title, found


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="The feed's http(s) URL (or a local file).")],
    name: Annotated[str | None, typer.Option(help="Name shown in the issue.")] = None,
    weight: Annotated[
        float | None, typer.Option(min=0, help="Rank multiplier (default 1.0).")
    ] = None,
    no_check: Annotated[
        bool,
        typer.Option("--no-check", help="Add it without fetching it once first (a feed down now)."),
    ] = False,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Add a feed (kept in the database; the config file is left untouched).

    A new feed is fetched once first: a URL that fails (404, unreachable, not a feed) is
    not added (exit 1) unless --no-check is given.
    """
    from .models import Feed

    config = load(config_path)
    url = _local_or_url(url)
    configured = {feed_key(f.url): f.url for f in config.feeds}
    if feed_key(url) in configured:
        if name is not None or weight is not None:
            raise fail(
                f"{url} is in {config_path}, whose name and weight win: change them there"
            )
        same = configured[feed_key(url)]
        as_ = "" if same == url else f" as {same}"
        _say(f"{url} is already in {config_path}{as_}; nothing to add.")
        return
    with opened(config) as store:
        known = {feed_key(f.url): f for f in store.cli_feeds()}
    old = known.get(feed_key(url))
    title, found = "", "not checked"
    if old is None and not no_check:
        problem, title, found = _check_feed(config, url)
        if problem is not None:
            raise fail(
                f"{url}: {problem}; not added (fix the URL, or add it anyway with --no-check)", 1
            )
    feed = Feed(
        # The URL first added stays the feed's identity (its entries and health hang on it).
        url=old.url if old else url,
        name=name if name is not None else (old.name if old else ""),
        weight=weight if weight is not None else (old.weight if old else 1.0),
    )
    with opened(config) as store:
        store.add_feed(feed)
    label = feed_label(feed.name, title, feed.url)
    if old:
        _say(f"Updated {label} (weight {feed.weight:g}).")
    else:
        _say(f"Added {label} (weight {feed.weight:g}; {found}); polled from the next poll.")


@feeds_app.command("remove")
def feeds_remove(
    url: Annotated[str, typer.Argument(help="The feed's URL, as `feeds list` shows it.")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Remove a feed added from the command line or OPML (its stories stay archived)."""
    from .store import CLI_ORIGINS

    config = load(config_path)
    url = url.strip()
    if url in {f.url for f in config.feeds}:
        raise fail(f"{url} is listed in {config_path}: remove it from the file instead")
    with opened(config) as store:
        if url not in {f.url for f in store.feed_health() if f.origin in CLI_ORIGINS}:
            known = [f.url for f in store.cli_feeds()]
            hint = f" (command-line feeds: {', '.join(known[:5])})" if known else ""
            raise fail(f"no command-line feed with URL {url}{hint}", 1)
        store.remove_feed(url)
    _say(f"Removed {url}; its stories stay in the archive.")


@feeds_app.command("import")
def feeds_import(
    file: Annotated[Path, typer.Argument(help="An OPML file exported by another reader.")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Add every feed of an OPML file; duplicates are skipped, bad outlines reported.

    Exit status 1 when some outlines were skipped as unusable (the others are imported).
    """
    from ._opml import OPMLError, read_opml
    from .models import Feed

    config = load(config_path)
    try:
        result = read_opml(file.read_bytes())
    except OSError as exc:
        raise fail(f"{file}: cannot read ({exc.strerror or exc})") from None
    except OPMLError as exc:
        raise fail(f"{file}: {exc}") from None
    configured = {feed_key(f.url) for f in config.feeds}
    added = skipped = 0
    with opened(config) as store:
        present = {feed_key(f.url) for f in store.cli_feeds()}
        for item in result.feeds:
            if feed_key(item.url) in configured or feed_key(item.url) in present:
                skipped += 1
                continue
            store.add_feed(
                Feed(url=item.url, name=item.name, weight=item.weight),
                origin="opml",
                html_url=item.html_url,
            )
            present.add(feed_key(item.url))
            added += 1
    _say(
        f"Imported {added} feeds from {file}; {skipped} already present, "
        f"{result.repeated} repeated in the file, {len(result.problems)} outlines skipped."
    )
    for problem in result.problems:
        _say(f"  {file}: {problem}", err)
    if result.problems:
        raise typer.Exit(1)  # as `subscribers import`: the rest is in, something was not


@feeds_app.command("export")
def feeds_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Every feed (config and command line) as OPML 2.0 for other readers."""
    from datetime import UTC, datetime

    from ._opml import OPMLFeed, is_feed_url, write_opml

    config = load(config_path)
    with opened(config) as store:
        feeds = poll_flow.all_feeds(config, store)
        sites = store.feed_sites()
    local = [f for f in feeds if not is_feed_url(f.url)]
    items = [
        OPMLFeed(
            url=f.url,
            name=f.name or sites.get(f.url, ("", None))[0],
            html_url=sites.get(f.url, ("", None))[1],
            weight=f.weight,
        )
        for f in feeds
        if is_feed_url(f.url)
    ]
    text = write_opml(items, title=config.title, created=datetime.now(UTC))
    if output is None:
        sys.stdout.write(text)
    else:
        archive.write_atomic(output, text)
        _say(f"Wrote {len(items)} feeds to {output}", err)
    if local:
        _say(f"{len(local)} local-file feeds left out (not URLs)", err)


# -- several workers on one database ----------------------------------------------------


@app.command()
def worker(
    config_path: ConfigOption = DEFAULT_CONFIG,
    worker_id: Annotated[
        str | None, typer.Option("--id", help="Name in leases and logs (default: random).")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="One pass over what is due, then exit.")
    ] = False,
    log_format: Annotated[str | None, typer.Option(help="text or json")] = None,
) -> None:
    """Poll due feeds and help send, sharing the database with other workers (leases)."""
    import threading

    from .workers import run_worker, stop_on_signals

    config = load(config_path)
    _setup_logging(config, log_format)
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        report = run_worker(config, name=worker_id, once=once, stop=stop)
    except NewsletterError as exc:
        raise fail(str(exc), 1) from None
    if once:
        _say(
            f"{report.owner}: polled {report.polled} feeds ({report.new_entries} new entries, "
            f"{report.failed} failed), sent {report.sent} messages in {report.elapsed:.1f}s"
        )


# -- list hygiene: bounces, complaints, mailto unsubscribes ---------------------------

bounces_app = typer.Typer(
    help="Bounces, complaints and mailto unsubscribes.", rich_markup_mode=None
)
app.add_typer(bounces_app, name="bounces", no_args_is_help=True)


@bounces_app.command("process")
def bounces_process(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Message files (one mail each); none or - reads standard input."),
    ] = None,
    recipient: Annotated[
        str | None,
        typer.Option(
            "--recipient",
            help="The address the mail was delivered to (default $ORIGINAL_RECIPIENT, "
            "which Postfix's pipe sets): a VERP bounce names its subscriber there.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what each mail is; change nothing.")
    ] = False,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Read bounce, complaint or unsubscribe mails and act on them (an MTA pipe target).

    Exit status 0 even for mail that is not a bounce (an MTA must not bounce it back);
    2 only for bad usage or config, 75 (EX_TEMPFAIL: the MTA retries) when the database
    cannot be written.
    """
    import os

    from .bounces import parse
    from .flows import bounces as hygiene

    envelope = tuple(a for a in (recipient or os.environ.get("ORIGINAL_RECIPIENT", ""),) if a)
    sources = files or [Path("-")]
    tally = hygiene.Tally()
    if dry_run:
        for source in sources:
            try:
                raw = sys.stdin.buffer.read() if str(source) == "-" else source.read_bytes()
            except OSError as exc:
                raise fail(f"cannot read {source}: {exc.strerror or exc}") from None
            report = parse(raw, envelope_to=envelope)
            tally.kinds[report.kind] += 1
            named = ", ".join(f"{f.address or '(redacted)'} {f.status}".strip()
                              for f in report.findings[:3])
            _say(f"{source}: {report.kind} [{report.detector}] {named or report.reason}")
        if len(sources) > 1:
            _say(" ".join(f"{k}={v}" for k, v in sorted(tally.kinds.items())))
        return
    config = load(config_path)
    with ExitStack() as stack:
        try:
            store = stack.enter_context(opened(config))
        except (typer.Exit, OSError) as exc:
            # EX_TEMPFAIL: the MTA keeps the mail and tries again instead of losing it.
            if isinstance(exc, OSError):
                err.print(f"error: cannot open the database: {exc}", highlight=False)
            raise typer.Exit(75) from None
        for source in sources:
            try:
                raw = (
                    sys.stdin.buffer.read() if str(source) == "-" else source.read_bytes()
                )
            except OSError as exc:
                raise fail(f"cannot read {source}: {exc.strerror or exc}") from None
            try:
                outcome = hygiene.process_message(
                    config, store, raw, source="pipe", envelope_to=envelope
                )
            except NewsletterError as exc:
                raise fail(str(exc), 75) from None
            tally.add(outcome)
            what = ", ".join(f"{a} {act}" for a, act in outcome.actions) or outcome.reason
            if outcome.duplicate and not outcome.actions:
                what = "already processed"
            if outcome.unmatched:
                what += f" (not subscribers: {', '.join(outcome.unmatched[:5])})"
            _say(f"{source}: {outcome.kind} [{outcome.detector}] {what}".rstrip())
    if len(sources) > 1:
        _say(tally.line())


@bounces_app.command("poll")
def bounces_poll(config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """Read the bounce mailbox (email.bounce_mailbox) once, as the daemon does."""
    from .flows import bounces as hygiene

    config = load(config_path)
    if config.email.bounce_mailbox is None:
        raise fail("email.bounce_mailbox is not set in the config")
    with opened(config) as store:
        try:
            tally = hygiene.poll_mailbox(config, store)
        except NewsletterError as exc:
            raise fail(str(exc), 1) from None
    _say(tally.line())


@subscribers_app.command("reactivate")
def subscribers_reactivate(
    email: Annotated[str | None, typer.Argument(help="Email address.")] = None,
    bounced_since: Annotated[
        datetime | None,
        typer.Option(
            "--bounced-since",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
            help="Everyone bounced or complained by a report received since then (UTC).",
        ),
    ] = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Undo a bounce or complaint: the subscriber is active again (recorded as yours)."""
    from .deliver import normalize_address
    from .errors import AddressError
    from .flows import bounces as hygiene

    if (email is None) == (bounced_since is None):
        raise fail("give an EMAIL or --bounced-since DATE (one of them)")
    config = load(config_path)
    with opened(config) as store:
        if bounced_since is not None:
            since = bounced_since.replace(tzinfo=bounced_since.tzinfo or UTC)
            done = hygiene.reactivate_since(store, since)
            for person in done:
                _say(f"{person.email}: active (was {person.status})")
            _say(f"{len(done)} subscribers reactivated")
            return
        try:
            address = normalize_address(email or "")
        except AddressError as exc:
            raise fail(str(exc)) from None
        subscriber = store.get_subscriber(email=address)
        if subscriber is None:
            raise fail(f"{address} is not a subscriber", 1)
        if not hygiene.reactivate(store, subscriber, note="subscribers reactivate"):
            raise fail(f"{address} is {subscriber.status}, not bounced or complained", 1)
    _say(f"{address}: active (was {subscriber.status})")


# -- the editor's desk (review.required) ------------------------------------------------

review_app = typer.Typer(help="Drafts on the editor's desk: list, show, approve, drop.")
app.add_typer(review_app, name="review", no_args_is_help=True)
EditorOption = Annotated[
    str | None,
    typer.Option("--editor", help="Who is acting, for the change log (default cli:$USER)."),
]


def _editor(name: str | None) -> str:
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return name or f"cli:{user}"


@review_app.command("list")
def review_list(config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """Issues on the desk, newest first: status, deadline, when they go out."""
    config = load(config_path)
    with opened(config) as store, storage_errors():
        reviews = store.list_reviews()
        rows = [(r, store.get_issue(r.issue_id), len(store.review_changes(r.issue_id)))
                for r in reviews]
    if not rows:
        _say("no drafts (review.required is " + ("on" if config.review.required else "off") + ")")
        return
    table = _fitting_table("Editor's desk")
    for column in ("issue", "status", "stories", "changes", "deadline", "goes out"):
        table.add_column(column)
    for review, record, count in rows:
        table.add_row(
            shown(review.issue_id),
            review.status,
            str(record.item_count if record else 0),
            str(count),
            _when(review.deadline, config.tz),
            _when(review.sent_at or review.send_at, config.tz),
        )
    console.print(table)


@review_app.command("show")
def review_show(
    issue_id: Annotated[str, typer.Argument(help="The draft's issue id.")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """The draft's stories in reading order, figure warnings, and every change made."""
    from .flows import review as desk

    config = load(config_path)
    with opened(config) as store, storage_errors():
        try:
            review, issue = desk.draft(store, issue_id)
        except NewsletterError as exc:
            raise fail(str(exc), 1) from None
        log_rows = store.review_changes(issue_id)
    _say(f"{issue.title} — {review.status}, {len(issue.items)} stories")
    for bullet in issue.intro:
        _say(f"  • {bullet}")
    for name, group in issue.sections:
        _say(f"\n{name}")
        for item in group:
            mark = " [edited]" if item.summary.edited_by else ""
            _say(f"  {item.entry.id[:12]}  {item.entry.title}{mark}")
            warnings = desk.figure_warnings(item)
            if warnings:
                _say(f"      figures not in the article: {', '.join(warnings)}")
    if log_rows:
        _say("\nchanges")
        for change in log_rows:
            when = change.at.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
            detail = f"{change.before[:60]} → {change.after[:60]}".strip(" →")
            _say(f"  {when} {change.editor} {change.action} {change.target[:12]} {detail}")


@review_app.command("approve")
def review_approve(
    issue_id: Annotated[str, typer.Argument(help="The draft's issue id.")],
    now: Annotated[
        bool, typer.Option("--now", help="Send now instead of at the deadline.")
    ] = False,
    editor: EditorOption = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Approve a draft: it goes out at its deadline (the daemon sends it), or now."""
    from .flows import review as desk

    config = load(config_path)
    _setup_logging(config)
    with opened(config) as store, storage_errors():
        try:
            review = desk.approve(config, store, issue_id, _editor(editor), now=now)
        except NewsletterError as exc:
            raise fail(str(exc), 1) from None
        assert review.send_at is not None
        if review.send_at > datetime.now(UTC):
            _say(f"approved: {issue_id} goes out at {_when(review.send_at, config.tz)}")
            return
        for done in desk.run_due(config, store):
            if done.issue_id == issue_id and done.report is not None:
                print_send(done.report)
            elif done.issue_id == issue_id and done.error:
                raise fail(done.error, 1)


@review_app.command("drop")
def review_drop(
    issue_id: Annotated[str, typer.Argument(help="The draft's issue id.")],
    entry_id: Annotated[str, typer.Argument(help="The story's entry id (a unique prefix).")],
    why: Annotated[str, typer.Option("--why", help="Why it does not belong (kept as a label).")]
    = "",
    editor: EditorOption = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Take a story out of a draft (recorded, and kept as a labeled example)."""
    from .flows import review as desk

    config = load(config_path)
    with opened(config) as store, storage_errors():
        try:
            _, issue = desk.draft(store, issue_id)
            matches = [i for i in issue.items if i.entry.id.startswith(entry_id)]
            if len(matches) != 1:
                raise desk.ReviewError(
                    f"{len(matches) or 'no'} stories of {issue_id} match {entry_id!r}"
                )
            item = desk.drop_story(
                config, store, issue_id, matches[0].entry.id, _editor(editor), why
            )
        except NewsletterError as exc:
            raise fail(str(exc), 1) from None
    _say(f"dropped: {item.entry.title}")


@review_app.command("labels")
def review_labels(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Editors' drops and additions as JSONL in the labeled corpus's format (POLICY.md)."""
    from .flows import review as desk

    config = load(config_path)
    with opened(config) as store, storage_errors():
        lines = list(desk.export_labels(store))
    text = "".join(f"{line}\n" for line in lines)
    if output is None:
        sys.stdout.write(text)
    else:
        archive.write_atomic(output, text)
        err.print(f"{len(lines)} labeled examples written to {shown(output)}", highlight=False)


# -- recent entries, and why each was kept or dropped ------------------------------------


def _since(text: str, tz: tzinfo) -> datetime:
    """``7d``, ``24h``, ``2w`` back from now, or a date / date-time in the configured zone."""
    import re
    from datetime import timedelta

    age = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", text.lower())
    if age:
        hours = int(age[1]) * {"h": 1, "d": 24, "w": 168}[age[2]]
        return datetime.now(UTC) - timedelta(hours=hours)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise fail(
            f"--since must be an age (7d, 24h, 2w) or a date (2026-11-20), not {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


@app.command()
def entries(
    relevant: Annotated[
        bool, typer.Option("--relevant", help="Only entries kept as on topic.")
    ] = False,
    since: Annotated[
        str, typer.Option("--since", metavar="DATE|AGE", help="A date (2026-11-20) or an age.")
    ] = "7d",
    feed: Annotated[
        str | None,
        typer.Option("--feed", help="Only this feed: its URL, or words of its name or title."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Recent entries, newest first, with the ids `explain` takes."""
    config = load(config_path)
    tz = config.tz
    start = _since(since, tz)
    with opened(config) as store:
        health = store.feed_health()
        labels = {h.url: feed_label(h.name, h.title, h.url) for h in health}
        urls = None
        if feed is not None:
            wanted = feed.strip().lower()
            urls = [
                h.url
                for h in health
                if feed_key(h.url) == feed_key(feed)
                or any(wanted in t.lower() for t in (h.name, h.title, labels[h.url]) if t)
            ]
            if not urls:
                raise fail(f"no feed matches {feed!r} (see `newsletter feeds`)")
        found = store.recent_entries(start, relevant_only=relevant, feed_urls=urls, limit=limit)
    what = "relevant entries" if relevant else "entries"
    table = _fitting_table(
        f"{len(found)} {what} since {_when(start, tz)} (times in {config.timezone})"
        + (f", newest {limit}" if len(found) == limit else "")
    )
    # The title is what an editor reads: the other columns keep to their narrowest.
    short = (("id", 10), ("published", 11), ("kept", 8), ("feed", 12))
    for column, width in short:
        table.add_column(
            column, no_wrap=True, min_width=width, max_width=width, overflow="ellipsis"
        )
    table.add_column("title", no_wrap=True, overflow="ellipsis", max_width=_rest(short, 100))
    for entry, verdict in found:
        table.add_row(
            entry.id[:10],
            _when(entry.published, tz),
            # The score rides along: a "no" at 2.5 was a near miss, at -6 far off.
            (f"[green]yes[/green] {verdict.score:g}" if verdict.relevant
             else f"no {verdict.score:g}"),
            shown(labels.get(entry.feed_url) or entry.source_name),
            shown(entry.title),
        )
    console.print(table)
    if found:
        _say("Why one was kept or dropped: newsletter explain ID (or its link)")


@app.command()
def explain(
    entry: Annotated[
        str, typer.Argument(metavar="ID|LINK", help="Entry id (or a unique prefix), or its link.")
    ],
    raw: Annotated[
        bool, typer.Option("--raw", help="The stored reasons as the rules wrote them.")
    ] = False,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Why an entry was kept or dropped, in words: what counted for it and against it."""
    from rich.padding import Padding

    from ._explain import plain_reason
    from ._urls import canonical_url

    config = load(config_path)
    with opened(config) as store:
        if "://" in entry:
            link = canonical_url(entry)
            other = ("http" if link.startswith("https:") else "https") + link[link.index(":") :]
            found = store.entries_with_link([link, other])
            if not found:
                raise fail(f"no entry with link {entry} (see `newsletter entries`)", 1)
        else:
            one = store.get_entry(entry.strip())
            if one is None:
                raise fail(f"no entry with id {entry!r} (see `newsletter entries`)", 1)
            found = [one]
    for number, (item, verdict) in enumerate(found):
        if number:
            console.print()
        console.print(f"[bold]{shown(item.title)}[/bold]", highlight=False)
        _say(
            f"{item.source_name} · {_when(item.published, config.tz)} {config.timezone} · "
            f"{item.link} · id {item.id[:12]}"
        )
        state = "[green]kept[/green]" if verdict.relevant else "[red]dropped[/red]"
        console.print(f"{state} (score {verdict.score:g})", highlight=False)
        lines = [r if raw else plain_reason(r) for r in verdict.reasons]
        if not raw and all(r.startswith("score ") for r in verdict.reasons):
            lines.append("no word or rule of the topic lexicon matched its title or text")
        for line in lines:
            # Wrapped under its indent: a reason quotes up to a sentence of the entry.
            console.print(Padding(shown(line), (0, 0, 0, 2), expand=False), highlight=False)


# -- chat channels (issue 22) ----------------------------------------------------------


def print_channels(report: channels_flow.ChannelsReport) -> None:
    from rich.table import Table

    table = Table(title=f"Issue {report.issue_id} in chat channels")
    for column in ("channel", "type", "status", "messages", "detail"):
        table.add_column(column)
    colours = {"sent": "green", "already": "dim", "busy": "yellow", "failed": "red"}
    for r in report.results:
        messages = f"{r.posted} of {r.parts}" if r.parts else ""
        status = f"[{colours[r.status]}]{r.status}[/{colours[r.status]}]"
        table.add_row(shown(r.name), r.kind, status, messages, shown(r.detail))
    console.print(table)


channels_app = typer.Typer(
    help="Chat channels (WeCom, Feishu, DingTalk, Telegram, Slack): list, test.",
    rich_markup_mode=None,
)
app.add_typer(channels_app, name="channels", no_args_is_help=True)


@channels_app.command("list")
def channels_list(config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """Every configured channel, the variables it needs, the newest issue's state there."""
    config = load(config_path)
    if not config.channels:
        _say("no channels configured (add them under `channels:` in the config)")
        return
    with opened(config) as store:
        lines = channels_flow.overview(config, store)
    from rich.table import Table

    table = Table(title="Chat channels")
    for column in ("name", "type", "variables", "stories", "newest issue"):
        table.add_column(column)
    for line in lines:
        variables = ", ".join(
            f"{name} {'[green]set[/green]' if ok else '[red]not set[/red]'}"
            for name, ok in line.variables
        )
        table.add_row(shown(line.name), line.kind, variables, str(line.max_items), line.newest)
    console.print(table)


@channels_app.command("test")
def channels_test(
    name: Annotated[str, typer.Argument(help="The channel's name in the config.")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Post a short test message to one channel (records nothing)."""
    from .errors import ConfigError

    config = load(config_path)
    _setup_logging(config)
    try:
        result = channels_flow.post_test(config, name)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if result.status != "sent":
        raise fail(f"channel {name}: {result.detail}", 1)
    _say(f"channel {name} ({result.kind}): test message posted ({result.detail})")


def _name_values(command: object) -> None:
    """Show `--name NAME`, not typer's `--name <str>` type tag, in every help text."""
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") == "argument":
            # An argument's name is its metavar already; typer appends the tag regardless.
            param.display_type_rich = lambda ctx: None
        elif not getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = (param.name or "value").upper()
    for sub in getattr(command, "commands", {}).values():
        _name_values(sub)


def main() -> None:
    logging.getLogger("jieba").setLevel(logging.WARNING)
    try:
        command = typer.main.get_command(app)
        _name_values(command)
        command()
    except OSError as exc:
        # A full disk or a read-only folder: one line naming the path, not a traceback.
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)
        where = f"{'cannot write ' if full else ''}{exc.filename}: " if exc.filename else ""
        err.print(f"[red]error:[/red] {where}{exc.strerror or exc}", highlight=False)
        sys.exit(1)
