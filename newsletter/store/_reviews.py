"""The editor's desk: drafts awaiting approval, every change made to them, the editors'
labels on entries, and the one-use sign-in links.

A draft is an ordinary issue (``issues``) plus a ``reviews`` row saying it may not be
sent yet; its edits rewrite the issue in place, and ``reviews.original`` keeps the issue
as built, so the page can always show what the editor changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update

from ..models import Entry, Issue, Verdict
from ._base import StoreBase, insert_ignoring_duplicates, now_utc
from ._entries import entry_from_row
from ._issues import IssueRecord, IssuesMixin, issue_from_json, issue_to_json
from ._schema import desk_links, entries, issue_entries, review_changes, review_labels, reviews

ReviewStatus = Literal["draft", "approved", "held", "sent"]


@dataclass(frozen=True)
class Review:
    issue_id: str
    status: ReviewStatus
    created: datetime
    deadline: datetime | None
    send_at: datetime | None
    approved_by: str
    approved_at: datetime | None
    sent_at: datetime | None
    note: str


@dataclass(frozen=True)
class Change:
    id: int
    issue_id: str
    editor: str
    at: datetime
    action: str
    target: str
    before: str
    after: str


@dataclass(frozen=True)
class Label:
    entry_id: str
    issue_id: str
    relevant: bool
    editor: str
    why: str
    filter_relevant: bool
    at: datetime


def _review(r: Any) -> Review:
    return Review(
        issue_id=r.issue_id,
        status=r.status,
        created=r.created,
        deadline=r.deadline,
        send_at=r.send_at,
        approved_by=r.approved_by,
        approved_at=r.approved_at,
        sent_at=r.sent_at,
        note=r.note,
    )


class ReviewsMixin(IssuesMixin, StoreBase):
    """Drafts, their change log, editors' labels and sign-in links."""

    def open_review(self, issue: Issue, deadline: datetime | None) -> Review:
        """Mark a just-built issue as a draft (a rebuild starts its review over)."""
        row = {
            "status": "draft",
            "original": issue_to_json(issue),
            "created": now_utc(),
            "deadline": deadline,
            "send_at": None,
            "approved_by": "",
            "approved_at": None,
            "sent_at": None,
            "note": "",
        }
        with self._write_tx() as conn:
            done = conn.execute(
                update(reviews).where(reviews.c.issue_id == issue.id).values(**row)
            )
            if done.rowcount == 0:
                conn.execute(reviews.insert().values(issue_id=issue.id, **row))
        review = self.get_review(issue.id)
        assert review is not None
        return review

    def get_review(self, issue_id: str) -> Review | None:
        with self._tx() as conn:
            row = conn.execute(select(reviews).where(reviews.c.issue_id == issue_id)).first()
        return None if row is None else _review(row)

    def list_reviews(self, statuses: tuple[str, ...] = ()) -> list[Review]:
        """Reviews, newest first; only those in ``statuses`` when given."""
        query = select(reviews).order_by(reviews.c.created.desc(), reviews.c.issue_id)
        if statuses:
            query = query.where(reviews.c.status.in_(statuses))
        with self._tx() as conn:
            return [_review(r) for r in conn.execute(query)]

    def unpublished_issue_ids(self) -> set[str]:
        """Issues nobody may see outside the desk yet: drafts, held or approved but unsent."""
        with self._tx() as conn:
            query = select(reviews.c.issue_id).where(reviews.c.status != "sent")
            return set(conn.execute(query).scalars())

    def public_issues(self) -> list[IssueRecord]:
        """The archive's issues, newest first: every issue but those still under review."""
        hidden = self.unpublished_issue_ids()
        return [i for i in self.list_issues() if i.id not in hidden]

    def original_issue(self, issue_id: str) -> Issue | None:
        """The draft as the build made it, before any editor's change."""
        with self._tx() as conn:
            data = conn.execute(
                select(reviews.c.original).where(reviews.c.issue_id == issue_id)
            ).scalar()
        return None if data is None else issue_from_json(data)

    def set_review_status(
        self,
        issue_id: str,
        status: ReviewStatus,
        *,
        expect: tuple[str, ...] = (),
        **values: Any,
    ) -> bool:
        """Move a review to ``status`` (only from ``expect`` when given); False if it was not.

        The compare-and-set is what keeps two approvals, or an approval racing the
        deadline, from sending an issue twice.
        """
        query = update(reviews).where(reviews.c.issue_id == issue_id)
        if expect:
            query = query.where(reviews.c.status.in_(expect))
        with self._write_tx() as conn:
            return bool(conn.execute(query.values(status=status, **values)).rowcount)

    def keep_dropped(self, issue_id: str, entry_ids: list[str]) -> None:
        """Entries an editor dropped stay this issue's (role "dropped"): no later issue
        brings them back."""
        if not entry_ids:
            return
        with self._tx() as conn:
            conn.execute(
                insert_ignoring_duplicates(conn, issue_entries),
                [{"entry_id": e, "issue_id": issue_id, "role": "dropped"} for e in entry_ids],
            )

    def release_entry(self, issue_id: str, entry_id: str) -> None:
        """Let this issue take back an entry it held as dropped (the editor added it again)."""
        with self._tx() as conn:
            conn.execute(
                issue_entries.delete().where(
                    issue_entries.c.issue_id == issue_id, issue_entries.c.entry_id == entry_id
                )
            )

    def taken_elsewhere(self, issue_id: str, entry_ids: list[str]) -> set[str]:
        """Which of these entries another issue has taken."""
        if not entry_ids:
            return set()
        with self._tx() as conn:
            query = select(issue_entries.c.entry_id).where(
                issue_entries.c.entry_id.in_(entry_ids), issue_entries.c.issue_id != issue_id
            )
            return set(conn.execute(query).scalars())

    # -- the change log ----------------------------------------------------------------
    def record_change(
        self,
        issue_id: str,
        editor: str,
        action: str,
        *,
        target: str = "",
        before: str = "",
        after: str = "",
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                review_changes.insert().values(
                    issue_id=issue_id,
                    editor=editor,
                    at=now_utc(),
                    action=action,
                    target=target,
                    before=before,
                    after=after,
                )
            )

    def review_changes(self, issue_id: str) -> list[Change]:
        """Every change to a draft, oldest first."""
        with self._tx() as conn:
            rows = conn.execute(
                select(review_changes)
                .where(review_changes.c.issue_id == issue_id)
                .order_by(review_changes.c.id)
            )
            return [
                Change(r.id, r.issue_id, r.editor, r.at, r.action, r.target, r.before, r.after)
                for r in rows
            ]

    # -- editors' labels ---------------------------------------------------------------
    def label_entry(
        self,
        entry_id: str,
        issue_id: str,
        *,
        relevant: bool,
        editor: str,
        why: str,
        filter_relevant: bool,
    ) -> None:
        """The editor's latest verdict on an entry (a later one replaces it)."""
        row = {
            "issue_id": issue_id,
            "relevant": relevant,
            "editor": editor,
            "why": why,
            "filter_relevant": filter_relevant,
            "at": now_utc(),
        }
        with self._write_tx() as conn:
            done = conn.execute(
                update(review_labels).where(review_labels.c.entry_id == entry_id).values(**row)
            )
            if done.rowcount == 0:
                conn.execute(review_labels.insert().values(entry_id=entry_id, **row))

    def unlabel_entry(self, entry_id: str) -> None:
        with self._tx() as conn:
            conn.execute(review_labels.delete().where(review_labels.c.entry_id == entry_id))

    def labels(self) -> list[tuple[Label, tuple[Entry, Verdict] | None]]:
        """Every label with its stored entry (``None`` if the entry is gone), oldest first."""
        with self._tx() as conn:
            rows = conn.execute(
                select(review_labels).order_by(review_labels.c.at, review_labels.c.entry_id)
            ).all()
            ids = [r.entry_id for r in rows]
            found = {
                r.id: entry_from_row(r)
                for r in conn.execute(select(entries).where(entries.c.id.in_(ids)))
            }
        return [
            (
                Label(
                    r.entry_id,
                    r.issue_id,
                    bool(r.relevant),
                    r.editor,
                    r.why,
                    bool(r.filter_relevant),
                    r.at,
                ),
                found.get(r.entry_id),
            )
            for r in rows
        ]

    # -- sign-in links -----------------------------------------------------------------
    def add_desk_link(self, nonce: str, email: str) -> None:
        with self._tx() as conn:
            conn.execute(desk_links.insert().values(nonce=nonce, email=email, created=now_utc()))

    def use_desk_link(self, nonce: str, email: str) -> bool:
        """Spend a sign-in link: True once for a link we mailed to ``email``, then False."""
        with self._write_tx() as conn:
            done = conn.execute(
                update(desk_links)
                .where(
                    desk_links.c.nonce == nonce,
                    desk_links.c.email == email,
                    desk_links.c.used.is_(None),
                )
                .values(used=now_utc())
            )
            return bool(done.rowcount)
