"""Subscribers: validation, double opt-in over real SMTP, signed links, CSV import/export."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Config, load_config
from newsletter.errors import AddressError, ConfigError, DeliveryError
from newsletter.flows.subscriptions import ConsentError, confirm, subscribe, unsubscribe
from newsletter.store import Store
from newsletter.tokens import Signer
from tests.smtp import SECRET, SMTPServer, forged, write_config


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


def opened(folder: Path, port: int, **email: object) -> tuple[Path, Config, Store]:
    path = write_config(folder, port, **email)
    config = load_config(path)
    return path, config, Store.open(config.database)


def confirm_token(server: SMTPServer, address: str) -> str:
    [mail] = server.received_by(address)
    msg = mail.message()
    text = msg.get_body(preferencelist=("plain",))
    assert text is not None
    links = re.findall(r"https://news\.zhibo-weekly\.cn/confirm/(\S+)", text.get_content())
    assert len(set(links)) == 1
    return links[0]


def test_subscribe_without_double_opt_in_is_active_and_idempotent(
    tmp_path: Path, smtp_server: SMTPServer
):
    _, config, store = opened(tmp_path, smtp_server.port)
    first = subscribe(config, store, " Reader@Example.COM ", "读者")
    assert (first.email, first.status, first.name) == ("reader@example.com", "active", "读者")
    again = subscribe(config, store, "reader@example.com", "someone else")
    assert again == first, "subscribing twice returns the same subscriber, unchanged"
    assert smtp_server.count == 0, "no confirmation mail without double opt-in"
    with pytest.raises(AddressError, match="not-an-address"):
        subscribe(config, store, "not-an-address")
    assert [s.email for s in store.list_subscribers()] == ["reader@example.com"]


def test_double_opt_in_confirmation_link_activates(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = opened(tmp_path, smtp_server.port, double_opt_in=True)
    pending = subscribe(config, store, "new@example.com", "New\r\nBcc: x@evil.test")
    assert pending.status == "pending" and pending.name == "New Bcc: x@evil.test"
    msg = smtp_server.received_by("new@example.com")[0].message()
    assert msg["Bcc"] is None and "确认订阅" in msg["Subject"]
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    token = confirm_token(smtp_server, "new@example.com")
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and f"/confirm/{token}" in html.get_content()

    # Wrong purpose, forged or altered tokens do nothing.
    unsub = Signer(SECRET).sign("unsubscribe", pending.id or 0)
    assert confirm(config, store, unsub) is None
    assert (
        confirm(config, store, Signer("another-secret-01234567").sign("confirm", 1))
        is None
    )
    assert confirm(config, store, forged(token)) is None
    assert store.get_subscriber(id=pending.id).status == "pending"  # type: ignore[union-attr]

    active = confirm(config, store, token)
    assert active is not None and active.status == "active" and active.id == pending.id
    assert confirm(config, store, token) == active, "confirming twice is harmless"


def test_forged_token_with_other_secret_is_rejected(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = opened(tmp_path, smtp_server.port)
    person = store.add_subscriber("a@example.com")
    forged = Signer("another-secret-0123456789").sign("unsubscribe", person.id or 0)
    assert unsubscribe(config, store, forged) is None
    assert unsubscribe(config, store, "garbage") is None
    assert store.get_subscriber(id=person.id).status == "active"  # type: ignore[union-attr]


def test_unsubscribe_and_resubscribe(tmp_path: Path, smtp_server: SMTPServer):
    _, config, store = opened(tmp_path, smtp_server.port, double_opt_in=True)
    person = store.add_subscriber("a@example.com")
    token = Signer(SECRET).sign("unsubscribe", person.id or 0, email="a@example.com")
    gone = unsubscribe(config, store, token)
    assert gone is not None and gone.status == "unsubscribed"
    assert unsubscribe(config, store, token) == gone
    # The operator cannot bring the address back by accident...
    with pytest.raises(ConsentError, match="--resubscribe"):
        subscribe(config, store, "a@example.com")
    assert smtp_server.count == 0
    # ...only on purpose, and then it still needs a fresh confirmation from the inbox.
    back = subscribe(config, store, "a@example.com", resubscribe=True)
    assert back.status == "pending" and back.id == person.id
    assert confirm(config, store, confirm_token(smtp_server, "a@example.com"))
    assert store.get_subscriber(id=person.id).status == "active"  # type: ignore[union-attr]


def test_missing_secret_and_failed_confirmation_mail(
    tmp_path: Path, smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
):
    _, config, store = opened(tmp_path, smtp_server.port, double_opt_in=True, retries=0)
    monkeypatch.delenv("NEWSLETTER_SECRET")
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET"):
        subscribe(config, store, "a@example.com")
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    smtp_server.reject("b@example.com")
    with pytest.raises(DeliveryError, match="550"):
        subscribe(config, store, "b@example.com")
    assert store.get_subscriber(email="b@example.com").status == "pending"  # type: ignore[union-attr]


def test_cli_import_reports_bad_lines_and_is_idempotent(tmp_path: Path, smtp_server: SMTPServer):
    path, _, store = opened(tmp_path, smtp_server.port)
    sheet = tmp_path / "people.csv"
    sheet.write_text(
        "Email,Name\n"
        "a@example.com,Alice\n"
        "not-an-address,Bad\n"
        'B@Example.com,"Bob, Jr"\n'
        ",nobody\n"
        "a@example.com,Alice again\n"
        "c@example.com\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(app, ["subscribers", "import", str(sheet), "-c", str(path)])
    assert result.exit_code == 1, result.output
    assert f"{sheet}:3: skipped" in result.output and "not-an-address" in result.output
    assert f"{sheet}:5: skipped" in result.output
    assert "3 imported" in result.output and "1 repeated" in result.output
    people = {s.email: s for s in store.list_subscribers()}
    assert sorted(people) == ["a@example.com", "b@example.com", "c@example.com"]
    assert people["b@example.com"].name == "Bob, Jr"

    # Someone unsubscribes; importing the same sheet again must not bring them back.
    store.update_subscriber(people["a@example.com"].id or 0, status="unsubscribed")
    result = runner.invoke(app, ["subscribers", "import", str(sheet), "-c", str(path)])
    assert "0 imported, 3 already known" in result.output
    assert store.get_subscriber(email="a@example.com").status == "unsubscribed"  # type: ignore[union-attr]

    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("email,name\nd@example.com,张三\n".encode("gbk"))
    result = runner.invoke(app, ["subscribers", "import", str(gbk), "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert store.get_subscriber(email="d@example.com").name == "张三"  # type: ignore[union-attr]

    headless = tmp_path / "headless.csv"
    headless.write_text("x@example.com,X\n", encoding="utf-8")
    result = runner.invoke(app, ["subscribers", "import", str(headless), "-c", str(path)])
    assert result.exit_code == 2 and "'email' column" in result.output


def test_cli_add_remove_list_export(tmp_path: Path, smtp_server: SMTPServer):
    path, _, store = opened(tmp_path, smtp_server.port)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["subscribers", *args, "-c", str(path)])
        assert result.exit_code == 0, result.output
        return result.output

    assert "a@example.com: active" in run("add", "A@example.com", "--name", "Alice")
    run("add", "b@example.com")
    run("add", "c@example.com")
    assert "b@example.com: unsubscribed" in run("remove", "b@example.com")
    assert "c@example.com: deleted" in run("remove", "c@example.com", "--purge")
    assert store.get_subscriber(email="c@example.com") is None
    listing = run("list", "--status", "active")
    assert "a@example.com" in listing and "b@example.com" not in listing
    rows = list(csv.reader(io.StringIO(run("export"))))
    assert rows == [
        ["email", "name", "status"],
        ["a@example.com", "Alice", "active"],
        ["b@example.com", "", "unsubscribed"],
    ]
    bad = runner.invoke(app, ["subscribers", "add", "nope", "-c", str(path)])
    assert bad.exit_code == 2 and "invalid email address" in bad.output
    missing = runner.invoke(app, ["subscribers", "remove", "x@example.com", "-c", str(path)])
    assert missing.exit_code == 1


def test_cli_add_with_double_opt_in_sends_confirmation(tmp_path: Path, smtp_server: SMTPServer):
    path, config, store = opened(tmp_path, smtp_server.port, double_opt_in=True)
    result = CliRunner().invoke(app, ["subscribers", "add", "p@example.com", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "pending (confirmation mail sent)" in result.output
    assert confirm(config, store, confirm_token(smtp_server, "p@example.com"))
