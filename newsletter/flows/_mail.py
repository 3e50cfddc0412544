"""Mail settings from the config, shared by the send and subscription flows."""

from __future__ import annotations

import os
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
    )


def send_one(config: Config, message: EmailMessage, to: str) -> deliver.SendResult:
    with deliver.SMTPSender(smtp_settings(config)) as smtp:
        return smtp.send(message, to)
