"""Reading bounces, feedback reports and mailto unsubscribes (real samples, see data/bounces)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from newsletter import bounces
from newsletter.tokens import Signer

DATA = Path(__file__).parent / "data" / "bounces"
EXPECTED: dict[str, dict[str, str]] = json.loads((DATA / "expected.json").read_text("utf-8"))
# The secret the tokens inside data/bounces/ours-*.eml were signed with.
FIXTURE_SECRET = "test-secret-for-bounce-fixtures-0123"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_is_read_as_expected(name: str) -> None:
    report = bounces.parse((DATA / name).read_bytes())
    want = EXPECTED[name]
    assert report.kind == want["kind"], (name, report)
    first = report.findings[0].address if report.findings else ""
    assert first == want["address"], (name, report.findings)


def test_every_sample_file_is_listed() -> None:
    assert {p.name for p in DATA.glob("*.eml")} == set(EXPECTED)


def test_the_samples_cover_every_kind_and_many_mtas() -> None:
    kinds = Counter(v["kind"] for v in EXPECTED.values())
    assert set(kinds) == {"hard", "soft", "delayed", "complaint", "unsubscribe", "ignored"}
    mtas = {n.split("-")[1] for n in EXPECTED if n.startswith("lhost-")}
    assert len(mtas) >= 12


def test_a_dsn_carries_its_status_and_the_servers_words() -> None:
    report = bounces.parse((DATA / "lhost-postfix-04.eml").read_bytes())
    assert report.detector == "dsn"
    (finding,) = report.findings
    assert finding.status == "5.1.1"
    assert finding.diagnostic  # the evidence we store


def test_full_mailboxes_and_policy_blocks_are_soft_not_hard() -> None:
    assert bounces.classify("5.2.2", "552 mailbox full", True) == "soft"
    assert bounces.classify("5.7.1", "550 5.7.1 blocked: user unknown", True) == "soft"
    assert bounces.classify("5.1.8", "553 sender domain does not exist", True) == "soft"
    assert bounces.classify("4.1.1", "450 user unknown", False) == "soft"
    assert bounces.classify("5.0.0", "550 No such user here", True) == "hard"
    assert bounces.classify("", "User unknown", True) == "hard"


def test_verp_names_the_subscriber_and_cannot_be_forged() -> None:
    address = bounces.verp_address("bounces@news.example.org", 42, "s" * 20)
    assert address.startswith("bounces+42-") and address.endswith("@news.example.org")
    assert bounces.verp_subscriber(address, "s" * 20) == 42
    # Relays that fold the case of local parts do not break it.
    assert bounces.verp_subscriber(address.upper(), "s" * 20) == 42
    assert bounces.verp_subscriber(address, "t" * 20) is None
    assert bounces.verp_subscriber(address.replace("+42-", "+43-"), "s" * 20) is None
    assert bounces.verp_subscriber("bounces@news.example.org", "s" * 20) is None


def test_the_tokens_that_name_our_subscriber_are_found() -> None:
    signer = Signer(FIXTURE_SECRET)
    verp = bounces.parse((DATA / "ours-postfix-verp.eml").read_bytes())
    assert [bounces.verp_subscriber(a, FIXTURE_SECRET) for a in verp.envelope_to] == [2]
    arf = bounces.parse((DATA / "ours-arf-redacted.eml").read_bytes())
    assert [signer.verify("unsubscribe", t) for t in arf.list_tokens] == [3]
    mailto = bounces.parse((DATA / "ours-mailto.eml").read_bytes())
    assert signer.verify("unsubscribe", mailto.mailto_token) == 4


def test_an_auto_reply_or_garbage_is_ignored_with_a_reason() -> None:
    report = bounces.parse((DATA / "rfc3834-01.eml").read_bytes())
    assert report.kind == "ignored" and report.reason
    assert bounces.parse(b"\x00\xff not a message at all").kind == "ignored"
    assert bounces.parse(b"").kind == "ignored"
    huge = b"Subject: x\r\n\r\n" + b"a" * (bounces.MAX_MESSAGE_BYTES + 1)
    assert "bytes" in bounces.parse(huge).reason


def test_a_reply_that_only_quotes_an_smtp_code_is_not_a_bounce() -> None:
    raw = (
        b"From: reader@example.com\r\nTo: newsletter@news.example.org\r\n"
        b"Subject: question\r\n\r\nwhy did my friend@example.net get 550 5.1.1 from you?\r\n"
    )
    assert bounces.parse(raw).kind == "ignored"
