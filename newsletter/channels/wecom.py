"""企业微信 (WeCom) group robot: markdown messages.

Rules from the group-robot guide (群机器人配置说明,
https://developer.work.weixin.qq.com/document/path/91770): POST JSON
``{"msgtype": "markdown", "markdown": {"content": ...}}`` to the webhook URL (its ``key``
is the only credential); ``content`` is at most 4,096 bytes of UTF-8 (longer is refused
with errcode 40058 "markdown.content exceed max length 4096"); a robot may send 20
messages a minute, beyond that errcode 45009 "api freq out of limit". Every answer is
HTTP 200 with ``{"errcode", "errmsg"}``; errcode -1 is "system busy, retry".
"""

from __future__ import annotations

from typing import Any

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

MAX_BYTES = 4096
RATE_WINDOW = 60.0  # 20 messages per minute: after 45009 the window has to pass

# WeCom's markdown subset has no escape character: markup characters in feed text are
# replaced by their full-width forms, which read the same in Chinese text and can open
# no bold, link, code, quote or <font>/<@mention> tag.
_NEUTRAL = str.maketrans(
    {"*": "＊", "`": "｀", "[": "［", "]": "］", "<": "＜", ">": "＞", "\\": "＼"}
)


def text(value: str, limit: int = 2000) -> str:
    return clean(value, limit).translate(_NEUTRAL)


def _story(number: int, story: Story) -> list[str]:
    title = text(story.title, 200)
    link = safe_link(story.link)
    lines = [f"**{number}. [{title}]({link})**" if link else f"**{number}. {title}**"]
    digest = text(story.digest)
    source = text(story.source, 60)
    if digest or source:
        tail = f' <font color="comment">— {source}</font>' if source else ""
        lines.append(f"{digest}{tail}")
    return ["\n".join(lines)]


class WeCom:
    kind = "wecom"

    def __init__(self, url: str) -> None:
        self.url = url

    def secrets(self) -> tuple[str, ...]:
        return (self.url,)

    def messages(self, digest: Digest) -> list[dict[str, Any]]:
        head, tail, continued = markdown_frame(digest, text, "##", "\n", 200)

        def fits(parts: list[str]) -> bool:
            return len("\n\n".join(parts).encode("utf-8")) <= MAX_BYTES

        packed = pack(head, digest.stories, _story, tail, fits, continued)
        return [
            {"msgtype": "markdown", "markdown": {"content": "\n\n".join(parts)}} for parts in packed
        ]

    def request(self, message: dict[str, Any], now: float) -> Request:
        return Request(self.url, json_bytes(message), {})

    def answer(self, status: int, headers: httpx.Headers, body: bytes) -> Answer:
        return errcode_answer(
            status, body, "WeCom", {45009: (RATE_WINDOW, "rate limit, 20 a minute")}
        )
