"""Setup a non-coder can finish: `init` writes a working config, `doctor` says what to fix."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import load_config
from tests.conftest import REPO_ROOT
from tests.servers import LOOPBACK_FETCH_YAML, FeedServer, OpenAIServer

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("restore_logging")


STORIES = [
    (
        "微信视频号直播带货新规上线，商家需完成资质认证",
        "微信视频号发布直播带货新规，要求带货商家在开播前完成资质认证，"
        "违规直播间将被限流。新规自下月起执行，覆盖服饰、美妆和食品类目。",
    ),
    (
        "抖音电商发布直播间虚假宣传治理公告",
        "抖音电商公布直播电商治理结果，处罚违规主播和直播间，"
        "平台表示将持续整治直播带货中的虚假宣传和低价引流行为。",
    ),
    ("某手机厂商发布新款折叠屏手机", "新机搭载最新处理器，售价与上一代持平。"),
]


def fresh_rss(title: str, stories: list[tuple[str, str]], slug: str) -> str:
    """An RSS document whose items were published in the last hours (inside any window)."""
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>{t}</title><link>https://{slug}.example/{i}</link>"
        f"<guid>https://{slug}.example/{i}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(hours=2 + i))}</pubDate>"
        f"<description>{d}</description></item>"
        for i, (t, d) in enumerate(stories)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://{slug}.example/</link>{items}</channel></rss>"
    )


def test_init_then_run_against_loopback_feeds(tmp_path: Path, feed_server: FeedServer) -> None:
    target = tmp_path / "site"
    result = runner.invoke(app, ["init", str(target)])  # stdin is not a terminal here
    assert result.exit_code == 0, result.output
    config_file = target / "config.yaml"
    lines = result.output.splitlines()
    commands = [line.split("#")[0].strip() for line in lines if line.startswith("  newsletter")]
    assert commands == [
        f"newsletter doctor -c {config_file}",
        f"newsletter run -c {config_file}",
        f"newsletter daemon -c {config_file}",
    ]

    text = config_file.read_text("utf-8")
    assert text.count("#") > 20, "the written config explains itself"
    config = load_config(config_file)
    assert len(config.feeds) >= 10 and all(f.url.startswith("https://") for f in config.feeds)
    assert config.database == f"sqlite:///{target / 'output' / 'newsletter.db'}"
    assert config.llm.model is None  # extractive digests, no key needed

    # Point the real feed URLs at the loopback server, nothing else changes.
    counter = iter(range(100))

    def loopback(match: re.Match[str]) -> str:
        n = next(counter)
        return f'url: "{feed_server.add(f"/f{n}.xml", fresh_rss(f"源{n}", STORIES, f"s{n}"))}"'

    text = text.replace("allow_private_addresses: false", "allow_private_addresses: true")
    config_file.write_text(re.sub(r'url: "https://[^"]+"', loopback, text), "utf-8")
    result = runner.invoke(app, ["run", "-c", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "0 feeds failed" in result.output
    issues = list((target / "output" / "issues").glob("*/index.html"))
    assert len(issues) == 1
    html = issues[0].read_text("utf-8")
    assert "微信视频号直播带货新规上线" in html
    assert "折叠屏" not in html  # off topic
    assert (target / "output" / "index.html").is_file()

    # Never overwrites: a second init fails clearly and leaves the file alone.
    before = config_file.read_bytes()
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 2
    assert "already exists; not overwritten" in result.output
    assert config_file.read_bytes() == before


def test_run_and_build_warn_once_when_the_llm_key_is_empty(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPS_EMPTY_KEY", raising=False)
    feed = feed_server.add("/f.xml", fresh_rss("源", STORIES, "w"))
    llm = "llm: {model: qwen-plus, api_key_env: OPS_EMPTY_KEY}\n"
    config = _doctor_config(tmp_path, [feed], llm=llm)
    for command in ("run", "build"):
        out = " ".join(runner.invoke(app, [command, "-c", str(config), "--force"]).output.split())
        assert out.count("warning: llm.model is 'qwen-plus' but the environment variable") == 1
        assert "OPS_EMPTY_KEY is unset or empty" in out and "export OPS_EMPTY_KEY" in out
    monkeypatch.setenv("OPS_EMPTY_KEY", "")  # set but empty is as good as unset
    assert "warning: llm.model" in runner.invoke(app, ["build", "-c", str(config)]).output
    plain = _doctor_config(tmp_path, [feed], name="plain.yaml")
    assert "warning" not in runner.invoke(app, ["build", "-c", str(plain)]).output


def test_init_asks_nothing_without_a_terminal(tmp_path: Path) -> None:
    """As a real process with stdin closed: no prompt, no hang, the file is written."""
    done = subprocess.run(
        [sys.executable, "-m", "newsletter", "init", str(tmp_path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "config.yaml").is_file()
    assert "newsletter run -c" in done.stdout


class _Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, _Sink]]:
    sink = _Sink()
    with socket.socket() as probe:  # aiosmtpd needs a concrete port to self-check
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, sink
    finally:
        controller.stop()


def _doctor_config(
    tmp_path: Path, feeds: list[str], llm: str = "", smtp: str = "", name: str = "c.yaml"
) -> Path:
    path = tmp_path / name
    feed_lines = "".join(f"  - {{url: '{u}', name: feed{i}}}\n" for i, u in enumerate(feeds))
    path.write_text(
        f"database: sqlite:///db.sqlite\n{LOOPBACK_FETCH_YAML}feeds:\n{feed_lines}{llm}{smtp}",
        encoding="utf-8",
    )
    return path


def test_doctor_all_good(
    tmp_path: Path,
    feed_server: FeedServer,
    openai_server: OpenAIServer,
    smtp_server: tuple[Controller, _Sink],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    controller, sink = smtp_server
    good = feed_server.add("/good.xml", fresh_rss("好", STORIES, "good"))
    monkeypatch.setenv("OPS_TEST_KEY", "sk-test")
    monkeypatch.setenv("NEWSLETTER_SECRET", "doctor-test-secret-0123456789")
    config = _doctor_config(
        tmp_path,
        [good],
        llm=f"llm: {{base_url: '{openai_server.base_url}', model: loopback-model, "
        "api_key_env: OPS_TEST_KEY}\n",
        smtp="base_url: https://news.zhibo-weekly.cn\nemail:\n  from: news@zhibo-weekly.cn\n"
        f"  smtp: {{host: 127.0.0.1, port: {controller.port}, starttls: false}}\n",
    )
    result = runner.invoke(app, ["doctor", "-c", str(config)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "database: sqlite at" in out and "schema version" in out
    assert "feed feed0: HTTP 200" in out and "3 entries" in out
    assert "model 'loopback-model' answered a one-line chat in" in " ".join(out.split())
    assert "EHLO" in out and "no mail sent" in out
    assert "ok mail settings: NEWSLETTER_SECRET set; links at https://news.zhibo-weekly.cn" in out
    assert "0 failed" in out
    assert sink.messages == []
    assert openai_server.request_count == 1  # one small timed chat, a few tokens


def test_doctor_says_what_to_fix(
    tmp_path: Path,
    feed_server: FeedServer,
    smtp_server: tuple[Controller, _Sink],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    controller, _ = smtp_server
    monkeypatch.delenv("OPS_UNSET_KEY", raising=False)
    monkeypatch.delenv("NEWSLETTER_SECRET", raising=False)
    feeds = [
        feed_server.add("/ok.xml", fresh_rss("好", STORIES, "ok")),
        feed_server.url("/missing.xml"),
        feed_server.add_fault("/page.html", "html"),
        feed_server.add_fault("/gbk.xml", "wrong_charset"),
    ]
    config = _doctor_config(
        tmp_path,
        feeds,
        llm="llm: {base_url: 'http://127.0.0.1:9/v1', model: m, api_key_env: OPS_UNSET_KEY}\n",
        # Plain aiosmtpd offers no STARTTLS: asking for it must fail, not silently send plain.
        smtp=f"email:\n  smtp: {{host: 127.0.0.1, port: {controller.port}, starttls: true}}\n",
    )
    result = runner.invoke(app, ["doctor", "-c", str(config)])
    assert result.exit_code == 1, result.output
    out = result.output
    assert re.search(r"ok feed feed0: HTTP 200", out)
    assert re.search(r"FAIL feed feed1: .*404", out)
    assert re.search(r"FAIL feed feed2: .*reachable .* but not a feed", out)
    assert re.search(r"warn feed feed3: .*gb18030", out)
    assert "OPS_UNSET_KEY is unset or empty" in out
    assert "export OPS_UNSET_KEY=" in out
    assert "does not offer STARTTLS" in out
    assert "fix: check the URL in a browser" in out
    # What `send` would refuse, each with its fix: the secret, base_url and email.from.
    flat = " ".join(out.split())
    assert "FAIL mail settings NEWSLETTER_SECRET: is unset or empty" in flat
    assert "fix: export NEWSLETTER_SECRET=$(python -c" in flat
    assert "FAIL mail settings base_url: 'http://127.0.0.1:8000': 127.0.0.1 is this machine" in flat
    assert "fix: set base_url to the public address where `newsletter serve` answers" in flat
    assert "FAIL mail settings email.from: 'newsletter@localhost': localhost is a reserved" in flat
    assert "fix: set email.from to an address at your own domain" in flat
    # Also: subscriber counts (ok) and the mail DNS records (skipped: From is localhost).
    assert re.search(r"^12 checks: 4 fine, 1 warnings, 7 failed$", out, re.M)


def test_doctor_warns_on_a_feed_silent_for_longer_than_stale_days(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    def dated(days: int) -> str:
        when = format_datetime(datetime.now(UTC) - timedelta(days=days))
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>旧</title>'
            f"<item><title>{STORIES[0][0]}</title><link>https://d{days}.example/1</link>"
            f"<pubDate>{when}</pubDate><description>{STORIES[0][1]}</description></item>"
            "</channel></rss>"
        )

    feeds = [feed_server.add("/old.xml", dated(45)), feed_server.add("/new.xml", dated(3))]
    config = _doctor_config(tmp_path, feeds)
    out = " ".join(runner.invoke(app, ["doctor", "-c", str(config)]).output.split())
    stale = r"warn feed feed0: .*nothing new for 4[45] days \(doctor.stale_days: 30\)"
    assert re.search(stale, out)
    assert "fix: the site may have stopped this feed or moved it" in out
    assert re.search(r"ok feed feed1: HTTP 200", out)
    relaxed = tmp_path / "c.yaml"
    relaxed.write_text(relaxed.read_text("utf-8") + "doctor: {stale_days: 60}\n", "utf-8")
    out = " ".join(runner.invoke(app, ["doctor", "-c", str(relaxed)]).output.split())
    assert re.search(r"ok feed feed0: HTTP 200", out) and "nothing new" not in out


def test_doctor_llm_endpoint_down_or_key_refused(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = feed_server.add("/good.xml", fresh_rss("好", STORIES, "good"))
    monkeypatch.setenv("OPS_TEST_KEY", "wrong")
    with OpenAIServer(api_key="right") as server:
        config = _doctor_config(
            tmp_path,
            [good],
            llm=f"llm: {{base_url: '{server.base_url}', model: m, api_key_env: OPS_TEST_KEY}}\n",
        )
        result = runner.invoke(app, ["doctor", "-c", str(config)])
    assert result.exit_code == 1
    assert "API key was rejected (HTTP 401)" in result.output
    assert "SMTP server: email.smtp is not configured" in result.output


def test_repo_configs_pass_validation() -> None:
    """The shipped init template and the repository's config load without errors."""
    template = REPO_ROOT / "newsletter" / "data" / "init_config.yaml"
    assert load_config(template).feeds
    assert load_config(REPO_ROOT / "config.yaml").feeds
