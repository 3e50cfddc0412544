"""飞书 (Feishu / Lark) custom bot: rich-text ("post") messages, signed with the bot's secret.

Rules from the custom-bot guide (自定义机器人使用指南,
https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot): POST JSON
``{"msg_type": "post", "content": {"post": {"zh_cn": {"title", "content": [[...]]}}}}``;
with 签名校验 the body also carries ``timestamp`` (seconds, within an hour) and ``sign`` =
base64(HmacSHA256(key=f"{timestamp}\\n{secret}", msg=b"")); the request body must not
exceed 20 KB; a bot may post 100 times a minute and 5 a second, beyond that code 11232.
The gateway's own limit answers HTTP 429 with ``x-ogw-ratelimit-reset`` (seconds to wait;
https://open.feishu.cn/document/server-docs/api-call-guide/frequency-control). Refusals:
19021 bad signature or stale timestamp, 19024 keyword missing, 19022 IP not allowed,
9499 bad request. A "post" is made of ``text`` and ``a`` elements whose text Feishu shows
as it is, so feed text needs no escaping here: it cannot become markup. The interactive
card (``msg_type: interactive``, message card JSON: header, ``div`` with ``plain_text``,
``hr``, ``button`` with a ``url``;
https://open.feishu.cn/document/common-capabilities/message-card/message-cards-content)
keeps to ``plain_text`` for the same reason, with a button per story for its link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx

from ._common import (
    Answer,
    Digest,
    Request,
    Story,
    clean,
    json_answer,
    json_bytes,
    pack,
    retry_after_header,
    safe_link,
    short,
)

MAX_BYTES = 20000  # "请求体的数据大小不能超过 20 KB"; room kept for timestamp and sign
_SIGNATURE_ROOM = 120
MAX_ELEMENTS = 50  # a card's elements; a long issue takes several cards

Element = dict[str, str]
Paragraph = list[Element]


def sign(timestamp: int, secret: str) -> str:
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _text(value: str) -> Element:
    return {"tag": "text", "text": value}


def _story(number: int, story: Story) -> list[Paragraph]:
    title = clean(story.title, 200)
    link = safe_link(story.link)
    first: Paragraph = [_text(f"{number}. ")]
    first.append({"tag": "a", "text": title, "href": link} if link else _text(title))
    paragraphs = [first]
    digest = clean(story.digest)
    source = clean(story.source, 60)
    if digest or source:
        paragraphs.append([_text(digest + (f" —— {source}" if source else ""))])
    return paragraphs


def _plain(value: str) -> dict[str, str]:
    return {"tag": "plain_text", "content": value}


def _button(label: str, url: str, kind: str = "default") -> dict[str, Any]:
    return {"tag": "button", "text": _plain(label), "type": kind, "url": url}


def _card_story(number: int, story: Story) -> list[dict[str, Any]]:
    lines = [f"{number}. {clean(story.title, 200)}"]
    digest = clean(story.digest)
    source = clean(story.source, 60)
    if digest or source:
        lines.append(digest + (f" —— {source}" if source else ""))
    element: dict[str, Any] = {"tag": "div", "text": _plain("\n".join(lines))}
    link = safe_link(story.link)
    if link:
        element["extra"] = _button("阅读原文", link)
    return [element]


class Feishu:
    kind = "feishu"

    def __init__(self, url: str, secret: str | None, *, card: bool = False) -> None:
        self.url = url
        self.secret = secret
        self.card = card

    def secrets(self) -> tuple[str, ...]:
        return (self.url, self.secret or "")

    def messages(self, digest: Digest) -> list[dict[str, Any]]:
        return self._cards(digest) if self.card else self._posts(digest)

    def _cards(self, digest: Digest) -> list[dict[str, Any]]:
        title = clean(digest.title, 150)
        head: list[dict[str, Any]] = []
        if digest.highlights:
            points = "\n".join(f"· {clean(h, 300)}" for h in digest.highlights)
            head += [{"tag": "div", "text": _plain(f"【本周要点】\n{points}")}, {"tag": "hr"}]
        tail: list[dict[str, Any]] = [{"tag": "hr"}]
        web = safe_link(digest.web_url)
        if web:
            tail.append({"tag": "action", "actions": [_button("阅读全文 →", web, "primary")]})
        if digest.more:
            tail.append({"tag": "note", "elements": [_plain(f"另有 {digest.more} 篇见网页版")]})

        def body(elements: list[dict[str, Any]], heading: str) -> dict[str, Any]:
            card = {
                "config": {"wide_screen_mode": True},
                "header": {"title": _plain(heading), "template": "blue"},
                "elements": elements,
            }
            return {"msg_type": "interactive", "card": card}

        def fits(elements: list[dict[str, Any]]) -> bool:
            size = len(json_bytes(body(elements, title))) + _SIGNATURE_ROOM
            return len(elements) <= MAX_ELEMENTS and size <= MAX_BYTES

        packed = pack(head, digest.stories, _card_story, tail, fits)
        return [body(p, title if i == 0 else f"{title}（续）") for i, p in enumerate(packed)]

    def _posts(self, digest: Digest) -> list[dict[str, Any]]:
        title = clean(digest.title, 150)
        head: list[Paragraph] = []
        if digest.highlights:
            head.append([_text("【本周要点】")])
            head += [[_text(f"· {clean(h, 300)}")] for h in digest.highlights]
        web = safe_link(digest.web_url)
        tail: list[Paragraph] = []
        if web:
            more = f"（另有 {digest.more} 篇）" if digest.more else ""
            tail.append([{"tag": "a", "text": "阅读全文 →", "href": web}, _text(more)])

        def body(paragraphs: list[Paragraph], heading: str) -> dict[str, Any]:
            post = {"zh_cn": {"title": heading, "content": paragraphs}}
            return {"msg_type": "post", "content": {"post": post}}

        def fits(paragraphs: list[Paragraph]) -> bool:
            return len(json_bytes(body(paragraphs, title))) + _SIGNATURE_ROOM <= MAX_BYTES

        packed = pack(head, digest.stories, _story, tail, fits)
        return [body(p, title if i == 0 else f"{title}（续）") for i, p in enumerate(packed)]

    def request(self, message: dict[str, Any], now: float) -> Request:
        if self.secret:
            stamp = int(now)
            message = {"timestamp": str(stamp), "sign": sign(stamp, self.secret), **message}
        return Request(self.url, json_bytes(message), {})

    def answer(self, status: int, headers: httpx.Headers, body: bytes) -> Answer:
        if status == 429:
            wait = retry_after_header(headers, "x-ogw-ratelimit-reset", 1.0)
            return Answer(False, wait, "HTTP 429 (rate limit)")
        if status >= 500:
            return Answer(False, None, f"HTTP {status}", transient=True)
        data = json_answer(body)
        code = data.get("code", data.get("StatusCode"))
        message = short(data.get("msg", data.get("StatusMessage", "")))
        if status == 200 and code == 0:
            return Answer(True, detail="code 0")
        if code == 11232:
            return Answer(False, 1.0, f"code 11232 (rate limit, 5 a second): {message}")
        if code is None:
            return Answer(False, None, f"HTTP {status}, not a Feishu answer: {short(body)}")
        hint = " (check secret_env and the bot's signing secret)" if code == 19021 else ""
        return Answer(False, None, f"code {code}: {message}{hint}")
