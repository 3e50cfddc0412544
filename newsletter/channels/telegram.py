"""Telegram bot: HTML messages through the Bot API's ``sendMessage``.

Rules from the Bot API (https://core.telegram.org/bots/api#sendmessage and
#formatting-options): POST ``{"chat_id", "text", "parse_mode": "HTML"}`` to
``https://api.telegram.org/bot<token>/sendMessage``; ``text`` is 1–4096 characters after
entities are parsed (counted in UTF-16 code units); HTML mode knows only b/strong, i/em,
u/ins, s/strike/del, span class="tg-spoiler", tg-spoiler, a href, tg-emoji, code, pre and
blockquote, and only the entities &lt; &gt; &amp; &quot; (plus numeric ones): every other
``<`` or ``&`` must be escaped, or the message is refused ("Bad Request: can't parse
entities"). A flood answer is HTTP 429 ``{"ok": false, "parameters": {"retry_after": N}}``.
"""

from __future__ import annotations

import html
import re
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
    safe_link,
    short,
    utf16_len,
)

MAX_CHARS = 4096
_TAG = re.compile(r"<[^>]*>")


def text(value: str, limit: int = 2000) -> str:
    return html.escape(clean(value, limit), quote=False)


def attribute(value: str) -> str:
    return html.escape(value, quote=True)


def visible_length(markup: str) -> int:
    """What Telegram counts against 4096: the text once tags and entities are parsed."""
    return utf16_len(html.unescape(_TAG.sub("", markup)))


def _link(url: str, label: str) -> str:
    return f'<a href="{attribute(url)}">{label}</a>' if url else label


def _story(number: int, story: Story) -> list[str]:
    title = _link(safe_link(story.link), text(story.title, 200))
    lines = [f"<b>{number}. {title}</b>"]
    digest = text(story.digest)
    source = text(story.source, 60)
    if digest or source:
        lines.append(digest + (f" — <i>{source}</i>" if source else ""))
    return ["\n".join(lines)]


class Telegram:
    kind = "telegram"

    def __init__(
        self, api_url: str, token: str, chat_id: str, thread_id: int | None = None
    ) -> None:
        self.url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self.token = token
        self.chat_id = chat_id
        self.thread_id = thread_id

    def secrets(self) -> tuple[str, ...]:
        return (self.url, self.token)

    def messages(self, digest: Digest) -> list[dict[str, Any]]:
        title = text(digest.title, 200)
        head = [f"<b>{title}</b>"]
        if digest.highlights:
            points = "\n".join(f"• {text(h, 300)}" for h in digest.highlights)
            head.append(f"<b>本周要点</b>\n<blockquote>{points}</blockquote>")
        web = safe_link(digest.web_url)
        more = f"（另有 {digest.more} 篇）" if digest.more else ""
        tail = [_link(web, "阅读全文 →") + more] if web else []

        def fits(parts: list[str]) -> bool:
            return visible_length("\n\n".join(parts)) <= MAX_CHARS

        packed = pack(head, digest.stories, _story, tail, fits, [f"<b>{title}（续）</b>"])
        topic = {} if self.thread_id is None else {"message_thread_id": self.thread_id}
        return [
            {
                "chat_id": self.chat_id,
                **topic,
                "text": "\n\n".join(parts),
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": True},
            }
            for parts in packed
        ]

    def request(self, message: dict[str, Any], now: float) -> Request:
        return Request(self.url, json_bytes(message), {})

    def answer(self, status: int, headers: httpx.Headers, body: bytes) -> Answer:
        data = json_answer(body)
        description = short(data.get("description", ""))
        if status == 200 and data.get("ok") is True:
            return Answer(True, detail="ok")
        if status == 429:
            parameters = data.get("parameters")
            wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
            seconds = float(wait) if isinstance(wait, int | float) else 5.0
            return Answer(False, seconds, f"HTTP 429: {description}")
        if status >= 500:
            return Answer(False, None, f"HTTP {status}: {description}", transient=True)
        if not data:
            return Answer(False, None, f"HTTP {status}, not a Bot API answer: {short(body)}")
        return Answer(False, None, f"HTTP {status}: {description}")
