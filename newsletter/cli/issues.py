"""``poll``, ``build``, ``run`` and ``send``: the three flows, with a table for each
(``send`` also posts to the chat channels)."""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING, Annotated

import typer

from .._urls import feed_label
from ..errors import NewsletterError
from ._common import (
    DEFAULT_CONFIG,
    ConfigOption,
    ForceOption,
    console,
    fail,
    fitting_table,
    lazy,
    load,
    opened,
    print_problems,
    progress_bars,
    rest,
    say,
    setup_logging,
    shown,
    storage_errors,
    warn_llm_key,
)

if TYPE_CHECKING:
    from ..config import Config
    from ..flows import build as build_flow
    from ..flows import channels as channels_flow
    from ..flows import poll as poll_flow
    from ..flows import send as send_flow
    from ..store import Store
else:
    build_flow = lazy("newsletter.flows.build")
    channels_flow = lazy("newsletter.flows.channels")
    poll_flow = lazy("newsletter.flows.poll")
    send_flow = lazy("newsletter.flows.send")


def print_poll(report: poll_flow.PollReport, titles: dict[str, str] | None = None) -> None:
    titles = titles or {}
    table = fitting_table(f"Poll: {len(report.outcomes)} feeds in {report.elapsed:.1f}s")
    short = (("result", 12), ("new", 3), ("relevant", 8), ("time", 6))
    table.add_column("feed", overflow="ellipsis", no_wrap=True, max_width=rest(short, 48))
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
    print_problems(problems)
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
    usage, tokens = report.usage, report.usage.tokens
    if usage.calls:
        console.print(
            f"  LLM this run: {usage.calls} calls ({usage.failed} fell back), "
            f"{tokens.prompt} prompt + {tokens.completion} completion + "
            f"{tokens.reasoning} reasoning tokens",
            highlight=False,
        )
    total = report.issue_usage
    if total.calls:
        console.print(
            f"  LLM for this issue, all runs: {total.calls} calls, "
            f"{total.tokens.total} tokens ({total.tokens.reasoning} reasoning)",
            highlight=False,
        )
    for title, reason in report.fallbacks:
        console.print(
            f"  [yellow]extracted instead:[/yellow] {shown(title[:40])} — {shown(reason)}",
            highlight=False,
        )


def print_send(report: send_flow.SendReport, tz: tzinfo | None = None) -> None:
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
    retries = report.retries
    if retries.waiting:
        at = retries.next_at
        when = f" from {at.astimezone(tz):%Y-%m-%d %H:%M %Z}" if at is not None else ""
        console.print(
            f"[yellow]{retries.waiting} failed temporarily[/yellow]: `newsletter daemon` tries "
            f"them again{when} (email.retry_delays_seconds), or run `send` again",
            highlight=False,
        )
    if retries.given_up:
        console.print(
            f"[red]{retries.given_up} given up[/red] after the retry schedule "
            "(email.give_up_after_seconds); `send` tries them once more",
            highlight=False,
        )
    if report.error:
        console.print(
            f"[red]stopped:[/red] {shown(report.error)}; run `send` again to continue",
            highlight=False,
        )


def _confirm_send(config: Config, store: Store, issue: str | None) -> None:
    """From a terminal: say which issue goes to how many people and ask first."""
    import sys

    from ..flows._mail import mailing_problems

    if not (sys.stdin.isatty() and sys.stdout.isatty()) or mailing_problems(config):
        return  # a script or cron job is not asked; a refused send says why itself
    about = send_flow.preview(store, issue)
    if about is None or about.recipients == 0:
        return  # nothing to mail: the send says so
    console.print(
        f"Issue {shown(about.issue_id)}: {shown(about.title)}\n"
        f"to {about.recipients} subscribers, from {shown(config.email.from_)}",
        highlight=False,
    )
    if not typer.confirm("Send it now?", default=False):
        console.print("Not sent.", highlight=False)
        raise typer.Exit(1)


def poll(
    config_path: ConfigOption = DEFAULT_CONFIG,
    all_feeds: Annotated[
        bool, typer.Option("--all", help="Also poll feeds that are backing off after failures.")
    ] = False,
) -> None:
    """Fetch all due feeds once and store new entries."""
    config = load(config_path)
    setup_logging(config)
    with opened(config) as store, progress_bars() as bars, storage_errors():
        report = poll_flow.poll(config, store, progress=bars, force=all_feeds)
        titles = {url: title for url, (title, _) in store.feed_sites().items()}
    print_poll(report, titles)
    if report.storage_error:
        raise fail(report.storage_error, 1)


def build(
    config_path: ConfigOption = DEFAULT_CONFIG,
    force: ForceOption = False,
) -> None:
    """Build the issue for the window since the previous issue (no polling)."""
    config = load(config_path)
    setup_logging(config)
    warn_llm_key(config)
    with opened(config) as store, progress_bars() as bars, storage_errors():
        report = build_flow.build_issue(config, store, force=force, progress=bars)
    print_build(report)
    if report.issue is None:
        raise typer.Exit(1)


def run(
    config_path: ConfigOption = DEFAULT_CONFIG,
    force: ForceOption = False,
) -> None:
    """Poll all feeds, then build the issue."""
    config = load(config_path)
    setup_logging(config)
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
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask first (asked only on a terminal).")
    ] = False,
) -> None:
    """Email an issue to every active subscriber who has not received it yet, then post it
    to every chat channel (`channels:`) that has not had it.

    From a terminal it shows the issue, its title and how many people it goes to, and asks
    first (--yes skips that). Exit status 1 when some deliveries failed or the send stopped.
    """
    from ..errors import AddressError, ConfigError
    from .channels import print_channels

    config = load(config_path)
    setup_logging(config)
    report = None
    with opened(config) as store:
        if not (channels_only or dry_run or to is not None or yes):
            _confirm_send(config, store, issue)
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
            print_send(report, config.tz)
        chat = None
        if dry_run and config.channels:
            # A rehearsal posts nothing: the messages each group would get, as files.
            try:
                previews = channels_flow.preview(
                    config, store, report.issue_id if report else issue
                )
            except NewsletterError as exc:
                raise fail(str(exc), 1) from None
            for p in previews:
                count = f"{len(p.files)} message{'s' if len(p.files) != 1 else ''}"
                where = f"{count} in {p.files[0].parent}" if p.files else "nothing"
                note = " (already posted: send posts nothing there)" if p.already else ""
                say(f"channel {shown(p.name)} ({p.kind}): {where}{note}")
        elif to is not None or not (config.channels or channels_only):
            pass  # a test copy posts nothing to the groups
        else:
            try:
                chat = channels_flow.post_issue(config, store, report.issue_id if report else issue)
            except ConfigError as exc:
                raise fail(str(exc)) from None
            except NewsletterError as exc:
                raise fail(str(exc), 1) from None
            print_channels(chat)
    if report is not None and (report.error or report.failed):
        raise typer.Exit(1)
    if chat is not None and chat.failed:
        raise typer.Exit(1)
