"""No name, title or address from outside can add a header to a mail we send.

The attack is CVE-2024-6923: the stdlib decodes an RFC 2047 encoded word in a display name
and, on Python builds without the fix (3.11.7, which CI runs, is one), writes the CR/LF it
decodes to raw into ``To:``. Each test ends with the message as the SMTP server received it.
"""

from __future__ import annotations

import email.policy
import re
import sys
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from newsletter import deliver
from newsletter.cli import app
from newsletter.config import load_config
from newsletter.store import Store
from newsletter.web import CSRF_COOKIE, create_app
from tests.smtp import SECRET, SMTPServer, write_config

ATTACK = "=?utf-8?q?=0D=0AReply-To:_a@evil.example=0D=0A=0D=0ABODY?="
# Every header a confirmation mail carries, and nothing else.
CONFIRMATION_HEADERS = [
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "MIME-Version",
    "Content-Type",
    "Auto-Submitted",  # RFC 3834: autoresponders must not answer a confirmation mail
]
HOSTILE_TEXT = [
    ATTACK,
    "=?UTF-8?B?DQpCY2M6IHNweUBldmlsLmV4YW1wbGU=?=",  # "\r\nBcc: spy@evil.example", base64
    "Eve\r\nBcc: spy@evil.example",
    "Eve\nX-Evil: 1",
    "Eve\x00\x1b[31m",
    "Eve\u2028Bcc: spy@evil.example\u2029",
    "\u202eevE\u202c \u200b\ufeff",
]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)


def _parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_this_interpreter_is_the_one_the_attack_needs_or_the_check_is_moot() -> None:
    """On the CI interpreter the stdlib alone lets the attack through; we must not."""
    plain = EmailMessage(policy=email.policy.SMTP)
    plain["To"] = Address(display_name=ATTACK, username="v", domain="example.org")
    plain["Subject"] = "hi"
    plain.set_content("x")
    try:
        raw = plain.as_bytes()
    except Exception:  # a fixed Python refuses it (email.errors.HeaderWriteError)
        fixed = True
    else:
        fixed = b"\r\nReply-To: a@evil.example" not in raw
    if sys.version_info[:3] == (3, 11, 7):
        assert not fixed, "3.11.7 was expected to carry CVE-2024-6923"


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
def test_built_messages_carry_exactly_our_headers(hostile: str) -> None:
    sender = deliver.Sender(
        "周报 <news@newsletter.example.org>", reply_to="ed@newsletter.example.org"
    )
    message = deliver.build_message(
        sender,
        to="reader@example.org",
        name=hostile,
        subject=f"周报 {hostile}",
        html="<p>x</p>",
        text="x",
        unsubscribe="https://news.example.org/unsubscribe/t",
        unsubscribe_token="t",
    )
    raw = message.as_bytes(policy=deliver.POLICY)
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if line[:1] not in (" ", "\t")]
    assert names == [
        "From",
        "To",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "MIME-Version",
        "Content-Type",
    ]
    parsed = _parsed(raw)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["reader@example.org"]
    assert parsed["Reply-To"] == "ed@newsletter.example.org"
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    for value in (str(parsed["To"]), str(parsed["Subject"])):
        assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u200b\ufeff]", value)


def test_the_policy_refuses_a_header_that_would_break_the_head() -> None:
    message = EmailMessage(policy=deliver.POLICY)
    message["To"] = Address(display_name=ATTACK, username="v", domain="example.org")
    message.set_content("x")
    with pytest.raises(deliver.HeaderInjectionError, match="To header"):
        message.as_bytes()


def test_sender_refuses_rather_than_sends_a_forged_message(smtp_server: SMTPServer) -> None:
    message = EmailMessage(policy=deliver.POLICY)
    message["From"] = "news@newsletter.example.org"
    message["To"] = Address(display_name=ATTACK, username="v", domain="example.org")
    message.set_content("x")
    settings = deliver.SMTPSettings("127.0.0.1", smtp_server.port, retries=0)
    with deliver.SMTPSender(settings) as sender:
        result = sender.send(message, "v@example.org")
    assert result.status == "rejected" and "To header" in result.answer
    assert smtp_server.messages == []


async def _subscribe(config_path: Path, name: str) -> httpx.Response:
    config = load_config(config_path)
    store = Store.open(config.database)
    try:
        web = create_app(config, store)
        transport = httpx.ASGITransport(app=web, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            page = await c.get("/subscribe")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token and c.cookies.get(CSRF_COOKIE)
            data = {"email": "victim@example.org", "name": name, "csrf_token": token.group(1)}
            return await c.post("/subscribe", data=data)
    finally:
        store.close()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_form_refuses_the_attack_and_a_stored_one_still_yields_our_headers(
    tmp_path: Path, smtp_server: SMTPServer, anyio_backend: str
) -> None:
    path = write_config(tmp_path, smtp_server.port, double_opt_in=True)
    refused = await _subscribe(path, ATTACK)
    assert refused.status_code == 400 and "=?" in refused.text
    assert smtp_server.messages == []

    # A name stored before the entry points checked (or by another tool) is neutralised
    # again where the header is built: the confirmation carries exactly our headers.
    config = load_config(path)
    store = Store.open(config.database)
    store.add_subscriber("victim@example.org", ATTACK, "pending")
    store.close()
    answered = await _subscribe(path, "")
    assert answered.status_code == 200
    assert smtp_server.wait_for(1)
    [received] = smtp_server.messages
    assert received.rcpt_tos == ("victim@example.org",)
    head = received.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if line[:1] not in (" ", "\t")]
    assert names == CONFIRMATION_HEADERS
    message = received.message()
    assert message["Reply-To"] == "editor@zhibo-weekly.cn"
    assert [a.addr_spec for a in message["To"].addresses] == ["victim@example.org"]
    assert "BODY" not in received.data.split(b"\r\n\r\n", 1)[1][:20].decode("ascii")


def test_cli_add_and_import_refuse_names_that_could_inject(
    tmp_path: Path, smtp_server: SMTPServer
) -> None:
    path = write_config(tmp_path, smtp_server.port)
    runner = CliRunner()
    added = runner.invoke(
        app, ["subscribers", "add", "a@example.org", "--name", ATTACK, "--config", str(path)]
    )
    assert added.exit_code == 2 and "encoded word" in added.output
    csv = tmp_path / "people.csv"
    csv.write_text(
        f'email,name\nok@example.org,好人\nbad@example.org,"{ATTACK}"\n'
        "bidi@example.org,\u202eevil\n",
        encoding="utf-8",
    )
    imported = runner.invoke(app, ["subscribers", "import", str(csv), "--config", str(path)])
    assert imported.exit_code == 1
    assert ":3: skipped, the name is not allowed" in imported.output
    assert (
        ":4: skipped, the name is not allowed: it contains the control or format character U+202E"
        in imported.output
    )
    config = load_config(path)
    store = Store.open(config.database)
    assert [s.email for s in store.list_subscribers()] == ["ok@example.org"]
    store.close()
