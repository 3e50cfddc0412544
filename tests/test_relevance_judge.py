"""The optional LLM judge: only uncertain entries are asked, answers cached and explained."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Config, parse_config
from newsletter.flows.poll import poll
from newsletter.models import Verdict
from newsletter.store import Store
from tests.servers import LOOPBACK_FETCH_YAML, FeedServer, Func, OpenAIServer, Reply, Status

ITEMS = [
    # (guid, title, description): certain keep, certain drop, two in the uncertain band
    ("keep", "微信小店公布双11战报：视频号直播带货GMV同比增长92%", "视频号直播带货数据。"),
    ("drop", "斗鱼电竞赛事直播观看人数创新高", "一场游戏直播赛事吸引大量观众。"),
    ("doubt-yes", "品牌入驻抖音商城", "某国货品牌宣布入驻抖音商城，主推货架销售。"),
    ("doubt-no", "深夜直播间", "主播在直播间里展示了新款羽绒服，很多观众下单。"),
]


def rss(items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><description>{d}</description>"
        "<pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate></item>"
        for g, t, d in items
    )
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{body}</channel></rss>".encode()


@pytest.fixture
def key() -> Iterator[None]:
    os.environ["NL_JUDGE_KEY"] = "k"
    yield
    del os.environ["NL_JUDGE_KEY"]


def judge_config(
    tmp_path: Path, feeds: list[str], ai: OpenAIServer, *, judge: bool = True, extra: str = ""
) -> Config:
    listed = ", ".join(f"'{url}'" for url in feeds)
    return parse_config(
        f"feeds: [{listed}]\n{LOOPBACK_FETCH_YAML}relevance:\n  llm_judge: {str(judge).lower()}\n"
        f"llm:\n  base_url: '{ai.base_url}'\n  model: m\n  api_key_env: NL_JUDGE_KEY\n{extra}",
        base_dir=tmp_path,
    )


def stored_verdicts(store: Store) -> dict[str, Verdict]:
    everything = store.entries_between(
        datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC), relevant_only=False
    )
    return {e.title: v for e, v in everything}


def judge_answers(request: dict[str, Any]) -> Reply:
    text = request["messages"][-1]["content"]
    relevant = "抖音商城" in text  # the judge disagrees with the rules on both doubtful ones
    return Reply(json.dumps({"relevant": relevant, "reason": "测试理由"}, ensure_ascii=False))


def test_judge_only_asked_about_the_uncertain_band(
    tmp_path: Path, feed_server: FeedServer, openai_server: OpenAIServer, key: None
) -> None:
    feed_server.add("/f.xml", rss(ITEMS))
    config = judge_config(tmp_path, [feed_server.url("/f.xml")], openai_server)
    openai_server.default = Func(judge_answers)
    store = Store.open(config.database)
    poll(config, store)
    assert openai_server.request_count == 2
    asked = " ".join(r.json["messages"][-1]["content"] for r in openai_server.requests)
    assert "抖音商城" in asked and "羽绒服" in asked and "斗鱼" not in asked
    stored = stored_verdicts(store)
    assert stored["品牌入驻抖音商城"].relevant is True
    assert stored["深夜直播间"].relevant is False
    assert any(r.startswith("llm judge: no") for r in stored["深夜直播间"].reasons)
    assert any("rule" in r for r in stored["深夜直播间"].reasons)  # rule reasons kept
    assert stored[ITEMS[0][1]].relevant and not stored[ITEMS[1][1]].relevant
    assert store.llm_usage().calls == 2

    # The same entries from another feed (new ids, same content): answers come from the cache.
    feed_server.add("/g.xml", rss(ITEMS))
    again = judge_config(
        tmp_path, [feed_server.url("/f.xml"), feed_server.url("/g.xml")], openai_server
    )
    poll(again, store)
    assert openai_server.request_count == 2
    store.close()


def test_judge_failure_keeps_rule_verdict(
    tmp_path: Path, feed_server: FeedServer, openai_server: OpenAIServer, key: None
) -> None:
    feed_server.add("/f.xml", rss(ITEMS))
    config = judge_config(
        tmp_path, [feed_server.url("/f.xml")], openai_server, extra="  max_retries: 0\n"
    )
    openai_server.default = Status(503)
    store = Store.open(config.database)
    report = poll(config, store)
    assert report.outcomes[0].status == "ok" and report.outcomes[0].new_entries == 4
    stored = {title: v.relevant for title, v in stored_verdicts(store).items()}
    assert stored == {
        ITEMS[0][1]: True,
        ITEMS[1][1]: False,
        "品牌入驻抖音商城": False,
        "深夜直播间": True,
    }
    usage = store.llm_usage()
    assert usage.calls == 2 and usage.failed == 2
    store.close()


def test_judge_off_by_default(
    tmp_path: Path, feed_server: FeedServer, openai_server: OpenAIServer, key: None
) -> None:
    feed_server.add("/f.xml", rss(ITEMS))
    config = judge_config(tmp_path, [feed_server.url("/f.xml")], openai_server, judge=False)
    store = Store.open(config.database)
    poll(config, store)
    store.close()
    assert openai_server.request_count == 0
