"""DKIM signing: every message the loopback SMTP server received verifies with the public key."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest

from newsletter import _dkim, deliver
from newsletter.errors import ConfigError
from tests.smtp import SMTPServer

KEYS = Path(__file__).parent / "data" / "dkim"
PUBLIC = (KEYS / "test-only.pub").read_text().strip()


def dns_answer(name: bytes, timeout: int = 5) -> bytes:
    """The TXT record a receiver would look up (dkimpy's resolver hook)."""
    assert name == b"nl2026._domainkey.news.example.org."
    return f"v=DKIM1; k=rsa; p={PUBLIC}".encode()


def key() -> _dkim.DKIMKey:
    return _dkim.load_key("news.example.org", "nl2026", key_file=str(KEYS / "test-only.key"))


def test_sent_messages_carry_a_signature_covering_the_list_headers(
    smtp_server: SMTPServer,
) -> None:
    sender = deliver.Sender(from_addr="周报 <newsletter@news.example.org>")
    settings = deliver.SMTPSettings(host="127.0.0.1", port=smtp_server.port, starttls=False)
    with deliver.SMTPSender(settings, sign=key().sign) as smtp:
        for n in range(3):
            msg = deliver.build_message(
                sender,
                to=f"reader{n}@example.com",
                name="读者",
                subject="视频号与直播电商周报",
                html="<p>本周要点</p>",
                text="本周要点",
                unsubscribe=f"https://news.example.org/unsubscribe/t{n}",
                unsubscribe_token=f"t{n}",
            )
            assert smtp.send(msg, f"reader{n}@example.com").status == "sent"
    smtp_server.wait_for(3)
    assert len(smtp_server.messages) == 3
    for received in smtp_server.messages:
        assert dkim.verify(received.data, dnsfunc=dns_answer)
        header = received.message()["DKIM-Signature"]
        signed = {h.strip().lower() for h in header.split("h=")[1].split(";")[0].split(":")}
        for name in _dkim.SIGNED_HEADERS:
            assert name.lower() in signed
        # A changed List-Unsubscribe no longer verifies: the signature really covers it.
        tampered = received.data.replace(b"/unsubscribe/t", b"/unsubscribe/x", 1)
        assert not dkim.verify(tampered, dnsfunc=dns_answer)


def test_a_bad_key_is_a_config_error_naming_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="bad.key"):
        _dkim.load_key("news.example.org", "s", key_file=str(bad))
    with pytest.raises(ConfigError, match="cannot read"):
        _dkim.load_key("news.example.org", "s", key_file=str(tmp_path / "missing.key"))
    monkeypatch.setenv("DKIM_KEY", "")
    with pytest.raises(ConfigError, match="DKIM_KEY"):
        _dkim.load_key("news.example.org", "s", key_env="DKIM_KEY")
    monkeypatch.setenv("DKIM_KEY", (KEYS / "test-only.key").read_text())
    signed = _dkim.load_key("news.example.org", "nl2026", key_env="DKIM_KEY").sign(
        b"From: a@news.example.org\r\nSubject: x\r\n\r\nbody\r\n"
    )
    assert dkim.verify(signed, dnsfunc=dns_answer)
