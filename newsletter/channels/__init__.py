"""Chat channels: the weekly issue posted to WeCom, Feishu, DingTalk, Telegram and Slack
groups. One module per platform (its messages, its signature, its answers) and the parts
they share in ``_common``; the flow that decides what is owed lives in ``flows.channels``.
"""

from __future__ import annotations

from ._common import USER_AGENT, Answer, Digest, Outcome, Platform, Request, Retry, Story, post
from .dingtalk import DingTalk
from .feishu import Feishu
from .slack import Slack
from .telegram import Telegram
from .wecom import WeCom

__all__ = [
    "USER_AGENT",
    "Answer",
    "DingTalk",
    "Digest",
    "Feishu",
    "Outcome",
    "Platform",
    "Request",
    "Retry",
    "Slack",
    "Story",
    "Telegram",
    "WeCom",
    "post",
]
