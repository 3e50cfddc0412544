"""Signed, unforgeable tokens for confirm and unsubscribe links (itsdangerous)."""

from __future__ import annotations

import os
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .errors import ConfigError

Purpose = Literal["confirm", "unsubscribe"]
# A confirmation link is only good for a week; an unsubscribe link must keep working
# in old issues forever.
MAX_AGE = {"confirm": 7 * 24 * 3600, "unsubscribe": None}


def secret_from_env(name: str) -> str:
    """The signing secret from the environment variable ``name`` (never from a file)."""
    value = os.environ.get(name, "")
    if len(value) < 16:
        hint = "python -c 'import secrets; print(secrets.token_urlsafe())'"
        raise ConfigError(
            f"environment variable {name} must hold a signing secret of at least 16 "
            f"characters (e.g. export {name}=$({hint}))"
        )
    return value


class Signer:
    """Signs a subscriber id for one purpose; a token for one purpose is useless for another."""

    def __init__(self, secret: str) -> None:
        self._serializers = {
            purpose: URLSafeTimedSerializer(secret, salt=f"newsletter-{purpose}")
            for purpose in MAX_AGE
        }

    def sign(self, purpose: Purpose, subscriber_id: int) -> str:
        return str(self._serializers[purpose].dumps(subscriber_id))

    def verify(self, purpose: Purpose, token: str) -> int | None:
        """The subscriber id, or ``None`` for a forged, altered or expired token."""
        try:
            value = self._serializers[purpose].loads(token, max_age=MAX_AGE[purpose])
        except (BadSignature, SignatureExpired):
            return None
        return value if isinstance(value, int) else None
