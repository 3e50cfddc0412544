"""No mail to the list from a demo setup: base_url and From must be reachable by readers."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsletter.config import Config
from newsletter.errors import ConfigError
from newsletter.flows._mail import mailing_problems
from newsletter.flows.send import send_issue
from newsletter.schedule import send_built
from newsletter.store import Store
from tests.smtp import SECRET, SMTPServer, sample_issue, write_config

ISSUE = "2024-05-06"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


def setup(folder: Path, port: int, **top: Any) -> tuple[Config, Store]:
    data = yaml.safe_load(write_config(folder, port).read_text("utf-8"))
    email = {**data["email"], **top.pop("email", {})}
    config = Config.model_validate({**data, **top, "email": email})
    store = Store.open(config.database)
    store.save_issue(sample_issue(2), str(folder / "output" / "issues" / ISSUE))
    for n in range(3):
        store.add_subscriber(f"reader{n}@example.org")
    return config, store


TOY = [
    ({"base_url": "http://127.0.0.1:8000"}, "base_url", "127.0.0.1 is this machine only"),
    ({"base_url": "http://[::1]:8000/nl"}, "base_url", "::1 is this machine only"),
    ({"base_url": "http://localhost:8000"}, "base_url", "localhost is a reserved name"),
    ({"base_url": "https://news.example.com"}, "base_url", "reserved for examples (RFC 2606)"),
    ({"base_url": "https://weekly.test/"}, "base_url", "weekly.test is a reserved name"),
    ({"base_url": "news.zhibo-weekly.cn"}, "base_url", "is not an http(s) URL"),
    ({"email": {"from": "周报 <news@example.com>"}}, "email.from", "reserved for examples"),
    ({"email": {"from": "news@localhost"}}, "email.from", "localhost is a reserved name"),
    ({"email": {"from": "news@mail.example"}}, "email.from", "mail.example is a reserved"),
    ({"email": {"from": "newsletter"}}, "email.from", "has no domain"),
]


@pytest.mark.parametrize(("settings", "key", "why"), TOY)
def test_send_refuses_a_demo_setting_naming_the_key_and_the_fix(
    tmp_path: Path, smtp_server: SMTPServer, settings: dict[str, Any], key: str, why: str
) -> None:
    config, store = setup(tmp_path, smtp_server.port, **settings)
    with pytest.raises(ConfigError) as raised:
        send_issue(config, store)
    message = str(raised.value)
    assert message.startswith(f"not mailing the list: {key}: ")
    assert why in message and "(fix: set " + key in message
    assert "`newsletter send --to ADDR` still sends you a test copy" in message
    assert smtp_server.count == 0 and store.deliveries(ISSUE) == []  # nothing queued either


def test_a_real_setup_passes_and_a_lan_address_is_allowed(tmp_path: Path) -> None:
    data = yaml.safe_load(write_config(tmp_path, 25).read_text("utf-8"))
    assert mailing_problems(Config.model_validate(data)) == []
    intranet = Config.model_validate({**data, "base_url": "http://192.168.1.20:8000"})
    assert mailing_problems(intranet) == []


def test_a_test_copy_and_a_dry_run_still_work_with_a_warning(
    tmp_path: Path, smtp_server: SMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    config, store = setup(tmp_path, smtp_server.port, base_url="http://127.0.0.1:8000")
    with caplog.at_level(logging.WARNING, logger="newsletter.flows.send"):
        copy = send_issue(config, store, to="editor@zhibo-weekly.cn")
    assert copy.sent == 1 and len(smtp_server.received_by("editor@zhibo-weekly.cn")) == 1
    warned = [r.getMessage() for r in caplog.records]
    assert any("test copy only: the list would not be mailed: base_url" in w for w in warned)
    dry = send_issue(config, store, dry_run=True)
    assert dry.sent == 3 and dry.dry_run_dir is not None
    assert smtp_server.count == 1


def test_the_daemons_weekly_send_refuses_and_says_why(
    tmp_path: Path, smtp_server: SMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    config, store = setup(tmp_path, smtp_server.port, email={"from": "news@example.com"})
    with caplog.at_level(logging.ERROR, logger="newsletter.schedule"):
        send_built(config, store, ISSUE)  # what the weekly job does after its build
    (line,) = [json.dumps(r.getMessage(), ensure_ascii=False) for r in caplog.records]
    assert "job=send issue=2024-05-06 failed: not mailing the list: email.from" in line
    assert smtp_server.count == 0 and store.deliveries(ISSUE) == []


def test_the_daemon_refuses_to_start_while_its_weekly_send_would_refuse(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app

    path = write_config(tmp_path, smtp_server.port)
    path.write_text(
        path.read_text("utf-8").replace("https://news.zhibo-weekly.cn", "http://127.0.0.1:8000"),
        "utf-8",
    )
    store = Store.open(Config.model_validate(yaml.safe_load(path.read_text("utf-8"))).database)
    store.add_subscriber("reader@example.org")
    store.close()
    started = CliRunner().invoke(app, ["daemon", "-c", str(path)], env={"COLUMNS": "200"})
    assert started.exit_code == 2, started.output
    flat = " ".join(started.output.split())
    assert "the daemon sends to active subscribers, but base_url: 'http://127.0.0.1:8000'" in flat
    assert "(fix: set base_url to the public address" in flat
