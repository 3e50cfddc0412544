"""钉钉 (DingTalk) custom robot: markdown messages, signed with the robot's secret (加签).

Rules from the custom-robot guide (自定义机器人接入,
https://open.dingtalk.com/document/robots/custom-robot-access and its message types,
https://open.dingtalk.com/document/development/robot-message-type): POST JSON
``{"msgtype": "markdown", "markdown": {"title", "text"}}`` to the webhook URL; with 加签
the URL also carries ``timestamp`` (milliseconds, within an hour of DingTalk's clock) and
``sign`` = urlencode(base64(HmacSHA256(key=secret, msg=f"{timestamp}\\n{secret}"))).
Answers are ``{"errcode", "errmsg"}``: 310000 for a signature, timestamp, keyword or IP
refusal; 130101 (and 410100 on newer gateways) "send too fast, exceed 20 times per
minute", after which the robot is throttled for 10 minutes; 460101 "message too long,
exceed 20000 bytes"; -1 "system busy".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote_plus

import httpx

from ._common import (
    Answer,
    Digest,
    Request,
    Story,
    clean,
    errcode_answer,
    json_bytes,
    markdown_frame,
    pack,
    safe_link,
)

MAX_BYTES = 20000
THROTTLED = 600.0  # "限流10分钟" after the 20-a-minute limit

# DingTalk documents no escape character for its markdown: markup characters in feed text
# become their full-width forms, so a title can open no link, emphasis, code or HTML.
_NEUTRAL = str.maketrans(
    {
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "[": "［",
        "]": "］",
        "<": "＜",
        ">": "＞",
        "\\": "＼",
        "#": "＃",
    }
)


def text(value: str, limit: int = 2000) -> str:
    return clean(value, limit).translate(_NEUTRAL)


def sign(timestamp_ms: int, secret: str) -> str:
    """The ``sign`` query value for 加签 (not yet URL-encoded)."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _story(number: int, story: Story) -> list[str]:
    title = text(story.title, 200)
    link = safe_link(story.link)
    lines = [f"**{number}. [{title}]({link})**" if link else f"**{number}. {title}**"]
    digest = text(story.digest)
    source = text(story.source, 60)
    if digest or source:
        lines.append(f"{digest}" + (f" —— {source}" if source else ""))
    return ["\n\n".join(lines)]


class DingTalk:
    kind = "dingtalk"

    def __init__(self, url: str, secret: str | None) -> None:
        self.url = url
        self.secret = secret

    def secrets(self) -> tuple[str, ...]:
        return (self.url, self.secret or "")

    def messages(self, digest: Digest) -> list[dict[str, Any]]:
        head, tail, continued = markdown_frame(digest, text, "###", "\n\n", 100)
        title = text(digest.title, 100)

        def body(parts: list[str]) -> dict[str, Any]:
            return {"msgtype": "markdown", "markdown": {"title": title, "text": "\n\n".join(parts)}}

        def fits(parts: list[str]) -> bool:
            return len(json_bytes(body(parts))) <= MAX_BYTES

        return [body(p) for p in pack(head, digest.stories, _story, tail, fits, continued)]

    def request(self, message: dict[str, Any], now: float) -> Request:
        url = self.url
        if self.secret:
            stamp = int(now * 1000)
            joiner = "&" if "?" in url else "?"
            url = f"{url}{joiner}timestamp={stamp}&sign={quote_plus(sign(stamp, self.secret))}"
        return Request(url, json_bytes(message), {})

    def answer(self, status: int, headers: httpx.Headers, body: bytes) -> Answer:
        throttled = (THROTTLED, "over 20 a minute")
        hint = " (check secret_env and the robot's 加签 secret)"
        return errcode_answer(
            status, body, "DingTalk", {130101: throttled, 410100: throttled}, {310000: hint}
        )
