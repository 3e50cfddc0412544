"""The store: one mixin per domain of persistent state, on the engine of ``_base``."""

from __future__ import annotations

from ._base import StoreBase
from ._bounces import BouncesMixin
from ._channels import ChannelsMixin
from ._coordination import CoordinationMixin
from ._deliveries import DeliveriesMixin
from ._entries import EntriesMixin
from ._feeds import FeedsMixin
from ._issues import IssuesMixin
from ._reviews import ReviewsMixin
from ._subscribers import SubscribersMixin
from ._summaries import SummariesMixin


class Store(
    FeedsMixin,
    EntriesMixin,
    SummariesMixin,
    SubscribersMixin,
    DeliveriesMixin,
    ReviewsMixin,
    IssuesMixin,
    CoordinationMixin,
    BouncesMixin,
    ChannelsMixin,
    StoreBase,
):
    """Every read and write of persistent state goes through here."""
