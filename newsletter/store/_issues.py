"""Issues: each built newsletter, kept whole for re-rendering and the archive."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ..models import Entry, Issue, IssueItem, Summary, Verdict
from ._base import StoreBase, insert_ignoring_duplicates
from ._schema import issue_entries, issues


@dataclass(frozen=True)
class IssueRecord:
    id: str
    title: str
    created: datetime
    window_start: datetime
    window_end: datetime
    item_count: int
    entry_ids: tuple[str, ...]
    path: str


class IssuesMixin(StoreBase):
    """The issues table: built issues, whole, as JSON."""

    def save_issue(self, issue: Issue, path: str) -> None:
        row = {
            "title": issue.title,
            "created": issue.created,
            "window_start": issue.window_start,
            "window_end": issue.window_end,
            "item_count": len(issue.items),
            "entry_ids": json.dumps([i.entry.id for i in issue.items]),
            "path": path,
            "data": issue_to_json(issue),
        }
        taken: dict[str, str] = {}
        for item in issue.items:
            for other in item.also:
                taken.setdefault(other.id, "also")
            taken[item.entry.id] = "story"
        with self._tx() as conn:
            done = conn.execute(update(issues).where(issues.c.id == issue.id).values(**row))
            if done.rowcount == 0:
                conn.execute(issues.insert().values(id=issue.id, **row))
            # In the issue's own transaction: an issue and what it took are stored together.
            # Stories an editor dropped from this issue stay its own (see keep_dropped).
            conn.execute(
                issue_entries.delete().where(
                    issue_entries.c.issue_id == issue.id, issue_entries.c.role != "dropped"
                )
            )
            if taken:
                # An entry another issue already took stays that issue's.
                conn.execute(
                    insert_ignoring_duplicates(conn, issue_entries),
                    [{"entry_id": e, "issue_id": issue.id, "role": r} for e, r in taken.items()],
                )

    @staticmethod
    def _issue_from_row(r: Any) -> IssueRecord:
        return IssueRecord(
            id=r.id,
            title=r.title,
            created=r.created,
            window_start=r.window_start,
            window_end=r.window_end,
            item_count=r.item_count,
            entry_ids=tuple(json.loads(r.entry_ids)),
            path=r.path,
        )

    def list_issues(self) -> list[IssueRecord]:
        """All issues, newest first."""
        with self._tx() as conn:
            rows = conn.execute(select(issues).order_by(issues.c.window_end.desc(), issues.c.id))
            return [self._issue_from_row(r) for r in rows]

    def load_issue(self, issue_id: str) -> Issue | None:
        """The full issue as it was built (items, digests, intro), for re-rendering."""
        with self._tx() as conn:
            data = conn.execute(select(issues.c.data).where(issues.c.id == issue_id)).scalar()
        return None if data is None else issue_from_json(data)

    def get_issue(self, issue_id: str) -> IssueRecord | None:
        with self._tx() as conn:
            row = conn.execute(select(issues).where(issues.c.id == issue_id)).first()
        return None if row is None else self._issue_from_row(row)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def issue_to_json(issue: Issue) -> str:
    return json.dumps(_plain(dataclasses.asdict(issue)), ensure_ascii=False)


_ENTRY_FIELDS = {f.name for f in dataclasses.fields(Entry)} - {"published", "claimed_published"}


def issue_from_json(text: str) -> Issue:
    data = json.loads(text)

    def entry(d: dict[str, Any]) -> Entry:
        # Fields an older version wrote and Entry no longer has (``html``) are left out.
        fields = {k: v for k, v in d.items() if k in _ENTRY_FIELDS}
        claimed = d.get("claimed_published")
        return Entry(
            **fields,
            published=datetime.fromisoformat(d["published"]),
            claimed_published=datetime.fromisoformat(claimed) if claimed else None,
        )

    def item(d: dict[str, Any]) -> IssueItem:
        s = d["summary"]
        return IssueItem(
            entry=entry(d["entry"]),
            verdict=Verdict(
                d["verdict"]["relevant"], d["verdict"]["score"], tuple(d["verdict"]["reasons"])
            ),
            summary=Summary(**{**s, "key_facts": tuple(s["key_facts"])}),
            also=tuple(entry(a) for a in d["also"]),
        )

    items = tuple(item(d) for d in data["items"])
    by_id = {i.entry.id: i for i in items}
    return Issue(
        id=data["id"],
        title=data["title"],
        created=datetime.fromisoformat(data["created"]),
        window_start=datetime.fromisoformat(data["window_start"]),
        window_end=datetime.fromisoformat(data["window_end"]),
        items=items,
        intro=tuple(data["intro"]),
        intro_kind=data["intro_kind"],
        sections=tuple(
            (name, tuple(by_id[i["entry"]["id"]] for i in group))
            for name, group in data["sections"]
        ),
    )
