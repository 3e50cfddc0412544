"""doctor's SPF / DMARC / DKIM checks against a DNS server on loopback."""

from __future__ import annotations

from pathlib import Path

from newsletter import _doctor
from newsletter.config import Config, parse_config
from tests.dnsserver import DNSServer

KEYS = Path(__file__).parent / "data" / "dkim"
PUBLIC = (KEYS / "test-only.pub").read_text().strip()


def config(tmp_path: Path, dkim: bool = True) -> Config:
    text = "email:\n  from: 周报 <newsletter@news.example.org>\n"
    if dkim:
        text += (
            "  dkim:\n    domain: news.example.org\n    selector: nl2026\n"
            f"    private_key_file: {KEYS / 'test-only.key'}\n"
        )
    return parse_config(text, base_dir=tmp_path)


def statuses(checks: list[_doctor.Check]) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def test_a_well_set_up_domain_passes(tmp_path: Path) -> None:
    records = {
        "news.example.org": ["v=spf1 include:relay.example.net -all", "google-site-verification=x"],
        "_dmarc.news.example.org": ["v=DMARC1; p=quarantine; rua=mailto:d@news.example.org"],
        "nl2026._domainkey.news.example.org": [f"v=DKIM1; k=rsa; p={PUBLIC}"],
    }
    with DNSServer(records) as server:
        checks = _doctor.check_mail_dns(config(tmp_path), server.resolver())
    assert statuses(checks) == {"SPF": "ok", "DMARC": "ok", "DKIM": "ok"}
    assert "nl2026._domainkey.news.example.org" in server.questions


def test_missing_and_wrong_records_are_named_with_a_fix(tmp_path: Path) -> None:
    other = PUBLIC[:-8] + "AAAAAAAA"
    records = {
        "news.example.org": ["v=spf1 a -all", "v=spf1 mx -all"],
        "nl2026._domainkey.news.example.org": [f"v=DKIM1; k=rsa; p={other}"],
    }
    with DNSServer(records) as server:
        checks = _doctor.check_mail_dns(config(tmp_path), server.resolver())
    assert statuses(checks) == {"SPF": "fail", "DMARC": "warn", "DKIM": "fail"}
    assert all(c.fix for c in checks)
    with DNSServer({}) as server:
        checks = _doctor.check_mail_dns(config(tmp_path, dkim=False), server.resolver())
    assert statuses(checks) == {"SPF": "warn", "DMARC": "warn", "DKIM": "warn"}
    assert "_dmarc.news.example.org" in checks[1].fix


def test_no_dns_is_a_skip_not_a_failure(tmp_path: Path) -> None:
    with DNSServer({}) as server:
        res = server.resolver()
    res.lifetime = 0.3  # the server is gone: nothing answers
    (check,) = _doctor.check_mail_dns(config(tmp_path), res)
    assert check.status == "skip" and "cannot reach DNS" in check.detail
