"""Long-running and set-up commands: ``daemon``, ``worker``, ``serve``, ``init``, ``doctor``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import NewsletterError
from ._common import DEFAULT_CONFIG, ConfigOption, console, fail, load, opened, say, setup_logging


def daemon(
    config_path: ConfigOption = DEFAULT_CONFIG,
    log_format: Annotated[str | None, typer.Option(help="text or json")] = None,
) -> None:
    """Run the scheduler in the foreground until SIGTERM / Ctrl-C."""
    from ..schedule import run_daemon
    from ..tokens import secret_from_env

    config = load(config_path)
    with opened(config) as store:
        mails = store.subscriber_counts().get("active", 0) > 0
    if mails:
        # The weekly job would fail days from now at its first send: say so at start.
        try:
            secret_from_env(config.secret_env)
        except NewsletterError as exc:
            raise fail(f"the daemon sends to active subscribers, but {exc}") from None
        from ..flows._mail import mailing_problems

        problems = "; ".join(str(p) for p in mailing_problems(config))
        if problems:
            raise fail(f"the daemon sends to active subscribers, but {problems}")
    setup_logging(config, log_format, daemon=True)
    try:
        run_daemon(config)
    except NewsletterError as exc:
        raise fail(str(exc), 1) from None


def worker(
    config_path: ConfigOption = DEFAULT_CONFIG,
    worker_id: Annotated[
        str | None, typer.Option("--id", help="Name in leases and logs (default: random).")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="One pass over what is due, then exit.")
    ] = False,
    log_format: Annotated[str | None, typer.Option(help="text or json")] = None,
) -> None:
    """Poll due feeds and help send, sharing the database with other workers (leases)."""
    import threading

    from ..workers import run_worker, stop_on_signals

    config = load(config_path)
    setup_logging(config, log_format)
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        report = run_worker(config, name=worker_id, once=once, stop=stop)
    except NewsletterError as exc:
        raise fail(str(exc), 1) from None
    if once:
        say(
            f"{report.owner}: polled {report.polled} feeds ({report.new_entries} new entries, "
            f"{report.failed} failed), sent {report.sent} messages in {report.elapsed:.1f}s"
        )


def serve(
    config_path: ConfigOption = DEFAULT_CONFIG,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the web archive, the Atom feed and subscribe / unsubscribe (uvicorn)."""
    import uvicorn

    from ..web import create_app

    config = load(config_path)
    setup_logging(config)
    try:
        web_app = create_app(config)
    except NewsletterError as exc:
        raise fail(str(exc)) from None
    console.print(f"Serving {config.title} on http://{host}:{port}/", highlight=False)
    # X-Forwarded-For is believed only from web.trusted_proxies (the app checks it);
    # uvicorn's own proxy_headers would trust it from any process on this host.
    uvicorn.run(web_app, host=host, port=port, proxy_headers=False, log_level="info")


def init(
    directory: Annotated[
        Path, typer.Argument(help="Where to write config.yaml (created if missing).")
    ] = Path("."),
) -> None:
    """Write a commented, working config.yaml (real feeds, extractive digests, SQLite)."""
    from importlib import resources

    target = directory / "config.yaml"
    if target.exists():
        raise fail(f"{target} already exists; not overwritten (edit it, or pick another DIR)")
    template = resources.files("newsletter").joinpath("data/init_config.yaml").read_text("utf-8")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # "x" mode: never clobber a file that appeared since the check above.
        with target.open("x", encoding="utf-8") as handle:
            handle.write(template)
    except FileExistsError:
        raise fail(f"{target} already exists; not overwritten") from None
    except OSError as exc:
        raise fail(f"cannot write {target}: {exc.strerror or exc}") from None
    shown = str(target)
    say(f"Wrote {shown}: real Chinese industry feeds, extractive digests, SQLite under output/.")
    steps = (
        (f"newsletter doctor -c {shown}", "check every feed, the LLM endpoint and SMTP"),
        (f"newsletter run -c {shown}", "poll the feeds and build the first issue"),
        (f"newsletter daemon -c {shown}", "poll every 30 minutes, build an issue on Mondays"),
    )
    width = max(len(command) for command, _ in steps)
    say("Next:")
    for command, why in steps:
        say(f"  {command:<{width}}  # {why}")


def doctor(config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """Check the config, database, every feed, the LLM endpoint and SMTP; say what to fix."""
    from .._doctor import run_checks

    config = load(config_path)
    checks = run_checks(config)
    marks = {
        "ok": "[green]  ok[/green]",
        "warn": "[yellow]warn[/yellow]",
        "fail": "[red]FAIL[/red]",
        "skip": "[dim]skip[/dim]",
    }
    for check in checks:
        console.print(f"{marks[check.status]} ", end="")
        say(f"{check.area}{' ' + check.name if check.name else ''}: {check.detail}")
        if check.fix and check.status in ("fail", "warn", "skip"):
            say(f"     fix: {check.fix}")
    failed = [c for c in checks if c.status == "fail"]
    warned = sum(c.status == "warn" for c in checks)
    say(
        f"{len(checks)} checks: {len(checks) - len(failed) - warned} fine, "
        f"{warned} warnings, {len(failed)} failed"
    )
    if failed:
        raise typer.Exit(1)
