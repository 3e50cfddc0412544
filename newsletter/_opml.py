"""OPML 2.0 subscription lists: read what other readers export, write what they import.

Reading uses defusedxml: an OPML file is user-supplied XML, and the stdlib parsers
expand entities (billion laughs) unless told otherwise; defusedxml refuses DTD entity
tricks and external references outright. Writing uses the stdlib ElementTree, which
escapes attribute values correctly and needs nothing more.

Exported outlines carry the attributes rss2email, reader and Miniflux read:
``type="rss" text title xmlUrl htmlUrl``. A feed's weight rides along in our own
namespace so a round trip keeps it; other readers ignore it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ._urls import feed_key
from .errors import NewsletterError

NAMESPACE = "https://github.com/newsletter/opml"
ET.register_namespace("newsletter", NAMESPACE)
_WEIGHT = f"{{{NAMESPACE}}}weight"
# XML 1.0 forbids these even escaped; a feed title full of them must not break the file.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FEED_TYPES = {"", "rss", "atom", "rdf", "feed"}


class OPMLError(NewsletterError):
    """The file is not an OPML document we can read at all."""


@dataclass(frozen=True)
class OPMLFeed:
    url: str
    name: str = ""
    html_url: str | None = None
    weight: float = 1.0
    category: str = ""
    """Slash-joined titles of the enclosing category outlines."""


@dataclass
class OPMLImport:
    feeds: list[OPMLFeed] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """One line per outline that was skipped, saying why."""
    repeated: int = 0
    """Outlines naming a feed an earlier outline named (the same feed in two folders)."""


def is_feed_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _clean(value: str) -> str:
    return _INVALID_XML.sub("", value).strip()


def write_opml(feeds: Iterable[OPMLFeed], *, title: str, created: datetime) -> str:
    """An OPML 2.0 document listing ``feeds`` (flat, in the order given)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _clean(title)
    ET.SubElement(head, "dateCreated").text = format_datetime(created)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        name = _clean(feed.name) or feed.url
        attrs = {"type": "rss", "text": name, "title": name, "xmlUrl": _clean(feed.url)}
        if feed.html_url:
            attrs["htmlUrl"] = _clean(feed.html_url)
        if feed.weight != 1.0:
            attrs[_WEIGHT] = f"{feed.weight:g}"
        ET.SubElement(body, "outline", attrs)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _outlines(
    parent: ET.Element, path: tuple[str, ...]
) -> Iterator[tuple[ET.Element, tuple[str, ...]]]:
    for node in parent:
        if not isinstance(node.tag, str) or node.tag.rsplit("}", 1)[-1] != "outline":
            continue
        yield node, path
        label = _clean(node.get("title") or node.get("text") or "")
        yield from _outlines(node, path + (label,) if label else path)


def read_opml(data: bytes) -> OPMLImport:
    """Feeds from an OPML document, nested categories included; bad outlines reported."""
    try:
        root = fromstring(data)
    except DefusedXmlException as exc:
        raise OPMLError(f"refused: the file uses XML entities or a DTD ({exc})") from None
    except ET.ParseError as exc:
        raise OPMLError(f"not well-formed XML ({exc})") from None
    if root.tag.rsplit("}", 1)[-1].lower() != "opml":
        raise OPMLError(f"not an OPML document (the root element is <{root.tag}>)")
    body = next((c for c in root if isinstance(c.tag, str) and c.tag.lower() == "body"), None)
    if body is None:
        raise OPMLError("not an OPML document (no <body>)")
    result = OPMLImport()
    seen: set[str] = set()
    for number, (node, path) in enumerate(_outlines(body, ()), 1):
        url = (node.get("xmlUrl") or node.get("xmlurl") or "").strip()
        label = _clean(node.get("title") or node.get("text") or "")
        where = f"outline {number}" + (f" ({label[:40]!r})" if label else "")
        if not url:
            if len(node) == 0 and (node.get("type") or "").lower() not in ("", "category"):
                result.problems.append(f"{where}: no xmlUrl, not a feed (type={node.get('type')})")
            continue  # a category folder (or a plain note): its children are walked
        kind = (node.get("type") or "").lower()
        if kind not in _FEED_TYPES:
            result.problems.append(f"{where}: type={kind!r} is not a feed")
            continue
        if not is_feed_url(url):
            result.problems.append(f"{where}: xmlUrl {url[:80]!r} is not an http(s) URL")
            continue
        if feed_key(url) in seen:
            result.repeated += 1
            continue
        seen.add(feed_key(url))
        html_url = (node.get("htmlUrl") or node.get("htmlurl") or "").strip()
        try:
            weight = float(node.get(_WEIGHT) or 1.0)
        except ValueError:
            weight = 1.0
        result.feeds.append(
            OPMLFeed(
                url=url,
                name=label,
                html_url=html_url if is_feed_url(html_url) else None,
                weight=weight if weight >= 0 else 1.0,
                category="/".join(path),
            )
        )
    return result
