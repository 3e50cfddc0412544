"""Slack incoming webhook: Block Kit messages.

Rules from Slack's docs (https://api.slack.com/messaging/webhooks,
https://api.slack.com/reference/block-kit/blocks, https://api.slack.com/docs/rate-limits,
https://api.slack.com/reference/surfaces/formatting#escaping): POST JSON
``{"text", "blocks"}``; the answer is the plain text ``ok`` (HTTP 200), or an HTTP error
with a reason such as ``invalid_payload``, ``invalid_blocks``, ``no_text`` (400),
``action_prohibited`` (403), ``channel_not_found`` (404), ``channel_is_archived`` (410).
A message holds at most 50 blocks, a section's text at most 3,000 characters, a header's
150; Slack refuses long block messages well before the 40,000-character text limit
(``msg_blocks_too_long``, seen near 13,000), so a message is kept under 12,000. Posting is
about one message a second; beyond that HTTP 429 with ``Retry-After`` (seconds). In
mrkdwn only ``&``, ``<`` and ``>`` are control characters and become entities; blocks are
``verbatim`` so Slack does not turn bare names or URLs in feed text into links.
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
    json_bytes,
    pack,
    retry_after_header,
    safe_link,
    short,
)

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TEXT = 12000

Block = dict[str, Any]


def text(value: str, limit: int = 2000) -> str:
    return clean(value, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    # A link's label ends at ">"; escaped text has none, and safe_link leaves no "|" or ">".
    # "&" is a control character inside the link too; Slack reads &amp; back as "&".
    return f"<{url.replace('|', '%7C').replace('&', '&amp;')}|{label}>" if url else label


def _section(markdown: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown, "verbatim": True}}


def _story(number: int, story: Story) -> list[Block]:
    lines = [f"*{number}. {_link(safe_link(story.link), text(story.title, 200))}*"]
    digest = text(story.digest)
    source = text(story.source, 60)
    if digest or source:
        lines.append(digest + (f" — _{source}_" if source else ""))
    return [_section("\n".join(lines)[:MAX_SECTION])]


def _size(blocks: list[Block]) -> int:
    total = 0
    for block in blocks:
        if isinstance(block.get("text"), dict):
            total += len(block["text"]["text"])
        for element in block.get("elements", ()):
            total += len(element.get("text", ""))
    return total


class Slack:
    kind = "slack"

    def __init__(self, url: str) -> None:
        self.url = url

    def secrets(self) -> tuple[str, ...]:
        return (self.url,)

    def messages(self, digest: Digest) -> list[dict[str, Any]]:
        # Header text is plain_text: shown as it is, no entities.
        plain = clean(digest.title, MAX_HEADER)
        header: Block = {"type": "header", "text": {"type": "plain_text", "text": plain}}
        head: list[Block] = [header]
        if digest.highlights:
            points = "\n".join(f"• {text(h, 300)}" for h in digest.highlights)
            head.append(_section(f"*本周要点*\n{points}"[:MAX_SECTION]))
        head.append({"type": "divider"})
        web = safe_link(digest.web_url)
        tail: list[Block] = []
        if web:
            more = f"（另有 {digest.more} 篇）" if digest.more else ""
            tail = [
                {"type": "divider"},
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": _link(web, "阅读全文 →") + more,
                            "verbatim": True,
                        }
                    ],
                },
            ]
        more_header = clean(digest.title, MAX_HEADER - 4) + "（续）"
        continued: list[Block] = [
            {"type": "header", "text": {"type": "plain_text", "text": more_header}}
        ]

        def fits(blocks: list[Block]) -> bool:
            return len(blocks) <= MAX_BLOCKS and _size(blocks) <= MAX_TEXT

        fallback = text(digest.title, 300)
        # No previews: two dozen unfurled article cards would bury the issue itself.
        return [
            {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}
            for blocks in pack(head, digest.stories, _story, tail, fits, continued)
        ]

    def request(self, message: dict[str, Any], now: float) -> Request:
        return Request(self.url, json_bytes(message), {})

    def answer(self, status: int, headers: httpx.Headers, body: bytes) -> Answer:
        reason = short(body.decode("utf-8", "replace"), 100)
        if status == 200 and body.strip() == b"ok":
            return Answer(True, detail="ok")
        if status == 429:
            return Answer(False, retry_after_header(headers, "retry-after", 1.0), "HTTP 429")
        if status >= 500:
            return Answer(False, None, f"HTTP {status}: {reason}", transient=True)
        return Answer(False, None, f"HTTP {status}: {reason}")
