"""StartScanner finds exactly what re.finditer finds, faster only where it can."""

from __future__ import annotations

import re

import pytest

from newsletter._regexscan import StartScanner

TEXTS = [
    "他在视频号发布声明，据其视频号消息称不是来带货的。",
    "not there to sell; looks like QVC, resembles home shopping and whatnot",
    "",
    "票已售罄，门票共售出三千张，开售即空。",
    "aaa ab abc b",
]


@pytest.mark.parametrize(
    ("pattern", "fast"),
    [
        (r"(?:据|在)(?:其|他)*视频号(?:发布|消息)", True),
        (r"(?:(?:不是|无意)(?:来)?带货)|(?:(?:没有|不)(?:挂)?商品)", True),
        (r"(?:like|resembl[a-z]*)\s+(?:qvc|home shopping)", True),
        (r"(?<=\s)ab?c?", True),  # a lookbehind is zero width: the class comes after it
        (r"b*", False),  # can match empty
        (r".票", False),  # any character
        (r"\w+", False),  # a category, not a short list
        (r"(?i)qvc", False),  # case-insensitive
        (r"(?:x|y?)z?", False),  # every alternative optional: can match empty
        (r"(?s)票.", True),  # global flags stay at the start: the plain scan
        (r"(?x) 票 \s* 已  # a comment", True),  # verbose: the plain scan
        (r"(?P<blank>带货)(?=的)|不(?P=blank)", True),  # named groups and back references
    ],
)
def test_matches_are_those_of_finditer(pattern: str, fast: bool) -> None:
    compiled = re.compile(pattern)
    scanner = StartScanner(compiled)
    assert (scanner.starts is not None) == fast
    for text in TEXTS:
        expected = [(m.span(), m.group()) for m in compiled.finditer(text)]
        assert [(m.span(), m.group()) for m in scanner.finditer(text)] == expected, text


@pytest.mark.parametrize(
    ("pattern", "words", "anchored"),
    [
        (
            r"(?P<blank>sell|sells|sold|buy|bought)(?: out)? (?:its )?ads\b",
            ["sell", "sold", "buy", "bought"],
            True,
        ),
        (r"(?<![a-z])sold\b", ["sold"], True),  # zero-width items add nothing
        (r"\b(?P<blank>sell-?offs?)\b", ["sell-off", "selloff"], True),
        (r"sell+ing", ["sell"], True),
        (r"x{0,2}y", ["xy", "xxy", "y"], True),
        (r"x{0,3}y", ["xy", "xxy", "y"], False),  # "xxxy" begins with none of them
        (r"sel+ing", ["sell"], False),  # "seling"
        (r"\b(?:shares|stocks?) sold", ["sold"], False),  # the word comes later
        (r"(?:a|b)?sell", ["sell"], False),
        (r"[a-z]+ sold", ["sold"], False),
        (r".sold", ["sold"], False),  # cannot be spelled out
        (r"go live", ["go live"], True),
        (r"(?i)sold", ["sold"], False),
        (r"卖(?:货|了)", ["卖货", "卖了"], True),
        (r"不(?:是)?带货", ["带货"], False),
    ],
)
def test_anchored_means_every_match_begins_with_a_word(
    pattern: str, words: list[str], anchored: bool
) -> None:
    assert StartScanner(re.compile(pattern), words).anchored is anchored


ANCHORED_TEXTS = [
    "they sold out its ads, then sell ads and bought ads; sold sold ads",
    "selling its ads? sells ads. sold  ads",
    "",
]


def test_an_anchored_pattern_tried_where_its_words_are_finds_what_finditer_finds() -> None:
    pattern = re.compile(r"(?P<blank>sell|sells|sold|bought)(?: out)? (?:its )?ads\b")
    words = ["sell", "sold", "bought"]
    scanner = StartScanner(pattern, words)
    assert scanner.anchored
    for text in ANCHORED_TEXTS:
        starts = sorted({m.start() for w in words for m in re.finditer(re.escape(w), text)})
        expected = [(m.span(), m.group()) for m in pattern.finditer(text)]
        assert [(m.span(), m.group()) for m in scanner.match_at(text, starts)] == expected
        assert expected or not text  # the texts do hold matches


def test_every_anchored_mask_of_the_lexicon_finds_what_a_search_finds() -> None:
    # The packaged masks over the real-reporting entries: where a mask is tried only at its
    # words, it must find exactly what searching the whole text finds.
    import json
    from pathlib import Path

    from newsletter._normalize import to_simplified
    from newsletter.relevance import load_lexicon, normalize

    rows = Path(__file__).parent / "data" / "realnews_tune.jsonl"
    texts = []
    for line in rows.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts.append(normalize(f"{row['title']}\n{row['summary']}"))
    anchored = 0
    for _label, pattern, requires in load_lexicon().masks:
        words = [normalize(w) for w in requires]
        compiled = re.compile(to_simplified(pattern))
        scanner = StartScanner(compiled, words)
        if not scanner.anchored:
            continue
        anchored += 1
        for text in texts:
            found = (re.finditer(f"(?={re.escape(w)})", text) for w in words)
            starts = sorted({m.start() for matches in found for m in matches})
            expected = [m.span() for m in compiled.finditer(text)]
            assert [m.span() for m in scanner.match_at(text, starts)] == expected, text
    assert anchored >= 10
