"""Sentence splitting and extractive digests (newsletter._extract)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newsletter._extract import extract_digest
from newsletter._text import char_len, sentence_spans, split_sentences

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
LONG_ARTICLE = CORPUS / "articles" / "000_2801cbfc706f1353.txt"
LONG_TITLE = "并入微信开放平台团队,视频号直播电商再次加速"

# A typical ~300-character entry, written for this test.
ENTRY_TITLE = "视频号小店618预热期新商家数同比翻倍"
ENTRY = (
    "6月5日，微信小店发布618预热期经营数据。"
    "数据显示，5月20日至6月4日期间，新入驻商家数同比增长超过100%，其中产业带源头工厂占比约三成。"
    "视频号直播间开播场次同比增长65%，日均开播商家数创年内新高。"
    "为刺激达人带货，优选联盟宣布对食品、个护、家清三个类目追加佣金补贴，活动持续至6月20日。"
    "有业内人士认为，这说明平台正在加大投入。"
    "微信小店相关负责人表示，今年618将重点扶持腰部达人和中小商家，并上线“爆品一键复制”工具。"
    "扫一扫下载APP"
)


def long_article() -> str:
    if not LONG_ARTICLE.is_file():
        pytest.skip(f"shared corpus not found at {CORPUS} (../shared/corpus from the repo root)")
    return LONG_ARTICLE.read_text(encoding="utf-8")


# --- split_sentences ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("第一句。第二句！第三句？", ["第一句。", "第二句！", "第三句？"]),
        ("真的吗？！是的……好吧", ["真的吗？！", "是的……", "好吧"]),
        ("前半句；后半句。", ["前半句；", "后半句。"]),
        # The closing quote stays with its sentence; nothing inside “…” is split.
        (
            "他说：“我们来了。我们走了。”然后离开了。",
            ["他说：“我们来了。我们走了。”", "然后离开了。"],
        ),
        ("被称为“全厂希望”约一年后。下一句。", ["被称为“全厂希望”约一年后。", "下一句。"]),
        ("「好。」她说。", ["「好。」", "她说。"]),
        # Decimals and thousands separators are not boundaries.
        ("营收3.2亿元，增长5.5%。利润1,200万。", ["营收3.2亿元，增长5.5%。", "利润1,200万。"]),
        # Abbreviations and initials are not boundaries; a capital after ". " is.
        (
            "U.S. sales rose 3.5 percent. Mr. Smith agreed. Then he left.",
            ["U.S. sales rose 3.5 percent.", "Mr. Smith agreed.", "Then he left."],
        ),
        ("美国U.S.市场很大。", ["美国U.S.市场很大。"]),
        ("See www.qq.com for more. e.g. this.", ["See www.qq.com for more. e.g. this."]),
        ('He said "Go now." Then he left.', ['He said "Go now."', "Then he left."]),
        ("Revenue hit $1.5M. Costs fell.", ["Revenue hit $1.5M.", "Costs fell."]),
        ("Wait... What? Yes!", ["Wait...", "What?", "Yes!"]),
        # English punctuation inside Chinese text, as many feeds write it.
        (
            "下一阶段,视频号该如何前行?今年1月再次获得认可.",
            ["下一阶段,视频号该如何前行?", "今年1月再次获得认可."],
        ),
        # A line break always ends a sentence (headings, bylines).
        (
            "标题没有标点\n正文第一句。\n\n  正文第二句。  ",
            ["标题没有标点", "正文第一句。", "正文第二句。"],
        ),
        ("", []),
        ("   \n  ", []),
        ("没有结尾标点的一句话", ["没有结尾标点的一句话"]),
        # URLs and query strings are not split at their ? or .
        ("详见https://example.com/a?b=1&c=2页面。", ["详见https://example.com/a?b=1&c=2页面。"]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_unbalanced_quote_does_not_swallow_the_text() -> None:
    text = "他说：“开头没有结尾。" + "这是下一句。" * 80
    sentences = split_sentences(text)
    assert len(sentences) > 50


def test_sentence_spans_are_offsets_into_the_text() -> None:
    text = "  第一句。 Second one.\n第三句！"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["第一句。", "Second one.", "第三句！"]


def test_split_long_article_keeps_every_character() -> None:
    text = long_article()
    sentences = split_sentences(text)
    assert len(sentences) > 50
    assert "".join("".join(s.split()) for s in sentences) == "".join(text.split())
    # The decimal-free, quote-heavy article still splits at real ends only.
    assert all(not s.endswith(("“", "(", "（")) for s in sentences)


# --- extract_digest -----------------------------------------------------------------------


def _is_complete(digest: str, text: str) -> bool:
    """Every sentence of the digest is a sentence of the source, verbatim."""
    source = {" ".join(s.split()) for s in split_sentences(text)}
    source |= {s[:-1] + "。" for s in source if s.endswith("；")}
    return all(s in source for s in split_sentences(digest))


def test_digest_of_long_article_is_complete_sentences_within_cap() -> None:
    text = long_article()
    for cap in (60, 120, 200):
        digest = extract_digest(LONG_TITLE, text, cap)
        assert 0 < char_len(digest) <= cap
        assert _is_complete(digest, text), digest
        assert digest[-1] in "。！？.!?”"
    digest = extract_digest(LONG_TITLE, text)
    # The news of the piece: the team moves into the WeChat Open Platform.
    assert "并入微信开放平台" in digest
    # Boilerplate and the repeated title are never chosen.
    assert "扫一扫" not in digest and "正在阅读" not in digest
    assert not digest.startswith(LONG_TITLE)


def test_digest_keeps_source_order_and_prefers_title_terms_and_figures() -> None:
    digest = extract_digest(ENTRY_TITLE, ENTRY, 120)
    assert char_len(digest) <= 120
    assert _is_complete(digest, ENTRY)
    sentences = split_sentences(digest)
    positions = [ENTRY.index(s) for s in sentences]
    assert positions == sorted(positions)
    assert "618" in digest  # the title's key term and a figure
    assert "有业内人士认为" not in digest  # vague, figure-free, off-title
    assert "扫一扫" not in digest


def test_digest_is_deterministic() -> None:
    first = extract_digest(ENTRY_TITLE, ENTRY, 100)
    assert all(extract_digest(ENTRY_TITLE, ENTRY, 100) == first for _ in range(5))


def test_short_entry_is_its_own_digest() -> None:
    text = "理想汽车公布11月交付数据，当月交付约4.6万辆；公司预计四季度交付量环比持平。"
    digest = extract_digest("理想汽车11月交付4.6万辆", text)
    assert digest == "理想汽车公布11月交付数据，当月交付约4.6万辆。公司预计四季度交付量环比持平。"


def test_best_sentence_longer_than_cap_is_cut_cleanly() -> None:
    text = (
        "视频号直播电商团队并入微信开放平台，涉及视频号小店、平台规则、运营策略、类目运营、"
        "商家达人运营、优选联盟等团队，大部分团队负责人保持不变。"
    )
    digest = extract_digest("视频号直播电商团队并入微信开放平台", text, 40)
    assert char_len(digest) <= 40
    assert digest.endswith("…")
    assert digest.startswith("视频号直播电商团队并入微信开放平台")


def test_empty_text_falls_back_to_title() -> None:
    assert extract_digest("视频号上线新功能", "") == "视频号上线新功能"
    assert extract_digest("视频号上线新功能", "  \n ") == "视频号上线新功能"
    assert char_len(extract_digest("很长的标题" * 40, "", 50)) <= 50


def test_english_digest() -> None:
    text = (
        "Merchants who built their businesses on Douyin are opening second storefronts on "
        "WeChat Channels. Tencent cut the commission for new merchants to 1% for 90 days. "
        "Analysts say the move targets small sellers. The weather was nice."
    )
    digest = extract_digest("WeChat Channels lures Douyin merchants with lower fees", text, 120)
    assert char_len(digest) <= 120
    assert _is_complete(digest, text)
    assert "WeChat Channels" in digest
    assert "weather" not in digest


def test_jieba_loads_quietly_in_a_fresh_process() -> None:
    # A fresh interpreter: in this one jieba may already be initialised by another test.
    code = (
        "from newsletter._extract import extract_digest\n"
        f"print(extract_digest({ENTRY_TITLE!r}, {ENTRY!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stderr == ""
    assert "618" in done.stdout
