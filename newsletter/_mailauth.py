"""DNS checks of mail authentication for ``doctor``: SPF, DMARC and the DKIM selector.

Gmail and Yahoo refuse bulk mail from domains without SPF or DKIM and without a DMARC
record, so ``doctor`` says which record is missing or wrong before the first send.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal

import dns.exception
import dns.resolver

from .config import Config
from .deliver import domain_of

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class DNSCheck:
    name: str
    status: Status
    detail: str
    fix: str = ""


class Unreachable(Exception):
    """No DNS server answered."""


def resolver(timeout: float = 3.0) -> dns.resolver.Resolver:
    """The system's resolver with a short overall time limit."""
    found = dns.resolver.Resolver()
    found.lifetime = timeout
    return found


def txt(res: dns.resolver.Resolver, name: str) -> list[str]:
    """The TXT strings at ``name`` (each record's parts joined); empty when none exist."""
    try:
        answer = res.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        raise Unreachable(str(exc)) from None
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]


def _tags(record: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in record.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            tags[name.strip().lower()] = "".join(value.split())
    return tags


def _aligned(signing: str, sender: str) -> bool:
    """DMARC relaxed alignment: same domain, or one a subdomain of the other."""
    a, b = signing.lower().rstrip("."), sender.lower().rstrip(".")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _public_key_of(config: Config) -> str | None:
    """The base64 public key that belongs to the configured private key, if readable."""
    dkim = config.email.dkim
    if dkim is None:
        return None
    from cryptography.hazmat.primitives import serialization

    from ._dkim import load_key

    try:
        key = load_key(
            dkim.domain,
            dkim.selector,
            key_file=dkim.private_key_file,
            key_env=dkim.private_key_env,
        )
        private = serialization.load_pem_private_key(key.private_key, password=None)
    except Exception:  # a bad key is reported by the signing path with the reason
        return None
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def check(config: Config, res: dns.resolver.Resolver) -> list[DNSCheck]:
    """SPF and DMARC of the From domain, and the DKIM key the config signs with."""
    domain = domain_of(config.email.from_)
    if domain in ("localhost", "") or "." not in domain:
        return [DNSCheck("", "skip", f"From domain {domain!r} is not a public domain")]
    try:
        return _checks(config, res, domain)
    except Unreachable as exc:
        return [DNSCheck("", "skip", f"cannot reach DNS ({exc})", "run doctor online")]


def _checks(config: Config, res: dns.resolver.Resolver, domain: str) -> list[DNSCheck]:
    checks: list[DNSCheck] = []
    spf = [r for r in txt(res, domain) if r.lower().startswith("v=spf1")]
    if not spf:
        checks.append(
            DNSCheck(
                "SPF",
                "warn",
                f"{domain} has no SPF record",
                f'add TXT {domain} "v=spf1 include:<your relay> -all"',
            )
        )
    elif len(spf) > 1:
        checks.append(
            DNSCheck(
                "SPF",
                "fail",
                f"{domain} has {len(spf)} SPF records (a permanent error)",
                "merge them into one TXT record",
            )
        )
    elif spf[0].split()[-1] in ("+all", "all"):
        checks.append(
            DNSCheck(
                "SPF",
                "warn",
                f"{domain}: {spf[0]} allows any sender",
                "end the record with -all or ~all",
            )
        )
    else:
        checks.append(DNSCheck("SPF", "ok", f"{domain}: {spf[0]}"))

    dmarc = [r for r in txt(res, f"_dmarc.{domain}") if r.lower().startswith("v=dmarc1")]
    if not dmarc:
        checks.append(
            DNSCheck(
                "DMARC",
                "warn",
                f"_dmarc.{domain} has no DMARC record (Gmail and Yahoo require one for bulk mail)",
                f'add TXT _dmarc.{domain} "v=DMARC1; p=none; rua=mailto:dmarc@{domain}"',
            )
        )
    else:
        policy = _tags(dmarc[0]).get("p", "")
        note = " (monitoring only)" if policy == "none" else ""
        checks.append(DNSCheck("DMARC", "ok", f"_dmarc.{domain}: p={policy or '?'}{note}"))

    dkim = config.email.dkim
    if dkim is None:
        checks.append(
            DNSCheck(
                "DKIM",
                "warn",
                "messages are not DKIM-signed here (fine if your relay signs them)",
                "set email.dkim: domain, selector, private_key_file",
            )
        )
        return checks
    name = f"{dkim.selector}._domainkey.{dkim.domain}"
    records = [_tags(r) for r in txt(res, name)]
    keys = [t.get("p", "") for t in records if "p" in t]
    ours = _public_key_of(config)
    if not keys:
        fix = f'publish TXT {name} "v=DKIM1; k=rsa; p=<public key>"'
        checks.append(DNSCheck("DKIM", "fail", f"{name} has no DKIM key", fix))
    elif ours is not None and ours not in keys:
        checks.append(
            DNSCheck(
                "DKIM",
                "fail",
                f"{name} publishes a key that is not the one we sign with",
                "publish the public half of email.dkim's private key",
            )
        )
    elif not _aligned(dkim.domain, domain):
        checks.append(
            DNSCheck(
                "DKIM",
                "warn",
                f"signing domain {dkim.domain} is not aligned with the "
                f"From domain {domain} (DMARC will not count it)",
                f"sign with d={domain} or a subdomain of it",
            )
        )
    else:
        checks.append(DNSCheck("DKIM", "ok", f"{name}: key published and matches"))
    return checks
