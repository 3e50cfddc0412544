"""Sign-in to the editor's desk: a signed, short-lived, one-use link mailed to an address in
``review.editors``. No passwords exist; the web app turns a spent link into a session."""

from __future__ import annotations

import logging
import secrets

from .. import deliver
from ..config import Config
from ..errors import NewsletterError
from ..store import Store
from ..tokens import DeskTokens, secret_from_env
from .review import ReviewError, desk_url, notice

log = logging.getLogger(__name__)


def is_editor(config: Config, email: str) -> bool:
    return email.strip().lower() in config.review.editors


def request_sign_in(config: Config, store: Store, email: str) -> bool:
    """Mail a one-use sign-in link if ``email`` is an editor's; False (nothing sent) if not."""
    try:
        address = deliver.normalize_address(email)
    except NewsletterError:
        return False
    if not is_editor(config, address):
        log.warning("desk: sign-in asked for an address that is not an editor's")
        return False
    nonce = secrets.token_urlsafe(24)
    store.add_desk_link(nonce, address)
    token = DeskTokens(secret_from_env(config.secret_env)).link(address, nonce)
    link = f"{desk_url(config)}/signin/{token}"
    minutes = config.review.link_minutes
    return notice(
        config,
        address,
        f"登录审稿台：{config.title}",
        [f"点击下面的按钮登录审稿台。链接 {minutes} 分钟内有效，只能使用一次。",
         "如果不是您本人操作，忽略这封邮件即可。"],
        link,
        "登录审稿台",
    )


def sign_in(config: Config, store: Store, token: str) -> str:
    """The editor's address a sign-in link proves, spending the link; ``ReviewError`` if not."""
    tokens = DeskTokens(secret_from_env(config.secret_env))
    read = tokens.read_link(token, config.review.link_minutes * 60)
    if read == "expired":
        raise ReviewError("this sign-in link has expired; ask for a new one")
    if isinstance(read, str):
        raise ReviewError("this sign-in link is not valid")
    email, nonce = read
    if not is_editor(config, email):
        raise ReviewError("this address is no longer an editor's")
    if not store.use_desk_link(nonce, email):
        raise ReviewError("this sign-in link was already used; ask for a new one")
    return email
