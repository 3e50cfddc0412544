"""`explain` in an editor's words: every reason the shipped lexicon gives reads as a sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsletter import relevance
from newsletter._explain import plain_reason


def test_every_reason_the_lexicon_gives_on_the_labeled_set_is_put_in_words(
    corpus_dir: Path,
) -> None:
    lexicon = relevance.load_lexicon(None, {})
    reasons: set[str] = set()
    for line in (corpus_dir / "labeled" / "dev.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line)
        text = record.get("summary") or record.get("content") or record.get("text") or ""
        reasons.update(relevance.judge(record.get("title", ""), text, lexicon).reasons)
    assert len(reasons) > 100  # masks, rules, alone, corroboration, weighed, score lines
    unread = sorted(r for r in reasons if plain_reason(r) == r)
    assert unread == []
    # No internal group or cue name is left in the sentences of the shipped lexicon.
    sentences = " ".join(plain_reason(r) for r in reasons)
    for internal in ("live_commerce", "games_streaming", "sell_goods", "commerce_zh", "(en)"):
        assert internal not in sentences


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        (
            "title live_commerce '直播带货' +6 +0.5 (1 more hit for live_commerce)",
            "+6 for: the title says '直播带货': live selling (直播带货), "
            "+0.5 as 1 more word says the same",
        ),
        (
            "title games_streaming '游戏主播' -4",
            "−4 against: the title says '游戏主播': game streaming",
        ),
        (
            "body short_video_other '短剧' -2 weighed -1: live_commerce also scored",
            "−2 against: the text says '短剧': short video without selling, weighed −1 only: "
            "the entry is also about live selling (直播带货)",
        ),
        (
            "body rule live+sell (en) 'sold goods in live streams' +3",
            "+3 for: the text has live-stream and selling words in one sentence: "
            "'sold goods in live streams'",
        ),
        (
            "title channels '视频号' alone (no live/shop words in the entry) +4",
            "+4 for: the title says '视频号': WeChat Channels (视频号), with nothing about "
            "being live or a shop in the entry, so it counts less",
        ),
        (
            "body masked passing mention of 视频号: '据其视频号消息'",
            "not counted in the text: '据其视频号消息' (passing mention of 视频号)",
        ),
        ("score 1.5 < threshold 3.0", "the rules scored 1.5, below the 3.0 needed to keep it"),
        ("score 12.5 >= threshold 3.0", "the rules scored 12.5, at least 3.0 needed to keep it"),
        ("body my_own_group '团播' +3", "+3 for: the text says '团播': my own group"),
        ("a reason in a format of the future", "a reason in a format of the future"),
    ],
)
def test_reasons_read_as_sentences(reason: str, said: str) -> None:
    assert plain_reason(reason) == said


def test_classify_judges_the_good_lines_and_exits_1_for_the_bad(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app

    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": "a", "title": "视频号直播带货新规上线"}\nnot json\n[1, 2]\n'
        '{"id": "b", "title": "某手机厂商发布折叠屏新机"}\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["classify", str(src)])
    assert result.exit_code == 1  # partial, as every import: the rest was judged
    judged = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [j["id"] for j in judged] == ["a", "b"]
    assert "in.jsonl:2: skipped, invalid JSON" in result.output
    assert "in.jsonl:3: skipped, invalid JSON (not a JSON object)" in result.output
