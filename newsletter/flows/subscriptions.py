"""Subscriber actions: subscribe (with double opt-in), confirm, unsubscribe."""

from __future__ import annotations

import logging

from .. import deliver
from ..config import Config
from ..errors import DeliveryError
from ..models import Subscriber
from ..store import Store
from ._mail import mail_sender, send_one, signer

log = logging.getLogger(__name__)


def subscribe(config: Config, store: Store, email: str, name: str = "") -> Subscriber:
    """Add a subscriber: active, or pending plus a confirmation mail with double opt-in.

    Behaves the same whether or not the address was already known, so callers (the web
    form) cannot reveal who subscribes. Raises :class:`AddressError` for an invalid address
    and :class:`DeliveryError` when the confirmation mail could not be sent (the subscriber
    stays pending; subscribing again resends it).
    """
    address = deliver.normalize_address(email)
    wanted = "pending" if config.email.double_opt_in else "active"
    subscriber = store.get_subscriber(email=address)
    if subscriber is None:
        subscriber = store.add_subscriber(address, deliver.clean_header_text(name, 100), wanted)
    elif subscriber.status != "active" and subscriber.status != wanted:
        assert subscriber.id is not None
        subscriber = store.update_subscriber(subscriber.id, status=wanted) or subscriber
    if subscriber.status == "pending" and config.email.double_opt_in:
        assert subscriber.id is not None
        token = signer(config).sign("confirm", subscriber.id)
        message = deliver.build_confirmation(
            mail_sender(config),
            to=subscriber.email,
            name=subscriber.name,
            list_title=config.title,
            link=deliver.confirm_url(config.base_url, token),
        )
        result = send_one(config, message, subscriber.email, subscriber.id)
        if result.status != "sent":
            raise DeliveryError(
                f"the confirmation mail to {subscriber.email} was not sent: {result.answer}"
            )
        log.info("subscribe: confirmation mail sent to subscriber %d", subscriber.id)
    return subscriber


def confirm(config: Config, store: Store, token: str) -> Subscriber | None:
    """Activate the pending subscriber a confirmation token names; None for a bad token."""
    subscriber_id = signer(config).verify("confirm", token)
    subscriber = None if subscriber_id is None else store.get_subscriber(id=subscriber_id)
    if subscriber is None or subscriber.id is None:
        return None
    if subscriber.status == "pending":
        subscriber = store.update_subscriber(subscriber.id, status="active")
    return subscriber


def unsubscribe(config: Config, store: Store, token: str) -> Subscriber | None:
    """Unsubscribe whoever an unsubscribe token names (idempotent); None for a bad token."""
    subscriber_id = signer(config).verify("unsubscribe", token)
    subscriber = None if subscriber_id is None else store.get_subscriber(id=subscriber_id)
    if subscriber is None or subscriber.id is None:
        return None
    if subscriber.status in ("active", "pending"):
        subscriber = store.update_subscriber(subscriber.id, status="unsubscribed")
        log.info("unsubscribe: subscriber %d", subscriber_id)
    return subscriber
