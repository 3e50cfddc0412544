"""Subscriber actions: subscribe (with double opt-in), confirm, unsubscribe.

Consent rules: the public form always asks for a confirmed click from the inbox before an
address is mailed (new, or unsubscribed, bounced or complained before); the operator's
``subscribers add/import`` follow ``email.double_opt_in`` and never bring back an address
that left unless told to (``--resubscribe``). Confirmation mails are capped per address and
overall, so the form cannot be used to flood someone's inbox.
"""

from __future__ import annotations

import hashlib
import logging
import time

from .. import deliver
from ..config import Config
from ..errors import DeliveryError, NewsletterError
from ..models import Subscriber
from ..store import Store
from ._mail import mail_sender, send_one, signer
from .archive import renderer

log = logging.getLogger(__name__)

LEFT = frozenset({"unsubscribed", "bounced", "complained"})
"""Statuses of an address that must not be mailed again without a new, confirmed consent."""


class ConsentError(NewsletterError):
    """The operator tried to re-activate an address that left (without ``--resubscribe``)."""


class ConfirmationLimited(NewsletterError):
    """No confirmation mail was sent: the per-address or overall cap was reached."""


def name_problem(name: str) -> str | None:
    """Why a display name may not be stored as typed (it goes into a mail header), or None."""
    return deliver.unsafe_header_text(name)


def displayable_name(name: str) -> str:
    """The name on one line without control or format characters (to show it again)."""
    return deliver.clean_header_text(name, 200)


def subscribe(
    config: Config,
    store: Store,
    email: str,
    name: str = "",
    *,
    public: bool = False,
    resubscribe: bool = False,
) -> Subscriber:
    """Add a subscriber: active, or pending plus a confirmation mail.

    ``public`` (the web form) always means double opt-in, and an address that left stays
    as it is until its owner clicks the confirmation. Otherwise ``email.double_opt_in``
    decides, and an address that left raises :class:`ConsentError` unless ``resubscribe``.
    Behaves the same whether or not the address was already known, so the web form cannot
    reveal who subscribes. Raises :class:`AddressError` for an invalid address,
    :class:`ConfirmationLimited` when a confirmation was due but capped, and
    :class:`DeliveryError` when it could not be sent (subscribing again resends it).
    """
    address = deliver.normalize_address(email)
    double = public or config.email.double_opt_in
    subscriber = store.get_subscriber(email=address)
    if subscriber is None:
        clean = deliver.clean_header_text(name, 100)
        subscriber = store.add_subscriber(address, clean, "pending" if double else "active")
    elif subscriber.status in LEFT and not public:
        if not resubscribe:
            raise ConsentError(
                f"{address} is {subscriber.status}: it is not mailed again unless its owner "
                "asks; if they did, add it again with --resubscribe"
            )
        assert subscriber.id is not None
        wanted = "pending" if double else "active"
        subscriber = store.update_subscriber(subscriber.id, status=wanted) or subscriber
    if double and subscriber.status != "active":
        _send_confirmation(config, store, subscriber)
    return subscriber


def _send_confirmation(config: Config, store: Store, subscriber: Subscriber) -> None:
    assert subscriber.id is not None
    web = config.web
    now = time.time()
    per_address = web.confirm_interval_hours * 3600
    key = "confirm:" + hashlib.sha256(subscriber.email.encode("utf-8")).hexdigest()[:40]
    # Per address first: requests for one address must not use up everyone's budget.
    if not store.take_capped_slot(key, per_address, per_address, now):
        raise ConfirmationLimited(
            "no confirmation mail sent: one went to this address in the last "
            f"{web.confirm_interval_hours:g} h (web.confirm_interval_hours)"
        )
    overall = 3600 / web.confirmations_per_hour
    if not store.take_capped_slot("confirm:all", overall, 3600, now):
        store.give_back_slot(key, per_address)
        raise ConfirmationLimited(
            "no confirmation mail sent: the cap of "
            f"{web.confirmations_per_hour} an hour (web.confirmations_per_hour) is reached"
        )
    # A mail that surely did not go out uses up no slot: its owner may ask again at once.
    # One that may have arrived (no answer after the message left) keeps its slots.
    try:
        result = _mail_confirmation(config, subscriber)
    except Exception:
        store.give_back_slot(key, per_address)
        store.give_back_slot("confirm:all", overall)
        raise
    if result.status not in ("sent", "unknown"):
        store.give_back_slot(key, per_address)
        store.give_back_slot("confirm:all", overall)
    if result.status != "sent":
        raise DeliveryError(
            f"the confirmation mail to {subscriber.email} was not sent: {result.answer}"
        )
    log.info("subscribe: confirmation mail sent to subscriber %d", subscriber.id)


def _mail_confirmation(config: Config, subscriber: Subscriber) -> deliver.SendResult:
    assert subscriber.id is not None
    # Bound to the address and to the status it was asked from: an old link cannot
    # re-activate the address after its owner unsubscribed.
    token = signer(config).sign(
        "confirm", subscriber.id, email=subscriber.email, state=subscriber.status
    )
    link = deliver.confirm_url(config.base_url, token)
    page = renderer(config).confirmation(deliver.clean_header_text(config.title, 120), link)
    message = deliver.build_confirmation(
        mail_sender(config),
        to=subscriber.email,
        name=subscriber.name,
        list_title=config.title,
        html=page.html,
        text=page.text,
    )
    return send_one(config, message, subscriber.email, subscriber.id)


def confirm(config: Config, store: Store, token: str) -> Subscriber | None:
    """Activate the subscriber a confirmation token names; None for a bad or stale token.

    The token must name this address and the status it was sent for (pending, or the
    unsubscribed / bounced / complained status its owner asked to leave).
    """
    claim = signer(config).claim("confirm", token)
    if claim is None or claim.state is None:
        return None  # unbound tokens predate the address binding; they expire in a week
    subscriber = store.get_subscriber(id=claim.subscriber_id)
    if subscriber is None or subscriber.id is None or not claim.names(subscriber.email):
        return None
    if subscriber.status == "active":
        return subscriber
    if subscriber.status != claim.state:
        return None
    return store.update_subscriber(subscriber.id, status="active")


def unsubscribe(config: Config, store: Store, token: str) -> Subscriber | None:
    """Unsubscribe whoever an unsubscribe token names (idempotent); None for a bad token."""
    claim = signer(config).claim("unsubscribe", token)
    subscriber = None if claim is None else store.get_subscriber(id=claim.subscriber_id)
    if claim is None or subscriber is None or subscriber.id is None:
        return None
    if not claim.names(subscriber.email):
        return None  # the id was freed by a purge and now belongs to someone else
    if subscriber.status in ("active", "pending"):
        log.info("unsubscribe: subscriber %d", subscriber.id)
        return store.update_subscriber(subscriber.id, status="unsubscribed")
    return subscriber
