"""``subscribers``: add, remove, list, CSV import and export."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import NewsletterError
from ._common import (
    DEFAULT_CONFIG,
    ConfigOption,
    console,
    err,
    fail,
    lazy,
    load,
    opened,
    say,
    shown,
    sub_app,
)

if TYPE_CHECKING:
    from ..flows import subscriptions
    from ..models import Subscriber
else:
    subscriptions = lazy("newsletter.flows.subscriptions")

subscribers_app = sub_app("Subscribers: add, remove, list, import, export.")
SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")


@subscribers_app.command("add")
def subscribers_add(
    email: Annotated[str, typer.Argument(help="Email address.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    resubscribe: Annotated[
        bool,
        typer.Option(
            "--resubscribe",
            help="Re-activate an address that unsubscribed, bounced or complained "
            "(only when its owner asked to come back).",
        ),
    ] = False,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Add a subscriber (pending plus a confirmation mail when email.double_opt_in).

    An address that unsubscribed, bounced or complained is left as it is (exit 1) unless
    --resubscribe is given.
    """
    from ..deliver import HeaderInjectionError, check_header_text
    from ..errors import AddressError, ConfigError

    try:
        check_header_text(name, "--name")
    except HeaderInjectionError as exc:
        raise fail(str(exc)) from None
    config = load(config_path)
    with opened(config) as store:
        try:
            subscriber = subscriptions.subscribe(
                config, store, email, name, resubscribe=resubscribe
            )
        except (AddressError, ConfigError) as exc:
            raise fail(str(exc)) from None
        except NewsletterError as exc:
            raise fail(str(exc), 1) from None
    note = " (confirmation mail sent)" if subscriber.status == "pending" else ""
    console.print(f"{shown(subscriber.email)}: {subscriber.status}{note}", highlight=False)


@subscribers_app.command("remove")
def subscribers_remove(
    email: Annotated[str, typer.Argument(help="Email address.")],
    purge: Annotated[
        bool, typer.Option("--purge", help="Delete the address and its delivery history.")
    ] = False,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Unsubscribe an address (kept, so an import cannot bring it back), or --purge it."""
    from ..deliver import normalize_address
    from ..errors import AddressError

    config = load(config_path)
    try:
        address = normalize_address(email)
    except AddressError as exc:
        raise fail(str(exc)) from None
    with opened(config) as store:
        subscriber = store.get_subscriber(email=address)
        if subscriber is None or subscriber.id is None:
            raise fail(f"{address} is not a subscriber", 1)
        if purge:
            store.delete_subscriber(subscriber.id)
        else:
            store.update_subscriber(subscriber.id, status="unsubscribed")
    console.print(f"{address}: {'deleted' if purge else 'unsubscribed'}", highlight=False)


StatusOption = Annotated[
    str | None,
    typer.Option("--status", help="Only subscribers with this status: pending, active, "
                 "unsubscribed, bounced or complained."),
]


def _subscribers(config_path: Path, status: str | None) -> list[Subscriber]:
    """The subscribers with ``status`` (all when None), after checking the status name."""
    if status is not None and status not in SUBSCRIBER_STATUSES:
        raise fail(f"--status must be one of {', '.join(SUBSCRIBER_STATUSES)} (got {status!r})")
    with opened(load(config_path)) as store:
        return store.list_subscribers(status)


@subscribers_app.command("list")
def subscribers_list(
    status: StatusOption = None, config_path: ConfigOption = DEFAULT_CONFIG
) -> None:
    """Subscribers with their status."""
    people = _subscribers(config_path, status)
    from rich.table import Table

    table = Table(title=f"{len(people)} subscribers" + (f" ({status})" if status else ""))
    for column in ("id", "email", "name", "status", "evidence"):
        table.add_column(column)
    with opened(load(config_path)) as store:
        # Why a bounced, complained or mail-unsubscribed address is so: the stored report.
        evidence = store.last_bounce_events([p.id for p in people if p.id is not None])
    for p in people:
        e = evidence.get(p.id or -1)
        why = "" if e is None else (
            f"{e.kind} {e.status} {e.diagnostic[:60]} ({e.source}, "
            f"{e.received:%Y-%m-%d})" if e.received else e.kind
        )
        table.add_row(str(p.id), shown(p.email), shown(p.name), p.status, shown(why))
    console.print(table)


def _read_csv_text(file: Path) -> str:
    raw = file.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets on Chinese Windows save CSV as GBK.
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            raise fail(f"{file}: not UTF-8 or GB18030 text") from None


@subscribers_app.command("import")
def subscribers_import(
    file: Annotated[Path, typer.Argument(help="CSV with a header row: email,name.")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Import subscribers as active; bad lines are reported by number, the rest imported.

    Re-importing is harmless: known addresses (also unsubscribed ones) are left as they are.
    Exit status 1 when some lines were bad.
    """
    import csv
    import io

    from ..deliver import clean_header_text, normalize_address, unsafe_header_text
    from ..errors import AddressError

    config = load(config_path)
    try:
        text = _read_csv_text(file)
    except OSError as exc:
        raise fail(f"{file}: cannot read ({exc.strerror})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = [(f or "").strip().lower() for f in reader.fieldnames or []]
    if "email" not in fields:
        raise fail(f"{file}:1: the header row must name an 'email' column (and optionally 'name')")
    reader.fieldnames = fields
    people: dict[str, str] = {}
    bad = repeated = 0
    for row in reader:
        line = reader.line_num
        try:
            address = normalize_address(str(row.get("email") or ""))
        except AddressError as exc:
            err.print(
                f"{file}:{line}: skipped, {exc}", highlight=False, markup=False, soft_wrap=True
            )
            bad += 1
            continue
        name = str(row.get("name") or "").strip()
        reason = unsafe_header_text(name)
        if reason is not None:
            err.print(
                f"{file}:{line}: skipped, the name is not allowed: {reason}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
            bad += 1
            continue
        if address in people:
            repeated += 1
            continue
        people[address] = clean_header_text(name, 100)
    with opened(config) as store:
        added = store.import_subscribers(list(people.items()))
    console.print(
        f"{len(added)} imported, {len(people) - len(added)} already known, "
        f"{repeated} repeated in the file, {bad} invalid lines",
        highlight=False,
    )
    if bad:
        raise typer.Exit(1)


@subscribers_app.command("export")
def subscribers_export(
    status: StatusOption = None, config_path: ConfigOption = DEFAULT_CONFIG
) -> None:
    """Write all subscribers as CSV (email,name,status) to standard output."""
    import csv

    people = _subscribers(config_path, status)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["email", "name", "status"])
    for p in people:
        out.writerow([p.email, p.name, p.status])


@subscribers_app.command("reactivate")
def subscribers_reactivate(
    email: Annotated[str | None, typer.Argument(help="Email address.")] = None,
    bounced_since: Annotated[
        datetime | None,
        typer.Option(
            "--bounced-since",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
            help="Everyone bounced or complained by a report received since then (UTC).",
        ),
    ] = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Undo a bounce or complaint: the subscriber is active again (recorded as yours)."""
    from ..deliver import normalize_address
    from ..errors import AddressError
    from ..flows import bounces as hygiene

    if (email is None) == (bounced_since is None):
        raise fail("give an EMAIL or --bounced-since DATE (one of them)")
    config = load(config_path)
    with opened(config) as store:
        if bounced_since is not None:
            since = bounced_since.replace(tzinfo=bounced_since.tzinfo or UTC)
            done = hygiene.reactivate_since(store, since)
            for person in done:
                say(f"{person.email}: active (was {person.status})")
            say(f"{len(done)} subscribers reactivated")
            return
        try:
            address = normalize_address(email or "")
        except AddressError as exc:
            raise fail(str(exc)) from None
        subscriber = store.get_subscriber(email=address)
        if subscriber is None:
            raise fail(f"{address} is not a subscriber", 1)
        if not hygiene.reactivate(store, subscriber, note="subscribers reactivate"):
            raise fail(f"{address} is {subscriber.status}, not bounced or complained", 1)
    say(f"{address}: active (was {subscriber.status})")
