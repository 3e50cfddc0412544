"""Chat channels against loopback stand-ins of the five platforms (tests/chatservers.py):
each message accepted under its platform's rules, split without cutting a story, escaped,
signed, retried on rate limits, and posted once per issue and channel."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newsletter.config import Config, parse_config
from newsletter.errors import ConfigError
from newsletter.flows import channels as channels_flow
from newsletter.models import Entry, Issue, IssueItem, Summary, Verdict
from newsletter.store import Store
from tests.chatservers import (
    DingTalkServer,
    FeishuServer,
    SlackServer,
    TelegramServer,
    WeComServer,
)

REPO = Path(__file__).resolve().parents[1]

# Realistic stories in our own words, some carrying the markup a hostile or careless feed
# puts in a title: HTML, markdown links, emphasis, Slack and WeCom mention syntax.
TOPICS = [
    (
        "视频号小店调整达人带货佣金结算周期",
        "平台表示结算周期由十五天缩短为七天，中小商家回款压力有所缓解。",
    ),
    (
        "<b>直播间</b>违规话术新规 & 处罚细则",
        "新规列出二十类禁用表述，首次违规扣除信用分并限流三天。",
    ),
    (
        "[点此领券](javascript:alert(1)) 品牌自播 GMV 同比增长",
        "多家服饰品牌把预算转向店播，夜间时段成交占比上升。",
    ),
    (
        "**加粗标题** 与 `代码` 混排的 MCN 周报",
        "头部机构签约主播数量回落，腰部主播的单场时长明显变长。",
    ),
    (
        "<@all> 企业微信群里也能看到的通知 <!channel>",
        "运营团队可以把周报推送进群，不必再手工转发邮件。",
    ),
    (
        "短视频种草转化率报告：美妆类目领跑",
        "报告显示美妆类目从内容到下单的转化效率高于服饰与食品。",
    ),
]


def _issue(count: int = 24, digest_repeat: int = 3) -> Issue:
    now = datetime(2026, 11, 23, 8, tzinfo=UTC)
    items = []
    for n in range(count):
        title, digest = TOPICS[n % len(TOPICS)]
        entry = Entry(
            id=f"e{n}",
            feed_url="https://example.com/feed.xml",
            title=f"{title}（{n + 1}）",
            link=f"https://news.example.com/a/{n}?from=feed&x=(1)",
            text=digest,
            published=now - timedelta(hours=n),
            source_name="电商观察 <i>周刊</i>" if n % 2 else "直播前沿",
        )
        items.append(
            IssueItem(entry, Verdict(True, 1.0), Summary(digest * digest_repeat, "extractive"))
        )
    return Issue(
        id="2026-w48",
        title="视频号与直播电商周报",
        created=datetime.now(UTC),
        window_start=now - timedelta(days=7),
        window_end=now,
        items=tuple(items),
        intro=("视频号佣金结算提速，<b>商家</b>回款更快", "直播话术新规 & 处罚细则落地"),
        sections=(("行业观察", tuple(items)),),
    )


@pytest.fixture
def servers() -> Iterator[dict[str, Any]]:
    running = {
        "wecom": WeComServer(),
        "feishu": FeishuServer(),
        "dingtalk": DingTalkServer(),
        "telegram": TelegramServer(),
        "slack": SlackServer(),
    }
    for server in running.values():
        server.start()
    yield running
    for server in running.values():
        server.stop()


def _env(servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WECOM_URL", servers["wecom"].webhook_url)
    monkeypatch.setenv("FEISHU_URL", servers["feishu"].webhook_url)
    monkeypatch.setenv("FEISHU_SECRET", servers["feishu"].secret)
    monkeypatch.setenv("DINGTALK_URL", servers["dingtalk"].webhook_url)
    monkeypatch.setenv("DINGTALK_SECRET", servers["dingtalk"].secret)
    monkeypatch.setenv("TELEGRAM_TOKEN", servers["telegram"].token)
    monkeypatch.setenv("SLACK_URL", servers["slack"].webhook_url)


def _channels(servers: dict[str, Any], **overrides: Any) -> list[dict[str, Any]]:
    common = {"max_items": 24, **overrides}
    return [
        {"type": "wecom", "name": "ops-wecom", "webhook_url_env": "WECOM_URL", **common},
        {"type": "feishu", "name": "brand-feishu", "webhook_url_env": "FEISHU_URL",
         "secret_env": "FEISHU_SECRET", **common},
        {"type": "dingtalk", "name": "mcn-dingtalk", "webhook_url_env": "DINGTALK_URL",
         "secret_env": "DINGTALK_SECRET", **common},
        {"type": "telegram", "name": "overseas-tg", "token_env": "TELEGRAM_TOKEN",
         "chat_id": servers["telegram"].chat_id, "api_url": servers["telegram"].api_url,
         "thread_id": 7,
         **common},
        {"type": "slack", "name": "global-slack", "webhook_url_env": "SLACK_URL", **common},
    ]  # fmt: skip


def _config(tmp_path: Path, servers: dict[str, Any], **overrides: Any) -> Config:
    return Config.model_validate(
        {
            "database": f"sqlite:///{tmp_path / 'news.db'}",
            "output_dir": str(tmp_path / "out"),
            "timezone": "UTC",
            "base_url": "https://news.example.com",
            "channels": _channels(servers, **overrides),
        }
    )


def _store(config: Config, issue: Issue) -> Store:
    store = Store.open(config.database)
    store.save_issue(issue, "")
    return store


def _texts(kind: str, body: dict[str, Any]) -> str:
    """Everything a reader sees in one accepted message, as the platform received it."""
    if kind == "wecom":
        return str(body["markdown"]["content"])
    if kind == "dingtalk":
        return str(body["markdown"]["text"])
    if kind == "telegram":
        return str(body["text"])
    if kind == "feishu":
        post = body["content"]["post"]["zh_cn"]
        return "\n".join(e["text"] for p in post["content"] for e in p)
    blocks = body["blocks"]
    out = [b["text"]["text"] for b in blocks if "text" in b]
    out += [e["text"] for b in blocks for e in b.get("elements", ())]
    return "\n".join(out)


def test_each_platform_accepts_the_issue_split_at_its_limit_and_escaped(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(servers, monkeypatch)
    config = _config(tmp_path, servers)
    issue = _issue()
    store = _store(config, issue)
    report = channels_flow.post_issue(config, store)
    assert [r.status for r in report.results] == ["sent"] * 5, report
    for kind, server in servers.items():
        assert server.refused == [], (kind, server.refused)
        messages = server.accepted
        seen = "\n".join(_texts(kind, m) for m in messages)
        # Every story once, whole: its number and its digest sit in the same message.
        for n in range(1, 25):
            holders = [m for m in messages if f"{n}. " in _texts(kind, m)]
            assert len(holders) >= 1, (kind, n)
        assert seen.count("平台表示结算周期由十五天缩短为七天") == 4 * 3, kind
        assert "阅读全文" in _texts(kind, messages[-1]), kind
        assert "https://news.example.com/issues/2026-w48" in json.dumps(messages[-1]), kind
        result = next(r for r in report.results if r.kind == kind)
        assert result.parts == len(messages) == result.posted
    # WeCom's 4,096 bytes need several messages; each stays under it.
    wecom = [m["markdown"]["content"] for m in servers["wecom"].accepted]
    assert len(wecom) >= 3 and all(len(c.encode()) <= 4096 for c in wecom)
    assert wecom[1].startswith("## 视频号与直播电商周报（2026-11-23）（续）")
    # Escaped for each markup: no tag, link, mention or emphasis from a feed survives.
    assert "<b>" not in "".join(wecom) and "＜b＞直播间＜/b＞" in wecom[0]
    assert "<@all>" not in "".join(wecom) and "](javascript" not in "".join(wecom)
    ding = "".join(m["markdown"]["text"] for m in servers["dingtalk"].accepted)
    assert "＊＊加粗标题＊＊" in ding and "<b>" not in ding
    assert {m["message_thread_id"] for m in servers["telegram"].accepted} == {7}
    assert all(m["unfurl_links"] is False for m in servers["slack"].accepted)
    telegram = "".join(m["text"] for m in servers["telegram"].accepted)
    assert "&lt;b&gt;直播间&lt;/b&gt;违规话术新规 &amp; 处罚细则" in telegram
    slack = json.dumps([m["blocks"] for m in servers["slack"].accepted], ensure_ascii=False)
    assert "&lt;@all&gt;" in slack and "&lt;!channel&gt;" in slack
    feishu = servers["feishu"].accepted[0]["content"]["post"]["zh_cn"]["content"]
    assert {"tag": "text", "text": "· 直播话术新规 & 处罚细则落地"} in [
        e for p in feishu for e in p
    ]
    # Links are percent-encoded so no markup can end them early.
    assert "https://news.example.com/a/0?from=feed&x=%281%29" in "".join(wecom)


def test_feishu_interactive_card(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(servers, monkeypatch)
    config = _config(tmp_path, servers)
    card = config.channels[1].model_copy(update={"format": "card"})
    config = config.model_copy(update={"channels": [card]})
    store = _store(config, _issue(count=30))
    [result] = channels_flow.post_issue(config, store).results
    feishu = servers["feishu"]
    assert result.status == "sent" and feishu.refused == [], feishu.refused
    cards = [m["card"] for m in feishu.accepted]
    assert len(cards) == result.parts >= 1 and all(m["sign"] for m in feishu.accepted)
    divs = [e for c in cards for e in c["elements"] if e["tag"] == "div"]
    assert divs[1]["text"]["content"].startswith("1. 视频号小店调整达人带货佣金结算周期（1）")
    assert divs[2]["text"]["content"].startswith("2. <b>直播间</b>")  # plain text: shown as is
    assert divs[1]["extra"]["url"] == "https://news.example.com/a/0?from=feed&x=%281%29"
    assert cards[-1]["elements"][-2]["actions"][0]["url"].endswith("/issues/2026-w48")
    assert "另有 6 篇" in json.dumps(cards[-1], ensure_ascii=False)


def test_posted_once_per_issue_and_channel(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    _env(servers, monkeypatch)
    config = _config(tmp_path, servers, max_items=3).model_copy(update={"database": db_url})
    store = _store(config, _issue(count=6))
    first = channels_flow.post_issue(config, store)
    assert [(r.status, r.posted) for r in first.results] == [("sent", 1)] * 5
    assert all(r.detail == "" for r in first.results)
    assert "另有 3 篇" in servers["wecom"].accepted[0]["markdown"]["content"]
    again = channels_flow.post_issue(config, store)
    assert [r.status for r in again.results] == ["already"] * 5
    assert [s.requests for s in servers.values()] == [1] * 5
    rows = store.channel_deliveries("2026-w48")
    assert {(r.channel, r.status, r.parts_sent) for r in rows} == {
        ("ops-wecom", "sent", 1), ("brand-feishu", "sent", 1), ("mcn-dingtalk", "sent", 1),
        ("overseas-tg", "sent", 1), ("global-slack", "sent", 1),
    }  # fmt: skip


def test_two_senders_at_once_post_each_channel_once(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    import threading

    _env(servers, monkeypatch)
    config = _config(tmp_path, servers, max_items=3).model_copy(update={"database": db_url})
    _store(config, _issue(count=3)).close()
    reports: list[channels_flow.ChannelsReport] = []

    def sender() -> None:
        store = Store.open(config.database)
        try:
            reports.append(channels_flow.post_issue(config, store))
        finally:
            store.close()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [len(s.accepted) for s in servers.values()] == [1] * 5
    statuses = [r.status for report in reports for r in report.results]
    assert statuses.count("sent") == 5 and "failed" not in statuses


def test_rate_limits_and_5xx_are_retried_with_the_platforms_backoff(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(servers, monkeypatch)
    config = _config(tmp_path, servers, max_items=2, max_wait_seconds=5)
    store = _store(config, _issue(count=2))
    servers["telegram"].rate_limit(1)  # 429 with parameters.retry_after = 1
    servers["slack"].rate_limit(1)  # 429 with Retry-After: 1
    servers["feishu"].rate_limit(1)  # gateway 429 with x-ogw-ratelimit-reset: 1
    servers["wecom"].fail(1)  # 503
    started = time.monotonic()
    report = channels_flow.post_issue(config, store)
    assert time.monotonic() - started >= 1.0
    by = {r.kind: r for r in report.results}
    for kind in ("telegram", "slack", "feishu", "wecom"):
        assert by[kind].status == "sent", by[kind]
        assert servers[kind].requests == 2 and len(servers[kind].accepted) == 1, kind


def test_a_wait_longer_than_the_cap_fails_the_channel_and_the_next_send_retries(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DingTalk throttles a robot for 10 minutes, WeCom for the rest of the minute: the
    send does not sit there; the row stays owed and the next send posts it."""
    _env(servers, monkeypatch)
    config = _config(tmp_path, servers, max_items=2, max_wait_seconds=5)
    store = _store(config, _issue(count=2))
    servers["dingtalk"].rate_limit(1)  # errcode 130101
    servers["wecom"].rate_limit(1)  # errcode 45009
    report = channels_flow.post_issue(config, store)
    by = {r.kind: r for r in report.results}
    assert by["dingtalk"].status == "failed" and "130101" in by["dingtalk"].detail
    assert "wait 600 s" in by["dingtalk"].detail
    assert by["wecom"].status == "failed" and "45009" in by["wecom"].detail
    assert [by[k].status for k in ("feishu", "telegram", "slack")] == ["sent"] * 3
    # The daemon's next poll retries what is owed (within the misfire grace), nothing else.
    from newsletter.schedule import Daemon

    assert channels_flow.owed(config, store, datetime.now(UTC)) == "2026-w48"
    Daemon(config).poll_job()
    assert channels_flow.owed(config, store, datetime.now(UTC)) is None
    assert [len(s.accepted) for s in servers.values()] == [1] * 5
    assert [s.requests for s in servers.values()] == [2, 1, 2, 1, 1]
    late = datetime.now(UTC) + timedelta(seconds=config.schedule.misfire_grace_seconds + 1)
    assert channels_flow.owed(config, store, late) is None


def test_a_claim_left_by_a_dead_sender_is_taken_over_at_once(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from newsletter._lease import owner_id

    _env(servers, monkeypatch)
    config = _config(tmp_path, servers, max_items=2)
    config = config.model_copy(update={"channels": config.channels[3:4]})
    store = _store(config, _issue(count=2))
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = owner_id("crashed").rsplit("#", 1)[0] + f"#{gone.pid}"
    assert store.claim_channel_delivery("2026-w48", "overseas-tg", "telegram", dead, seconds=600)
    live = owner_id("other")
    [result] = channels_flow.post_issue(config, store).results
    assert result.status == "sent", result
    # A live holder's claim is respected: nothing is posted twice.
    store.save_issue(replace(_issue(count=2), id="2026-w49"), "")
    assert store.claim_channel_delivery("2026-w49", "overseas-tg", "telegram", live, seconds=600)
    [busy] = channels_flow.post_issue(config, store, "2026-w49").results
    assert busy.status == "busy" and len(servers["telegram"].accepted) == 1


def test_a_split_issue_resumes_after_the_messages_already_accepted(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(servers, monkeypatch)
    config = _config(tmp_path, servers, max_wait_seconds=0)
    config = config.model_copy(update={"channels": config.channels[:1]})
    store = _store(config, _issue())
    wecom = servers["wecom"]
    wecom.per_minute = 1  # the real window, shrunk: the second message meets 45009
    first = channels_flow.post_issue(config, store)
    [result] = first.results
    assert result.status == "failed" and result.posted == 1 and result.parts >= 3
    assert result.detail.startswith(f"message 2 of {result.parts}: errcode 45009")
    wecom.per_minute, wecom.times = 20, type(wecom.times)()
    second = channels_flow.post_issue(config, store)
    assert second.results[0].status == "sent" and second.results[0].posted == result.parts - 1
    contents = [m["markdown"]["content"] for m in wecom.accepted]
    assert len(contents) == len(set(contents)) == result.parts  # none posted twice


def test_bad_signatures_and_missing_variables_fail_only_their_channel(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(servers, monkeypatch)
    monkeypatch.setenv("FEISHU_SECRET", "not-the-secret")
    monkeypatch.setenv("DINGTALK_SECRET", "SECnot-the-secret")
    monkeypatch.delenv("SLACK_URL")
    config = _config(tmp_path, servers, max_items=2)
    store = _store(config, _issue(count=2))
    by = {r.kind: r for r in channels_flow.post_issue(config, store).results}
    assert by["feishu"].status == "failed" and "code 19021" in by["feishu"].detail
    assert by["dingtalk"].status == "failed" and "errcode 310000: sign not match" in (
        by["dingtalk"].detail
    )
    assert by["slack"].detail == (
        "channel 'global-slack': environment variable SLACK_URL "
        "(channels[4].webhook_url_env) is not set"
    )
    assert by["wecom"].status == by["telegram"].status == "sent"
    for result in by.values():  # no credential in any report line
        for secret in ("nIMtb7r3N9pkXyXdtAbx6e", servers["telegram"].token, "access_token="):
            assert secret not in result.detail
    # Fixed, the next send posts exactly the channels that failed.
    _env(servers, monkeypatch)
    again = {r.kind: r.status for r in channels_flow.post_issue(config, store).results}
    assert again == {"wecom": "already", "feishu": "sent", "dingtalk": "sent",
                     "telegram": "already", "slack": "sent"}  # fmt: skip


def test_stale_timestamps_are_refused_like_the_platforms_do(servers: dict[str, Any]) -> None:
    import httpx

    from newsletter.channels import DingTalk, Feishu

    feishu = Feishu(servers["feishu"].webhook_url, servers["feishu"].secret)
    ding = DingTalk(servers["dingtalk"].webhook_url, servers["dingtalk"].secret)
    two_hours_ago = time.time() - 7200
    for platform, words in ((feishu, "within one hour"), (ding, "invalid timestamp")):
        message = platform.messages(channels_flow.digest_of(Config(), _issue(1), 1))[0]
        request = platform.request(message, two_hours_ago)
        answer = httpx.post(request.url, content=request.body, headers=request.headers)
        assert words in answer.text
        fresh = platform.request(message, time.time())
        assert httpx.post(fresh.url, content=fresh.body).json().get("errcode", 0) == 0


def test_telegram_stand_in_enforces_the_tag_whitelist(servers: dict[str, Any]) -> None:
    import httpx

    server = servers["telegram"]
    url = f"{server.api_url}/bot{server.token}/sendMessage"
    for text, error in (
        ("<div>x</div>", 'Unsupported start tag "div"'),
        ("a & b", "unescaped"),
        ("<b>open", "end tag"),
        ("&nbsp;", 'Unsupported entity "&nbsp;"'),
        ("x" * 4097, "message is too long"),
    ):
        body = {"chat_id": server.chat_id, "text": text, "parse_mode": "HTML"}
        answer = httpx.post(url, json=body)
        assert answer.status_code == 400 and error in answer.json()["description"], text
    assert server.accepted == []


def test_a_slow_or_huge_answer_is_cut_off(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch, feed_server: Any
) -> None:
    _env(servers, monkeypatch)
    monkeypatch.setenv("SLACK_URL", feed_server.add_fault("/services/slow", "slow", interval=0.2))
    monkeypatch.setenv("WECOM_URL", feed_server.add_fault("/cgi-bin/webhook/send", "huge"))
    config = _config(tmp_path, servers, max_items=1, timeout=1, max_retries=0)
    config = config.model_copy(update={"channels": [config.channels[0], config.channels[4]]})
    store = _store(config, _issue(count=1))
    started = time.monotonic()
    wecom, slack = channels_flow.post_issue(config, store).results
    assert time.monotonic() - started < 5
    assert slack.status == "failed" and "no whole answer within 1 s" in slack.detail
    assert wecom.status == "failed" and "not a WeCom answer" in wecom.detail


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    def error(channels: str) -> str:
        with pytest.raises(ConfigError) as caught:
            parse_config(f"channels:\n{channels}", base_dir=tmp_path, source="c.yaml")
        return str(caught.value)

    assert error("  - {type: wecom, name: a}\n") == (
        "c.yaml: line 2: channels[0].webhook_url_env: required key is missing"
    )
    assert "channels[0].chat_id: required key is missing" in error(
        "  - {type: telegram, name: t, token_env: TG}\n"
    )
    assert "channels[0]" in error("  - {type: teams, name: x, webhook_url_env: U}\n")
    assert "'wecom', 'feishu', 'dingtalk', 'slack', 'telegram'" in error(
        "  - {type: teams, name: x, webhook_url_env: U}\n"
    )
    assert "channels[0].secret_env: unknown key" in error(
        "  - {type: wecom, name: a, webhook_url_env: U, secret_env: S}\n"
    )
    assert "channels[0].webhook_url_env: String should match pattern" in error(
        "  - {type: slack, name: s, webhook_url_env: 'https://hooks.slack.com/x'}\n"
    )
    assert "two channels are named 'a'" in error(
        "  - {type: slack, name: a, webhook_url_env: U}\n"
        "  - {type: wecom, name: a, webhook_url_env: V}\n"
    )


def test_doctor_checks_each_channel_without_posting(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter._doctor import check_channels

    _env(servers, monkeypatch)
    monkeypatch.delenv("DINGTALK_SECRET")
    config = _config(tmp_path, servers)
    checks = {c.name: c for c in check_channels(config)}
    assert checks["mcn-dingtalk"].status == "fail"
    assert checks["mcn-dingtalk"].detail == (
        "environment variable DINGTALK_SECRET (channels[2].secret_env) is not set"
    )
    assert checks["mcn-dingtalk"].fix == "export DINGTALK_SECRET=… before starting"
    # Loopback is not the platform's host: a warning that says so, nothing posted.
    assert checks["ops-wecom"].status == "warn" and "not qyapi.weixin.qq.com" in (
        checks["ops-wecom"].detail
    )
    assert all(s.requests == 0 for s in servers.values())
    real = {
        "WECOM_URL": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
        "SLACK_URL": "https://hooks.slack.com/services/T1/B1/xyz",
        "FEISHU_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
        "FEISHU_SECRET": "s",
        "DINGTALK_URL": "https://oapi.dingtalk.com/robot/send?access_token=abc",
        "DINGTALK_SECRET": "SECabc",
        "TELEGRAM_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    }
    telegram = config.channels[3].model_copy(update={"api_url": "https://api.telegram.org"})
    config = config.model_copy(update={"channels": [*config.channels[:3], telegram,
                                                    config.channels[4]]})  # fmt: skip
    assert [c.status for c in channels_flow.check(config, real)] == ["ok"] * 5


def test_cli_list_test_and_send_channels_only(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter.cli import app

    _env(servers, monkeypatch)
    config = _config(tmp_path, servers, max_items=2)
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config.model_dump(mode="json", by_alias=True)), encoding="utf-8")
    store = _store(config, _issue(count=2))
    runner = CliRunner()
    listed = runner.invoke(app, ["channels", "list", "-c", str(path)])
    assert listed.exit_code == 0, listed.output
    assert "ops-wecom" in listed.output and "WECOM_URL set" in listed.output
    tested = runner.invoke(app, ["channels", "test", "overseas-tg", "-c", str(path)])
    assert tested.exit_code == 0, tested.output
    assert "测试消息" in servers["telegram"].accepted[0]["text"]
    unknown = runner.invoke(app, ["channels", "test", "nope", "-c", str(path)])
    assert unknown.exit_code == 2 and "no channel named 'nope'" in unknown.output
    before = [s.requests for s in servers.values()]
    rehearsal = runner.invoke(app, ["send", "--dry-run", "--channels-only", "-c", str(path)])
    assert rehearsal.exit_code == 0, rehearsal.output
    assert "channel ops-wecom (wecom): 1 message in" in rehearsal.output
    assert [s.requests for s in servers.values()] == before  # nothing posted
    shown = json.loads(
        (tmp_path / "out" / "issues" / "2026-w48" / "channels" / "overseas-tg-1.json").read_text()
    )
    assert shown["parse_mode"] == "HTML" and "sign" not in shown
    sent = runner.invoke(app, ["send", "--channels-only", "-c", str(path)])
    assert sent.exit_code == 0, sent.output
    assert sent.output.count("sent") >= 5
    assert [len(s.accepted) for s in servers.values()] == [1, 1, 1, 2, 1]
    listed = runner.invoke(app, ["channels", "list", "-c", str(path)])
    assert "2026-w48: sent" in listed.output
    store.close()


def test_daemon_weekly_job_posts_to_all_five_once(
    tmp_path: Path, servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch, smtp_server: Any
) -> None:
    import yaml

    from newsletter.config import load_config
    from newsletter.schedule import Daemon

    _env(servers, monkeypatch)
    monkeypatch.setenv("NEWSLETTER_SECRET", "a-test-signing-secret-of-some-length")
    demo = yaml.safe_load((REPO / "examples" / "demo.yaml").read_text(encoding="utf-8"))
    feeds = REPO / "examples" / "feeds"
    data = {
        "database": f"sqlite:///{tmp_path / 'news.db'}",
        "output_dir": str(tmp_path / "out"),
        "base_url": "https://news.zhibo-weekly.cn",
        "feeds": [{**f, "url": str(feeds / Path(f["url"]).name)} for f in demo["feeds"]],
        "issue": {"as_of": demo["issue"]["as_of"]},
        "email": {
            "from": "news@zhibo-weekly.cn",
            "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "starttls": False},
        },
        "channels": _channels(servers, max_items=5),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(path)
    store = Store.open(config.database)
    store.add_subscriber("reader@example.com")

    Daemon(config).issue_job()
    [issue] = store.list_issues()
    assert smtp_server.count == 1
    counts = [len(s.accepted) for s in servers.values()]
    assert all(c >= 1 for c in counts) and all(s.refused == [] for s in servers.values())
    loaded = store.load_issue(issue.id)
    assert loaded is not None
    top = loaded.items[0].entry.title
    for kind, server in servers.items():
        seen = "".join(_texts(kind, m) for m in server.accepted)
        assert html.escape(top, quote=False)[:12] in seen or top[:12] in seen, kind
        assert re.search(r"本周要点", seen), kind

    Daemon(config).issue_job()  # a second weekly run
    Daemon(config).send_job(issue.id)  # and a resumed send
    assert [len(s.accepted) for s in servers.values()] == counts
    assert smtp_server.count == 1
    store.close()
