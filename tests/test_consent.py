"""Consent over the real form and real SMTP: nobody is mailed without a click from their inbox.

The public form always asks for confirmation, never re-activates an address that left
without one, and cannot be used to flood an inbox; old links cannot act on someone else.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Config, load_config
from newsletter.flows.subscriptions import ConfirmationLimited, confirm, subscribe, unsubscribe
from newsletter.store import Store
from newsletter.tokens import Signer
from newsletter.web import CSRF_COOKIE, create_app
from tests.smtp import SECRET, SMTPServer, write_config

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


def opened(folder: Path, port: int, web: dict[str, object] | None = None) -> tuple[Config, Store]:
    path = write_config(folder, port)  # email.double_opt_in stays off (the default)
    if web:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["web"] = web
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(path)
    return config, Store.open(config.database)


async def form_post(config: Config, store: Store, address: str, ip: str = "203.0.113.5") -> None:
    transport = httpx.ASGITransport(app=create_app(config, store), client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        page = await c.get("/subscribe")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token and c.cookies.get(CSRF_COOKIE)
        r = await c.post("/subscribe", data={"email": address, "csrf_token": token.group(1)})
        assert r.status_code == 200 and "确认邮件" in r.text


def confirm_links(server: SMTPServer, address: str) -> list[str]:
    links = []
    for mail in server.received_by(address):
        part = mail.message().get_body(preferencelist=("plain",))
        assert part is not None
        links += re.findall(r"/confirm/(\S+)", part.get_content())[:1]
    return links


def status(store: Store, address: str) -> str | None:
    found = store.get_subscriber(email=address)
    return None if found is None else found.status


async def test_the_form_always_needs_a_click_even_with_single_opt_in(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = opened(tmp_path, smtp_server.port)
    assert config.email.double_opt_in is False
    await form_post(config, store, "new@example.org")
    assert status(store, "new@example.org") == "pending"
    [link] = confirm_links(smtp_server, "new@example.org")
    assert confirm(config, store, link) is not None
    assert status(store, "new@example.org") == "active"


@pytest.mark.parametrize("left", ["unsubscribed", "bounced", "complained"])
async def test_an_address_that_left_stays_out_until_its_owner_clicks(
    tmp_path: Path, smtp_server: SMTPServer, left: str
) -> None:
    config, store = opened(tmp_path, smtp_server.port)
    await form_post(config, store, "back@example.org")
    [first] = confirm_links(smtp_server, "back@example.org")
    person = confirm(config, store, first)
    assert person is not None and person.id is not None
    store.update_subscriber(person.id, status=left)

    await form_post(config, store, "back@example.org", ip="198.51.100.77")
    # One anonymous POST changes nothing: the address is still out, and only its owner,
    # from the inbox, can bring it back.
    assert status(store, "back@example.org") == left
    # The link from the first sign-up was for a pending address; it cannot undo the leaving.
    assert confirm(config, store, first) is None
    assert status(store, "back@example.org") == left

    # Its owner asking again gets one confirmation mail; the click re-activates.
    store.add_subscriber("returning@example.org", "", left)
    await form_post(config, store, "returning@example.org")
    assert status(store, "returning@example.org") == left
    [again] = confirm_links(smtp_server, "returning@example.org")
    assert confirm(config, store, again) is not None
    assert status(store, "returning@example.org") == "active"


async def test_confirmations_are_capped_per_address_and_overall(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = opened(tmp_path, smtp_server.port, web={"confirmations_per_hour": 3})
    for n in range(5):  # five different client addresses, one victim
        await form_post(config, store, "victim@example.org", ip=f"198.51.100.{n}")
    assert len(smtp_server.received_by("victim@example.org")) == 1
    with pytest.raises(ConfirmationLimited, match="in the last 24 h"):
        subscribe(config, store, "victim@example.org", public=True)
    for n in range(4):
        await form_post(config, store, f"other{n}@example.org", ip=f"192.0.2.{n}")
    assert smtp_server.count == 3, "the overall cap counts every address"
    with pytest.raises(ConfirmationLimited, match="3 an hour"):
        subscribe(config, store, "one-more@example.org", public=True)


def test_links_of_a_purged_subscriber_never_act_on_whoever_gets_the_id(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = opened(tmp_path, smtp_server.port)
    old = subscribe(config, store, "old@example.org", public=True)
    assert old.id is not None
    [old_confirm] = confirm_links(smtp_server, "old@example.org")
    old_unsubscribe = Signer(SECRET).sign("unsubscribe", old.id, email="old@example.org")
    store.delete_subscriber(old.id)  # `subscribers remove --purge`
    new = subscribe(config, store, "new@example.org", public=True)
    assert new.id == old.id, "SQLite gave the freed id to the next subscriber"
    assert confirm(config, store, old_confirm) is None
    assert unsubscribe(config, store, old_unsubscribe) is None
    assert status(store, "new@example.org") == "pending"


def test_cli_add_needs_resubscribe_to_bring_back_an_address(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    config, store = opened(tmp_path, smtp_server.port)
    store.add_subscriber("gone@example.org", "", "unsubscribed")
    path = str(tmp_path / "config.yaml")
    runner = CliRunner()
    refused = runner.invoke(app, ["subscribers", "add", "gone@example.org", "-c", path])
    assert refused.exit_code == 1 and "--resubscribe" in refused.output
    assert status(store, "gone@example.org") == "unsubscribed"
    back = runner.invoke(
        app, ["subscribers", "add", "gone@example.org", "--resubscribe", "-c", path]
    )
    assert back.exit_code == 0, back.output
    assert status(store, "gone@example.org") == "active"
    assert smtp_server.count == 0


async def test_a_confirmation_that_was_not_sent_does_not_use_up_the_daily_slot(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    from newsletter.errors import DeliveryError

    config, store = opened(tmp_path, smtp_server.port)
    config = config.model_copy(
        update={"email": config.email.model_copy(update={"retries": 0})}
    )
    smtp_server.answer_rcpt("451 4.3.0 <{address}>: try again later", "late@example.org")
    with pytest.raises(DeliveryError, match="was not sent: 451 4.3.0"):
        subscribe(config, store, "late@example.org", public=True)
    smtp_server.answer_rcpt(None, "late@example.org")
    # The relay took nothing, so asking again at once works...
    subscribe(config, store, "late@example.org", public=True)
    assert len(smtp_server.received_by("late@example.org")) == 1
    # ...and the mail that did go out holds the slot for 24 h.
    with pytest.raises(ConfirmationLimited, match="in the last 24 h"):
        subscribe(config, store, "late@example.org", public=True)
