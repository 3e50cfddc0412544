"""DKIM signing of outgoing mail (dkimpy), so Gmail and Yahoo accept it as bulk mail.

RFC 8058 wants the signature to cover List-Unsubscribe and List-Unsubscribe-Post, or a
receiver may not offer one-click unsubscribe; the header list below always includes them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dkim

from .errors import ConfigError

SIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
)
"""Headers the signature covers; one absent from a message is signed as absent (RFC 6376
5.4), so nobody can add it on the way."""


@dataclass(frozen=True)
class DKIMKey:
    domain: str
    selector: str
    private_key: bytes

    def sign(self, payload: bytes) -> bytes:
        """``payload`` (a whole message, CRLF line ends) with a DKIM-Signature header first."""
        signature = dkim.sign(
            payload,
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[h.lower().encode("ascii") for h in SIGNED_HEADERS],
        )
        return bytes(signature) + payload


def load_key(
    domain: str, selector: str, *, key_file: str | None = None, key_env: str | None = None
) -> DKIMKey:
    """The signing key from a PEM file or an environment variable; :class:`ConfigError` if
    neither yields a key that can sign."""
    if key_env:
        text = os.environ.get(key_env, "")
        if not text.strip():
            raise ConfigError(
                f"email.dkim.private_key_env: environment variable {key_env} is empty"
            )
        pem = text.encode("ascii", "replace")
        where = f"environment variable {key_env}"
    elif key_file:
        try:
            pem = Path(key_file).read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"email.dkim.private_key_file: cannot read {key_file} ({exc})"
            ) from None
        where = key_file
    else:
        raise ConfigError("email.dkim: set private_key_file or private_key_env")
    key = DKIMKey(domain, selector, pem)
    probe = b"From: a@example.org\r\nSubject: probe\r\n\r\nprobe\r\n"
    try:
        key.sign(probe)
    except (dkim.DKIMException, ValueError, IndexError) as exc:
        raise ConfigError(f"email.dkim: the private key in {where} cannot sign ({exc})") from None
    return key


Signer = Callable[[bytes], bytes]
