"""``review``: drafts on the editor's desk (``review.required``): list, show, approve, drop,
and the editors' decisions as labeled examples."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from ..errors import NewsletterError
from ._common import (
    DEFAULT_CONFIG,
    ConfigOption,
    OutputOption,
    console,
    fail,
    fitting_table,
    load,
    opened,
    say,
    setup_logging,
    shown,
    storage_errors,
    sub_app,
    when,
    write_output,
)

review_app = sub_app("Drafts on the editor's desk: list, show, approve, drop.")
EditorOption = Annotated[
    str | None,
    typer.Option("--editor", help="Who is acting, for the change log (default cli:$USER)."),
]


def _editor(name: str | None) -> str:
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return name or f"cli:{user}"


@review_app.command("list")
def review_list(config_path: ConfigOption = DEFAULT_CONFIG) -> None:
    """Issues on the desk, newest first: status, deadline, when they go out."""
    config = load(config_path)
    with opened(config) as store, storage_errors():
        reviews = store.list_reviews()
        rows = [(r, store.get_issue(r.issue_id), len(store.review_changes(r.issue_id)))
                for r in reviews]
    if not rows:
        say("no drafts (review.required is " + ("on" if config.review.required else "off") + ")")
        return
    table = fitting_table("Editor's desk")
    for column in ("issue", "status", "stories", "changes", "deadline", "goes out"):
        table.add_column(column)
    for review, record, count in rows:
        table.add_row(
            shown(review.issue_id),
            review.status,
            str(record.item_count if record else 0),
            str(count),
            when(review.deadline, config.tz),
            when(review.sent_at or review.send_at, config.tz),
        )
    console.print(table)


@review_app.command("show")
def review_show(
    issue_id: Annotated[str, typer.Argument(help="The draft's issue id.")],
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """The draft's stories in reading order, figure warnings, and every change made."""
    from ..flows import review as desk

    config = load(config_path)
    with opened(config) as store, storage_errors():
        try:
            review, issue = desk.draft(store, issue_id)
        except NewsletterError as exc:
            raise fail(str(exc), 1) from None
        log_rows = store.review_changes(issue_id)
    say(f"{issue.title} — {review.status}, {len(issue.items)} stories")
    for bullet in issue.intro:
        say(f"  • {bullet}")
    for name, group in issue.sections:
        say(f"\n{name}")
        for item in group:
            mark = " [edited]" if item.summary.edited_by else ""
            say(f"  {item.entry.id[:12]}  {item.entry.title}{mark}")
            warnings = desk.figure_warnings(item)
            if warnings:
                say(f"      figures not in the article: {', '.join(warnings)}")
    if log_rows:
        say("\nchanges")
        for change in log_rows:
            at = change.at.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
            detail = f"{change.before[:60]} → {change.after[:60]}".strip(" →")
            say(f"  {at} {change.editor} {change.action} {change.target[:12]} {detail}")


@review_app.command("approve")
def review_approve(
    issue_id: Annotated[str, typer.Argument(help="The draft's issue id.")],
    now: Annotated[
        bool, typer.Option("--now", help="Send now instead of at the deadline.")
    ] = False,
    editor: EditorOption = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Approve a draft: it goes out at its deadline (the daemon sends it), or now."""
    from ..flows import review as desk
    from .issues import print_send

    config = load(config_path)
    setup_logging(config)
    with opened(config) as store, storage_errors():
        try:
            review = desk.approve(config, store, issue_id, _editor(editor), now=now)
        except NewsletterError as exc:
            raise fail(str(exc), 1) from None
        assert review.send_at is not None
        if review.send_at > datetime.now(UTC):
            say(f"approved: {issue_id} goes out at {when(review.send_at, config.tz)}")
            return
        for done in desk.run_due(config, store):
            if done.issue_id == issue_id and done.report is not None:
                print_send(done.report)
            elif done.issue_id == issue_id and done.error:
                raise fail(done.error, 1)


@review_app.command("drop")
def review_drop(
    issue_id: Annotated[str, typer.Argument(help="The draft's issue id.")],
    entry_id: Annotated[str, typer.Argument(help="The story's entry id (a unique prefix).")],
    why: Annotated[str, typer.Option("--why", help="Why it does not belong (kept as a label).")]
    = "",
    editor: EditorOption = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Take a story out of a draft (recorded, and kept as a labeled example)."""
    from ..flows import review as desk

    config = load(config_path)
    with opened(config) as store, storage_errors():
        try:
            _, issue = desk.draft(store, issue_id)
            matches = [i for i in issue.items if i.entry.id.startswith(entry_id)]
            if len(matches) != 1:
                raise desk.ReviewError(
                    f"{len(matches) or 'no'} stories of {issue_id} match {entry_id!r}"
                )
            item = desk.drop_story(
                config, store, issue_id, matches[0].entry.id, _editor(editor), why
            )
        except NewsletterError as exc:
            raise fail(str(exc), 1) from None
    say(f"dropped: {item.entry.title}")


@review_app.command("labels")
def review_labels(
    output: OutputOption = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Editors' drops and additions as JSONL in the labeled corpus's format (POLICY.md)."""
    from ..flows import review as desk

    config = load(config_path)
    with opened(config) as store, storage_errors():
        lines = list(desk.export_labels(store))
    text = "".join(f"{line}\n" for line in lines)
    write_output(output, text, f"{len(lines)} labeled examples written")
