"""``classify``, ``entries`` and ``explain``: the relevance judge on a file, the recent
entries, and why a stored entry was kept or dropped."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .._urls import feed_key, feed_label
from ._common import (
    DEFAULT_CONFIG,
    ConfigOption,
    console,
    err,
    fail,
    fitting_table,
    lazy,
    load,
    opened,
    rest,
    say,
    shown,
    when,
)

if TYPE_CHECKING:
    from .. import relevance
else:
    relevance = lazy("newsletter.relevance")


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
                say(f"{file}:{number}: skipped, invalid JSON ({exc})", err)
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


def entries_list(
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
    table = fitting_table(
        f"{len(found)} {what} since {when(start, tz)} (times in {config.timezone})"
        + (f", newest {limit}" if len(found) == limit else "")
    )
    # The title is what an editor reads: the other columns keep to their narrowest.
    short = (("id", 10), ("published", 11), ("kept", 8), ("feed", 12))
    for column, width in short:
        table.add_column(
            column, no_wrap=True, min_width=width, max_width=width, overflow="ellipsis"
        )
    table.add_column("title", no_wrap=True, overflow="ellipsis", max_width=rest(short, 100))
    for entry, verdict in found:
        table.add_row(
            entry.id[:10],
            when(entry.published, tz),
            # The score rides along: a "no" at 2.5 was a near miss, at -6 far off.
            (f"[green]yes[/green] {verdict.score:g}" if verdict.relevant
             else f"no {verdict.score:g}"),
            shown(labels.get(entry.feed_url) or entry.source_name),
            shown(entry.title),
        )
    console.print(table)
    if found:
        say("Why one was kept or dropped: newsletter explain ID (or its link)")


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

    from .._explain import plain_reason
    from .._urls import canonical_url

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
        say(
            f"{item.source_name} · {when(item.published, config.tz)} {config.timezone} · "
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
