"""Signed, unforgeable tokens for confirm and unsubscribe links (itsdangerous)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
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


def address_tag(email: str) -> str:
    """A short digest of an address, to bind a token to it without writing it in the URL."""
    return hashlib.sha256(email.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Claim:
    """What a verified token says: the subscriber id, and for tokens made since they were
    bound, the address's tag and the status it was signed for."""

    subscriber_id: int
    tag: str | None = None
    state: str | None = None

    def names(self, email: str) -> bool:
        """Whether the token was made for this address (old unbound tokens: unknown, True)."""
        return self.tag is None or self.tag == address_tag(email)


class Signer:
    """Signs a subscriber id for one purpose; a token for one purpose is useless for another.

    Tokens carry the address's tag as well: an id freed by ``remove --purge`` and given to
    someone else by the database cannot make an old link act on the new person.
    """

    def __init__(self, secret: str) -> None:
        self._serializers = {
            purpose: URLSafeTimedSerializer(secret, salt=f"newsletter-{purpose}")
            for purpose in MAX_AGE
        }

    def sign(
        self, purpose: Purpose, subscriber_id: int, *, email: str | None = None, state: str = ""
    ) -> str:
        payload: int | list[int | str] = subscriber_id
        if email is not None:
            bound: list[int | str] = [subscriber_id, address_tag(email)]
            payload = bound + ([state] if state else [])
        return str(self._serializers[purpose].dumps(payload))

    def claim(self, purpose: Purpose, token: str) -> Claim | None:
        """What the token says, or ``None`` for a forged, altered or expired token."""
        try:
            value = self._serializers[purpose].loads(token, max_age=MAX_AGE[purpose])
        except (BadSignature, SignatureExpired):
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return Claim(value)
        if (
            isinstance(value, list)
            and 2 <= len(value) <= 3
            and isinstance(value[0], int)
            and all(isinstance(v, str) for v in value[1:])
        ):
            return Claim(value[0], value[1], value[2] if len(value) == 3 else None)
        return None

    def verify(self, purpose: Purpose, token: str) -> int | None:
        """The subscriber id, or ``None`` for a forged, altered or expired token."""
        claim = self.claim(purpose, token)
        return None if claim is None else claim.subscriber_id


class DeskTokens:
    """The editor's desk: sign-in links (an address and a one-use nonce, short-lived) and
    session cookies (an address), each signed under its own salt."""

    def __init__(self, secret: str) -> None:
        self._link = URLSafeTimedSerializer(secret, salt="newsletter-desk-link")
        self._session = URLSafeTimedSerializer(secret, salt="newsletter-desk-session")

    def link(self, email: str, nonce: str) -> str:
        return str(self._link.dumps([email, nonce]))

    def read_link(self, token: str, max_age: int) -> tuple[str, str] | str:
        """(address, nonce), or why not: ``"expired"`` or ``"invalid"``."""
        try:
            value = self._link.loads(token, max_age=max_age)
        except SignatureExpired:
            return "expired"
        except BadSignature:
            return "invalid"
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, str) for v in value)
        ):
            return value[0], value[1]
        return "invalid"

    def session(self, email: str) -> str:
        return str(self._session.dumps(email))

    def read_session(self, token: str, max_age: int) -> str | None:
        try:
            value = self._session.loads(token, max_age=max_age)
        except (BadSignature, SignatureExpired):
            return None
        return value if isinstance(value, str) else None
