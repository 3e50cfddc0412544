"""What every command shares: the Typer app's consoles, options, errors and progress bars."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import flows
from ..config import Config, load_config
from ..errors import NewsletterError
from ..store import Store

console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Config file (YAML).", show_default=True)
]
DEFAULT_CONFIG = Path("config.yaml")
STAGE_LABELS = {"fetch": "Polling feeds", "summarize": "Writing digests", "send": "Sending"}


def shown(value: object) -> str:
    """Text from outside (a feed, a server, a subscriber, an OPML file) safe to print:
    control and format characters (ESC, CR, bidi overrides) become spaces and Rich markup
    is escaped, so ``[/]`` in a reason phrase or a name cannot break or restyle output."""
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\n" else ch
        for ch in str(value)
    )
    return escape(text)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {shown(message)}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def load(config_path: Path) -> Config:
    try:
        return load_config(config_path)
    except NewsletterError as exc:
        raise fail(str(exc)) from None


@contextmanager
def opened(config: Config) -> Iterator[Store]:
    try:
        store = Store.open(config.database)
    except NewsletterError as exc:
        raise fail(str(exc)) from None
    with store:
        yield store


@contextmanager
def progress_bars() -> Iterator[flows.Progress]:
    """A rich progress bar per stage, fed by the flows' progress callback."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    ) as bars:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(STAGE_LABELS.get(stage, stage), total=total)
            bars.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

        yield update


def setup_logging(
    config: Config | None = None, fmt: str | None = None, *, daemon: bool = False
) -> None:
    """The daemon logs what it did; one-shot commands print tables, so only problems log."""
    from .._logging import configure_logging

    configure_logging(fmt or (config.log_format if config else "text"))
    if not daemon:
        logging.getLogger().setLevel(logging.WARNING)


def say(text: str, stream: Console = console) -> None:
    """Plain text, never re-wrapped: commands and URLs must stay copyable."""
    stream.print(shown(text), highlight=False, soft_wrap=True)
