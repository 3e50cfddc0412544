"""Thin command line over the flows, the scheduler and the web app.

One module per group of commands; this one is the table of contents: every command is
registered here, in the order ``newsletter --help`` lists them. Importing it (and so any
``--help``) loads no part of the pipeline: see :mod:`newsletter.cli._common`.
"""

from __future__ import annotations

import errno
import logging
import sys
from typing import Annotated

import typer

from . import bounces, channels, entries, feeds, issues, review, service, subscribers
from ._common import console, err, fresh_consoles, shown

HELP = "RSS/Atom feeds in, one trustworthy weekly email out (视频号 / 直播电商 digest)."

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: no `<bool>` type tags, and no rich help renderer (markdown) to import.
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        console.print(f"newsletter {__version__}", highlight=False)
        raise typer.Exit()


@app.callback(help=HELP)
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    fresh_consoles()


# Typer lists commands first, then the groups, each in this order.
app.command()(issues.poll)
app.command()(issues.build)
app.command()(issues.run)
app.command()(entries.classify)
app.command()(service.daemon)
app.command()(issues.send)
app.command()(service.serve)
app.command()(service.init)
app.command()(service.doctor)
app.command()(service.worker)
app.command("entries")(entries.entries_list)
app.command()(entries.explain)
app.add_typer(feeds.feeds_app, name="feeds")
app.add_typer(subscribers.subscribers_app, name="subscribers", no_args_is_help=True)
app.add_typer(bounces.bounces_app, name="bounces", no_args_is_help=True)
app.add_typer(review.review_app, name="review", no_args_is_help=True)
app.add_typer(channels.channels_app, name="channels", no_args_is_help=True)


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
        err.print(f"[red]error:[/red] {shown(f'{where}{exc.strerror or exc}')}", highlight=False)
        sys.exit(1)
