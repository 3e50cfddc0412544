"""Thin command line over the flows, the scheduler and the web app.

One module per group of commands; this one is the table of contents: every command is
registered here, in the order ``newsletter --help`` lists them.
"""

from __future__ import annotations

import logging

import typer

from . import bounces, entries, feeds, issues, service, subscribers

app = typer.Typer(
    help="RSS/Atom feeds in, one trustworthy weekly email out (视频号 / 直播电商 digest).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command()(issues.poll)
app.command()(issues.build)
app.command()(issues.run)
app.command()(entries.classify)
app.command()(entries.explain)
app.command()(service.daemon)
app.add_typer(feeds.feeds_app, name="feeds")
app.command()(issues.send)
app.add_typer(subscribers.subscribers_app, name="subscribers", no_args_is_help=True)
app.command()(service.serve)
app.command()(service.init)
app.command()(service.doctor)
app.command()(service.worker)
app.add_typer(bounces.bounces_app, name="bounces", no_args_is_help=True)


def main() -> None:
    logging.getLogger("jieba").setLevel(logging.WARNING)
    app()
