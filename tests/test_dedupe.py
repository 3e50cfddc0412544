"""Same-story clustering: links, guards, ordering, determinism, and the labeled corpus."""

from __future__ import annotations

import importlib.util
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import opencc
import pytest

from newsletter.dedupe import cluster
from newsletter.models import Entry

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
STORIES = CORPUS / "labeled" / "stories.jsonl"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# A small week of on-topic items, written for these tests.
GIFT = (
    "3月2日，微信小店宣布“礼物卡”功能正式接入视频号直播间。观众在直播间购买商品后可以"
    "直接转赠给微信好友，好友填写地址即可收货。官方数据显示，内测两周内已有超过450万用户"
    "使用该功能送礼，客单价比普通订单高出37%。平台表示，3月15日起向全部商家开放，"
    "首批覆盖食品、美妆和服饰类目。"
)
GIFT_REWRITE = (
    "【电商观察获悉】视频号直播间上线了“礼物卡”：用户下单后可把商品转赠给微信好友，由好友"
    "自行填写收货地址。据微信小店披露，该功能内测两周、超过450万用户用它送过礼，客单价高出"
    "普通订单37%。3月15日起全部商家都可开通，食品、美妆和服饰类目首批接入。责任编辑：小林"
)
KS_EARNINGS = (
    "快手今日公布第四季度财报，总收入达到412亿元，同比增长11.2%；电商交易总额为4870亿元，"
    "同比增长15.8%。快手表示，直播带货仍是电商业务的主要来源，货架场景的交易占比提升至"
    "32%。管理层预计今年将继续加大对中小商家的流量扶持。"
)
KS_MERCHANTS = (
    "快手电商今日宣布推出“春耕计划”，面向新入驻商家提供三个月免佣和专属流量包。"
    "快手电商负责人表示，计划首期覆盖农产品、家居和母婴类目，预计帮助5万家中小商家完成"
    "首场直播。入驻审核时间也将从7天缩短至2天。"
)
GOV_NOTICE = (
    "视频号今日发布1月直播带货治理公告，共处置违规直播间1.2万个，封禁带货账号960个，"
    "清退违规商家215家。公告点名了虚构原价、夸大功效等违规话术，并提醒商家规范直播间的商品讲解。"
)
GOV_CAMPAIGN = (
    "视频号今日宣布启动珠宝文玩类目直播带货专项治理，重点整治直播间虚构原价、以次充好和夸大功效等"
    "违规话术，专项治理为期三个月，期间新入驻珠宝商家需缴纳保证金并提交资质证明。"
)
TEMPLATE = (
    "{brand}在代运营公司的支持下入驻微信小店，并完成首场视频号品牌直播。数据显示，"
    "本场直播成交额达到{gmv}万元，累计观看{views}万人次，订单{orders}万单。品牌负责人表示，"
    "微信生态的私域与公域联动，让老客户和新用户都能在直播间找到我们。"
)
EN_A = (
    "Live shopping startup Popcart raised $120 million in a Series C round led by Harbor "
    "Ventures, valuing the company at $2.1 billion. Popcart said it will use the money to "
    "expand its seller tools in Europe and to build a same-day shipping program for "
    "livestream orders. The app now hosts about 30,000 shows a day."
)
EN_B = (
    "Popcart, the live shopping app, has closed a $120 million Series C led by Harbor "
    "Ventures at a $2.1 billion valuation, according to a company statement. The funding "
    "will go toward seller tools in Europe and same-day shipping for orders placed during "
    "livestreams; Popcart hosts roughly 30,000 shows daily."
)
FILLER = [
    "抖音电商发布春季服饰行业扶持政策，新品首发期间可获得额外曝光，并对退货率低的商家减免"
    "部分技术服务费。平台表示将在4月推出服饰专场直播活动，邀请200位达人参与。",
    "淘宝直播宣布升级AI数字人主播工具，商家可免费生成讲解脚本和虚拟形象，夜间时段由数字人"
    "接管直播间。内测商家的夜间成交额平均提升了18%。",
    "市场监管部门通报一起直播间虚构原价案件，涉事主播在直播中宣称商品原价999元、现价99元，"
    "经查该商品从未以原价销售，被处以罚款15万元。",
    "小红书电商推出买手扶持计划，新买手首年免佣，并开放选品中心给更多中小品牌。平台数据显示，"
    "过去半年买手直播场次增长了一倍。",
]


def entry(
    id: str,
    text: str,
    *,
    title: str = "",
    link: str = "",
    hours: float = 0,
    source: str = "",
) -> Entry:
    return Entry(
        id=id,
        feed_url=f"https://feeds.example/{source or id}",
        title=title,
        link=link or f"https://news.example/{id}",
        text=text,
        published=T0 + timedelta(hours=hours),
        source_name=source,
    )


def week() -> list[Entry]:
    items = [
        entry("gift-1", GIFT, title="微信小店“礼物卡”接入视频号直播间，内测已有450万用户送礼"),
        entry(
            "gift-2", GIFT_REWRITE, title="视频号直播也能送礼了：礼物卡3月15日全量开放", hours=3
        ),
        entry("ks-1", KS_EARNINGS, title="快手第四季度收入412亿元，电商GMV增15.8%", hours=5),
        entry("ks-2", KS_MERCHANTS, title="快手电商推出“春耕计划”，新商家三个月免佣", hours=6),
        entry("en-1", EN_A, title="Popcart raises $120M at a $2.1B valuation", hours=1),
        entry("en-2", EN_B, title="Live shopping app Popcart valued at $2.1 billion", hours=2),
    ]
    items += [entry(f"f-{i}", t, title=t[:20], hours=10 + i) for i, t in enumerate(FILLER)]
    return items


def groups(clusters: list[tuple[Entry, ...]]) -> set[frozenset[str]]:
    return {frozenset(e.id for e in c) for c in clusters}


def together(clusters: list[tuple[Entry, ...]], a: str, b: str) -> bool:
    return any({a, b} <= {e.id for e in c} for c in clusters)


def test_empty_input() -> None:
    assert cluster([]) == []


def test_every_entry_appears_exactly_once() -> None:
    items = week()
    out = cluster(items)
    ids = [e.id for c in out for e in c]
    assert sorted(ids) == sorted(e.id for e in items)


def test_same_canonical_url_with_tracking_params_is_one_cluster() -> None:
    # Texts share nothing, so only the link can join them.
    a = entry("u1", KS_EARNINGS, link="https://news.example/a/42?utm_source=rss&utm_medium=feed")
    b = entry("u2", "", title="外链", link="HTTPS://News.Example/a/42/?from=timeline#top")
    c = entry("u3", GIFT, link="https://news.example/a/43")
    assert groups(cluster([a, b, c])) == {frozenset({"u1", "u2"}), frozenset({"u3"})}


def test_near_duplicate_rewrites_cluster() -> None:
    out = cluster(week())
    assert together(out, "gift-1", "gift-2")
    assert together(out, "en-1", "en-2")


def test_same_company_different_event_stays_apart() -> None:
    out = cluster(week())
    assert not together(out, "ks-1", "ks-2")
    assert not together(out, "gift-1", "ks-1")


def test_same_platform_same_vocabulary_different_event_stays_apart() -> None:
    # Both are 视频号 governance news with shared phrasing (an LSH candidate pair), but one
    # is the monthly notice and the other a new category campaign.
    a = entry("gov-1", GOV_NOTICE, title="视频号发布1月直播带货治理公告")
    b = entry("gov-2", GOV_CAMPAIGN, title="视频号启动珠宝文玩类目直播带货专项治理", hours=4)
    assert not together(cluster([a, b, *week()]), "gov-1", "gov-2")


def test_template_filled_in_for_other_brands_stays_apart() -> None:
    brands = [("暖冬羽绒", 1260, 86, 3.2), ("高山茶园", 1030, 41, 1.9), ("田园米业", 880, 37, 2.6)]
    items = [
        entry(f"pr-{i}", TEMPLATE.format(brand=b, gmv=g, views=v, orders=o), title=f"{b}入驻")
        for i, (b, g, v, o) in enumerate(brands)
    ]
    assert len(cluster(items + week())) == len(items) + len(cluster(week()))


def test_wire_copy_of_template_does_join() -> None:
    # The same filled-in release from two outlets: figures agree, so the guard lets it link.
    text = TEMPLATE.format(brand="暖冬羽绒", gmv=1260, views=86, orders=3.2)
    a = entry("w1", text, title="暖冬羽绒入驻微信小店")
    b = entry("w2", f"来源：某电商媒体 {text} 点击关注", title="暖冬羽绒入驻微信小店，首播破千万")
    assert together(cluster([a, b, *week()]), "w1", "w2")


def test_traditional_copy_of_simplified_story_clusters() -> None:
    s2t = opencc.OpenCC("s2t").convert
    trad = entry("gift-hant", s2t(GIFT), title=s2t("微信小店礼物卡接入视频号直播间"))
    assert trad.text != GIFT  # really Traditional
    out = cluster([*week(), trad])
    assert together(out, "gift-1", "gift-hant")
    # Headline-only items must be near copies, so this holds only after t2s.
    title = "微信小店礼物卡接入视频号直播间，内测两周已有450万用户送礼"
    hans = entry("h-hans", "", title=title)
    hant = entry("h-hant", "", title=s2t(title), link="https://tw.example/1")
    assert hant.title != title
    assert together(cluster([hans, hant, *week()]), "h-hans", "h-hant")


def test_short_items_need_a_near_copy() -> None:
    a = entry("s1", "", title="快手发布第四季度财报")
    b = entry("s2", "", title="快手发布春耕计划")
    c = entry("s3", "", title="快手发布第四季度财报！", link="https://other.example/x")
    out = cluster([a, b, c, *week()])
    assert together(out, "s1", "s3")
    assert not together(out, "s1", "s2")


def test_entries_without_any_text_are_singletons() -> None:
    a = entry("e1", "", title="")
    b = entry("e2", "", title="")
    assert groups(cluster([a, b])) == {frozenset({"e1"}), frozenset({"e2"})}


def test_best_entry_first_by_rank_then_ties() -> None:
    items = week()
    weight = {"gift-2": 2.0, "en-1": 1.0}
    out = cluster(items, rank=lambda e: weight.get(e.id, 0.0))
    # Highest rank leads its cluster, and clusters are ordered by their best entry's rank.
    assert [e.id for e in out[0]] == ["gift-2", "gift-1"]
    assert [e.id for e in out[1]] == ["en-1", "en-2"]
    # Without rank: longer text first, then earlier published, then id.
    out = cluster(items)
    gift = next(c for c in out if together([c], "gift-1", "gift-2"))
    longer = max(("gift-1", "gift-2"), key=lambda i: len(next(e for e in items if e.id == i).text))
    assert gift[0].id == longer
    twin_a = entry("t-b", GIFT, hours=2)
    twin_b = entry("t-a", GIFT, hours=1)
    twin_c = entry("t-0", GIFT, hours=1)
    out = cluster([twin_a, twin_b, twin_c])
    assert [e.id for e in out[0]] == ["t-0", "t-a", "t-b"]
    # Unranked clusters are ordered by their best entry's id.
    best_ids = [c[0].id for c in cluster(items)]
    assert best_ids == sorted(best_ids)


def test_deterministic_and_independent_of_input_order() -> None:
    items = week()
    expected = [[e.id for e in c] for c in cluster(items)]
    for seed in range(3):
        shuffled = items[:]
        random.Random(seed).shuffle(shuffled)
        assert [[e.id for e in c] for c in cluster(shuffled)] == expected


def _benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "dedupe.py"
    spec = importlib.util.spec_from_file_location("benchmarks_dedupe", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labeled_stories_meet_targets() -> None:
    if not STORIES.exists():
        pytest.skip(f"labeled corpus not found at {STORIES} (needs ../shared/corpus)")
    bench = _benchmark()
    entries, gold = bench.load(STORIES)
    out = cluster(entries)  # its speed is benchmarks/dedupe.py's business, not a test's
    precision, recall, _, fps, fns = bench.score(out, gold)
    assert precision >= 0.95, sorted(fps)
    assert recall >= 0.85, sorted(fns)


def test_same_figures_on_different_platforms_stay_apart() -> None:
    body = (
        "双11大促收官，平台公布短视频与直播带货数据：带货GMV同比增长73%，千万级直播间数量"
        "同比增长52%，新入驻商家超过12万家，中小商家贡献了六成以上的增量。"
    )
    items = [
        entry("ks", body, title="快手双11：短视频带货GMV同比增长73%"),
        entry("wx", body, title="视频号双11战报：带货GMV同比增长73%"),
        entry("wx2", body + "腾讯方面表示将继续投入。", title="微信视频号双11带货GMV同比增长73%"),
    ]
    clusters = cluster(items)
    assert not together(clusters, "ks", "wx") and not together(clusters, "ks", "wx2")
    assert together(clusters, "wx", "wx2")
