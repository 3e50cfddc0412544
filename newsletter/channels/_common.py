"""What every chat channel shares: the issue as a chat group sees it, packing it into
messages under a platform's size limit without ever cutting a story in two, safe links,
and one HTTP post with the platform's retry rule for 429 / 5xx answers.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import httpx

T = TypeVar("T")

USER_AGENT = "newsletter-channels/0.1"


@dataclass(frozen=True)
class Story:
    title: str
    digest: str
    link: str
    """An http(s) URL, or "" when the entry had none we would dare to post."""
    source: str = ""


@dataclass(frozen=True)
class Digest:
    """The part of an issue a chat message carries (all fields are untrusted plain text)."""

    title: str
    highlights: tuple[str, ...]
    """本周要点."""
    stories: tuple[Story, ...]
    web_url: str
    more: int = 0
    """Stories of the issue not posted (beyond the channel's ``max_items``)."""


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    """How a platform answered one post."""

    ok: bool
    retry_after: float | None = None
    """Set when the platform asked us to come back later (a rate limit); seconds."""
    detail: str = ""
    transient: bool = False
    """A server error or busy signal without a wait of its own: retried after 1, 2, 4 … s."""


class Platform(Protocol):
    """One chat platform: its messages for a digest, its signed request, its answers."""

    kind: str

    def messages(self, digest: Digest) -> list[dict[str, Any]]: ...

    def request(self, message: dict[str, Any], now: float) -> Request: ...

    def answer(self, status: int, headers: httpx.Headers, body: bytes) -> Answer: ...

    def secrets(self) -> tuple[str, ...]: ...


# -- text ------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str, limit: int = 2000) -> str:
    """One line of plain text: control and bidi characters gone, whitespace collapsed."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text or ""))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# Characters never left raw in a URL we put inside markup: they would end a markdown
# link target, a Slack <url|text> link, an HTML attribute, or open one.
_URL_SAFE = "/:?&=#%+,;@!$~*'-._"


def safe_link(url: str) -> str:
    """The URL if it is http(s) with a host, percent-encoded so no markup can end it; else ""."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    if len(url) > 2000:
        return ""
    return quote(url, safe=_URL_SAFE)


def json_bytes(payload: Any) -> bytes:
    """The exact bytes posted: size limits are measured on these."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


# -- packing ---------------------------------------------------------------------------


def shorten(story: Story, keep: int) -> Story:
    """The story with its digest cut to ``keep`` characters (then its title, if need be)."""
    if keep < len(story.digest):
        return replace(story, digest=story.digest[: max(0, keep)].rstrip() + "…" if keep else "")
    return replace(story, title=story.title[: max(8, keep)] + "…")


def pack(
    head: Sequence[T],
    stories: Sequence[Story],
    render: Callable[[int, Story], list[T]],
    tail: Sequence[T],
    fits: Callable[[list[T]], bool],
    continued: Sequence[T] = (),
) -> list[list[T]]:
    """Stories in order (``render`` gets each one's 1-based number), as few messages as
    ``fits`` allows; a story is never split.

    The head opens the first message, ``continued`` the later ones, the tail (the link to
    the web issue) ends the last. A story too big for a message on its own is shortened
    (its digest first), which only an absurd platform limit or feed item would need.
    """
    messages: list[list[T]] = []
    current: list[T] = list(head)
    fresh = True  # nothing but the opening in ``current``
    for number, story in enumerate(stories, 1):
        block = render(number, story)
        if fits(current + block):
            current += block
            fresh = False
            continue
        if not fresh:
            messages.append(current)
            current = list(continued)
        keep = len(story.digest)
        while not fits(current + block):
            keep = keep // 2 if keep > 1 else 0
            if keep == 0 and not story.digest:
                raise ValueError("a story's title and link alone exceed the platform's limit")
            story = shorten(story, keep)
            block = render(number, story)
        current += block
        fresh = False
    if not fits(current + list(tail)):
        messages.append(current)
        current = list(continued)
    messages.append(current + list(tail))
    return messages


def markdown_frame(
    digest: Digest, text: Callable[[str, int], str], heading: str, newline: str, title_cap: int
) -> tuple[list[str], list[str], list[str]]:
    """The opening, the closing and the continued-message opening of a markdown issue
    (WeCom and DingTalk): heading, 本周要点 as quotes, the link to the web issue.

    ``text`` neutralises the platform's markup; ``newline`` is its line break (DingTalk
    joins lines that a single newline separates).
    """
    title = text(digest.title, title_cap)
    head = [f"{heading} {title}"]
    if digest.highlights:
        quotes = newline.join(f"> {text(h, 300)}" for h in digest.highlights)
        head.append(f"**本周要点**{newline}{quotes}")
    more = f"（另有 {digest.more} 篇）" if digest.more else ""
    web = safe_link(digest.web_url)
    tail = [f"[阅读全文 →]({web}){more}"] if web else []
    return head, tail, [f"{heading} {title}（续）"]


# -- posting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """How hard one message is tried (from the channel's config)."""

    max_retries: int = 3
    max_wait: float = 60.0
    timeout: float = 15.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str
    attempts: int


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<secret>")
    return text


def post(
    client: httpx.Client,
    platform: Platform,
    message: dict[str, Any],
    retry: Retry,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Post one message, retrying what the platform says is worth retrying.

    A platform's own wait (Retry-After, retry_after, x-ogw-ratelimit-reset, its documented
    rate-limit window) is honoured when it is within ``retry.max_wait``; a longer one ends
    the attempt (the row stays owed, the next send tries again). A 5xx or a network error
    without a hint waits 1, 2, 4 … seconds, within the same cap.
    """
    attempts = 0
    while True:
        attempts += 1
        # Signed again on every attempt: the signature's timestamp must be fresh.
        request = platform.request(message, time.time())
        try:
            status, headers, body = _exchange(client, request, retry.timeout)
            answer = platform.answer(status, headers, body)
        except httpx.HTTPError as exc:
            # httpx names the URL in its messages, and the URL is the credential.
            reason = redact(f"{type(exc).__name__}: {exc}", (request.url, *platform.secrets()))
            answer = Answer(False, detail=reason, transient=True)
        if answer.ok:
            return Outcome(True, answer.detail or "ok", attempts)
        detail = redact(answer.detail, platform.secrets())
        wait = answer.retry_after
        if wait is None and answer.transient:
            wait = float(2 ** (attempts - 1))
        if wait is None:
            return Outcome(False, detail, attempts)
        if attempts > retry.max_retries:
            return Outcome(False, f"{detail} (gave up after {attempts} attempts)", attempts)
        if wait > retry.max_wait:
            return Outcome(
                False,
                f"{detail} (the platform asks to wait {wait:g} s, more than "
                f"max_wait_seconds {retry.max_wait:g}; the next send tries again)",
                attempts,
            )
        sleep(max(0.0, wait))


ANSWER_CAP = 64 * 1024


class _Slow(httpx.TimeoutException):
    pass


def _exchange(
    client: httpx.Client, request: Request, timeout: float
) -> tuple[int, httpx.Headers, bytes]:
    """One POST within ``timeout`` seconds in all (httpx's own timeouts are per read),
    keeping at most 64 KB of the answer: an answer is untrusted input too."""
    deadline = time.monotonic() + timeout
    headers = {"Content-Type": "application/json; charset=utf-8", **request.headers}
    with client.stream(
        "POST", request.url, content=request.body, headers=headers, timeout=timeout
    ) as response:
        kept = bytearray()
        for chunk in response.iter_bytes():
            kept += chunk[: ANSWER_CAP - len(kept)]
            if len(kept) >= ANSWER_CAP:
                break
            if time.monotonic() > deadline:
                raise _Slow(f"no whole answer within {timeout:g} s")
        return response.status_code, response.headers, bytes(kept)


def retry_after_header(headers: httpx.Headers, name: str, default: float) -> float:
    """A seconds header (Retry-After, x-ogw-ratelimit-reset), else ``default``."""
    value = headers.get(name, "")
    try:
        seconds = float(value)
    except ValueError:
        return default
    return seconds if 0 <= seconds < 86400 else default


def json_answer(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def short(text: Any, limit: int = 200) -> str:
    """A platform's message, for a report line: one line, capped."""
    return clean(str(text), limit)


def errcode_answer(
    status: int,
    body: bytes,
    platform: str,
    waits: dict[int, tuple[float, str]],
    hints: dict[int, str] | None = None,
) -> Answer:
    """WeCom's and DingTalk's answers: HTTP 200 with ``{"errcode", "errmsg"}``.

    ``waits`` maps a rate-limit errcode to the platform's wait and what it means; -1 is
    both platforms' "system busy"; a 5xx is transient.
    """
    if status >= 500:
        return Answer(False, None, f"HTTP {status}", transient=True)
    data = json_answer(body)
    code = data.get("errcode")
    message = short(data.get("errmsg", ""))
    if status == 200 and code == 0:
        return Answer(True, detail="errcode 0")
    if code in waits:
        wait, meaning = waits[code]
        return Answer(False, wait, f"errcode {code} ({meaning}): {message}")
    if code == -1:
        return Answer(False, None, f"errcode -1 (system busy): {message}", transient=True)
    if code is None:
        return Answer(False, None, f"HTTP {status}, not a {platform} answer: {short(body)}")
    return Answer(False, None, f"errcode {code}: {message}{(hints or {}).get(code, '')}")
