"""Mail settings from the config, shared by the send and subscription flows."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import urlsplit

from .. import deliver
from ..config import Config
from ..tokens import Signer, secret_from_env


def signer(config: Config) -> Signer:
    """Token signer keyed by the secret in the env variable named by ``secret_env``."""
    return Signer(secret_from_env(config.secret_env))


def mail_sender(config: Config) -> deliver.Sender:
    email = config.email
    return deliver.Sender(
        from_addr=email.from_,
        reply_to=email.reply_to,
        list_id=email.list_id,
        unsubscribe_mailbox=email.unsubscribe_mailto,
    )


def smtp_settings(config: Config) -> deliver.SMTPSettings:
    """SMTP settings with the login read from the env variables the config names."""
    smtp, email = config.email.smtp, config.email
    return deliver.SMTPSettings(
        host=smtp.host,
        port=smtp.port,
        starttls=smtp.starttls,
        ssl=smtp.ssl,
        username=os.environ.get(smtp.username_env) or None,
        password=os.environ.get(smtp.password_env) or None,
        timeout=smtp.timeout,
        max_per_second=email.max_per_second,
        retries=email.retries,
        backoff=email.retry_backoff,
        cafile=smtp.cafile,
        max_messages_per_connection=email.max_messages_per_connection,
        max_consecutive_failures=email.max_consecutive_failures,
    )


def dkim_signer(config: Config) -> Callable[[bytes], bytes] | None:
    """Signs serialized messages with ``email.dkim``'s key; None when DKIM is off."""
    dkim = config.email.dkim
    if dkim is None:
        return None
    from .._dkim import load_key

    key = load_key(
        dkim.domain, dkim.selector, key_file=dkim.private_key_file, key_env=dkim.private_key_env
    )
    return key.sign


def smtp_sender(config: Config) -> deliver.SMTPSender:
    """An SMTP sender for ``config``: its settings, and DKIM signing when configured."""
    return deliver.SMTPSender(smtp_settings(config), sign=dkim_signer(config))


def envelope_sender(config: Config, subscriber_id: int | None) -> str | None:
    """MAIL FROM: ``email.return_path`` (VERP-coded per subscriber), or None for From."""
    email = config.email
    if not email.return_path:
        return None
    if email.verp and subscriber_id:
        from ..bounces import verp_address

        return verp_address(email.return_path, subscriber_id, secret_from_env(config.secret_env))
    return email.return_path


def send_one(
    config: Config, message: EmailMessage, to: str, subscriber_id: int | None = None
) -> deliver.SendResult:
    with smtp_sender(config) as smtp:
        return smtp.send(message, to, from_addr=envelope_sender(config, subscriber_id))


# Names no reader can reach and no mailbox lives at: RFC 2606 and RFC 6761 reserve them for
# tests and examples; .local is multicast DNS, inside one network only.
_RESERVED_TLDS = frozenset({"test", "example", "invalid", "localhost", "local"})
_RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})


def _unreachable_host(host: str) -> str | None:
    """Why nobody outside this machine can use ``host``, or None when they may."""
    host = host.lower().rstrip(".").strip("[]")
    if not host:
        return "has no host name"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return f"{host} is this machine only" if ip.is_loopback or ip.is_unspecified else None
    labels = host.split(".")
    if labels[-1] in _RESERVED_TLDS:
        return f"{host} is a reserved name (RFC 2606 / 6761) that no one else can reach"
    if ".".join(labels[-2:]) in _RESERVED_DOMAINS:
        return f"{host} is reserved for examples (RFC 2606)"
    return None


@dataclass(frozen=True)
class MailingProblem:
    """A setting that makes mail to the list useless: which key, what is wrong, the fix."""

    key: str
    detail: str
    fix: str

    def __str__(self) -> str:
        return f"{self.key}: {self.detail} (fix: {self.fix})"


def secret_problem(config: Config) -> MailingProblem | None:
    """Why the signing secret cannot protect the links: unset, short, or guessable."""
    name = config.secret_env
    fix = f"export {name}=$(python -c 'import secrets; print(secrets.token_urlsafe())')"
    value = os.environ.get(name, "")
    if len(value) < 16:
        state = "is unset or empty" if not value else f"has only {len(value)} characters"
        return MailingProblem(
            name, f"{state}; it signs unsubscribe and confirm links (16 at least)", fix
        )
    if len(set(value)) < 8:
        # Long enough but guessable ("x" * 40, "1234" * 4): anyone could forge the links.
        return MailingProblem(
            name, f"has {len(value)} characters but only {len(set(value))} different ones", fix
        )
    return None


def mailing_problems(config: Config) -> list[MailingProblem]:
    """What is left of a demo setup that must not reach subscribers: ``base_url`` at
    loopback, localhost or an example domain (every unsubscribe and "view in browser" link
    would be dead), ``email.from`` at such a domain (refused or junked by every receiver)."""
    problems = []
    url = urlsplit(config.base_url)
    why = _unreachable_host(url.hostname or "")
    if url.scheme not in ("http", "https"):
        why = "is not an http(s) URL"
    if why is not None:
        problems.append(
            MailingProblem(
                "base_url",
                f"{config.base_url!r}: {why}, so every unsubscribe and \"view in browser\" link "
                "in the mail would be dead",
                "set base_url to the public address where `newsletter serve` answers, "
                "e.g. https://news.<your domain>",
            )
        )
    address = parseaddr(config.email.from_)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    why = _unreachable_host(domain) if domain else "has no domain"
    if why is not None:
        problems.append(
            MailingProblem(
                "email.from",
                f"{config.email.from_!r}: {why}, so receivers refuse or junk the mail and "
                "replies go nowhere",
                "set email.from to an address at your own domain, e.g. "
                "\"周报 <news@<your domain>>\" (with SPF/DKIM for it: `newsletter doctor`)",
            )
        )
    return problems
