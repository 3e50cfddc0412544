"""Config errors are one clear line naming the key (and line) and exit with status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.config import load_config, parse_config
from newsletter.errors import ConfigError


def newsletter(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"},
    )


def test_only_feeds_is_enough(tmp_path: Path) -> None:
    config = parse_config("feeds: [feeds/a.xml]\n", base_dir=tmp_path)
    assert config.feeds[0].url == str(tmp_path / "feeds" / "a.xml")
    assert config.database == f"sqlite:///{tmp_path}/output/newsletter.db"
    assert config.llm.max_chars == 120 and config.timezone == "Asia/Shanghai"


def test_env_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NL_TEST_MODEL", "qwen-plus")
    config = parse_config(
        "llm:\n  model: ${NL_TEST_MODEL}\n  base_url: ${NL_UNSET:-http://127.0.0.1:1/v1}\n",
        base_dir=tmp_path,
    )
    assert config.llm.model == "qwen-plus"
    assert config.llm.base_url == "http://127.0.0.1:1/v1"
    with pytest.raises(ConfigError, match=r"llm.model: environment variable NL_NOPE"):
        parse_config("llm:\n  model: ${NL_NOPE}\n", base_dir=tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feeds: [a.xml]\nfetch:\n  timeout: fast\n", r"line 3: fetch.timeout: .*number"),
        (
            "feeds: [a.xml]\nllm:\n  modle: x\n",
            r"line 3: llm.modle: unknown key \(did you mean 'model'\?\)",
        ),
        ("feds: [a.xml]\n", r"line 1: feds: unknown key \(did you mean 'feeds'\?\)"),
        ("email:\n  frm: a@b.cn\n", r"email.frm: unknown key \(did you mean 'from'\?\)"),
        (
            "email:\n  smtp:\n    hots: x\n",
            r"line 3: email.smtp.hots: unknown key \(did you mean 'host'",
        ),
        (
            "feeds:\n  - url: a.xml\n    nmae: A\n",
            r"feeds\[0\].nmae: unknown key \(did you mean 'name'",
        ),
        ("feeds: [a.xml]\nzzz_unrelated: 1\n", r"zzz_unrelated: unknown key$"),
        (
            "feeds:\n  - a.xml\n  - www.36kr.com/feed\n",
            r"line 3: feeds\[1\].url: 'www.36kr.com/feed' has no scheme; "
            r"write https://www.36kr.com/feed",
        ),
        (
            "feeds:\n  - url: rsshub.app/36kr/news\n",
            r"line 2: feeds\[0\].url: 'rsshub.app/36kr/news' has no scheme",
        ),
        ("feeds:\n  - url: a.xml\n  - name: b\n", r"line 3: feeds\[1\].url: required key"),
        ("feeds: [a.xml]\ntimezone: Mars/Olympus\n", r"line 2: timezone: .*unknown time zone"),
        ("feeds: [a.xml\n", r"invalid YAML"),
        ("- a\n- b\n", r"top level must be a mapping"),
        ("schedule:\n  poll: every day\n", r"line 2: schedule.poll: .*cron"),
    ],
)
def test_bad_config_names_key_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_config(text, base_dir=tmp_path, source="c.yaml")


def test_a_local_file_named_like_a_host_is_still_a_file(tmp_path: Path) -> None:
    (tmp_path / "mirror.example.com").mkdir()
    (tmp_path / "mirror.example.com" / "feed.xml").write_text("<rss/>", encoding="utf-8")
    config = parse_config("feeds: [mirror.example.com/feed.xml, demo.xml]\n", base_dir=tmp_path)
    assert config.feeds[0].url == str(tmp_path / "mirror.example.com" / "feed.xml")
    assert config.feeds[1].url == str(tmp_path / "demo.xml")


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("/nonexistent/config.yaml")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "config file not found"),
        ("feeds: [a.xml\n", "invalid YAML"),
        ("feeds: [a.xml]\nbogus: 1\n", "bogus: unknown key"),
        ("feeds: [a.xml]\nissue:\n  max_items: many\n", "issue.max_items"),
    ],
)
def test_cli_config_errors_exit_2(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = newsletter("run", "-c", str(path), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert expected in message
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_the_default_cron_strings_that_skip_parsing_are_valid() -> None:
    """The defaults are accepted without APScheduler; it would accept them too."""
    from apscheduler.triggers.cron import CronTrigger

    from newsletter.config import _DEFAULT_CRONS, ScheduleConfig

    defaults = ScheduleConfig()
    assert {defaults.poll, defaults.issue} == _DEFAULT_CRONS
    for cron in _DEFAULT_CRONS:
        CronTrigger.from_crontab(cron)
