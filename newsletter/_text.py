"""Text primitives shared by the extractive digests and the fact checks.

Sentence splitting for Chinese, English and mixed text (with offsets, so a digest can be
cut at a sentence end) and the length of text as a reader counts it. The lowest layer of
the digest code: ``_extract`` and ``_facts`` import it, it imports neither.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["char_len", "sentence_spans", "split_sentences"]

# Hand-written: the sentence splitters on PyPI are either English-only (nltk/pysbd need
# models or get CJK wrong) or split naively on 。 inside quotes; we need offsets for
# cap_length as well, which none of them give for mixed Chinese/English text.

_CJK_TERMINATORS = frozenset("。！？；")
_ELLIPSIS = "…"
# Pairs whose inside is one sentence however many 。 it holds. ASCII quotes are matched
# separately because the same character opens and closes.
_PAIRS = {"“": "”", "「": "」", "『": "』", "（": "）", "(": ")", "《": "》"}
_CLOSERS = frozenset("”’」』）)】》\"'")
_QUOTE_CLOSERS = frozenset('”’」』"')
# Past this length a "quoted" span is more likely an unbalanced quote than one quotation,
# and refusing to split it would swallow the rest of the text into one sentence.
_MAX_PROTECTED = 300
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt inc ltd co corp llc plc vs no nos fig figs approx dept
    est gov sen rep gen col lt sgt jan feb mar apr jun jul aug sep sept oct nov dec""".split()  # noqa: SIM905 - a word list reads better as text
)


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x2FFFF
        or 0xF900 <= o <= 0xFAFF
        or 0x3040 <= o <= 0x30FF  # kana
        or 0xAC00 <= o <= 0xD7AF  # hangul
    )


def _protected_depth(text: str) -> list[int]:
    """For each position, how many matched quote/bracket pairs enclose it (ends excluded)."""
    n = len(text)
    diff = [0] * (n + 1)
    stack: list[tuple[str, int]] = []
    ascii_open: int | None = None
    for i, ch in enumerate(text):
        if ch == "\n":
            # A paragraph break closes anything left open: quotes do not span paragraphs.
            stack.clear()
            ascii_open = None
        elif ch in _PAIRS:
            stack.append((_PAIRS[ch], i))
        elif stack and ch == stack[-1][0]:
            _, start = stack.pop()
            if i - start <= _MAX_PROTECTED:
                diff[start + 1] += 1
                diff[i] -= 1
        elif ch == '"':
            if ascii_open is None:
                ascii_open = i
            else:
                if i - ascii_open <= _MAX_PROTECTED:
                    diff[ascii_open + 1] += 1
                    diff[i] -= 1
                ascii_open = None
    depth = [0] * n
    running = 0
    for i in range(n):
        running += diff[i]
        depth[i] = running
    return depth


def _prev_word(text: str, i: int) -> str:
    """The letters-and-dots word ending just before position ``i``."""
    j = i
    while j > 0 and (text[j - 1].isascii() and (text[j - 1].isalpha() or text[j - 1] == ".")):
        j -= 1
    return text[j:i]


def _period_ends_sentence(text: str, i: int) -> bool:
    """Whether the ASCII '.' (or '...' run) starting at ``i`` ends a sentence."""
    n = len(text)
    if 0 < i < n - 1 and text[i - 1].isdigit() and text[i + 1].isdigit():
        return False  # decimal: 3.2亿, 1.5 million, version 1.2
    j = i
    while j < n and text[j] == ".":
        j += 1
    while j < n and text[j] in _CLOSERS:
        j += 1
    if j >= n:
        return True
    nxt = text[j]
    if nxt.isspace():
        k = j
        while k < n and text[k].isspace() and text[k] != "\n":
            k += 1
        if k >= n or text[k] == "\n":
            return True
        nxt = text[k]
        if not (nxt.isupper() or nxt.isdigit() or _is_cjk(nxt) or nxt in "“\"'‘(（「《"):
            return False  # "e.g. the", "approx. ten": lower case continues the sentence
    elif not _is_cjk(nxt):
        return False  # qq.com, U.S.A, 3.x
    word = _prev_word(text, i)
    before = text[i - len(word) - 1] if i - len(word) > 0 else ""
    if before.isascii() and before.isalnum():
        return True  # "$1.5M." is a number with a unit, not an initial
    if j - i > 1:
        return True  # an ellipsis "..." before a capital is a sentence end
    bare = word.rstrip(".").lower()
    if bare in _ABBREVIATIONS:
        return False
    # U.S. / e.g. / i.e. / a single initial "J. Smith": letters separated by dots.
    return not re.fullmatch(r"(?:[A-Za-z]\.)*[A-Za-z]", word)


def _is_terminator(text: str, i: int) -> bool:
    ch = text[i]
    if ch in _CJK_TERMINATORS or ch == _ELLIPSIS:
        return True
    if ch in "!?":
        n = len(text)
        if i + 1 >= n:
            return True
        nxt = text[i + 1]
        return nxt.isspace() or _is_cjk(nxt) or nxt in _CLOSERS or nxt in "!?.。！？"
    if ch == ".":
        return _period_ends_sentence(text, i)
    return False


def _absorb_tail(text: str, j: int) -> int:
    """Extend a sentence end over repeated terminators and closing quotes/brackets."""
    n = len(text)
    while j < n and (text[j] in _CJK_TERMINATORS or text[j] in "!?.…" or text[j] in _CLOSERS):
        if text[j] in "\"'" and j + 1 < n and not (text[j + 1].isspace() or _is_cjk(text[j + 1])):
            break  # an ASCII quote glued to the next word opens the next sentence
        j += 1
    return j


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of each sentence in ``text``, whitespace trimmed.

    Boundaries: 。！？；… and ASCII !? . (not decimals, not abbreviations such as U.S.),
    closing quotes and brackets stay with their sentence, nothing inside a matched
    “…”/「…」/(…) pair is split, and a line break always ends a sentence.
    """
    n = len(text)
    depth = _protected_depth(text)
    spans: list[tuple[int, int]] = []
    start = 0

    def emit(end: int) -> None:
        s, e = start, end
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            spans.append((s, e))

    i = 0
    while i < n:
        ch = text[i]
        if ch == "\n":
            emit(i)
            start = i + 1
            i += 1
            continue
        ends_here = False
        if depth[i] == 0:
            if _is_terminator(text, i):
                ends_here = True
            elif (
                ch in _QUOTE_CLOSERS
                and i > 0
                and depth[i - 1] > 0
                and text[i - 1] in "。！？!?.…；"
            ):
                # “……。” closes a quoted sentence: the closing quote ends the sentence.
                ends_here = True
        if ends_here:
            j = _absorb_tail(text, i + 1)
            emit(j)
            start = j
            i = j
            continue
        i += 1
    emit(n)
    return spans


def split_sentences(text: str) -> list[str]:
    """Split Chinese / English / mixed text into sentences (see :func:`sentence_spans`)."""
    return [text[s:e] for s, e in sentence_spans(text)]


def char_len(text: str) -> int:
    """Length in characters as a reader counts them: one per CJK character, letter, mark."""
    return len(unicodedata.normalize("NFC", text))
