"""Find a regular expression's matches faster by trying it only where a match can start.

CPython's ``re`` scans quickly for a pattern that begins with a literal or a character
class, but an alternation of groups (the relevance masks, merged per label) is tried at
every position of the text: those searches were a fifth of ``relevance.judge()``. Here the
set of characters a match can begin with is read from the parsed pattern once and put in
front of it: ``[first chars](?<=(?=pattern).)`` is a pattern ``re`` searches with its
character-class scan, and it matches exactly where ``pattern`` does, so the search stays in
C until a real match (a loop in Python over every candidate character cost more than the
matches). The matches are exactly those of ``pattern.finditer()``.

A search still reads the whole text, and an English mask beginning "sell|sold|buy …" ran on
most English entries. When every match begins with one of the mask's required words (also read
from the parsed pattern), :meth:`StartScanner.match_at` tries the pattern only where those
words are, with the same matches.

Hand-written because no library exposes a regular expression's first-character set; it
reads CPython's own parser (``re._parser``) and falls back to a plain scan whenever the set
cannot be known (a pattern that can match empty, case-insensitive flags, ``.``, ``\\w``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["StartScanner"]

# Above this many possible first characters the class scan saves nothing.
_MAX_START_CHARS = 512


class StartScanner:
    """``finditer`` for one compiled pattern, tried only at its possible first characters."""

    __slots__ = ("_find", "anchored", "pattern", "starts")

    def __init__(self, pattern: re.Pattern[str], anchors: Iterable[str] = ()) -> None:
        self.pattern = pattern
        self.starts = _start_class(pattern)
        self._find = None if self.starts is None else _finder(self.starts, pattern)
        words = frozenset(anchors)
        self.anchored = bool(words) and _starts_with_one_of(pattern, words)
        """Every match begins with one of ``anchors``: :meth:`match_at` may take the place
        of a search, given where those words occur."""

    def finditer(self, text: str) -> list[re.Match[str]]:
        """The matches ``pattern.finditer(text)`` yields, as a list."""
        find = self._find
        if find is None:
            return list(self.pattern.finditer(text))
        found: list[re.Match[str]] = []
        match = self.pattern.match
        search = find.search
        pos = 0
        while (hit := search(text, pos)) is not None:
            m = match(text, hit.start())
            if m is None:  # never seen: a pattern whose match depends on where the search began
                pos = hit.start() + 1
                continue
            # Never empty (such patterns take the plain scan), so finditer would go on
            # searching at its end too.
            found.append(m)
            pos = m.end()
        return found

    def match_at(self, text: str, starts: Iterable[int]) -> list[re.Match[str]]:
        """What :meth:`finditer` finds, tried only at ``starts`` (ascending), for an
        :attr:`anchored` pattern: every position where one of its anchors begins must be
        among them. A search reads the whole text; an anchor is rarer than a first character
        (a mask of "sell … subscriptions" read every English entry to its end)."""
        found: list[re.Match[str]] = []
        match = self.pattern.match
        pos = 0
        for start in starts:
            if start < pos:
                continue  # inside the last match: finditer goes on after it
            m = match(text, start)
            if m is not None:
                found.append(m)
                pos = m.end()
        return found


def _finder(starts: re.Pattern[str], pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """The first character, then a look back at it that looks ahead for the whole pattern:
    it matches (one character long) exactly where ``pattern`` matches."""
    if pattern.flags & re.VERBOSE:
        return None  # a comment in the pattern would swallow the closing parentheses
    try:
        return re.compile(f"{starts.pattern}(?<=(?=(?:{pattern.pattern})).)", pattern.flags)
    except re.error:
        return None  # global inline flags ("(?s)") are refused anywhere but at the start


def _start_class(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    if pattern.flags & (re.IGNORECASE | re.LOCALE):
        return None
    try:
        # CPython's own parser, read only (private, hence imported by name).
        parser = importlib.import_module("re._parser")
        chars, nullable = _first(parser.parse(pattern.pattern, pattern.flags))
    except (ImportError, AttributeError, TypeError, ValueError, re.error):
        return None
    if chars is None or nullable or not chars or len(chars) > _MAX_START_CHARS:
        return None
    return re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]")


def _first(items: Iterable[tuple[Any, Any]]) -> tuple[set[str] | None, bool]:
    """(characters the sequence can start with, whether it can match empty).

    ``None`` for the characters when they cannot be listed.
    """
    chars: set[str] = set()
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            chars.add(chr(arg))
            return chars, False
        if name == "IN":
            listed = _class_chars(arg)
            if listed is None:
                return None, False
            return chars | listed, False
        if name == "BRANCH":
            nullable = False
            for alternative in arg[1]:
                sub, empty = _first(alternative)
                if sub is None:
                    return None, False
                chars |= sub
                nullable = nullable or empty
            if not nullable:
                return chars, False
        elif name == "SUBPATTERN":
            _group, add_flags, _del_flags, sub_items = arg
            if add_flags & re.IGNORECASE:
                return None, False
            sub, empty = _first(sub_items)
            if sub is None:
                return None, False
            chars |= sub
            if not empty:
                return chars, False
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub_items = arg
            sub, empty = _first(sub_items)
            if sub is None:
                return None, False
            chars |= sub
            if low > 0 and not empty:
                return chars, False
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # zero width: the match starts with what follows
        else:
            return None, False  # ANY, NOT_LITERAL, CATEGORY, group references, ...
    return chars, True


def _class_chars(members: Iterable[tuple[Any, Any]]) -> set[str] | None:
    chars: set[str] = set()
    for op, arg in members:
        name = str(op)
        if name == "LITERAL":
            chars.add(chr(arg))
        elif name == "RANGE":
            low, high = arg
            if high - low > _MAX_START_CHARS:
                return None
            chars.update(map(chr, range(low, high + 1)))
        else:
            return None  # NEGATE, CATEGORY (\s, \d): not a short list
    return chars


# Above this many partial prefixes the anchor analysis gives up (the pattern is then searched).
_MAX_PREFIXES = 4096


def _starts_with_one_of(pattern: re.Pattern[str], words: frozenset[str]) -> bool:
    """True when every match of ``pattern`` begins with one of ``words``.

    Read from the parsed pattern: the strings a match can begin with are spelled out, each
    only until it begins with a word (then it is anchored) or can no longer become one (then
    the pattern is not). Zero-width items (``\\b``, look-arounds) add nothing; anything that
    cannot be spelled out (``.``, ``\\w``, a negated class, a back reference) makes the answer
    False.
    """
    if pattern.flags & (re.IGNORECASE | re.LOCALE) or not all(words):
        return False
    try:
        parser = importlib.import_module("re._parser")
        tree = parser.parse(pattern.pattern, pattern.flags)
    except (ImportError, AttributeError, TypeError, ValueError, re.error):
        return False
    longest = max(map(len, words))

    def settled(prefix: str) -> bool:
        return prefix.startswith(tuple(words))

    def concat(heads: set[str], tails: set[str], top: bool) -> set[str] | None:
        # At the top, the strings are how a match begins: each is kept only until it is
        # settled, and one that can no longer begin with a word ends the analysis. Inside an
        # item they are pieces of a match, cut at the longest word's length.
        joined: set[str] = set()
        for head in heads:
            if top and settled(head) or len(head) >= longest:
                joined.add(head)
                continue
            for tail in tails:
                both = (head + tail)[:longest]
                if top and not settled(both) and not any(w.startswith(both) for w in words):
                    return None  # a match can begin otherwise
                joined.add(both)
        return joined if len(joined) <= _MAX_PREFIXES else None

    def sequence(items: Iterable[tuple[Any, Any]], top: bool = False) -> set[str] | None:
        heads: set[str] | None = {""}
        for op, arg in items:
            if heads is None or all(top and settled(h) or len(h) >= longest for h in heads):
                break
            tails = item(op, arg)
            if tails is None:
                return None
            heads = concat(heads, tails, top)
        return heads

    def item(op: Any, arg: Any) -> set[str] | None:
        name = str(op)
        if name == "LITERAL":
            return {chr(arg)}
        if name == "IN":
            listed = _class_chars(arg)
            return None if listed is None else set(listed)
        if name == "BRANCH":
            union: set[str] = set()
            for alternative in arg[1]:
                sub = sequence(alternative)
                if sub is None:
                    return None
                union |= sub
            return union
        if name == "SUBPATTERN":
            _group, add_flags, _del_flags, sub_items = arg
            return None if add_flags & re.IGNORECASE else sequence(sub_items)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub_items = arg
            once = sequence(sub_items)
            if once is None:
                return None
            # Repetitions are spelled out up to the longest word's length: more of them
            # cannot change how a match begins.
            spelled: set[str] = {""} if low == 0 else set()
            reps: set[str] | None = {""}
            count = 0
            while count < high and count <= max(low, longest) and reps is not None:
                count += 1
                reps = concat(reps, once, top=False)
                if reps is not None and count >= low:
                    spelled |= reps
            return None if reps is None else spelled
        if name in ("AT", "ASSERT", "ASSERT_NOT"):
            return {""}  # zero width
        return None

    spelled = sequence(tree, top=True)
    return spelled is not None and all(settled(s) for s in spelled)
