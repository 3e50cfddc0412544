"""Tests for the rule-based relevance scorer (sentences written for these tests)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from newsletter.models import Verdict
from newsletter.relevance import Lexicon, is_uncertain, judge, load_lexicon, normalize

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
DEV = CORPUS / "labeled" / "dev.jsonl"


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return load_lexicon()


def reasons_text(verdict: Verdict) -> str:
    return "\n".join(verdict.reasons)


# --- on topic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("视频号上线直播间商品讲解回看", "商家可在直播结束后保留讲解片段。"),
        ("微信小店开放跨境商家入驻", "首批面向东南亚商家。"),
        ("县长直播带货销售苹果20万斤", ""),
        ("优选联盟下调美妆类目佣金门槛", "达人可直接申请样品。"),
        ("果农在镜头前现摘现卖，一晚卖出五千箱橙子", "当地合作社负责发货。"),
        ("数字人主播通宵讲解，凌晨成交占两成", "某服饰品牌把夜间时段交给虚拟主播。"),
        ("WeChat Channels opens its mini shop to overseas brands", ""),
        ("Live shopping app raises new funding", "The startup lets sellers auction sneakers."),
        ("TikTok Shop live sales double in Indonesia", ""),
        ("Streamers can now sell merch without leaving the stream", ""),
    ],
)
def test_on_topic(lex: Lexicon, title: str, body: str) -> None:
    verdict = judge(title, body, lex)
    assert verdict.relevant, verdict.reasons
    assert verdict.score >= lex.threshold


def test_traditional_chinese_is_normalized(lex: Lexicon) -> None:
    verdict = judge("微信視頻號推出直播帶貨新規", "視頻號將對帶貨達人實施分級管理。", lex)
    assert verdict.relevant
    text = reasons_text(verdict)
    # Reasons name the Simplified lexicon terms the Traditional text matched.
    assert "视频号" in text
    assert "带货" in text


def test_normalize() -> None:
    assert normalize("視頻號 直播電商") == "视频号 直播电商"
    assert normalize("ＷｅＣｈａｔ Channels") == "wechat channels"
    assert normalize("LIVE Shopping") == "live shopping"


# --- trap words and senses that are off topic ---------------------------------------------


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("微信支持一个手机号注册两个账号", "切换账号无需重新登录。"),
        ("公众号改版：订阅号消息按兴趣排序", "创作者反馈阅读量上升。"),
        ("某品牌新型号耳机入网，信号更稳", "设备编号已在工信部公示。"),
        ("游戏直播平台第三季度付费用户下滑", "斗鱼称将压缩电竞赛事版权投入。"),
        ("新品发布会直播观看人次破亿", "直播回放次日播放量再涨两成。"),
        ("视频剪辑工具上线AI配乐", "用户可一键为视频生成背景音乐。"),
        ("某航司深夜致歉", "据其视频号消息，该航司将补偿受影响旅客。"),
        ("某车企董事长回应传闻", "他在其个人视频号发布视频称公司经营正常。"),
        ("白酒企业三季度直销渠道收入增长", "经销商渠道占比下降。"),
        ("电视购物频道营收下滑", "电视购物公司称将压缩演播室班次。"),
        ("Chipmaker says its sales channels are clogged", "Distributors hold excess inventory."),
        (
            "Popular YouTube channel hits 10 million subscribers",
            "The channel posts cooking videos.",
        ),
        ("Retailer doubles down on omnichannel strategy", "Store pickup grew 30%."),
        ("Slack lets admins archive old channels", ""),
        ("ByteDance weighs offers to sell TikTok's US business", ""),
        ("Concert live stream draws record audience", "The band performed for two hours."),
    ],
)
def test_off_topic(lex: Lexicon, title: str, body: str) -> None:
    verdict = judge(title, body, lex)
    assert not verdict.relevant, verdict.reasons


def test_trap_words_do_not_match_inside_longer_words(lex: Lexicon) -> None:
    verdict = judge("公众号账号型号编号信号", "", lex)
    assert verdict.score <= 0
    assert "视频号" not in reasons_text(verdict)


def test_game_streaming_not_counted_as_live_selling(lex: Lexicon) -> None:
    verdict = judge("游戏直播间人气创新高", "主播连麦观众，弹幕刷屏。", lex)
    assert not verdict.relevant
    assert "games_streaming '游戏直播'" in reasons_text(verdict)


def test_game_streaming_with_goods_sold_is_relevant(lex: Lexicon) -> None:
    # POLICY: selling goods during live streams counts even on a game-streaming platform.
    verdict = judge("游戏直播间上架外设商品，主播按成交分佣", "", lex)
    assert verdict.relevant, verdict.reasons
    assert "ignored" in reasons_text(verdict)


def test_passing_mention_is_masked_and_reported(lex: Lexicon) -> None:
    verdict = judge("明星宣布退出综艺", "据其视频号消息，他将专注公益。", lex)
    assert not verdict.relevant
    assert "masked passing mention" in reasons_text(verdict)


def test_channels_word_needs_wechat(lex: Lexicon) -> None:
    plain = judge("Discord adds paid channels", "Owners can charge monthly fees.", lex)
    wechat = judge("Brands flock to Channels", "Tencent says WeChat users buy more.", lex)
    assert not plain.relevant
    assert wechat.score > plain.score


def test_english_word_boundaries(lex: Lexicon) -> None:
    # "olive" and "livestock" must not be read as "live"; "shopping" alone is not enough.
    verdict = judge("Olive oil and livestock prices", "Shopping for staples got costlier.", lex)
    assert not verdict.relevant
    assert verdict.score == 0


# --- weights, reasons, uncertainty ----------------------------------------------------------


def test_title_hit_weighs_more_than_body_hit(lex: Lexicon) -> None:
    in_title = judge("视频号年度大会召开", "会议在广州举行。", lex)
    in_body = judge("年度大会召开", "会议在广州举行，视频号团队出席。", lex)
    assert in_title.score == in_body.score * lex.title_factor > in_body.score
    assert in_title.relevant
    # A lone body mention is too weak to keep an entry.
    assert not in_body.relevant


def test_reasons_explain_the_decision(lex: Lexicon) -> None:
    kept = judge("视频号直播带货新规", "", lex)
    assert kept.reasons[-1].startswith(f"score {kept.score:.1f} >= threshold")
    assert any("title" in r and "带货" in r for r in kept.reasons)
    dropped = judge("央行下调存款准备金率", "", lex)
    assert dropped.reasons == (f"score 0.0 < threshold {lex.threshold:.1f}",)


def test_near_rule_reason_quotes_the_evidence(lex: Lexicon) -> None:
    verdict = judge("村支书在镜头前卖土豆", "", lex)
    assert verdict.relevant
    assert any(r.startswith("title rule live+sell '镜头前卖'") for r in verdict.reasons)


def test_near_rule_does_not_cross_sentences(lex: Lexicon) -> None:
    apart = judge("年报", "公司去年开始直播。另一家公司的商品卖得很好。", lex)
    together = judge("年报", "公司去年开始直播卖商品。", lex)
    assert not any("rule live+sell '" in r for r in apart.reasons)
    assert any("rule live+sell '" in r for r in together.reasons)


def test_is_uncertain(lex: Lexicon) -> None:
    low, high = lex.uncertain_band
    assert is_uncertain(Verdict(relevant=False, score=low, reasons=()), lex)
    assert not is_uncertain(Verdict(relevant=True, score=high, reasons=()), lex)
    assert not is_uncertain(Verdict(relevant=False, score=low - 0.5, reasons=()), lex)
    # A lone body mention of 视频号 is exactly the kind of entry an LLM should look at.
    assert is_uncertain(judge("创作者大会召开", "视频号团队出席。", lex), lex)


def test_judge_is_deterministic_and_uses_default_lexicon() -> None:
    first = judge("抖音电商发布新规", "主播须公示选品来源。")
    second = judge("抖音电商发布新规", "主播须公示选品来源。")
    assert first == second
    assert first.relevant


def test_huge_untrusted_input_is_bounded(lex: Lexicon) -> None:
    body = "直播" * 300_000 + "卖"
    start = time.perf_counter()
    verdict = judge("x", body, lex)
    assert time.perf_counter() - start < 2.0
    assert isinstance(verdict.score, float)


# --- loading and overrides ------------------------------------------------------------------


def test_overrides_add_remove_threshold() -> None:
    base = load_lexicon()
    assert "抖音商城" not in reasons_text(judge("抖音商城年终盘点", "", base))
    lex = load_lexicon(
        overrides={
            "threshold": 5,
            "add": {"live_platforms": {"抖音商城": 3}},
            "remove": ["交个朋友"],
        }
    )
    assert lex.threshold == 5
    added = judge("抖音商城年终盘点", "", lex)
    assert "'抖音商城' +6" in reasons_text(added)
    assert added.relevant
    removed = judge("交个朋友公布年度计划", "", lex)
    assert not any("交个朋友" in r for r in removed.reasons)
    assert any("交个朋友" in r for r in judge("交个朋友公布年度计划", "", base).reasons)


def test_override_changes_weight_and_accepts_traditional_terms() -> None:
    lex = load_lexicon(overrides={"add": {"channels": {"視頻號": 5}}})
    assert lex.groups["channels"].terms["视频号"] == 5
    assert judge("视频号", "", lex).score == 10


def test_override_rules_and_unless() -> None:
    lex = load_lexicon(
        overrides={
            "cues": {"groupbuy": ["团购"]},
            "rules": [
                {
                    "name": "live+groupbuy",
                    "near": ["live", "groupbuy"],
                    "weight": 2,
                    "group": "live_selling",
                },
            ],
            "remove_rules": ["host+sell"],
            "groups": {"tipping": {"unless": []}},
        }
    )
    assert any(r.name == "live+groupbuy" for r in lex.rules)
    assert not any(r.name == "host+sell" for r in lex.rules)
    assert lex.groups["tipping"].unless == ()
    assert "live+groupbuy" in reasons_text(judge("直播团购火锅券", "", lex))


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"threshhold": 3}, "threshhold"),
        ({"add": {"channels": {"视频号": "heavy"}}}, "add.channels.视频号"),
        ({"uncertain_band": [5, 1]}, "uncertain_band"),
        ({"remove_rules": ["no such rule"]}, "remove_rules"),
        ({"groups": {"nope": {"unless": []}}}, "groups.nope"),
        ({"rules": [{"name": "r", "near": ["live", "nope"], "weight": 1, "group": "g"}]}, "rules"),
        ({"add": {"tipping": {"直播带货": 3}}}, "tipping"),
        ({"masks": [{"label": "bad", "pattern": "("}]}, "masks"),
    ],
)
def test_invalid_overrides_name_the_key(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        load_lexicon(overrides=overrides)


def test_invalid_lexicon_file(tmp_path: Path) -> None:
    bad = tmp_path / "lexicon.yaml"
    bad.write_text("threshold: 3\ngroups:\n  a:\n    terms: {x: [1]}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"groups\.a\.terms\.x"):
        load_lexicon(bad)
    dup = tmp_path / "dup.yaml"
    dup.write_text("threshold: 3\nthreshold: 4\ngroups: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate key 'threshold'"):
        load_lexicon(dup)


def test_custom_lexicon_file(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text(
        "threshold: 2\ngroups:\n  pets:\n    terms: {cat: 2, 貓咪: 2}\n", encoding="utf-8"
    )
    lex = load_lexicon(path)
    assert judge("A cat show", "", lex).relevant
    assert judge("猫咪", "", lex).relevant  # the Traditional term was normalized on load
    assert not judge("Concatenate strings", "", lex).relevant


# --- the labeled corpus ---------------------------------------------------------------------


def _entry_text(row: dict[str, Any]) -> str:
    summary = (row.get("summary") or "").strip()
    content = (row.get("content") or "").strip()
    if content and summary and content.startswith(summary):
        return content
    return "\n".join(p for p in (summary, content) if p)


def test_dev_corpus_quality(lex: Lexicon) -> None:
    if not DEV.exists():
        pytest.skip(f"labeled corpus not found at {DEV} (../shared is absent)")
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    tp = fp = fn = 0
    for row in rows:
        predicted = judge(row["title"], _entry_text(row), lex).relevant
        tp += predicted and row["relevant"]
        fp += predicted and not row["relevant"]
        fn += not predicted and row["relevant"]
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    assert precision >= 0.95, f"precision {precision:.3f}"
    assert f1 >= 0.95, f"F1 {f1:.3f}"
