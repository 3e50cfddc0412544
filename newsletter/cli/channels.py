"""``channels``: the chat channels (WeCom, Feishu, DingTalk, Telegram, Slack): list, test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._common import (
    DEFAULT_CONFIG,
    ConfigOption,
    console,
    fail,
    lazy,
    load,
    opened,
    say,
    setup_logging,
    shown,
    sub_app,
)

if TYPE_CHECKING:
    from ..flows import channels as channels_flow
else:
    channels_flow = lazy("newsletter.flows.channels")

channels_app = sub_app("Chat channels (WeCom, Feishu, DingTalk, Telegram, Slack): list, test.")


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


@channels_app.command("list")
def channels_list(config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """Every configured channel, the variables it needs, the newest issue's state there."""
    config = load(config_path)
    if not config.channels:
        say("no channels configured (add them under `channels:` in the config)")
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
    from ..errors import ConfigError

    config = load(config_path)
    setup_logging(config)
    try:
        result = channels_flow.post_test(config, name)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if result.status != "sent":
        raise fail(f"channel {name}: {result.detail}", 1)
    say(f"channel {name} ({result.kind}): test message posted ({result.detail})")
