"""Sentence splitting and extractive digests (newsletter._extract)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newsletter._extract import (
    DigestCaps,
    dangling_start,
    extract_digest,
    fits,
    key_terms,
    uses_words,
)
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


def test_a_sentence_longer_than_the_cap_is_dropped_never_cut() -> None:
    text = (
        "视频号直播电商团队并入微信开放平台，涉及视频号小店、平台规则、运营策略、类目运营、"
        "商家达人运营、优选联盟等团队，大部分团队负责人保持不变。"
        "调整后，视频号小店将与小程序共用一套开放接口。"
    )
    digest = extract_digest("视频号直播电商团队并入微信开放平台", text, 40)
    assert digest == "调整后，视频号小店将与小程序共用一套开放接口。"
    # With nothing that fits, the digest is empty: the issue shows the headline alone.
    assert extract_digest("视频号直播电商团队并入微信开放平台", text[:60], 40) == ""


def test_empty_text_gives_an_empty_digest() -> None:
    # The headline is already shown above the digest; repeating it says nothing.
    assert extract_digest("视频号上线新功能", "") == ""
    assert extract_digest("视频号上线新功能", "  \n ") == ""


# Written for these tests: a policy story whose later paragraphs lean on the first.
POLICY_TITLE = "微信小店发布达人带货新规：虚假宣传将被扣除带货分"
POLICY = (
    "此外，新规还对直播间的商品讲解时长提出了要求。"
    "微信小店11月3日发布《达人带货管理规范》，达人在直播间夸大商品功效、虚构销量等虚假宣传行为，"
    "将被扣除带货分，情节严重的暂停带货权限30天。"
    "规范还规定，达人须在直播间公示与商家的合作关系。"
    "新规将于12月1日起施行。"
)


def test_first_sentence_states_the_headline_and_never_opens_with_a_connective() -> None:
    digest = extract_digest(POLICY_TITLE, POLICY, 120)
    assert digest.startswith("微信小店11月3日发布《达人带货管理规范》")
    assert "虚假宣传" in split_sentences(digest)[0]
    assert _is_complete(digest, POLICY)
    # A later sentence may continue the first; it never stands first.
    assert not digest.startswith(("此外", "规范还"))


@pytest.mark.parametrize(
    "sentence",
    [
        "此外，平台还将上线新工具。",
        "与此同時，平台上線新工具。",  # Traditional, folded to Simplified for the check
        "征求意见稿还规定，平台应保存直播回放不少于3年。",
        "该主播所在机构已被暂停带货权限。",
        "However, sellers say fees are still too high.",
        "The company also said it would hire 200 staff.",
        "It expects sales to double.",
        "In addition, creators get a bonus.",
    ],
)
def test_dangling_starts(sentence: str) -> None:
    assert dangling_start(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "11月25日，市场监管总局就《直播电商经营规范》公开征求意见。",
        "还原真实的直播间需要时间。",  # 还原 is a verb, not 还
        "并购完成后，两家机构合并运营。",  # 并购 is a noun, not 并
        "While rivals cut fees, Tencent raised its bonus for creators.",
        "Tencent said the number of creators grew 65% year on year.",
        "Alsotech unveiled a live-shopping studio.",
    ],
)
def test_sentences_that_stand_on_their_own(sentence: str) -> None:
    assert not dangling_start(sentence)


ENGLISH_TITLE = "Shopee brings live shopping to Brazil with free-shipping vouchers"
ENGLISH = (
    "Shopee has started live shopping in Brazil, giving viewers free-shipping vouchers "
    "worth up to 20 reais when they buy during a stream, the company said on Tuesday. "
    "The Sea Ltd unit said more than 3,000 Brazilian sellers had signed up for the first "
    "month of broadcasts, most of them in fashion and beauty. "
    "Analysts expect the move to put pressure on Mercado Livre, which has tested live "
    "video since last year. "
    "Shopee did not say how much it spends on the vouchers. "
    "Read more: our guide to e-commerce in Latin America…"
)


def test_english_is_capped_in_words_and_skips_a_feed_s_own_cut() -> None:
    # 120 characters would not hold the first sentence; the word cap does.
    digest = extract_digest(ENGLISH_TITLE, ENGLISH, DigestCaps(max_chars=120, max_words=60))
    assert digest.startswith("Shopee has started live shopping in Brazil")
    assert len(digest.split()) <= 60
    assert _is_complete(digest, ENGLISH)
    assert "Read more" not in digest  # ends in the feed's "…": not a whole sentence
    short = extract_digest(ENGLISH_TITLE, ENGLISH, DigestCaps(max_chars=120, max_words=30))
    assert len(short.split()) <= 30 and short.startswith("Shopee has started")


def test_caps_use_the_unit_of_the_script() -> None:
    caps = DigestCaps(max_chars=10, max_words=5)
    assert uses_words("WeChat Channels adds tiers for 优选联盟 creators.")
    assert not uses_words("视频号推出新的佣金档位，面向Creators。")
    assert fits("one two three four five.", caps)
    assert not fits("one two three four five six.", caps)
    assert fits("视频号推出新档位。", caps)
    assert not fits("视频号推出新的佣金档位。", caps)


def test_key_terms_match_whole_figures_and_words() -> None:
    terms = key_terms("2 bed 1 bath near Fruitvale, 1BA $1950")
    assert "2" not in terms and "1950" in terms and "fruitvale" in terms
    assert "creator" in key_terms("Creators earn more")
    assert "视频号" in key_terms("視頻號直播帶貨") or "视频" in key_terms("視頻號直播帶貨")


def test_english_digest() -> None:
    text = (
        "Merchants who built their businesses on Douyin are opening second storefronts on "
        "WeChat Channels. Tencent cut the commission for new merchants to 1% for 90 days. "
        "Analysts say the move targets small sellers. The weather was nice."
    )
    digest = extract_digest("WeChat Channels lures Douyin merchants with lower fees", text, 120)
    assert len(digest.split()) <= DigestCaps().max_words
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
