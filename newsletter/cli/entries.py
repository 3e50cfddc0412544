"""``classify`` and ``explain``: the relevance judge on a file, and on a stored entry."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import DEFAULT_CONFIG, ConfigOption, console, err, fail, lazy, load, opened, shown

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
    """Judge relevance of each JSONL entry; print one JSON line per entry."""
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
        raise typer.Exit(2)


def explain(
    entry_id: Annotated[str, typer.Argument(help="Entry id (or a unique prefix).")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Why an entry was kept or dropped: terms, rules, score."""
    config = load(config_path)
    with opened(config) as store:
        found = store.get_entry(entry_id)
    if found is None:
        raise fail(f"no entry with id {entry_id!r}", 1)
    entry, verdict = found
    console.print(f"[bold]{shown(entry.title)}[/bold]", highlight=False)
    console.print(
        f"{shown(entry.source_name)} · {entry.published:%Y-%m-%d %H:%M} UTC · {shown(entry.link)}",
        highlight=False,
    )
    state = "[green]kept[/green]" if verdict.relevant else "[red]dropped[/red]"
    console.print(f"{state} (score {verdict.score:g})")
    for reason in verdict.reasons:
        console.print(f"  - {shown(reason)}", highlight=False)
