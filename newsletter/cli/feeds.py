"""``feeds``: the health table, enable, add, remove, OPML import and export."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from .._urls import feed_key, feed_label
from ._common import (
    DEFAULT_CONFIG,
    ConfigOption,
    OutputOption,
    console,
    err,
    fail,
    fitting_table,
    load,
    opened,
    print_problems,
    rest,
    say,
    shown,
    sub_app,
    when,
    write_output,
)

if TYPE_CHECKING:
    from ..config import Config

feeds_app = sub_app("Feeds and their health; with no command, the health table.")


@feeds_app.callback(invoke_without_command=True)
def feeds_main(ctx: typer.Context, config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """With no command, print the health table (as `feeds list`)."""
    if ctx.invoked_subcommand is None:
        feeds_list(config_path)


@feeds_app.command("list")
def feeds_list(config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """Every feed with its last result, failures and last success."""
    from ..store import glance_feed_health

    config = load(config_path)
    health = glance_feed_health(config.database, config.feed_list)
    if health is None:  # not SQLite, a schema to migrate, or config feeds to write
        with opened(config) as store:
            store.sync_feeds(config.feed_list)
            health = store.feed_health()
    tz = config.tz
    table = fitting_table(f"{len(health)} feeds (times in {config.timezone})")
    short = (
        ("from", 6), ("result", 12), ("new", 3), ("fail", 4), ("last ok", 11), ("next try", 11)
    )
    # The short columns keep their full width; only the feed's label gives way.
    table.add_column("feed", overflow="ellipsis", no_wrap=True, max_width=rest(short, 40))
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
            when(h.last_success, tz),
            "never" if h.disabled else _next_retry(h.next_poll_at, tz),
            style="red" if h.disabled else ("yellow" if h.consecutive_failures else None),
        )
    console.print(table)
    print_problems(problems)


def _next_retry(moment: datetime | None, tz: tzinfo) -> str:
    if moment is None:
        return "next poll"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return "next poll" if moment <= datetime.now(UTC) else when(moment, tz)


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


def _local_or_url(url: str) -> str:
    from .._opml import is_feed_url

    url = url.strip()
    if is_feed_url(url):
        return url
    path = Path(url[len("file://") :] if url.startswith("file://") else url).expanduser()
    if "://" not in url and path.is_file():
        return str(path.resolve())
    from ..config import looks_like_host

    if looks_like_host(url):
        raise fail(f"{url!r} has no scheme; write https://{url} (or http://)")
    raise fail(f"{url!r} is neither an http(s) URL nor an existing feed file")


def _check_feed(config: Config, url: str) -> tuple[str | None, str, str]:
    """Fetch a feed once as a poll would: why it is unusable (or None), its title, what
    it holds."""
    from ..flows.poll import probe
    from ..models import Feed

    [(result, parsed)] = probe(config, [Feed(url=url)], timeout=15)
    if parsed is None:
        return result.error or "could not be fetched", "", ""
    if parsed.error:
        where = f"reachable (HTTP {result.http_status or 200})" if "://" in url else "readable"
        return f"{where} but {parsed.error}", "", ""
    newest = max((e.published for e in parsed.entries), default=None)
    found = f"{len(parsed.entries)} entries" + (
        f", newest {when(newest, config.tz)}" if newest else ""
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
    from .._netguard import unreachable
    from ..models import Feed

    config = load(config_path)
    url = _local_or_url(url)
    # Literal addresses and localhost now; other names at the check's fetch (or first poll).
    allow = config.fetch.allow_private_addresses
    refused = unreachable([url], allow_private=allow, resolve=False)
    if refused:
        raise fail(f"{url}: {refused[url]}; not added")
    configured = {feed_key(f.url): f.url for f in config.feeds}
    if feed_key(url) in configured:
        if name is not None or weight is not None:
            raise fail(
                f"{url} is in {config_path}, whose name and weight win: change them there"
            )
        same = configured[feed_key(url)]
        as_ = "" if same == url else f" as {same}"
        say(f"{url} is already in {config_path}{as_}; nothing to add.")
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
        say(f"Updated {label} (weight {feed.weight:g}).")
    else:
        say(f"Added {label} (weight {feed.weight:g}; {found}); polled from the next poll.")


@feeds_app.command("remove")
def feeds_remove(
    url: Annotated[str, typer.Argument(help="The feed's URL, as `feeds list` shows it.")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Remove a feed added from the command line or OPML (its stories stay archived)."""
    from ..store import CLI_ORIGINS

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
    say(f"Removed {url}; its stories stay in the archive.")


@feeds_app.command("import")
def feeds_import(
    file: Annotated[Path, typer.Argument(help="An OPML file exported by another reader.")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Add every feed of an OPML file; duplicates are skipped, bad outlines reported.

    Exit status 1 when some outlines were skipped as unusable (the others are imported).
    """
    from .._netguard import unreachable
    from .._opml import OPMLError, read_opml
    from ..models import Feed

    config = load(config_path)
    try:
        result = read_opml(file.read_bytes())
    except OSError as exc:
        raise fail(f"{file}: cannot read ({exc.strerror or exc})") from None
    except OPMLError as exc:
        raise fail(f"{file}: {exc}") from None
    # An OPML file is someone else's list: an outline pointing into this network or at a
    # cloud's metadata service is reported and left out.
    refused = unreachable(
        [item.url for item in result.feeds],
        allow_private=config.fetch.allow_private_addresses,
        resolve=False,  # names are judged when polled: an offline import stays quick
    )
    problems = [*result.problems, *(f"{url}: {why}" for url, why in refused.items())]
    configured = {feed_key(f.url) for f in config.feeds}
    added = skipped = 0
    with opened(config) as store:
        present = {feed_key(f.url) for f in store.cli_feeds()}
        for item in result.feeds:
            if item.url in refused:
                continue
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
    say(
        f"Imported {added} feeds from {file}; {skipped} already present, "
        f"{result.repeated} repeated in the file, {len(problems)} outlines skipped."
    )
    for problem in problems:
        say(f"  {file}: {problem}", err)
    if problems:
        raise typer.Exit(1)  # as `subscribers import`: the rest is in, something was not


@feeds_app.command("export")
def feeds_export(
    output: OutputOption = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Every feed (config and command line) as OPML 2.0 for other readers."""
    from .._opml import OPMLFeed, is_feed_url, write_opml
    from ..flows.poll import all_feeds

    config = load(config_path)
    with opened(config) as store:
        feeds = all_feeds(config, store)
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
    write_output(output, text, f"Wrote {len(items)} feeds")
    if local:
        say(f"{len(local)} local-file feeds left out (not URLs)", err)
