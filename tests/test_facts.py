"""Figures, faithfulness checks and the length cap (newsletter._facts)."""

from __future__ import annotations

import math
import re

import pytest

from newsletter._facts import (
    NumberFact,
    cap_length,
    extract_numbers,
    unsupported_facts,
)
from newsletter._text import char_len


def values(text: str) -> list[tuple[str, object]]:
    return [(f.kind, f.value) for f in extract_numbers(text)]


# --- extract_numbers: normalization -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("300%", "percent", 300.0),
        ("300％", "percent", 300.0),
        ("３００％", "percent", 300.0),
        ("百分之三百", "percent", 300.0),
        ("百分之30", "percent", 30.0),
        ("增长三成", "percent", 30.0),
        ("约7成商家", "percent", 70.0),
        ("5‰", "percent", 0.5),
        ("rose 21 percent", "percent", 21.0),
        ("三百", "count", 300.0),
        ("两千", "count", 2000.0),
        ("一万二", "count", 12000.0),
        ("三千五", "count", 3500.0),
        ("一百零五", "count", 105.0),
        ("三亿五千万", "count", 350000000.0),
        ("3.2亿", "count", 320000000.0),
        ("３.２亿", "count", 320000000.0),
        ("三点二亿", "count", 320000000.0),
        ("32000万", "count", 320000000.0),
        ("320,000,000", "count", 320000000.0),
        ("1.5万", "count", 15000.0),
        ("3千万", "count", 30000000.0),
        ("千万级用户", "count", 10000000.0),
        ("百万主播", "count", 1000000.0),
        ("双十一", "count", 11.0),
        ("1,200", "count", 1200.0),
        ("3.2 billion", "count", 3200000000.0),
        ("1.5 million", "count", 1500000.0),
        ("12万元", "amount", 120000.0),
        ("1.2万亿元", "amount", 1.2e12),
        ("$1.5M", "amount", 1500000.0),
        ("HK$3.5 billion", "amount", 3.5e9),
        ("¥99", "amount", 99.0),
        ("￥99", "amount", 99.0),
        ("100 yuan", "amount", 100.0),
        ("2026年", "year", 2026.0),
        ("in 2026 we", "year", 2026.0),
        ("6月5日", "date", (None, 6, 5)),
        ("11月25日", "date", (None, 11, 25)),
        ("2026年11月", "date", (2026, 11, None)),
        ("2026年11月25日", "date", (2026, 11, 25)),
        ("二〇二六年十一月二十五日", "date", (2026, 11, 25)),
        ("2026-11-25", "date", (2026, 11, 25)),
        ("2026/11/25", "date", (2026, 11, 25)),
        ("Nov 25", "date", (None, 11, 25)),
        ("November 25, 2026", "date", (2026, 11, 25)),
        ("25 Nov 2026", "date", (2026, 11, 25)),
        ("March 2026", "date", (2026, 3, None)),
        ("今年1月", "date", (None, 1, None)),
    ],
)
def test_normalization(text: str, kind: str, value: object) -> None:
    assert values(text) == [(kind, value)]


def test_raw_is_the_original_text() -> None:
    facts = extract_numbers("营收３.２亿元，增长３００％。")
    assert [f.raw for f in facts] == ["３.２亿元", "３００％"]
    assert facts[0] == NumberFact("３.２亿元", 320000000.0, "amount", "CNY")


def test_units() -> None:
    assert [f.unit for f in extract_numbers("$5 and 5美元 and 5港元 and 5元")] == [
        "USD",
        "USD",
        "HKD",
        "CNY",
    ]
    assert extract_numbers("提升5个百分点")[0].unit == "pp"


@pytest.mark.parametrize(
    "text",
    [
        "千万不要错过",  # adverb
        "一些商家一起统一行动",  # fixed words
        "百度和巨量千川",  # names
        "数百万用户",  # approximation without a figure
        "一两个",  # "one or two"
        "iPhone15支持5G",  # figures glued to Latin letters are names
        "一成不变",
    ],
)
def test_words_that_are_not_figures(text: str) -> None:
    assert extract_numbers(text) == []


def test_several_figures_in_order() -> None:
    text = "2023年视频号GMV增长超过226%，破千万的品牌店铺量增长超860%，3月起门槛从1000粉丝降到100。"
    assert values(text) == [
        ("year", 2023.0),
        ("percent", 226.0),
        ("count", 10000000.0),
        ("percent", 860.0),
        ("date", (None, 3, None)),
        ("count", 1000.0),
        ("count", 100.0),
    ]


def test_cjk_comma_is_not_a_thousands_separator() -> None:
    assert values("日活4.5亿，500万商家") == [("count", 450000000.0), ("count", 5000000.0)]


def test_durations_are_not_dates() -> None:
    assert values("期限6个月") == [("count", 6.0)]
    assert values("确保3日内到货") == [("count", 3.0)]
    assert values("27日起实施") == [("date", (None, None, 27))]
    assert unsupported_facts("確保三日內到貨", "確保三天內送達") == []


# --- unsupported_facts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digest", "source"),
    [
        ("增长300%", "增长百分之三百"),
        ("增长百分之三百", "增长300%"),
        ("增长300％", "增长300%"),
        ("营收3.2亿", "营收32000万"),
        ("营收32000万", "营收3.2亿"),
        ("营收3.2亿", "revenue 320,000,000"),
        ("营收3.2亿元", "营收三点二亿"),
        ("1.5万人", "一万五千人"),
        ("12万元", "120,000元"),
        ("GMV 3.2亿", "GMV 3.2亿元"),  # a figure may drop its currency
        ("$1.5M", "1.5 million dollars"),
        ("两千家", "2000家"),
        ("6月5日发布", "6月5日，微信小店发布"),
        ("Nov 25", "11月25日"),
        ("11月25日", "2026年11月25日"),
        ("2026年11月", "2026年11月25日"),
        ("2026年", "2026年11月25日"),  # the year of a date supports the bare year
        ("2026年11月25日", "11月25日开幕，2026年的第一场"),
        ("双11", "双十一"),
        ("三成", "30%"),
    ],
)
def test_supported(digest: str, source: str) -> None:
    assert unsupported_facts(digest, source) == []


@pytest.mark.parametrize(
    ("digest", "source", "missing"),
    [
        ("营收3.5亿", "营收3.2亿", ["3.5亿"]),
        ("增长30%", "增长30", ["30%"]),  # a percentage must match a percentage
        ("增长30", "增长30%", ["30"]),
        ("提升5个百分点", "提升5%", ["5个百分点"]),
        ("12万元", "12万美元", ["12万元"]),  # different named currencies
        ("11月26日", "11月25日", ["11月26日"]),
        ("2026年11月25日", "11月25日，2025年回顾", ["2026年11月25日"]),
        ("6月", "11月25日", ["6月"]),
        ("2025年", "2026年11月", ["2025年"]),
        ("营收3.18亿", "营收3.2亿", ["3.18亿"]),  # no rounding tolerance
        ("1家公司", "某公司", ["1"]),  # Arabic figures are always checked
        ("销量800万台，同比增长45%", "销量800万台", ["45%"]),
    ],
)
def test_unsupported(digest: str, source: str, missing: list[str]) -> None:
    assert unsupported_facts(digest, source) == missing


def test_invented_figure_is_caught_in_a_real_digest() -> None:
    source = (
        "6月5日，微信小店发布618预热期经营数据。5月20日至6月4日期间，新入驻商家数同比增长"
        "超过100%，视频号直播间开播场次同比增长65%。"
    )
    faithful = "微信小店6月5日公布：618预热期新商家数同比增长超100%，开播场次增长65%。"
    invented = "微信小店6月5日公布：618预热期新商家数同比增长超120%，开播场次增长65%，GMV达3亿元。"
    assert unsupported_facts(faithful, source) == []
    assert unsupported_facts(invented, source) == ["120%", "3亿元"]


def test_order_of_figures_does_not_matter() -> None:
    source = "开播场次增长65%，新商家数增长100%，覆盖300家机构。"
    digest = "覆盖300家机构；新商家数增长100%；开播场次增长65%。"
    assert unsupported_facts(digest, source) == []


def test_small_chinese_counts_are_not_checked() -> None:
    digest = "平台第一次向一家机构开放两个类目，十分重要。"
    assert unsupported_facts(digest, "平台开放类目。") == []


def test_each_missing_figure_reported_once() -> None:
    assert unsupported_facts("增长50%，再增长50%", "无") == ["50%"]


# --- cap_length ---------------------------------------------------------------------------

ANSWER = (
    "视频号直播电商团队近日并入微信开放平台团队，涉及视频号小店、平台规则、运营策略、类目运营、"
    "商家达人运营、优选联盟等团队，大部分负责人保持不变。"
    "此次调整后，直播电商将与视频号平级，拥有更多自主权和可调动资源。"
    "数据显示，2023年视频号供给数量同比增长超300%，订单数量同比增长超244%，"
    "品牌GMV增长超过226%，破千万的品牌店铺量增长超860%，GMV规模约3.2亿元。"
    "国海证券数据显示，2023年抖音电商自然流量占比接近50%，而视频号约为70%。"
    "今年3月，视频号将商家短视频带货门槛从1000粉丝降至无粉丝量限制，"
    "达人直播带货门槛也从1000粉丝降低到100粉丝，以吸引更多中小商家和达人入驻，"
    "业内人士认为，这意味着视频号电商的红利期仍未结束，对于商家来说入局宜早不宜迟。"
    "微信创始人张小龙曾表示，做视频号的初衷是做一个人人可以发声的平台，而不是做一个短视频"
    "的分发平台，商品就是内容，希望微信能够在内容电商的转化路径上进行更深层次的探索。"
    "由此看来，视频号并不满足于照搬抖音的经验，在直播电商赛道竞争愈发激烈的情况下，"
    "视频号能否踏出一条新路也着实令外界期待。"
)


def test_answer_is_about_500_characters() -> None:
    assert 450 <= char_len(ANSWER) <= 550


@pytest.mark.parametrize("cap", [80, 100, 120, 150, 200, 300, 400])
def test_cap_length_cuts_at_a_sentence_end(cap: int) -> None:
    out = cap_length(ANSWER, cap)
    assert 0 < char_len(out) <= cap
    assert out[-1] in "。"
    assert ANSWER.startswith(out)


def test_cap_length_first_sentence_too_long_cuts_at_a_clause() -> None:
    out = cap_length(ANSWER, 60)
    expected = (
        "视频号直播电商团队近日并入微信开放平台团队，涉及视频号小店、平台规则、运营策略、类目运营、"
        "商家达人运营、优选联盟等团队…"
    )
    assert out == expected
    assert char_len(out) <= 60


def test_cap_length_without_sentence_end_uses_clause_and_ellipsis() -> None:
    text = "视频号直播电商团队并入微信开放平台，商家数量增长了3.2亿元，同比增长300%，达人数量翻倍"
    out = cap_length(text, 40)
    assert out == "视频号直播电商团队并入微信开放平台，商家数量增长了3.2亿元，同比增长300%…"
    assert char_len(out) <= 40
    out = cap_length(text, 33)
    assert out == "视频号直播电商团队并入微信开放平台，商家数量增长了3.2亿元…"


@pytest.mark.parametrize("cap", range(9, 60))
def test_cap_length_never_splits_a_figure_or_word(cap: int) -> None:
    text = (
        "Revenue reached 3.25 billion yuan as merchants joined 营收达到3.2亿元人民币增长百分之三百"
    )
    out = cap_length(text, cap)
    assert char_len(out) <= cap
    assert out.endswith("…")
    body = out[:-1]
    assert text.startswith(body)
    rest = text[len(body) :]
    # Never a cut between two Latin letters/digits, or inside "3.2亿" / "3.25".
    if body and rest:
        assert not (re.match(r"[A-Za-z0-9.]", body[-1]) and re.match(r"[A-Za-z0-9.亿万]", rest[0]))
    assert not body.endswith(("3.", "3.2", "3.25", "百分之", "百分之三"))


def test_cap_length_short_text_unchanged() -> None:
    assert cap_length("短文本，没有句号", 120) == "短文本，没有句号"
    assert cap_length("", 10) == ""
    assert cap_length("任何文字", 0) == ""


def test_cap_length_single_long_token() -> None:
    url = "https://example.com/" + "a" * 100
    out = cap_length(url, 20)
    assert char_len(out) == 20 and out.endswith("…")


def test_char_len_counts_cjk_as_one() -> None:
    assert char_len("视频号abc") == 6
    assert char_len("e\u0301") == 1  # combining accent composes to one character


@pytest.mark.parametrize(
    "text", ["1" * 5000, "一" * 5000, "万" * 3000, "9" * 400 + "%", "1," * 3000, "3." * 3000]
)
def test_hostile_input_is_survived_quickly(text: str) -> None:
    # Feed and LLM text is untrusted: absurd digit runs must neither crash nor hang.
    facts = extract_numbers(text)
    assert all(isinstance(f.value, tuple) or math.isfinite(f.value) for f in facts)
    assert unsupported_facts(text[:100], text) is not None
    assert char_len(cap_length(text, 50)) <= 50
