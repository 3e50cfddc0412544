"""No empty issues, hard limits, reasoning models and replaceable prompts, on loopback."""

from __future__ import annotations

import json
import re
import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from newsletter._resources import templates_root
from newsletter.cli import app
from newsletter.config import Config, load_config
from newsletter.flows.build import build_issue
from newsletter.llm import LLMClient, LLMSettings
from newsletter.models import Entry, Verdict
from newsletter.schedule import Daemon
from newsletter.store import Store
from newsletter.summarize import llm_summary, load_prompts
from tests.servers import LOOPBACK_FETCH_YAML, FeedServer, OpenAIServer, Reply

runner = CliRunner()
AS_OF = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("restore_logging")


def _entry(n: int, published: datetime, feed: str = "https://a.example/feed") -> Entry:
    return Entry(
        id=f"e{n}",
        feed_url=feed,
        title=f"视频号直播带货第{n}号新规发布",
        link=f"https://a.example/{n}",
        text=f"微信视频号发布直播带货第{n}号新规。新规要求商家完成资质认证。违规直播间将被限流。",
        published=published,
        source_name="甲",
    )


def _config(tmp_path: Path, extra: str = "", feeds: str = "[]") -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database: sqlite:///db.sqlite\noutput_dir: out\n{LOOPBACK_FETCH_YAML}"
        f"feeds: {feeds}\n{extra}",
        "utf-8",
    )
    return load_config(path)


class _Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


def test_empty_week_builds_and_sends_nothing(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", "ops-test-secret-0123456789")
    sink = _Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(sink, hostname="127.0.0.1", port=port)
    smtp.start()
    quiet = feed_server.add(
        "/quiet.xml",
        '<?xml version="1.0"?><rss version="2.0"><channel><title>q</title></channel></rss>',
    )
    try:
        config = _config(
            tmp_path,
            "base_url: https://news.zhibo-weekly.cn\n"
            f"email:\n  from: news@zhibo-weekly.cn\n"
            f"  smtp: {{host: 127.0.0.1, port: {port}, starttls: false}}\n",
            feeds=f"[{{url: '{quiet}', name: quiet}}]",
        )
        now = datetime.now(UTC)
        store = Store.open(config.database)
        try:
            store.add_subscriber("reader@example.com")
            store.add_entries([(_entry(1, now - timedelta(days=9)), Verdict(True, 5.0))])
            first = build_issue(config, store, now=now - timedelta(days=7))
            assert first.issue is not None
        finally:
            store.close()
        issues_dir = config.output_path / "issues"
        before = sorted(p.name for p in issues_dir.iterdir())

        Daemon(config).issue_job()  # the weekly job, on a week with nothing relevant

        assert sink.messages == []
        assert sorted(p.name for p in issues_dir.iterdir()) == before
        store = Store.open(config.database)
        try:
            assert [i.id for i in store.list_issues()] == [first.issue.id]
            store.add_entries([(_entry(2, now - timedelta(hours=1)), Verdict(True, 5.0))])
        finally:
            store.close()

        Daemon(config).issue_job()  # next week: one relevant story, so an issue goes out

        assert len(sink.messages) == 1  # the control: this job does send when there is news
        store = Store.open(config.database)
        try:
            issues = store.list_issues()
            assert len(issues) == 2
            # The next real issue's window still starts where the last real one ended.
            assert issues[0].window_start == first.issue.window_end
            assert issues[0].entry_ids == ("e2",)
        finally:
            store.close()
    finally:
        smtp.stop()


def test_build_refuses_with_a_reason_and_force_overrides(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "database: sqlite:///db.sqlite\noutput_dir: out\nfeeds: []\n"
        f"issue: {{min_items: 2, as_of: '{AS_OF.isoformat()}'}}\n",
        "utf-8",
    )
    config = load_config(path)
    store = Store.open(config.database)
    store.add_entries([(_entry(1, AS_OF - timedelta(days=1)), Verdict(True, 5.0))])
    store.close()
    result = runner.invoke(app, ["build", "-c", str(path)])
    assert result.exit_code == 1
    assert "1 relevant stories" in result.output and "issue.min_items=2" in result.output
    assert not (tmp_path / "out" / "issues").exists()
    result = runner.invoke(app, ["build", "--force", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "out" / "issues").iterdir())) == 1


def test_per_feed_and_per_issue_caps(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        f"issue: {{max_items: 3, as_of: '{AS_OF.isoformat()}'}}\n",
        feeds="[{url: 'https://a.example/feed', max_items_per_issue: 1}, "
        "{url: 'https://b.example/feed'}]",
    )
    topics = [
        "视频号直播带货新规要求商家完成资质认证",
        "抖音电商处罚虚假宣传主播并公布治理结果",
        "快手电商扶持产业带主播开播送流量",
        "淘宝直播店播成交占比首次超过达人直播",
        "小红书买手直播推出新的佣金政策",
        "京东直播上线数字人主播夜间开播",
        "拼多多多多视频直播带货补贴扩容",
    ]
    feeds = ["https://a.example/feed"] * 3 + ["https://b.example/feed"] * 4
    store = Store.open(config.database)
    try:
        pairs = [
            (
                Entry(
                    id=f"e{n}",
                    feed_url=feed,
                    title=topic,
                    link=f"https://x.example/{n}",
                    text=f"{topic}。",
                    published=AS_OF - timedelta(hours=n + 1),
                ),
                Verdict(True, 5.0),
            )
            for n, (topic, feed) in enumerate(zip(topics, feeds, strict=True))
        ]
        store.add_entries(pairs)
        report = build_issue(config, store)
    finally:
        store.close()
    assert report.issue is not None
    feeds = [i.entry.feed_url for i in report.issue.items]
    assert len(feeds) == 3 and feeds.count("https://a.example/feed") <= 1


# -- the LLM path -------------------------------------------------------------------------

SENTENCES = [
    "微信视频号11月发布直播带货新规。",
    "新规要求带货商家在开播前完成资质认证。",
    "违规直播间将被限流7天。",
    "平台称今年已处罚违规主播1200名。",
    "优选联盟的达人数量超过80万。",
    "视频号直播带货GMV同比增长92%。",
    "日均开播直播间数量同比增长58%。",
    "平台将向中小商家提供3项流量扶持。",
]
ARTICLE = "".join(SENTENCES)


def _article_entry() -> Entry:
    return Entry(
        id="long",
        feed_url="https://a.example/feed",
        title="微信视频号发布直播带货新规",
        link="https://a.example/long",
        text=ARTICLE,
        published=AS_OF - timedelta(days=1),
        source_name="甲",
    )


def _client(server: OpenAIServer) -> LLMClient:
    return LLMClient(
        LLMSettings(model="m", api_key="k", base_url=server.base_url, max_retries=0, timeout=10)
    )


def test_500_character_answer_is_cut_at_a_sentence_end(openai_server: OpenAIServer) -> None:
    long_answer = ""
    while len(long_answer) < 500:
        long_answer += "".join(SENTENCES)
    long_answer = long_answer[:500]
    assert len(long_answer) == 500
    openai_server.queue(
        Reply(json.dumps({"summary": long_answer, "category": "平台政策"}, ensure_ascii=False))
    )
    summary = llm_summary(_article_entry(), _client(openai_server), load_prompts(), max_chars=120)
    assert summary.kind == "llm", summary.error
    assert 0 < len(summary.text) <= 120
    assert summary.text.endswith("。")
    assert long_answer.startswith(summary.text)
    # Whole sentences only: every sentence kept is one of the article's, never a stump.
    kept = [s + "。" for s in summary.text.split("。") if s]
    assert all(s in SENTENCES for s in kept)


def test_reasoning_model_through_build_and_cost_report(
    tmp_path: Path, openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeepSeek-R1 style: <think> in the content and reasoning_content beside it."""
    body = json.dumps(
        {
            "summary": "微信视频号11月发布直播带货新规，要求带货商家在开播前完成资质认证。",
            "category": "平台政策",
        },
        ensure_ascii=False,
    )
    openai_server.default = Reply(
        f"<think>也许违规直播间会被限流999天？</think>{body}",
        reasoning_content="秘密推理：先看新规再看GMV 31337",
    )
    monkeypatch.setenv("OPS_LLM_KEY", "sk-test")
    path = tmp_path / "config.yaml"
    path.write_text(
        "database: sqlite:///db.sqlite\noutput_dir: out\nfeeds: []\n"
        f"issue: {{as_of: '{AS_OF.isoformat()}'}}\n"
        f"llm: {{base_url: '{openai_server.base_url}', model: r1, api_key_env: OPS_LLM_KEY, "
        "max_retries: 0}\n",
        "utf-8",
    )
    config = load_config(path)
    store = Store.open(config.database)
    store.add_entries([(_article_entry(), Verdict(True, 5.0))])
    store.close()
    result = runner.invoke(app, ["build", "-c", str(path)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "1 AI digests" in out
    # The cost report names reasoning tokens apart from prompt and completion tokens.
    match = re.search(r"LLM this run: .* (\d+) completion \+ (\d+) reasoning tokens", out)
    assert match, out
    reasoning = int(match.group(2))
    assert reasoning > 0
    issue_dir = next((tmp_path / "out" / "issues").iterdir())
    page = (issue_dir / "index.html").read_text("utf-8") + (issue_dir / "issue.txt").read_text(
        "utf-8"
    )
    assert "微信视频号11月发布直播带货新规" in page
    for hidden in ("999", "31337", "秘密推理", "think"):
        assert hidden not in page
    store = Store.open(config.database)
    usage = store.llm_usage()
    store.close()
    assert usage.tokens.reasoning == reasoning
    assert usage.tokens.completion > 0


def test_prompt_file_change_means_new_cache_key_and_call(
    tmp_path: Path, openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = tmp_path / "tpl" / "prompts"
    shutil.copytree(templates_root() / "prompts", prompts)
    monkeypatch.setenv("OPS_LLM_KEY", "sk-test")
    config = _config(
        tmp_path,
        "templates_dir: tpl\n"
        f"issue: {{as_of: '{AS_OF.isoformat()}'}}\n"
        f"llm: {{base_url: '{openai_server.base_url}', model: m, api_key_env: OPS_LLM_KEY, "
        "max_retries: 0}\n",
    )
    assert load_prompts(config.templates_dir).version == load_prompts().version
    store = Store.open(config.database)
    try:
        store.add_entries([(_article_entry(), Verdict(True, 5.0))])
        build_issue(config, store)
        calls = openai_server.request_count
        assert calls >= 1
        build_issue(config, store)
        assert openai_server.request_count == calls  # unchanged prompt: cached

        system = prompts / "summary_system.j2"
        system.write_text(system.read_text("utf-8") + "\n语气保持中立。\n", "utf-8")
        assert load_prompts(config.templates_dir).version != load_prompts().version
        report = build_issue(config, store)
        summary_requests = [
            r
            for r in openai_server.requests[calls:]
            if "语气保持中立" in json.dumps(r.json, ensure_ascii=False)
        ]
        assert len(summary_requests) == 1  # the new prompt was used, once
        assert report.issue is not None and report.issue.items[0].summary.kind == "llm"
    finally:
        store.close()
