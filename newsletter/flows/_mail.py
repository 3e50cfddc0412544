"""Mail settings from the config, shared by the send and subscription flows."""

from __future__ import annotations

import os
from collections.abc import Callable
from email.message import EmailMessage

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
