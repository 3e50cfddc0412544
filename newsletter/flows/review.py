"""Review: the editor's desk between build and send.

With ``review.required`` a built issue is a *draft*: :func:`open_draft` records it and mails
each editor a test copy and the desk link. Editors change the draft (drop, move, edit a
digest or a 本周要点 bullet, add a story from the week's entries); every change is recorded
with its editor, time, before and after. :func:`approve` marks it to go out now or at the
deadline; :func:`run_due` (the daemon's review job) sends what is due and applies
``review.on_deadline`` to drafts nobody approved. Sending itself is the send flow's.

Editors' drops and additions are kept as labels on entries (:func:`export_labels` writes
them as JSONL records in the labeled corpus's format), so the relevance rules can be
checked against real editorial choices.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, ParamSpec, TypeVar

from .. import deliver
from .._extract import DigestCaps
from .._facts import unsupported_facts
from .._guard import language_tag
from .._urls import canonical_url
from ..compose import short_headline
from ..config import Config, parse_deadline
from ..errors import NewsletterError
from ..models import Entry, Issue, IssueItem, Verdict
from ..store import Change, Review, Store
from ..summarize import CATEGORIES, extractive_summary
from ._mail import mail_sender, send_one
from .archive import renderer, write_issue
from .channels import post_issue
from .send import SendReport, send_issue

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
EDITABLE = ("draft", "held")
MAX_DIGEST_CHARS = 2000
MAX_BULLET_CHARS = 300
MAX_WHY_CHARS = 300


class ReviewError(NewsletterError):
    """An editor's action that cannot be done (unknown story, draft already sent, ...)."""


@dataclass(frozen=True)
class DueAction:
    issue_id: str
    action: Literal["sent", "held", "sent-at-deadline"]
    report: SendReport | None = None
    error: str | None = None


def required(config: Config) -> bool:
    return config.review.required


def deadline_after(config: Config, moment: datetime) -> datetime | None:
    """The first ``review.deadline`` (weekday and time in the configured zone) after ``moment``."""
    if config.review.deadline is None:
        return None
    weekday, hour, minute = parse_deadline(config.review.deadline)
    local = moment.astimezone(config.tz)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    for extra in (0, 7):
        naive = datetime(day.year, day.month, day.day, hour, minute) + timedelta(days=extra)
        candidate = naive.replace(tzinfo=config.tz)
        if candidate > local:
            return candidate.astimezone(UTC)
    raise AssertionError("unreachable: a week later is always after")


def desk_url(config: Config, issue_id: str = "") -> str:
    base = f"{config.base_url.rstrip('/')}/desk"
    return f"{base}/{issue_id}" if issue_id else base


# -- opening a draft --------------------------------------------------------------------


def begin_draft(config: Config, store: Store, issue: Issue) -> Review:
    """Record an issue as a draft; called before the issue is stored, so no page lists it.

    A rebuild of an issue already sent leaves it sent (it is out; it stays in the archive);
    a rebuild of a draft starts its review over, and the log says what that discarded.
    """
    existing = store.get_review(issue.id)
    if existing is not None and existing.status == "sent":
        return existing
    if existing is not None:
        done = [c for c in store.review_changes(issue.id) if c.editor != "deadline"]
        if done:
            log.warning(
                "review: issue %s was rebuilt; its %d editor changes no longer apply "
                "(they stay in its change log)",
                issue.id,
                len(done),
            )
            store.record_change(issue.id, "build", "rebuild", before=existing.status)
    return store.open_review(issue, deadline_after(config, datetime.now(UTC)))


def notify_editors(config: Config, store: Store, issue: Issue) -> None:
    """Mail each editor a test copy of the stored draft and the desk link.

    A mail that cannot be sent is logged; the draft stands either way.
    """
    review = store.get_review(issue.id)
    deadline = review.deadline if review else None
    log.info("review: issue %s is a draft awaiting an editor", issue.id)
    if deadline is None:
        due = "批准后才会发给订阅者。"
    elif config.review.on_deadline == "send":
        due = f"请在 {_local(config, deadline)} 前审阅并批准；到时未批准将照常发出。"
    else:
        due = f"请在 {_local(config, deadline)} 前审阅并批准；到时未批准将暂不发送。"
    for editor in config.review.editors:
        try:
            copy = send_issue(config, store, issue_id=issue.id, to=editor)
        except NewsletterError as exc:
            log.error("review: test copy to %s failed: %s", editor, exc)
        else:
            if copy.failed:
                log.error("review: test copy to %s failed: %s", editor, copy.failures[0][1])
        notice(
            config,
            editor,
            f"待审：{issue.title}",
            [f"《{issue.title}》已生成草稿，共 {len(issue.items)} 条，尚未发给订阅者。", due],
            desk_url(config, issue.id),
            "打开审稿台",
        )


def notice(
    config: Config, to: str, subject: str, lines: Sequence[str], link: str, button: str
) -> bool:
    """A short mail to an editor with one link; False (and logged) when it was not sent."""
    page = renderer(config).desk_notice(subject, lines, link, button)
    message = deliver.build_message(
        mail_sender(config), to=to, subject=subject, html=page.html, text=page.text
    )
    message["Auto-Submitted"] = "auto-generated"
    try:
        result = send_one(config, message, to)
    except NewsletterError as exc:
        log.error("review: mail to %s failed: %s", to, exc)
        return False
    if result.status != "sent":
        log.error("review: mail to %s failed: %s", to, result.answer)
        return False
    return True


def _local(config: Config, moment: datetime) -> str:
    return moment.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")


# -- reading a draft ---------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """An entry of the draft's week that is not in it: what the editor may add."""

    entry: Entry
    verdict: Verdict
    taken_by: str | None
    """Another issue that already took it (it cannot be added), if any."""


def draft(store: Store, issue_id: str) -> tuple[Review, Issue]:
    review = store.get_review(issue_id)
    issue = store.load_issue(issue_id)
    if review is None or issue is None:
        raise ReviewError(f"no draft {issue_id!r} (see `newsletter review list`)")
    return review, issue


def figure_warnings(item: IssueItem) -> list[str]:
    """Figures the digest states that its article does not (the build's check, for the desk)."""
    return unsupported_facts(item.summary.text, f"{item.entry.title}\n{item.entry.text}")


def candidates(store: Store, issue: Issue) -> list[Candidate]:
    """The week's entries not in the draft, the filter's rejects included, newest first."""
    shown = {e.id for i in issue.items for e in (i.entry, *i.also)}
    pairs = [
        (e, v)
        for e, v in store.entries_between(
            issue.window_start, issue.window_end, relevant_only=False
        )
        if e.id not in shown
    ]
    owners = store.taken_elsewhere(issue.id, [e.id for e, _ in pairs])
    return [Candidate(e, v, "another issue" if e.id in owners else None) for e, v in pairs]


# -- changing a draft --------------------------------------------------------------------


# Each change reads the draft, changes it and writes it back: two editors pressing buttons
# at once in one `serve` must not lose one change to the other.
_EDITS = threading.Lock()


def _serialized(change: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(change)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with _EDITS:
            return change(*args, **kwargs)

    return run


def _editable(store: Store, issue_id: str) -> tuple[Review, Issue]:
    review, issue = draft(store, issue_id)
    if review.status not in EDITABLE:
        raise ReviewError(f"issue {issue_id} is {review.status}: it can no longer be changed")
    return review, issue


def _find(issue: Issue, entry_id: str) -> IssueItem:
    for item in issue.items:
        if item.entry.id == entry_id:
            return item
    raise ReviewError(f"no story {entry_id!r} in issue {issue.id}")


def _with_sections(
    issue: Issue, sections: list[tuple[str, list[IssueItem]]], items: Sequence[IssueItem]
) -> Issue:
    kept = tuple((name, tuple(group)) for name, group in sections if group)
    return replace(issue, items=tuple(items), sections=kept)


def _sections(issue: Issue) -> list[tuple[str, list[IssueItem]]]:
    return [(name, list(group)) for name, group in issue.sections]


def _save(config: Config, store: Store, issue: Issue) -> None:
    write_issue(config, store, issue)
    original = store.original_issue(issue.id)
    if original is not None:
        had = {e.id for i in original.items for e in (i.entry, *i.also)}
        has = {e.id for i in issue.items for e in (i.entry, *i.also)}
        # save_issue records only what the issue shows: the dropped stay this issue's.
        store.keep_dropped(issue.id, sorted(had - has))


@_serialized
def drop_story(
    config: Config, store: Store, issue_id: str, entry_id: str, editor: str, why: str = ""
) -> IssueItem:
    """Take a story out of the draft (and its headline from 本周要点); the editor's "not for
    this newsletter" is labeled."""
    _, issue = _editable(store, issue_id)
    item = _find(issue, entry_id)
    sections = [(n, [i for i in g if i is not item]) for n, g in _sections(issue)]
    items = [i for i in issue.items if i is not item]
    # A 本周要点 bullet that is this story's headline would point at nothing.
    headline = short_headline(item.entry.title)
    stale = [b for b in issue.intro if b == headline or b == item.entry.title]
    kept = tuple(b for b in issue.intro if b not in stale)
    _save(config, store, replace(_with_sections(issue, sections, items), intro=kept))
    why = _one_line(why, MAX_WHY_CHARS)
    store.record_change(
        issue_id, editor, "drop", target=entry_id, before=item.entry.title, after=why
    )
    for bullet in stale:
        store.record_change(issue_id, editor, "drop bullet", target="with its story", before=bullet)
    store.label_entry(
        entry_id,
        issue_id,
        relevant=False,
        editor=editor,
        why=why or f"Editor dropped it from issue {issue_id}.",
        filter_relevant=item.verdict.relevant,
    )
    return item


@_serialized
def move_story(
    config: Config, store: Store, issue_id: str, entry_id: str, where: str, editor: str
) -> None:
    """``where``: ``up``, ``down`` (inside its section) or the name of another section."""
    _, issue = _editable(store, issue_id)
    item = _find(issue, entry_id)
    sections = _sections(issue)
    home = next(k for k, (_, group) in enumerate(sections) if item in group)
    name, group = sections[home]
    items = list(issue.items)
    if where in ("up", "down"):
        at = group.index(item)
        to = at - 1 if where == "up" else at + 1
        if not 0 <= to < len(group):
            raise ReviewError(f"the story is already at the {'top' if where == 'up' else 'end'}")
        group[at], group[to] = group[to], group[at]
        before, after = f"{name} #{at + 1}", f"{name} #{to + 1}"
    else:
        if where not in CATEGORIES:
            raise ReviewError(f"no section {where!r} (one of: {', '.join(CATEGORIES)})")
        if where == name:
            raise ReviewError(f"the story is already in {where}")
        group.remove(item)
        moved = replace(item, summary=replace(item.summary, category=where))
        names = [n for n, _ in sections]
        if where not in names:
            sections.append((where, []))
            sections.sort(key=lambda s: CATEGORIES.index(s[0]) if s[0] in CATEGORIES else 99)
        next(g for n, g in sections if n == where).append(moved)
        items = [moved if i is item else i for i in items]
        before, after = name, where
    _save(config, store, _with_sections(issue, sections, items))
    store.record_change(
        issue_id, editor, "move", target=entry_id, before=before, after=after
    )


@_serialized
def edit_digest(
    config: Config, store: Store, issue_id: str, entry_id: str, text: str, editor: str
) -> list[str]:
    """Replace a story's digest with the editor's text; returns figures its article lacks."""
    _, issue = _editable(store, issue_id)
    item = _find(issue, entry_id)
    clean = _one_line(text, MAX_DIGEST_CHARS + 1)
    if not clean:
        raise ReviewError("the digest is empty; drop the story instead")
    if len(clean) > MAX_DIGEST_CHARS:
        raise ReviewError(f"the digest is longer than {MAX_DIGEST_CHARS} characters")
    if clean == item.summary.text:
        return figure_warnings(item)
    edited = replace(item, summary=replace(item.summary, text=clean, edited_by=editor))
    _save(config, store, _replaced(issue, item, edited))
    store.record_change(
        issue_id, editor, "edit digest", target=entry_id, before=item.summary.text, after=clean
    )
    return figure_warnings(edited)


def _replaced(issue: Issue, old: IssueItem, new: IssueItem) -> Issue:
    sections = [(n, [new if i is old else i for i in g]) for n, g in _sections(issue)]
    return _with_sections(issue, sections, [new if i is old else i for i in issue.items])


@_serialized
def edit_bullet(
    config: Config, store: Store, issue_id: str, index: int, text: str | None, editor: str
) -> None:
    """Rewrite 本周要点 bullet ``index`` (0-based), or drop it with ``text=None``."""
    _, issue = _editable(store, issue_id)
    if not 0 <= index < len(issue.intro):
        raise ReviewError(f"no bullet {index + 1} (the draft has {len(issue.intro)})")
    bullets = list(issue.intro)
    before = bullets[index]
    if text is None:
        del bullets[index]
        action, after = "drop bullet", ""
    else:
        after = _one_line(text, MAX_BULLET_CHARS + 1)
        if not after:
            raise ReviewError("the bullet is empty; drop it instead")
        if len(after) > MAX_BULLET_CHARS:
            raise ReviewError(f"a bullet is at most {MAX_BULLET_CHARS} characters")
        if after == before:
            return
        bullets[index] = after
        action = "edit bullet"
    _save(config, store, replace(issue, intro=tuple(bullets)))
    store.record_change(
        issue_id, editor, action, target=str(index + 1), before=before, after=after
    )


@_serialized
def add_story(config: Config, store: Store, issue_id: str, url: str, editor: str) -> IssueItem:
    """Add the week's entry at ``url`` (the filter's rejects too) with an extracted digest."""
    _, issue = _editable(store, issue_id)
    wanted = canonical_url(url.strip())
    if not wanted:
        raise ReviewError("give the story's link (http or https)")
    shown = {canonical_url(e.link) for i in issue.items for e in (i.entry, *i.also)}
    if wanted in shown:
        raise ReviewError("that story is already in the draft")
    found = next(
        (c for c in candidates(store, issue) if canonical_url(c.entry.link) == wanted), None
    )
    if found is None:
        raise ReviewError(
            "no entry of this issue's week has that link (only stored entries can be added)"
        )
    if found.taken_by:
        raise ReviewError("that story is in another issue already")
    caps = DigestCaps(config.llm.max_chars, config.llm.max_words)
    item = IssueItem(found.entry, found.verdict, extractive_summary(found.entry, caps))
    section = item.summary.category if item.summary.category in CATEGORIES else CATEGORIES[-1]
    sections = _sections(issue)
    if section not in [n for n, _ in sections]:
        sections.append((section, []))
        sections.sort(key=lambda s: CATEGORIES.index(s[0]) if s[0] in CATEGORIES else 99)
    next(g for n, g in sections if n == section).append(item)
    store.release_entry(issue_id, found.entry.id)  # it may have been dropped from this draft
    _save(config, store, _with_sections(issue, sections, [*issue.items, item]))
    store.record_change(
        issue_id, editor, "add", target=found.entry.id, before="", after=found.entry.title
    )
    if found.verdict.relevant:
        # Kept by the filter and only left out by rank: an editor's pick, not a correction.
        store.unlabel_entry(found.entry.id)
    store.label_entry(
        found.entry.id,
        issue_id,
        relevant=True,
        editor=editor,
        why=f"Editor added it to issue {issue_id}.",
        filter_relevant=found.verdict.relevant,
    )
    return item


def _one_line(text: str, limit: int) -> str:
    """Control characters out, whitespace collapsed, at most ``limit`` characters."""
    cleaned = "".join(c if c.isprintable() else " " for c in text or "")
    return " ".join(cleaned.split())[:limit]


# -- approving and sending ------------------------------------------------------------------


@_serialized
def approve(
    config: Config, store: Store, issue_id: str, editor: str, *, now: bool = False
) -> Review:
    """Approve a draft: it goes out now (``now``) or at its deadline (now if it has none or
    it is held, the deadline past).

    Sending happens in :func:`run_due`, which the caller runs next when the time is now.
    """
    review, issue = draft(store, issue_id)
    if review.status not in EDITABLE:
        raise ReviewError(f"issue {issue_id} is already {review.status}")
    if not issue.items:
        raise ReviewError(f"issue {issue_id} has no stories left; add one before approving")
    moment = datetime.now(UTC)
    late = now or review.deadline is None or review.status == "held"  # held: deadline passed
    send_at = moment if late else max(moment, review.deadline or moment)
    if not store.set_review_status(
        issue_id,
        "approved",
        expect=EDITABLE,
        approved_by=editor,
        approved_at=moment,
        send_at=send_at,
    ):
        raise ReviewError(f"issue {issue_id} changed meanwhile; reload it")
    store.record_change(
        issue_id, editor, "approve", before=review.status, after=f"send at {send_at.isoformat()}"
    )
    log.info("review: %s approved issue %s (%d stories)", editor, issue_id, len(issue.items))
    result = store.get_review(issue_id)
    assert result is not None
    return result


def run_due(config: Config, store: Store, now: datetime | None = None) -> list[DueAction]:
    """Send approved drafts whose time has come; apply ``on_deadline`` to overdue drafts."""
    now = now or datetime.now(UTC)
    actions: list[DueAction] = []
    for review in store.list_reviews(("approved", "draft")):
        if review.status == "approved" and review.send_at and review.send_at <= now:
            actions.append(_send(config, store, review, "sent", ("approved",), now))
        elif review.status == "draft" and review.deadline and review.deadline <= now:
            if config.review.on_deadline == "send":
                actions.append(_send(config, store, review, "sent-at-deadline", ("draft",), now))
            elif store.set_review_status(
                review.issue_id, "held", expect=("draft",), note="deadline passed"
            ):
                _tell_held(config, store, review)
                actions.append(DueAction(review.issue_id, "held"))
    return actions


def _send(
    config: Config,
    store: Store,
    review: Review,
    action: Literal["sent", "sent-at-deadline"],
    expect: tuple[str, ...],
    now: datetime,
) -> DueAction:
    # Claimed before sending: a second job or approval finds it sent and leaves it; a send
    # cut short is finished by the daemon's send resume (deliveries are per recipient).
    note = "sent at the deadline without approval" if action == "sent-at-deadline" else ""
    if not store.set_review_status(review.issue_id, "sent", expect=expect, sent_at=now, note=note):
        return DueAction(review.issue_id, action, error="already handled elsewhere")
    if note:
        log.warning("review: issue %s %s (review.on_deadline: send)", review.issue_id, note)
        store.record_change(review.issue_id, "deadline", "send", before="draft", after=note)
    issue = store.load_issue(review.issue_id)
    if issue is not None:
        write_issue(config, store, issue)  # now public: the archive and feed list it
    report: SendReport | None = None
    try:
        report = send_issue(config, store, issue_id=review.issue_id)
        error = report.error
    except NewsletterError as exc:
        log.error("review: sending issue %s failed: %s", review.issue_id, exc)
        error = str(exc)
    if config.channels:
        # After the email, as the weekly job does; a mail problem is no reason to skip chat.
        try:
            post_issue(config, store, review.issue_id)
        except NewsletterError as exc:
            log.error("review: posting issue %s to chat failed: %s", review.issue_id, exc)
    return DueAction(review.issue_id, action, report=report, error=error)


def _tell_held(config: Config, store: Store, review: Review) -> None:
    when = _local(config, review.deadline) if review.deadline else "the deadline"
    log.warning(
        "review: issue %s was not approved by %s; held (review.on_deadline: hold). "
        "Approve it with `newsletter review approve %s` to send it.",
        review.issue_id,
        when,
        review.issue_id,
    )
    store.record_change(review.issue_id, "deadline", "hold", before="draft", after="held")
    for editor in config.review.editors:
        notice(
            config,
            editor,
            f"未发送：{review.issue_id} 到期未批准",
            [f"这一期在 {when} 前未获批准，已暂停发送。", "批准后会立即发出。"],
            desk_url(config, review.issue_id),
            "打开审稿台",
        )


# -- labeled examples ----------------------------------------------------------------------


def export_labels(store: Store) -> Iterator[str]:
    """Editors' decisions as JSONL lines in the labeled corpus's format (POLICY.md)."""
    for label, found in store.labels():
        if found is None:
            continue
        entry, _ = found
        record = {
            "id": f"desk-{entry.id[:16]}",
            "title": entry.title,
            "summary": entry.text[:400],
            "content": entry.text,
            "link": entry.link,
            "source": entry.source_name,
            "published": entry.published.isoformat(),
            "lang": language_tag(f"{entry.title}\n{entry.text}"),
            "relevant": label.relevant,
            # The filter and the editor disagree: exactly the entries a rule gets wrong.
            "hard": label.relevant != label.filter_relevant,
            "why": label.why,
        }
        yield json.dumps(record, ensure_ascii=False)


def changes(store: Store, issue_id: str) -> list[Change]:
    return store.review_changes(issue_id)
