"""Feed bytes → normalized :class:`Entry` objects."""

from __future__ import annotations

import hashlib
import html
import html.entities
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import feedparser
import nh3

from ._encoding import detect, mojibake, superset
from ._urls import canonical_url
from .models import Entry, Feed

# Caps keep one giant feed from dominating memory or the LLM bill.
MAX_ENTRIES_PER_FEED = 500
MAX_TEXT_CHARS = 20_000
MAX_TITLE_CHARS = 500
_XML_DECL = re.compile(rb"^(\xef\xbb\xbf)?\s*<\?xml[^>]*\?>", re.S)
# C0 controls but tab and newline, DEL and C1: never text, invisible in a mail, and
# PostgreSQL refuses NUL. feedparser's lenient parser and character references let them in.
# A regex, not ``str.translate``: translate looks every character of a CJK text up in a
# dict, and was a fifth of our CPU per entry; the search is a C scan that rarely matches.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A date after first seen (plus this much slack for clock skew and time zones) or before
# feeds existed is a broken clock or a placeholder: the entry counts from when we saw it.
FUTURE_SLACK = timedelta(days=1)
EARLIEST_DATE = datetime(1995, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ParsedFeed:
    """What one feed document held. ``error`` is set when it was not a usable feed."""

    title: str
    entries: tuple[Entry, ...]
    error: str | None = None
    encoding: str | None = None
    warnings: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    """What the operator should hear about (wrong charset, garbled titles dropped)."""
    link: str = ""
    """The site the feed belongs to (its channel link), when it names one."""
    fingerprints: tuple[bytes, ...] = ()
    """One per entry in ``entries``: the feed's own fields it was read from, hashed."""
    unchanged: tuple[bytes, ...] = ()
    """Fingerprints from ``known`` that this document still lists: those items were not
    read again (see :func:`parse_feed`)."""
    listed: int = 0
    """How many items the document lists (after the per-feed cap)."""

    def known_fingerprints(self) -> bytes:
        """What the next parse of this feed may skip: every item this one returned or
        skipped, packed for the store (:func:`unpack_fingerprints` reads it)."""
        return b"".join(dict.fromkeys(self.unchanged + self.fingerprints))


# What only an HTML parse reads right (tags, entities), and lone surrogates, on which nh3
# raises as before.
_PLAIN_UNSAFE = re.compile("[<&\ud800-\udfff]")
# Where a block starts or ends (an end tag may be implied: ``<li>a<li>b``), words on either
# side are separate; no such tag ever sits inside a word. Table cells only by their end tags:
# without its start tags a table's text would be moved out of it (HTML's foster parenting).
_BLOCK_EDGE = re.compile(
    r"(?i)<\s*(?:br|/?(?:p|div|li|h[1-6]|blockquote)|/(?:tr|td|th))\b"
    r"""[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>"""  # a quoted ">" does not end the tag
)


# Built once: nh3.clean() builds its sanitizer anew on every call, which took longer
# than reading a title or a short summary.
_TEXT_ONLY = nh3.Cleaner(tags=set(), attributes={}, strip_comments=True)


def strip_controls(text: str) -> str:
    """``text`` without C0/C1 control characters (tab and newline kept)."""
    return _CONTROLS.sub("", text) if _CONTROLS.search(text) else text


def _is_plain(fragment: str) -> bool:
    """No markup, no entities: text an HTML parse would leave as it is (but a leading BOM,
    which nh3 drops)."""
    return _PLAIN_UNSAFE.search(fragment) is None and fragment[:1] != "\ufeff"


def _plain_text(fragment: str) -> str:
    # What nh3 does to plain text (a CR is a line end) without an HTML parse.
    return " ".join(strip_controls(fragment.replace("\r", "\n")).split())


def html_to_text(fragment: str) -> str:
    """Markup-free, whitespace-collapsed text of an HTML fragment (scripts and styles dropped)."""
    if not fragment:
        return ""
    if _is_plain(fragment):
        return _plain_text(fragment)  # most titles are plain
    spaced = _BLOCK_EDGE.sub(" ", fragment)
    cleaned = _TEXT_ONLY.clean(spaced)
    # Controls go after unescaping: ``&#1;`` is one too.
    return " ".join(strip_controls(html.unescape(cleaned)).split())


def safe_link(url: str) -> str:
    """The link if it is http(s), else empty: a ``javascript:`` link must never be clickable."""
    url = strip_controls(url or "").strip()
    return url if urlsplit(url).scheme.lower() in ("http", "https") else ""


def _recode(body: bytes, encoding: str) -> bytes:
    """Decode with an operator-chosen encoding and hand feedparser UTF-8 with a matching prolog."""
    text = body.decode(encoding, errors="replace")
    data = text.encode("utf-8")
    data = _XML_DECL.sub(b"", data, count=1)
    return b'<?xml version="1.0" encoding="utf-8"?>' + data


_HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]", re.I)

# What makes expat give up on a real feed that is otherwise fine: C0 controls (never
# allowed in XML 1.0), a bare "&" (query strings in links), an HTML entity XML does not
# define (&nbsp;), whitespace before the XML declaration. feedparser then parses the whole
# document again with its loose parser: on the real corpus a sixth of all parsing time, for
# a reading that is no better. Repaired first, the strict parse reads it in one pass.
# Byte patterns: in UTF-8 and the legacy CJK encodings these bytes are never part of a
# multibyte character (UTF-16 and UTF-32 are left alone).
_XML_CONTROL_BYTES = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20))
# An "&" that starts no character reference and none of XML's five entities; the group is
# the name of an entity XML does not define.
_BAD_AMPERSAND = re.compile(
    rb"&(?!#[0-9]+;|#x[0-9a-fA-F]+;|(?:amp|lt|gt|quot|apos);)(?:([A-Za-z][A-Za-z0-9]*);)?"
)
_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.S)
_SPACE_BEFORE_DECLARATION = re.compile(rb"^(\xef\xbb\xbf)?[ \t\r\n]+(?=<\?xml[ \t\r\n])")


def _ampersand(found: re.Match[bytes]) -> bytes:
    name = found.group(1)
    code = html.entities.name2codepoint.get(name.decode()) if name else None
    return b"&#%d;" % code if code is not None else b"&amp;" + found.group(0)[1:]


def repair_xml(body: bytes) -> tuple[bytes, str | None]:
    """``body`` with the well-formedness errors real feeds commonly make fixed, and a
    note of what was fixed (None when nothing was)."""
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]:
        return body, None  # UTF-16/32: the byte patterns would cut characters apart
    fixed: list[str] = []
    repaired = _SPACE_BEFORE_DECLARATION.sub(lambda m: m.group(1) or b"", body, count=1)
    if len(repaired) != len(body):
        fixed.append("whitespace before the XML declaration")
    # translate(): a C loop four times as fast as a regex search over a clean document.
    cleaned = repaired.translate(None, _XML_CONTROL_BYTES)
    if len(cleaned) != len(repaired):
        fixed.append(f"{len(repaired) - len(cleaned)} control characters")
        repaired = cleaned
    # An internal DTD may declare its own entities; feedparser handles those documents.
    if _BAD_AMPERSAND.search(repaired) and b"<!ENTITY" not in repaired:
        pieces = _CDATA.split(repaired)  # CDATA sections (odd indexes) stay as they are
        bad = 0
        for i in range(0, len(pieces), 2):
            pieces[i], count = _BAD_AMPERSAND.subn(_ampersand, pieces[i])
            bad += count
        if bad:
            repaired = b"".join(pieces)
            fixed.append(f"{bad} bare '&' or HTML entities")
    if not fixed:
        return body, None
    return repaired, "repaired before parsing: " + ", ".join(fixed)
def _claimed_date(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                year, month, day, hour, minute, second = value[:6]
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    return None


def plausible_date(claimed: datetime, seen: datetime) -> bool:
    """Whether a feed's date can be true of an entry first seen at ``seen``."""
    return EARLIEST_DATE <= claimed <= seen + FUTURE_SLACK


def _newest(raw_entries: list[Any], cap: int) -> list[Any]:
    """The ``cap`` newest entries, in document order (undated ones count as newest)."""
    if len(raw_entries) <= cap:
        return raw_entries
    order = sorted(
        range(len(raw_entries)),
        key=lambda i: _claimed_date(raw_entries[i]) or datetime.max.replace(tzinfo=UTC),
        reverse=True,
    )
    keep = set(order[:cap])
    return [e for i, e in enumerate(raw_entries) if i in keep]


def _guid(raw: Any) -> str:
    return strip_controls(str(raw.get("id", "") or "")).strip()


def _shared_guids(raw_entries: list[Any], guids: list[str], links: list[str]) -> dict[str, int]:
    """Guids that several different items carry (different link and title), with counts.

    Such a guid identifies nothing: those items are told apart by their link instead.
    ``guids`` and ``links`` are the items' own, in order.
    """
    items: dict[str, set[tuple[str, str]]] = {}
    for raw, guid, link in zip(raw_entries, guids, links, strict=True):
        if guid:
            items.setdefault(guid, set()).add((link, str(raw.get("title", ""))))
    shared: dict[str, int] = {}
    for guid, variants in items.items():
        distinct_links = {link for link, _ in variants}
        titles = {title for _, title in variants}
        if len(distinct_links) > 1 and len(titles) > 1:
            shared[guid] = len(variants)
    return shared


def _entry_text(entry: Any) -> str:
    """Plain text of the richest of content / summary."""
    contents = [c.get("value", "") for c in entry.get("content", []) or [] if c.get("value")]
    raw = max(contents, key=len) if contents else ""
    summary = entry.get("summary", "") or ""
    if len(summary) > len(raw):
        raw = summary
    # Only the text is kept: nothing displays an entry's own markup (issues show digests),
    # so sanitizing it for display cost a fifth of our work per entry for nothing.
    return html_to_text(raw)[:MAX_TEXT_CHARS]


def _describe(problem: BaseException) -> str:
    """One line naming a parser complaint."""
    lines = str(problem).strip().splitlines()
    return f"{type(problem).__name__}: {lines[0][:200]}" if lines else type(problem).__name__


# Every field of a feedparser item that parse_feed reads, or that what it reads derives
# from. Bump the version whenever parse_feed turns the same fields into a different
# entry, so nothing read under the old rules is skipped under the new ones.
_READ_FIELDS = (
    "id",
    "title",
    "link",
    "summary",
    "author",
    "published",
    "updated",
    "published_parsed",
    "updated_parsed",
    "created_parsed",
)
_FINGERPRINT_VERSION = 1
FINGERPRINT_SIZE = 8  # bytes


def _fingerprint(raw: Any, shared_guid: bool) -> bytes:
    """A hash of the fields an entry is made from, as feedparser gave them.

    Equal fingerprints mean :func:`parse_feed` would build the same entry again (whether
    its guid is shared changes its id, so that counts too). 8 bytes: a collision needs
    2^32 items in one feed.
    """
    salt = b"%d %d" % (_FINGERPRINT_VERSION, shared_guid)
    digest = hashlib.blake2b(salt, digest_size=FINGERPRINT_SIZE)
    # The stored fields, not FeedParserDict's aliases (which derive from them, and warn).
    contents = [c.get("value", "") for c in dict.get(raw, "content", []) or []]
    for value in [dict.get(raw, key) for key in _READ_FIELDS] + contents:
        if isinstance(value, str):
            # surrogatepass: a lenient parse can leave lone surrogates in a text.
            data = b"s" + value.encode("utf-8", "surrogatepass")
        else:  # None, or a date's struct_time
            data = b"r" + repr(value).encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.digest()


def unpack_fingerprints(packed: bytes | None) -> frozenset[bytes]:
    """The fingerprints :meth:`ParsedFeed.known_fingerprints` packed."""
    if not packed:
        return frozenset()
    size = FINGERPRINT_SIZE
    return frozenset(packed[i : i + size] for i in range(0, len(packed) - size + 1, size))


def entry_id(feed_url: str, guid: str, link: str, title: str, published: str) -> str:
    """Stable identity: per-feed guid, else canonical link, else hash of title + date."""
    key = guid.strip() or canonical_url(link) or f"{title}\x00{published}"
    return hashlib.sha256(f"{feed_url}\x00{key}".encode()).hexdigest()[:20]


def c1_translation_table(mapping: dict[int, str]) -> list[int | str]:
    """``mapping`` (code point → replacement) as a list indexed by code point, BMP only.

    For ``str.translate`` the two are the same: a code point past the list's end is an
    IndexError, which translate reads as "keep the character", as it reads a missing key.
    """
    table: list[int | str] = list(range(0x10000))
    for code, replacement in mapping.items():
        table[code] = replacement
    return table


def speed_up_feedparser() -> None:
    """Give feedparser's C1 → windows-1252 mapping a table that ``str.translate`` reads in C.

    feedparser translates the text of every element it closes with a 27-key dict. For text
    that is not all ASCII, CPython looks every character up in that dict and raises and
    clears a KeyError for each one not in it, which is nearly every character of Chinese
    text: a fifth of feedparser's CPU on the real corpus. The list answers each lookup
    without an exception, and the whole parse takes 0.81-0.85x the CPU. The parse workers
    call this when they start. A feedparser without that dict is left as it is.
    """
    mixin = getattr(feedparser, "mixin", None)
    mapping = getattr(mixin, "_cp1252", None)
    if isinstance(mapping, dict) and all(
        isinstance(code, int) and 0x80 <= code <= 0x9F for code in mapping
    ):
        mixin._cp1252 = c1_translation_table(mapping)  # type: ignore[union-attr]


def _feedparse(body: bytes, content_type: str | None) -> Any:
    headers = {"content-type": content_type} if content_type else None
    return feedparser.parse(
        body, sanitize_html=False, resolve_relative_uris=False, response_headers=headers
    )


def _garbled_titles(parsed: Any) -> int:
    titles = [parsed.feed.get("title", "")]
    titles += [e.get("title", "") for e in parsed.get("entries", [])[:MAX_ENTRIES_PER_FEED]]
    return sum(1 for t in titles if t and mojibake(t))


def _redecode(
    body: bytes, parsed: Any, content_type: str | None
) -> tuple[Any, str | None, str | None]:
    """Parse again with a detected charset when the first pass produced mojibake.

    The second reading wins only when it garbles fewer titles, so a wrong guess can
    never make a feed worse than feedparser's own reading.
    """
    before = _garbled_titles(parsed)
    if not before:
        return parsed, None, None
    guess = detect(body)
    used = superset(parsed.get("encoding") or "")
    if guess is None or guess == used:
        return parsed, None, None
    again = _feedparse(_recode(body, guess), None)
    if _garbled_titles(again) >= before:
        return parsed, None, None
    served = f"; served as {content_type!r}" if content_type else ""
    return again, guess, (
        f"charset: read as {used or 'unknown'}{served}, but the bytes are {guess}; "
        f"decoded as {guess} (set `encoding: {guess}` on this feed to skip detection)"
    )


def parse_feed(
    body: bytes,
    feed: Feed,
    now: datetime | None = None,
    content_type: str | None = None,
    known: Collection[bytes] = frozenset(),
) -> ParsedFeed:
    """Parse one feed document. Never raises for bad input: problems land in ``error``.

    ``content_type`` is the HTTP header, whose charset feedparser weighs against the
    XML declaration. Without a per-feed ``encoding``, a reading that garbles titles is
    retried with a detected charset (GBK / Big5 feeds with missing or wrong labels).

    ``known`` holds fingerprints of items already stored from this feed (the last parse's
    :meth:`ParsedFeed.known_fingerprints`): an item whose fields are unchanged is not
    sanitized or returned again, since the store would only drop it; an edited one is.
    Reports (impossible dates, truncation) still count every item.
    """
    now = now or datetime.now(UTC)
    problems: list[str] = []
    detected: str | None = None
    if feed.encoding:
        body = _recode(body, feed.encoding)
    body, repaired = repair_xml(body)
    try:
        parsed = _feedparse(body, None if feed.encoding else content_type)
        if not feed.encoding:
            parsed, detected, note = _redecode(body, parsed, content_type)
            if note:
                problems.append(note)
    except Exception as exc:  # feedparser on hostile bytes can fail in many ways
        return ParsedFeed("", (), error=f"parser failed: {type(exc).__name__}: {exc}"[:300])
    version = parsed.get("version", "")
    raw_entries = parsed.get("entries", [])
    if not raw_entries and not version:
        reason = "not a feed"
        if _HTML_START.search(body[:4096]):
            return ParsedFeed("", (), error="not a feed: an HTML page (use the site's feed URL)")
        problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
        if problem is not None:
            reason += f" ({_describe(problem)})"
        return ParsedFeed("", (), error=reason)
    feed_title = html_to_text(parsed.feed.get("title", ""))[:MAX_TITLE_CHARS]
    if mojibake(feed_title):
        problems.append(f"feed title is garbled ({mojibake(feed_title)}): {feed_title[:40]!r}")
        feed_title = ""
    entries: list[Entry] = []
    seen: set[str] = set()
    garbled: list[tuple[str, str]] = []
    redated: list[datetime] = []
    kept = _newest(raw_entries, MAX_ENTRIES_PER_FEED)
    if len(kept) < len(raw_entries):
        problems.append(
            f"truncated: the feed lists {len(raw_entries)} entries; read the newest "
            f"{len(kept)} (the per-feed cap), {len(raw_entries) - len(kept)} not read"
        )
    # Read once per item: the shared-guid check needs them for every item too.
    guids = [_guid(raw) for raw in kept]
    links = [canonical_url(safe_link(raw.get("link", ""))) for raw in kept]
    shared = _shared_guids(kept, guids, links)
    fingerprints: list[bytes] = []
    unchanged: list[bytes] = []
    if shared:
        guid, count = max(shared.items(), key=lambda kv: kv[1])
        problems.append(
            f"guid {guid[:60]!r} is shared by {count} different items"
            + (f" (and {len(shared) - 1} more guids like it)" if len(shared) > 1 else "")
            + "; those items are identified by their link instead"
        )
    for raw, guid, link in zip(kept, guids, links, strict=True):
        fingerprint = _fingerprint(raw, guid in shared)
        if fingerprint in known:
            # Returned by an earlier parse, so neither garbled nor empty: only its date
            # still counts toward this document's report.
            claimed = _claimed_date(raw)
            if claimed is not None and not plausible_date(claimed, now):
                redated.append(claimed)
            unchanged.append(fingerprint)
            continue
        title = html_to_text(raw.get("title", ""))[:MAX_TITLE_CHARS]
        why = mojibake(title)
        if why:
            # A garbled title must never reach an issue: drop the entry, report the feed.
            garbled.append((title, why))
            continue
        text = _entry_text(raw)
        if not title and not text:
            continue
        claimed = _claimed_date(raw)
        published, dated = now, None
        if claimed is not None and plausible_date(claimed, now):
            published = claimed
        elif claimed is not None:
            dated = claimed
            redated.append(claimed)
        eid = entry_id(
            feed.url,
            "" if guid in shared else guid,
            link,
            title,
            str(raw.get("published", "") or raw.get("updated", "")),
        )
        if eid in seen:
            continue
        seen.add(eid)
        entries.append(
            Entry(
                id=eid,
                feed_url=feed.url,
                title=title or text[:60],
                link=link,
                text=text,
                published=published,
                author=html_to_text(raw.get("author", ""))[:200],
                source_name=feed.name or feed_title,
                claimed_published=dated,
            )
        )
        fingerprints.append(fingerprint)
    if redated:
        future = sum(1 for d in redated if d > now)
        problems.append(
            f"{len(redated)} entries carry impossible dates ({future} in the future, "
            f"{len(redated) - future} before {EARLIEST_DATE:%Y}), e.g. "
            f"{max(redated, key=lambda d: abs(d - now)):%Y-%m-%d}; dated when first seen instead"
        )
    warnings: tuple[str, ...] = (repaired,) if repaired else ()
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if problem is not None:
        warnings += (_describe(problem),)
    if garbled:
        title, why = garbled[0]
        problems.append(
            f"{len(garbled)} entries dropped for garbled titles ({why}), e.g. {title[:40]!r}; "
            "set `encoding:` on this feed if the charset is known"
        )
    return ParsedFeed(
        feed_title,
        tuple(entries),
        encoding=detected or feed.encoding or parsed.get("encoding"),
        warnings=warnings,
        problems=tuple(problems),
        link=safe_link(str(parsed.feed.get("link", "") or "")),
        fingerprints=tuple(fingerprints),
        unchanged=tuple(unchanged),
        listed=len(kept),
    )
