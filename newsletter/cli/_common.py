"""What every command shares: consoles, options, errors, progress bars, 80-column tables.

Nothing heavy is imported here nor at the top of any ``cli`` module: ``--help`` and ``feeds``
must not pay for the pipeline (sqlalchemy, jieba, numpy, feedparser, openai ...) nor
``--help`` for rich; each
command imports what it uses, through :func:`lazy` or inside its function
(``benchmarks/startup.py`` measures it, ``tests/test_ops_tables.py`` checks it).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from ..errors import NewsletterError, StorageError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from .. import flows
    from ..config import Config
    from ..store import Store


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


_consoles = (_Console(), _Console(stderr=True))
console = cast("Console", _consoles[0])
err = cast("Console", _consoles[1])


def fresh_consoles() -> None:
    """Make each command read the terminal's width (``COLUMNS``) anew when it starts.

    rich fixes a console's width when it is made: a process that runs several commands
    (tests through typer's runner, an embedding) would otherwise print every table at the
    width the first one found.
    """
    for made in _consoles:
        made._console = None

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", metavar="FILE", help="Config file (YAML).", show_default=True),
]
DEFAULT_CONFIG = Path("config.yaml")
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
]
ForceOption = Annotated[bool, typer.Option(help="Build even with fewer than issue.min_items.")]
STAGE_LABELS = {"fetch": "Polling feeds", "summarize": "Writing digests", "send": "Sending"}


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


def lazy(name: str) -> ModuleType:
    """``name``, imported on first attribute access (the stdlib LazyLoader recipe)."""
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


def load(config_path: Path) -> Config:
    from ..config import load_config

    try:
        return load_config(config_path)
    except NewsletterError as exc:
        raise fail(str(exc)) from None


@contextmanager
def opened(config: Config) -> Iterator[Store]:
    from ..store import Store

    try:
        store = Store.open(config.database)
    except NewsletterError as exc:
        raise fail(str(exc)) from None
    with store:
        yield store


@contextmanager
def storage_errors() -> Iterator[None]:
    """A database that refuses a write (locked too long, disk full): one line, exit 1."""
    try:
        yield
    except StorageError as exc:
        raise fail(str(exc), 1) from None


@contextmanager
def progress_bars() -> Iterator[flows.Progress]:
    """A rich progress bar per stage, fed by the flows' progress callback."""
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


def setup_logging(
    config: Config | None = None, fmt: str | None = None, *, daemon: bool = False
) -> None:
    """The daemon logs what it did; one-shot commands print tables, so only problems log."""
    from .._logging import configure_logging

    configure_logging(fmt or (config.log_format if config else "text"))
    if not daemon:
        logging.getLogger().setLevel(logging.WARNING)


def warn_llm_key(config: Config) -> None:
    """Once per command: a model is configured but its key variable is empty."""
    problem = config.llm.missing_key()
    if problem:
        err.print(f"[yellow]warning:[/yellow] {shown(problem)}", highlight=False)


def say(text: str, stream: Console = console) -> None:
    """Plain text, never re-wrapped: commands and URLs must stay copyable."""
    stream.print(shown(text), highlight=False, soft_wrap=True)


def write_output(output: Path | None, text: str, written: str) -> None:
    """An export to stdout, or atomically to ``output`` with ``"{written} to FILE"`` on stderr."""
    if output is None:
        sys.stdout.write(text)
        return
    from ..flows.archive import write_atomic

    write_atomic(output, text)
    say(f"{written} to {output}", err)


def sub_app(help_text: str) -> typer.Typer:
    """A command group with plain help (no rich markup renderer to import)."""
    return typer.Typer(help=help_text, rich_markup_mode=None)


# -- tables that fit an 80-column terminal ---------------------------------------------


def fitting_table(title: str) -> Table:
    """A table that fits an 80-column terminal: light rules, no outer padding."""
    from rich import box
    from rich.table import Table

    return Table(
        title=title, box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
        show_edge=False, pad_edge=False, title_justify="left",
    )


def rest(columns: tuple[tuple[str, int], ...], most: int) -> int:
    """Width left for the first column next to these (two spaces between columns)."""
    return max(10, min(most, console.width - sum(w for _, w in columns) - 2 * len(columns)))


def print_problems(problems: list[tuple[str, str]]) -> None:
    # Full-width lines below the table: an error squeezed into a column wraps one word a line.
    for label, text in problems:
        console.print(f"  [bold]{shown(label)}[/bold]: {shown(text)}", highlight=False)


def when(moment: datetime | None, tz: tzinfo) -> str:
    """A stored time in the configured zone, short: this year's as MM-DD HH:MM."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    return f"{local:%m-%d %H:%M}" if local.year == datetime.now(tz).year else f"{local:%Y-%m-%d}"
