"""``bounces``: bounce, complaint and mailto-unsubscribe mails, from a pipe or the mailbox."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from ..errors import NewsletterError
from ._common import DEFAULT_CONFIG, ConfigOption, err, fail, load, opened, say, sub_app

bounces_app = sub_app("Bounces, complaints and mailto unsubscribes.")


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

    from ..bounces import parse
    from ..flows import bounces as hygiene

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
            say(f"{source}: {report.kind} [{report.detector}] {named or report.reason}")
        if len(sources) > 1:
            say(" ".join(f"{k}={v}" for k, v in sorted(tally.kinds.items())))
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
            say(f"{source}: {outcome.kind} [{outcome.detector}] {what}".rstrip())
    if len(sources) > 1:
        say(tally.line())


@bounces_app.command("poll")
def bounces_poll(config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """Read the bounce mailbox (email.bounce_mailbox) once, as the daemon does."""
    from ..flows import bounces as hygiene

    config = load(config_path)
    if config.email.bounce_mailbox is None:
        raise fail("email.bounce_mailbox is not set in the config")
    with opened(config) as store:
        try:
            tally = hygiene.poll_mailbox(config, store)
        except NewsletterError as exc:
            raise fail(str(exc), 1) from None
    say(tally.line())
