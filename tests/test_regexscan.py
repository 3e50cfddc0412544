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
