"""Character-set repair for feeds whose bytes and declared charset disagree.

Chinese feeds are still served in GB2312 / GBK / GB18030 or Big5, often with no
declaration, or with a wrong one (``encoding="utf-8"`` on GBK bytes, an HTTP header
saying ISO-8859-1). feedparser then falls back to windows-1252 and every title turns
into Latin soup. Detection is charset-normalizer's job (maintained, pure Python, no C
build); this module only decides *when* to ask it and recognises mojibake in text.

No library detects mojibake without also rewriting the text (ftfy "fixes" after the
fact, which would silently change titles), so the checks below are hand-written and
deliberately conservative: they report, they never repair.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

# How much of a body the detector reads: enough for a confident guess on a feed,
# bounded so a 10 MB document cannot stall a poll.
_DETECT_BYTES = 256 * 1024

# What "UTF-8 bytes with U+FFFD, then read as GBK" and uninitialised MSVC memory look
# like: the classic Chinese mojibake markers.
_CJK_MARKERS = ("锟斤拷", "烫烫烫", "屯屯屯")

# Characters windows-1252 / ISO-8859-1 produce from bytes 0x80-0xFF.
_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_LATIN_RUN = re.compile("[\u0080-\u00ff]{2,}")
# A UTF-8 lead byte (0xC2-0xF4) followed by a continuation byte (0x80-0xBF), both
# read as windows-1252 / Latin-1: "Ã©", "ç»", "å¾".
_CONT = f"\u0080-\u00bf{_CP1252_HIGH}"
_UTF8_AS_LATIN = re.compile(f"([\u00c2-\u00f4])([{_CONT}]+)")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# Detector names → the superset codec that decodes every byte the name covers.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "cp950": "big5hkscs",
}


def superset(encoding: str) -> str:
    """The widest codec for a declared or detected charset (GB2312 → GB18030, Big5 → HKSCS)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return encoding
    return _SUPERSETS.get(name, name)


def detect(body: bytes) -> str | None:
    """charset-normalizer's best guess for the body, as a superset codec name."""
    match = charset_normalizer.from_bytes(body[:_DETECT_BYTES]).best()
    if match is None:
        return None
    return superset(match.encoding)


def _latin_reads_as_utf8(text: str) -> str | None:
    for found in _UTF8_AS_LATIN.finditer(text):
        lead, tail = found.group(1), found.group(2)
        try:
            raw = (lead + tail).encode("cp1252")
        except UnicodeEncodeError:
            raw = (lead + tail).encode("latin-1", errors="ignore")
        # A three- or four-byte lead (CJK territory) is telling even when truncated;
        # a two-byte lead ("Ã©") must decode cleanly to count.
        if ord(lead) >= 0xE0 and len(raw) >= 2:
            return found.group(0)
        try:
            raw[:2].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return found.group(0)
    return None


def mojibake(text: str) -> str | None:
    """Why ``text`` looks garbled by a wrong charset, or ``None`` when it looks fine."""
    if not text:
        return None
    if "\ufffd" in text:
        return "replacement characters (U+FFFD): bytes were not valid in the charset used"
    for marker in _CJK_MARKERS:
        if marker in text:
            return f"{marker!r}: UTF-8 replacement bytes decoded as GBK"
    sample = _latin_reads_as_utf8(text)
    if sample:
        return f"multi-byte text decoded as Latin-1/windows-1252 ({sample!r})"
    # Legacy CJK bytes read as a Latin code page: every Chinese character becomes two
    # Latin-1 symbols or accented letters in a row, and no CJK character survives.
    # European words rarely string two such letters together, and never most of a title.
    paired = sum(len(run) for run in _LATIN_RUN.findall(text))
    if paired < 6:  # every title is checked: skip counting where it cannot matter
        return None
    visible = sum(len(word) for word in text.split())  # str.split: the isspace() set
    if paired / max(1, visible) >= 0.3 and not _CJK.search(text):
        return "multi-byte text decoded as Latin-1/windows-1252 (mostly Latin-1 symbols)"
    return None
