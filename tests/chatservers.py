"""Loopback stand-ins for the five chat platforms' webhook APIs, strict where the real
ones are: each checks the credential, the signature and its timestamp window, the JSON
shape, the size limit and the markup rules its platform documents, answers with that
platform's own success and error bodies, and can be told to rate-limit the next requests.

    with WeComServer() as wecom:
        os.environ["WECOM_URL"] = wecom.webhook_url
        ...
        wecom.accepted  # the JSON bodies it accepted, in order

No pytest imports here, so benchmark scripts can use them too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections import deque
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers import _Handler, _LoopbackServer, _read_body, _send

__all__ = ["DingTalkServer", "FeishuServer", "SlackServer", "TelegramServer", "WeComServer"]


class _ChatServer(_LoopbackServer):
    """Records requests; ``rate_limit(n)`` makes the next n requests hit the rate limit,
    ``fail(n)`` answers the next n with HTTP 503."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[dict[str, Any]] = []
        self.refused: list[tuple[dict[str, Any] | None, str]] = []
        self.requests = 0
        self._rate_limited = 0
        self._failing = 0
        self.times: deque[float] = deque()

    def rate_limit(self, count: int = 1) -> None:
        self._rate_limited = count

    def fail(self, count: int = 1) -> None:
        self._failing = count

    def _handle(self, h: _Handler) -> None:
        raw = _read_body(h)
        with self._lock:
            self.requests += 1
            limited = self._rate_limited > 0
            self._rate_limited -= limited
            failing = self._failing > 0
            self._failing -= failing
        if failing:
            _send(h, 503, b"service unavailable", {"Content-Type": "text/plain"})
            return
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        status, headers, answer, problem = self.check(h, raw, body, limited)
        with self._lock:
            if problem:
                self.refused.append((body, problem))
            elif isinstance(body, dict):
                self.accepted.append(body)
        payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        kind = "text/plain" if isinstance(answer, bytes) else "application/json"
        _send(h, status, payload, {"Content-Type": kind, **headers})

    def check(
        self, h: _Handler, raw: bytes, body: Any, limited: bool
    ) -> tuple[int, dict[str, str], Any, str]:  # pragma: no cover - overridden
        raise NotImplementedError


# -- 企业微信 -----------------------------------------------------------------------------


class WeComServer(_ChatServer):
    """``/cgi-bin/webhook/send?key=KEY``: markdown ≤ 4096 bytes, 20 messages a minute."""

    key = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    per_minute = 20

    @property
    def webhook_url(self) -> str:
        return f"{self.origin}/cgi-bin/webhook/send?key={self.key}"

    def check(self, h: _Handler, raw: bytes, body: Any, limited: bool) -> Any:
        def err(code: int, message: str) -> tuple[int, dict[str, str], Any, str]:
            return 200, {}, {"errcode": code, "errmsg": message}, f"{code} {message}"

        url = urlsplit(h.path)
        if url.path != "/cgi-bin/webhook/send" or parse_qs(url.query).get("key") != [self.key]:
            return err(93000, "invalid webhook url")
        now = time.monotonic()
        while self.times and now - self.times[0] > 60:
            self.times.popleft()
        if limited or len(self.times) >= self.per_minute:
            return err(45009, "api freq out of limit")
        self.times.append(now)
        if not isinstance(body, dict):
            return err(40008, "invalid message type")  # not JSON
        if body.get("msgtype") != "markdown":
            return err(40008, "invalid message type")
        content = (body.get("markdown") or {}).get("content")
        if not isinstance(content, str) or not content:
            return err(41009, "missing content")
        if len(content.encode("utf-8")) > 4096:
            return err(40058, "markdown.content exceed max length 4096")
        return 200, {}, {"errcode": 0, "errmsg": "ok"}, ""


# -- 飞书 ---------------------------------------------------------------------------------


def feishu_sign(timestamp: str, secret: str) -> str:
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class FeishuServer(_ChatServer):
    """``/open-apis/bot/v2/hook/TOKEN``: signed posts (an hour's window), ≤ 20 KB bodies."""

    token = "5e3d587e-d78e-4a07-bd07-265f269f86fd"
    secret = "nIMtb7r3N9pkXyXdtAbx6e"
    quota_code = False
    """Rate-limit with code 11232 (HTTP 200) instead of the gateway's HTTP 429."""

    @property
    def webhook_url(self) -> str:
        return f"{self.origin}/open-apis/bot/v2/hook/{self.token}"

    def check(self, h: _Handler, raw: bytes, body: Any, limited: bool) -> Any:
        def err(code: int, message: str, status: int = 200) -> Any:
            return status, {}, {"code": code, "data": {}, "msg": message}, f"{code} {message}"

        if urlsplit(h.path).path != f"/open-apis/bot/v2/hook/{self.token}":
            return err(19001, "param invalid: incoming webhook access token invalid")
        if limited:
            if self.quota_code:
                return err(11232, "frequency limited")
            headers = {"x-ogw-ratelimit-limit": "100", "x-ogw-ratelimit-reset": "1"}
            return 429, headers, {"code": 99991400, "msg": "request trigger frequency limit"}, "429"
        if len(raw) > 20 * 1024:
            return err(9499, "Bad Request: body exceeds 20 KB")
        if not isinstance(body, dict):
            return err(9499, "Bad Request")
        stamp, sign = str(body.get("timestamp", "")), body.get("sign")
        if self.secret:
            fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= 3600
            if not fresh or sign != feishu_sign(stamp, self.secret):
                return err(19021, "sign match fail or timestamp is not within one hour")
        if body.get("msg_type") == "interactive":
            problem = self._card_problem(body.get("card"))
            if problem:
                return err(11246, f"create message content fail: {problem}")
            return 200, {}, self.success, ""
        if body.get("msg_type") != "post":
            return err(9499, "Bad Request: msg_type")
        post = ((body.get("content") or {}).get("post") or {}).get("zh_cn")
        if not isinstance(post, dict) or not isinstance(post.get("title"), str):
            return err(9499, "Bad Request: content.post.zh_cn")
        paragraphs = post.get("content")
        if not isinstance(paragraphs, list) or not paragraphs:
            return err(9499, "Bad Request: empty post")
        for paragraph in paragraphs:
            if not isinstance(paragraph, list):
                return err(9499, "Bad Request: a paragraph is not a list")
            for element in paragraph:
                tag = element.get("tag") if isinstance(element, dict) else None
                if tag not in ("text", "a") or not isinstance(element.get("text"), str):
                    return err(9499, f"Bad Request: element {element!r}")
                if tag == "a" and not str(element.get("href", "")).startswith("http"):
                    return err(9499, "Bad Request: a.href")
        return 200, {}, self.success, ""

    success = {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}

    @staticmethod
    def _card_problem(card: Any) -> str:
        """A message card (JSON 1.0) made of plain_text divs, hr, notes and url buttons."""

        def plain(text: Any) -> bool:
            return (
                isinstance(text, dict)
                and text.get("tag") == "plain_text"
                and bool(str(text.get("content", "")).strip())
            )

        def button(b: Any) -> bool:
            url = str(b.get("url", "")) if isinstance(b, dict) else ""
            return b.get("tag") == "button" and plain(b.get("text")) and url.startswith("http")

        if not isinstance(card, dict) or not plain((card.get("header") or {}).get("title")):
            return "card.header.title"
        elements = card.get("elements")
        if not isinstance(elements, list) or not elements:
            return "card.elements"
        for element in elements:
            tag = element.get("tag") if isinstance(element, dict) else None
            if tag == "div":
                if not plain(element.get("text")):
                    return "div.text"
                if "extra" in element and not button(element["extra"]):
                    return "div.extra"
            elif tag == "action":
                actions = element.get("actions")
                if not isinstance(actions, list) or not all(button(a) for a in actions):
                    return "action.actions"
            elif tag == "note":
                if not all(plain(e) for e in element.get("elements", [None])):
                    return "note.elements"
            elif tag != "hr":
                return f"unknown element {tag!r}"
        return ""


# -- 钉钉 ---------------------------------------------------------------------------------


def dingtalk_sign(timestamp: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class DingTalkServer(_ChatServer):
    """``/robot/send?access_token=T&timestamp=MS&sign=S``: 加签 checked, ≤ 20,000 bytes."""

    access_token = "ff6cd723bdb4455fe18ba30dbeff007f5"
    secret = "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"

    @property
    def webhook_url(self) -> str:
        return f"{self.origin}/robot/send?access_token={self.access_token}"

    def check(self, h: _Handler, raw: bytes, body: Any, limited: bool) -> Any:
        def err(code: int, message: str) -> Any:
            return 200, {}, {"errcode": code, "errmsg": message}, f"{code} {message}"

        url = urlsplit(h.path)
        # parse_qs decodes the query: the sign was URL-encoded, as the guide asks.
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path != "/robot/send" or query.get("access_token") != self.access_token:
            return err(300001, "token is not exist")
        if self.secret:
            stamp = query.get("timestamp", "")
            if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > 3600 * 1000:
                return err(310000, "invalid timestamp")
            if query.get("sign") != dingtalk_sign(stamp, self.secret):
                return err(310000, "sign not match")
        if limited:
            return err(130101, "send too fast, exceed 20 times per minute")
        if len(raw) > 20000:
            return err(460101, "message too long, exceed 20000 bytes")
        if not isinstance(body, dict) or body.get("msgtype") != "markdown":
            return err(40035, "缺少参数 json")
        markdown = body.get("markdown") or {}
        if not markdown.get("title") or not markdown.get("text"):
            return err(40035, "缺少参数 markdown.title / markdown.text")
        return 200, {}, {"errcode": 0, "errmsg": "ok"}, ""


# -- Telegram -----------------------------------------------------------------------------

# https://core.telegram.org/bots/api#html-style
_TELEGRAM_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
}  # fmt: skip
_TELEGRAM_ENTITIES = {"lt", "gt", "amp", "quot"}


class _TelegramHTML(HTMLParser):
    """Telegram's HTML rules: known tags only, closed in order, escaped text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.error = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TELEGRAM_TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
        allowed = {"a": {"href"}, "span": {"class"}, "tg-emoji": {"emoji-id"}, "pre": set()}
        for name, _ in attrs:
            if name not in allowed.get(tag, set()) and not (
                tag == "blockquote" and name == "expandable"
            ):
                self.error = self.error or f'Unsupported attribute "{name}" of tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.error = self.error or f'Unmatched end tag "{tag}"'

    def handle_data(self, data: str) -> None:
        if re.search(r"[<>&]", data):
            self.error = self.error or "unescaped <, > or & in the text"
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _TELEGRAM_ENTITIES:
            self.error = self.error or f'Unsupported entity "&{name};"'
        self.text.append({"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(name, "?"))

    def handle_charref(self, name: str) -> None:
        self.text.append("?")


class TelegramServer(_ChatServer):
    """``/bot<token>/sendMessage``: HTML parse mode, ≤ 4096 characters once parsed."""

    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    chat_id = "-1001234567890"
    topics = (7,)
    retry_after = 1

    @property
    def api_url(self) -> str:
        return self.origin

    def check(self, h: _Handler, raw: bytes, body: Any, limited: bool) -> Any:
        def err(status: int, description: str, **extra: Any) -> Any:
            answer = {"ok": False, "error_code": status, "description": description, **extra}
            return status, {}, answer, description

        if urlsplit(h.path).path != f"/bot{self.token}/sendMessage":
            return err(401, "Unauthorized") if "/bot" in h.path else err(404, "Not Found")
        if limited:
            wait = self.retry_after
            return err(
                429, f"Too Many Requests: retry after {wait}", parameters={"retry_after": wait}
            )
        if not isinstance(body, dict):
            return err(400, "Bad Request: message text is empty")
        if str(body.get("chat_id")) != self.chat_id:
            return err(400, "Bad Request: chat not found")
        thread = body.get("message_thread_id")
        if thread is not None and thread not in self.topics:
            return err(400, "Bad Request: message thread not found")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return err(400, "Bad Request: message text is empty")
        if body.get("parse_mode") != "HTML":
            return err(400, "Bad Request: these tests post HTML only")
        parser = _TelegramHTML()
        parser.feed(text)
        parser.close()
        if parser.stack and not parser.error:
            parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
        if parser.error:
            return err(400, f"Bad Request: can't parse entities: {parser.error}")
        visible = "".join(parser.text)
        if len(visible.encode("utf-16-le")) // 2 > 4096:
            return err(400, "Bad Request: message is too long")
        with self._lock:
            number = len(self.accepted) + 1
        result = {"message_id": number, "chat": {"id": int(self.chat_id)}, "text": visible}
        return 200, {}, {"ok": True, "result": result}, ""


# -- Slack --------------------------------------------------------------------------------

_SLACK_LINK = re.compile(r"<https?://(?:[^|>\s&]|&amp;)+(?:\|[^<>]*)?>")
_SLACK_ENTITY = re.compile(r"&(amp|lt|gt);")


def _mrkdwn_problem(text: str) -> str:
    """What Slack would mangle: a raw <, > or & outside a link or an entity."""
    rest = _SLACK_ENTITY.sub("", _SLACK_LINK.sub("", text))
    return "unescaped <, > or & in mrkdwn" if re.search(r"[<>&]", rest) else ""


class SlackServer(_ChatServer):
    """``/services/T…/B…/X…``: Block Kit, ≤ 50 blocks, section ≤ 3000, header ≤ 150."""

    path = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    retry_after = 1

    @property
    def webhook_url(self) -> str:
        return f"{self.origin}{self.path}"

    def check(self, h: _Handler, raw: bytes, body: Any, limited: bool) -> Any:
        def err(status: int, reason: str) -> Any:
            return status, {}, reason.encode(), reason

        if urlsplit(h.path).path != self.path:
            return err(404, "no_service")
        if limited:
            return 429, {"Retry-After": str(self.retry_after)}, b"rate_limited", "429"
        if not isinstance(body, dict):
            return err(400, "invalid_payload")
        blocks = body.get("blocks")
        if not body.get("text") and not blocks:
            return err(400, "no_text")
        if blocks is not None:
            if not isinstance(blocks, list) or len(blocks) > 50:
                return err(400, "invalid_blocks")
            for block in blocks:
                problem = self._block_problem(block)
                if problem:
                    return err(400, f"invalid_blocks: {problem}")
        return 200, {}, b"ok", ""

    @staticmethod
    def _block_problem(block: Any) -> str:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "divider":
            return "" if set(block) <= {"type", "block_id"} else "divider takes no fields"
        if kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                return "header needs plain_text of 1-150 characters"
            return ""
        if kind == "section":
            text = block.get("text") or {}
            if text.get("type") not in ("mrkdwn", "plain_text"):
                return "section text type"
            if not 0 < len(text.get("text", "")) <= 3000:
                return "section text must be 1-3000 characters"
            return _mrkdwn_problem(text["text"]) if text["type"] == "mrkdwn" else ""
        if kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 10:
                return "context needs 1-10 elements"
            for element in elements:
                if element.get("type") == "mrkdwn":
                    problem = _mrkdwn_problem(element.get("text", ""))
                    if problem:
                        return problem
            return ""
        return f"unknown block type {kind!r}"
