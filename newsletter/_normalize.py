"""Text normalization for topic matching: NFKC, Traditional → Simplified with regional
phrases (Taiwan / Hong Kong), lower case.

Split out of ``relevance`` so that the extractive digests (``_extract``) and the lexicon
compiler share one normal form without importing the scorer.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

__all__ = ["normalize", "to_simplified"]


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    # Building the converter loads dictionaries (milliseconds); do it once per process.
    # OpenCC 1.4.x accepts "t2s" (and "t2s.json"); both name the same configuration.
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _tw2sp() -> opencc.OpenCC:
    # Character conversion alone turns Taiwan's 影片號 into 影片号, not 视频号: tw2sp also
    # maps Taiwan phrases to mainland ones (影片→视频, 網路→网络, 軟體→软件). Hong Kong
    # text is written with the same phrases or with characters t2s already covers.
    return opencc.OpenCC("tw2sp")


@lru_cache(maxsize=1)
def _nfkc_needed() -> re.Pattern[str]:
    """Characters that make NFKC change a string, minus full-width punctuation.

    NFKC is the costliest normalization step (~15 us per entry) and nearly every Chinese
    text "needs" it only because of full-width punctuation (，：！), which matching treats
    like ASCII anyway. So NFKC runs only when other characters would change: those NFKC
    maps (full-width letters and digits, ligatures, compatibility ideographs), combining
    marks, scripts whose vowel signs compose, and anything outside the BMP.
    """
    keep = {
        0x3000,
        *range(0xFF01, 0xFF10),
        *range(0xFF1A, 0xFF21),
        *range(0xFF3B, 0xFF41),
        *range(0xFF5B, 0xFF5F),
    }
    ranges: list[str] = []
    for cp in range(0x80, 0x10000):
        if cp in keep or 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if unicodedata.combining(ch) or unicodedata.normalize("NFKC", ch) != ch:
            ranges.append(re.escape(ch))
    composing = "\u0900-\u0dff\u1000-\u109f\u1100-\u11ff\u1b00-\u1b7f\U00010000-\U0010ffff"
    return re.compile("[" + "".join(ranges) + composing + "]")


@lru_cache(maxsize=1)
def _t2s_needed() -> re.Pattern[str]:
    """Characters that OpenCC t2s changes: most Chinese feed text has none of them.

    Found once (~20 ms) by converting every BMP CJK character, one per line so no phrase
    spans two. Characters outside the BMP always take the conversion path.
    """
    blocks = ((0x2E80, 0x2FDF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
    chars = [chr(cp) for lo, hi in blocks for cp in range(lo, hi + 1)]
    converted = _t2s().convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # never seen; stay correct if OpenCC changes
        converted = [_t2s().convert(ch) for ch in chars]
    changed = "".join(re.escape(a) for a, b in zip(chars, converted, strict=True) if a != b)
    return re.compile("[" + changed + "\U00010000-\U0010ffff]")


def normalize(text: str) -> str:
    """NFKC, Traditional → Simplified Chinese with regional phrases, lower case.

    This is the form all matching uses. Traditional text is converted with OpenCC's tw2sp,
    so Taiwan and Hong Kong phrasing (影片號, 網路直播) reads as the mainland terms of the
    lexicon (视频号, 网络直播). Each step runs only when the text has characters it would
    change; full-width punctuation alone does not trigger NFKC (matching treats it like
    ASCII).
    """
    if text.isascii():
        return text.lower()
    either, nfkc, t2s = _NEEDED or _needed()
    if either.search(text) is None:  # the usual case: one scan instead of two
        return text.lower()
    if nfkc.search(text) is not None:
        # NFKC by its definition, composition after compatibility decomposition: CPython
        # computes it five times faster in two steps than in one.
        text = unicodedata.normalize("NFC", unicodedata.normalize("NFKD", text))
    if t2s.search(text) is not None:
        text = _tw2sp().convert(text)
    return text.lower()


_NEEDED: tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]] | None = None


def _needed() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    # Module-level rather than lru_cache lookups: normalize() runs for every entry.
    global _NEEDED
    nfkc, t2s = _nfkc_needed(), _t2s_needed()
    # Both are single character classes "[...]": their union is one class.
    either = re.compile("[" + nfkc.pattern[1:-1] + t2s.pattern[1:-1] + "]")
    _NEEDED = (either, nfkc, t2s)
    return _NEEDED


def to_simplified(text: str) -> str:
    """Character-level Traditional → Simplified (OpenCC t2s), nothing else.

    For regular expressions in the lexicon: phrase conversion or lower-casing would change
    their syntax (``\\S`` → ``\\s``).
    """
    return str(_t2s().convert(text))
