"""Jinja2 rendering: the issue as email-safe HTML (CSS inlined) and as plain text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import css_inline
import jinja2

from ._resources import templates_root
from .models import Issue

HTML_LANG = {"zh-CN": "zh-CN", "zh-TW": "zh-TW", "en": "en"}


def template_env(
    templates_dir: str | Path | None = None, *, html: bool = True
) -> jinja2.Environment:
    """Operator templates (if any) first, then the packaged ones; autoescape for HTML."""
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(jinja2.FileSystemLoader(str(templates_root())))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=not html,
        lstrip_blocks=not html,
    )


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str


class Renderer:
    """Renders issues and the archive page with one pair of template environments."""

    def __init__(
        self,
        templates_dir: str | Path | None = None,
        *,
        timezone: str = "Asia/Shanghai",
        language: str = "zh-CN",
        list_title: str = "",
        contact: str = "",
    ) -> None:
        self._html = template_env(templates_dir, html=True)
        self._text = template_env(templates_dir, html=False)
        self.tz = ZoneInfo(timezone)
        self.lang = HTML_LANG.get(language, language)
        self.list_title = list_title
        self.contact = contact
        self._inliner = css_inline.CSSInliner(keep_style_tags=False)
        # Media queries (small screens, dark mode) and Outlook.com's attribute selectors
        # cannot be inlined and css_inline drops every <style>: added back after inlining.
        kept = self._text.get_template("_email_kept.css").render()
        self._kept_css = f"<style>\n{kept.strip()}\n</style>\n</head>"
        for env in (self._html, self._text):
            env.globals["local_date"] = self.local_date

    def local_date(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d")

    def window_label(self, issue: Issue) -> str:
        return f"{self.local_date(issue.window_start)} 至 {self.local_date(issue.window_end)}"

    def issue(
        self, issue: Issue, *, web_url: str = "", unsubscribe_url: str = "", more: int = 0
    ) -> Rendered:
        """The issue as (inlined HTML, plain text); per-recipient links are optional.

        ``more`` is how many stories were left out of this copy (they are on ``web_url``).
        """
        values: dict[str, Any] = {
            "issue": issue,
            "lang": self.lang,
            "window_label": self.window_label(issue),
            "any_llm": any(i.summary.kind == "llm" for i in issue.items),
            "web_url": web_url,
            "unsubscribe_url": unsubscribe_url,
            "more": more,
            "preheader": preheader(issue),
            "list_title": self.list_title or issue.title,
            "contact": self.contact,
        }
        page = self._html.get_template("issue.html.j2").render(**values)
        text = self._text.get_template("issue.txt.j2").render(**values)
        return Rendered(self.email_html(page), text)

    def email_html(self, page: str) -> str:
        """A page built on ``_email.html.j2`` with its CSS inlined, the rest kept in <head>."""
        return self._inliner.inline(page).replace("</head>", self._kept_css, 1)

    def confirmation(self, list_title: str, link: str) -> Rendered:
        """The double opt-in mail: the issue's look, one button, the link in plain sight."""
        values = {
            "lang": self.lang,
            "list_title": list_title,
            "link": link,
            "contact": self.contact,
        }
        page = self._html.get_template("confirm.html.j2").render(**values)
        text = self._text.get_template("confirm.txt.j2").render(**values)
        return Rendered(self.email_html(page), text)

    def desk_notice(
        self, heading: str, lines: Sequence[str], link: str, button: str
    ) -> Rendered:
        """A short mail to an editor (a draft to review, a sign-in link): one button."""
        values = {
            "lang": self.lang,
            "heading": heading,
            "lines": list(lines),
            "link": link,
            "button": button,
            "contact": self.contact,
        }
        page = self._html.get_template("desk_notice.html.j2").render(**values)
        text = self._text.get_template("desk_notice.txt.j2").render(**values)
        return Rendered(self.email_html(page), text)

    def archive(self, title: str, issues: Sequence[Any]) -> str:
        """The list of all issues, newest first, linking to each issue's folder."""
        page = self._html.get_template("archive.html.j2").render(
            title=title, issues=issues, lang=self.lang
        )
        return self._inliner.inline(page)


def preheader(issue: Issue, limit: int = 90) -> str:
    """The line a mail client shows under the subject: the week's points, then headlines."""
    points = list(issue.intro) or [i.entry.title for _, group in issue.sections for i in group]
    line = ""
    for point in points:
        candidate = f"{line}；{point}" if line else point
        if len(candidate) > limit:
            break
        line = candidate
    return line or (points[0][: limit - 1] + "…" if points else "")


# -- web archive pages and the Atom feed --------------------------------------------------

# Characters XML 1.0 forbids even as references; feed text could carry them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def http_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL, else empty: nothing else becomes a link."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


@dataclass(frozen=True)
class FeedEntry:
    issue: Issue
    url: str
    """Where the web version of the issue lives (also the entry's Atom id)."""


class WebRenderer(Renderer):
    """The web archive's pages (``templates/web/``) and the newsletter's own Atom feed."""

    def __init__(
        self,
        templates_dir: str | Path | None = None,
        *,
        timezone: str = "Asia/Shanghai",
        language: str = "zh-CN",
        title: str = "",
    ) -> None:
        super().__init__(templates_dir, timezone=timezone, language=language)
        self.title = title
        self._html.filters["http_url"] = http_url
        self._html.globals.update(site_title=title, lang=self.lang)

    def page(self, template: str, **values: Any) -> str:
        """A page from ``templates/web/``; every page gets ``site_title`` and ``lang``."""
        return self._html.get_template(f"web/{template}").render(**values)

    def issue_body(self, issue: Issue) -> str:
        """The issue's intro, sections, items and digests as an HTML fragment (no page)."""
        return self._html.get_template("web/_issue.html.j2").render(issue=issue)

    def atom(
        self,
        entries: Sequence[FeedEntry],
        *,
        feed_url: str,
        site_url: str,
        updated: datetime,
    ) -> str:
        """An Atom 1.0 document whose entries carry each issue's full content as HTML."""
        items = [
            {
                "id": e.url,
                "url": e.url,
                "title": e.issue.title,
                "published": _rfc3339(e.issue.created),
                "updated": _rfc3339(e.issue.created),
                "summary": "；".join(e.issue.intro),
                # A plain str, so the XML template escapes the markup into text.
                "content": str(self.issue_body(e.issue)),
            }
            for e in entries
        ]
        document = self._html.get_template("feed.xml.j2").render(
            title=self.title,
            feed_url=feed_url,
            site_url=site_url,
            updated=_rfc3339(updated),
            entries=items,
        )
        return _XML_INVALID.sub("", document)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
