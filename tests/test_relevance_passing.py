"""A long article that names the beat once, deep in its body, mentions it in passing.

Full-content feeds (blogs, newspapers) carry whole articles: a profile or a court story may
say once that someone "used to do 淘宝直播" — one word must not carry such an entry
(issue 23, "one word decides"). The same word in the title, in the lead, or said again
later still counts in full. The texts are written for these tests.
"""

from __future__ import annotations

import pytest

from newsletter.relevance import judge

# A labour dispute told at length; nothing in it is about selling on live streams.
_DISPUTE = [
    "这起纠纷从今年春天开始发酵，当事人先后向公司工会、人事部门和劳动监察大队反映情况。",
    "据她回忆，入职之初部门主管曾口头承诺转正后调整薪资，但试用期结束后公司以业绩未达标为由拒绝兑现。",
    "她随后提交了劳动仲裁申请，要求公司补发加班费并支付未签订书面劳动合同期间的双倍工资。",
    "公司方面回应称，相关岗位实行综合计算工时制度，员工的加班时长已按规定折算为调休。",
    "仲裁委员会受理后组织了两次调解，双方在经济补偿的金额上始终没有达成一致。",
    "多名前同事向记者证实，该部门去年下半年频繁调整考核指标，不少新员工在试用期内离职。",
    "律师指出，用人单位单方面变更考核标准并据此辞退员工，需要承担举证责任。",
    "目前案件仍在审理中，当地人社部门表示将依法处理，并督促企业规范用工管理。",
]


def _told_at_length(
    sentences: list[str], copies: int, mention: str, at: int, sep: str = ""
) -> str:
    """A long article: ``copies`` runs of ``sentences``, with ``mention`` after sentence ``at``."""
    told = sentences * copies
    told.insert(at, mention)
    return sep.join(told)


def _long_story(mention: str, at: int) -> str:
    """About 1,300 characters of the dispute."""
    return _told_at_length(_DISPUTE, 4, mention, at)


def test_the_same_word_in_the_title_counts_in_full() -> None:
    text = _long_story("她做过一段时间的淘宝直播。", 12)
    verdict = judge("淘宝直播前主播讲述劳动仲裁经过", text)
    assert verdict.relevant, verdict.reasons


def test_a_beat_word_said_again_later_is_not_in_passing() -> None:
    text = _long_story("在加入这家公司之前，她做过一段时间的淘宝直播。", 12)
    text += "仲裁结束后，她打算回到淘宝直播，重新在直播间带货卖家居用品。"
    verdict = judge("前员工讲述劳动仲裁经过：试用期后被拒绝转正", text)
    assert verdict.relevant, verdict.reasons


def test_a_short_entry_is_judged_as_before() -> None:
    # Feed summaries are short: one clear mention there is what the story is about.
    verdict = judge("前员工讲述劳动仲裁经过", "她做过一段时间的淘宝直播，此后进入酒企做销售。")
    assert verdict.relevant, verdict.reasons


_EARNINGS = [
    "The retailer reported quarterly revenue slightly ahead of analyst estimates.",
    "Comparable-store sales rose three percent, helped by grocery and household staples.",
    "Executives said inventory levels were healthier than a year ago after heavy markdowns.",
    "The company expects freight costs to ease in the second half of the fiscal year.",
    "Shares climbed in early trading before giving back some of their gains by the close.",
    "Management reiterated its plan to open about forty new stores in suburban markets.",
    "Analysts asked about pricing pressure from discount chains and dollar stores.",
    "The finance chief said capital spending would focus on distribution centers.",
]


def _earnings(mention: str, at: int) -> str:
    """About 2,000 characters of the quarter."""
    return _told_at_length(_EARNINGS, 3, mention, at, " ")


# (title, the long story, a mention deep in it, the same beat in the lead): a Chinese
# profile and an English earnings story.
DEEP_OR_LEAD = {
    "zh": (
        "前员工讲述劳动仲裁经过：试用期后被拒绝转正",
        _long_story,
        ("在加入这家公司之前，她做过一段时间的淘宝直播，也在培训机构教过课。", 12),
        "她此前是一名淘宝直播主播，在直播间卖家居用品。",
    ),
    "en": (
        "Retailer beats quarterly estimates on grocery sales",
        _earnings,
        ("A former executive once ran the chain's brief Amazon Live pilot.", 13),
        "The chain also said its Amazon Live storefront doubled its sales.",
    ),
}


@pytest.mark.parametrize("story", DEEP_OR_LEAD)
def test_one_mention_deep_in_a_long_story_is_in_passing(story: str) -> None:
    title, told, (mention, at), _lead = DEEP_OR_LEAD[story]
    verdict = judge(title, told(mention, at))
    assert not verdict.relevant
    assert any("in passing" in r for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize("story", DEEP_OR_LEAD)
def test_the_same_beat_in_the_lead_counts_in_full(story: str) -> None:
    title, told, _deep, lead = DEEP_OR_LEAD[story]
    verdict = judge(title, told(lead, 0))
    assert verdict.relevant, verdict.reasons
    assert not any("in passing" in r for r in verdict.reasons)
