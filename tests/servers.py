"""Real loopback servers for tests and benchmarks: feeds over HTTP and an OpenAI-protocol endpoint.

Both bind 127.0.0.1 on an ephemeral port and are context managers::

    with FeedServer(root) as feeds, OpenAIServer() as llm:
        feeds.add("/a.xml", rss_bytes)
        httpx.get(feeds.url("/a.xml"))
        openai.OpenAI(base_url=llm.base_url, api_key="test").chat.completions.create(...)

No pytest imports here, so benchmark scripts can use them too.  Handlers run in daemon threads
and every wait is on the server's stop event, so ``stop()`` returns promptly even while a
``hang`` or ``slow`` handler is in the middle of a response.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import hashlib
import json
import mimetypes
import os
import re
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

__all__ = [
    "Behaviour",
    "Echo",
    "FaultKind",
    "FeedServer",
    "Func",
    "Garbage",
    "Hang",
    "OpenAIServer",
    "RecordedRequest",
    "Reply",
    "Status",
    "Trickle",
    "HTML_PAGE",
    "billion_laughs",
    "echo_digest",
    "free_port",
    "gzip_bomb",
    "newsletter_serve",
    "serving",
]

FaultKind = Literal[
    "hang",
    "slow",
    "huge",
    "redirect_loop",
    "redirect",
    "status",
    "gzip_bomb",
    "billion_laughs",
    "wrong_charset",
    "html",
    "reset",
]
_FAULT_KINDS: frozenset[str] = frozenset(FaultKind.__args__)  # type: ignore[attr-defined]

_QUIET_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout)


# --------------------------------------------------------------------------------------------
# shared plumbing


# Every server here listens on 127.0.0.1, which a poll refuses unless the config allows
# private addresses: configs whose feeds are served here say so (tests/test_netguard.py is
# where polls run without it).
LOOPBACK_FETCH_YAML = "fetch: {allow_private_addresses: true}\n"


def loopback_fetch(**settings: Any) -> dict[str, Any]:
    """The ``fetch`` section of a config polling these servers, with ``settings``."""
    return {"allow_private_addresses": True, **settings}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Never join handler threads on close: a ``hang`` handler must not block shutdown.
    block_on_close = False
    allow_reuse_address = True
    owner: _LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up (timeouts, size caps) are the point of these servers; a
        # traceback on stderr for each would only bury real failures.
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, _QUIET_ERRORS):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        try:
            self.server.owner._handle(self)
        except _QUIET_ERRORS:
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch


class _LoopbackServer:
    """Start/stop plumbing shared by both servers."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        """Bind an ephemeral port and serve in a background thread."""
        if self._httpd is not None:
            return
        self._stop.clear()
        httpd = _HTTPServer((self.host, 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"{type(self).__name__}:{self.port}",
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; wakes any waiting handlers so nothing hangs."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> _LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when the sleep ran to the end."""
        return not self._stop.wait(seconds) if seconds > 0 else not self._stop.is_set()

    def _handle(self, h: _Handler) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def _send(
    h: _Handler,
    status: int,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    with_body: bool = True,
) -> None:
    h.send_response(status)
    hdrs = dict(headers or {})
    if status != 304 and status >= 200 and not any(k.lower() == "content-length" for k in hdrs):
        hdrs["Content-Length"] = str(len(body))
    for k, v in hdrs.items():
        h.send_header(k, v)
    h.end_headers()
    if with_body and body and h.command != "HEAD" and status not in (204, 304):
        h.wfile.write(body)


def _headers(h: _Handler) -> dict[str, str]:
    """Request headers with lower-cased names, so lookups do not depend on the client."""
    return {k.lower(): v for k, v in h.headers.items()}


def _read_body(h: _Handler) -> bytes:
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length > 0 else b""


# --------------------------------------------------------------------------------------------
# hostile payloads


@functools.lru_cache(maxsize=4)
def gzip_bomb(inflated_size: int = 1 << 30) -> bytes:
    """A gzip member of ``inflated_size`` zero bytes (1 GiB → ~1 MB), built without the 1 GiB.

    After a full flush the deflate state is reset, so every 1 MiB block of zeros compresses to
    the same bytes: compress one block, repeat it, and only the CRC needs the whole length.
    """
    block = 1 << 20
    zeros = bytes(block)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    unit = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(inflated_size, block)
    parts = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff", unit * full]
    crc = 0
    for _ in range(full):
        crc = zlib.crc32(zeros, crc)
    if rest:
        parts.append(comp.compress(bytes(rest)))
        crc = zlib.crc32(bytes(rest), crc)
    parts.append(comp.flush(zlib.Z_FINISH))
    parts.append(struct.pack("<II", crc & 0xFFFFFFFF, inflated_size & 0xFFFFFFFF))
    return b"".join(parts)


def billion_laughs(levels: int = 9) -> bytes:
    """An RSS 2.0 document whose title expands to 10**levels "lol"s if entities are expanded."""
    ents = ['  <!ENTITY lol0 "lol">']
    for i in range(1, levels + 1):
        ents.append(f'  <!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">')
    doctype = "<!DOCTYPE rss [\n" + "\n".join(ents) + "\n]>\n"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + doctype
        + '<rss version="2.0"><channel><title>laughs</title><link>http://example.com/</link>'
        "<description>billion laughs</description>"
        f"<item><title>&lol{levels};</title><link>http://example.com/1</link>"
        f"<description>&lol{levels};</description></item></channel></rss>\n"
    ).encode()


def _rss(title: str, items: list[tuple[str, str]], *, encoding: str | None = "utf-8") -> str:
    prolog = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else '<?xml version="1.0"?>'
    body = "".join(
        f"<item><title>{t}</title><link>http://example.com/{i}</link>"
        f"<guid>http://example.com/{i}</guid><description>{d}</description>"
        "<pubDate>Mon, 23 Nov 2026 10:00:00 +0800</pubDate></item>"
        for i, (t, d) in enumerate(items)
    )
    return (
        f'{prolog}\n<rss version="2.0"><channel><title>{title}</title>'
        f"<link>http://example.com/</link><description>{title}</description>{body}"
        "</channel></rss>\n"
    )


_CHARSET_TEXT = _rss(
    "编码测试",
    [("视频号直播带货GMV同比增长65%", "微信小店与优选联盟联合发布数据，视频号直播间成交额增长。"),
     ("淘宝直播推出新主播扶持计划", "平台将向中小主播倾斜流量，覆盖服饰与美妆类目。")],
    encoding=None,
)

_HTML_PAGE = (
    "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>页面不是订阅源</title>"
    "<link rel=\"alternate\" type=\"application/rss+xml\" href=\"/feed.xml\"></head>"
    "<body><h1>欢迎访问</h1><p>This is a web page, not a feed.</p></body></html>\n"
).encode()


# --------------------------------------------------------------------------------------------
# feed server


@dataclass
class _Route:
    body: bytes
    content_type: str
    headers: dict[str, str]
    status: int
    etag: str
    last_modified: str
    mtime: float


@dataclass
class _Fault:
    kind: str
    opts: dict[str, Any]


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _strip_weak(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


_FILE_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/json",
    ".html": "text/html",
    ".htm": "text/html",
}


class FeedServer(_LoopbackServer):
    """HTTP/1.1 feed server: files under ``root`` plus in-memory routes and fault routes.

    Every resource gets a strong ETag (hash of the body) and a Last-Modified date;
    ``If-None-Match`` / ``If-Modified-Since`` answer ``304 Not Modified``.  Requests are
    recorded in ``requests`` as ``(method, path, headers)`` (header names lower-cased; path
    with its query string) and counted per path (query string excluded) in ``counts``.
    ``latency`` (seconds) delays every response.
    """

    def __init__(self, root: Path | str | None = None, *, latency: float = 0.0) -> None:
        super().__init__()
        self.root = Path(root).resolve() if root is not None else None
        self.latency = latency
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.counts: Counter[str] = Counter()
        self._routes: dict[str, _Route] = {}
        self._faults: dict[str, _Fault] = {}

    def __enter__(self) -> FeedServer:
        self.start()
        return self

    # -- configuration -------------------------------------------------------------------

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this server."""
        return self.origin + ("" if path.startswith("/") else "/") + path

    def add(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "application/rss+xml; charset=utf-8",
        headers: Mapping[str, str] | None = None,
        status: int = 200,
        last_modified: float | None = None,
    ) -> str:
        """Serve ``body`` at ``path`` (replacing any previous route); returns its URL.

        Re-adding a path with a changed body changes its ETag and, unless ``last_modified``
        (a Unix time) is given, moves Last-Modified forward by at least one second so a
        ``If-Modified-Since`` poll sees the change.
        """
        path = self._norm(path)
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            prev = self._routes.get(path)
            if last_modified is None:
                last_modified = float(int(time.time()))
                if prev is not None and prev.body != data and last_modified <= prev.mtime:
                    last_modified = prev.mtime + 1
                elif prev is not None and prev.body == data:
                    last_modified = prev.mtime
            self._routes[path] = _Route(
                body=data, content_type=content_type, headers=dict(headers or {}),
                status=status, etag=_etag(data), last_modified=_http_date(last_modified),
                mtime=last_modified,
            )
            self._faults.pop(path, None)
        return self.url(path)

    def add_fault(self, path: str, kind: FaultKind, **opts: Any) -> str:
        """Make ``path`` misbehave; returns its URL.

        Kinds and options:
          * ``hang`` — accept, never answer until the server stops.
          * ``slow`` — ``body`` (default a small RSS), one byte every ``interval`` seconds
            (default 0.2); Content-Length is declared up front.
          * ``huge`` — ``size`` bytes (default 50 MB) of a never-ending RSS document, streamed
            in 64 KiB chunks; ``content_length`` (default True) declares the size, otherwise
            the body is delimited by closing the connection.
          * ``redirect_loop`` — 302 to itself forever (``?hop=N`` so URLs differ).
          * ``redirect`` — ``to`` (path or URL), ``status`` 301/302/307/308 (default 301).
          * ``status`` — ``code`` (e.g. 410, 500, 429), ``headers`` (e.g. Retry-After), ``body``.
          * ``gzip_bomb`` — ``size`` inflated bytes (default 1 GiB of zeros, ~1 MB sent) with
            ``Content-Encoding: gzip`` and an RSS content type.
          * ``billion_laughs`` — entity-expansion RSS (``levels``, default 9).
          * ``wrong_charset`` — ``text`` encoded as ``encoding`` (default GB18030) but sent with
            ``charset=declared`` (default utf-8); the XML prolog carries no encoding.
          * ``html`` — a ``text/html`` page (``body`` to override) instead of a feed.
          * ``reset`` — headers declaring ``size`` bytes (default 100,000), the first ``after``
            bytes (default 6,500) of an RSS body, then a TCP reset (``close=True``: a clean
            close instead).
        """
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(_FAULT_KINDS)}")
        path = self._norm(path)
        if kind == "gzip_bomb":
            gzip_bomb(int(opts.get("size", 1 << 30)))  # build once now, not inside a request
        with self._lock:
            self._faults[path] = _Fault(kind, dict(opts))
            self._routes.pop(path, None)
        return self.url(path)

    def remove(self, path: str) -> None:
        """Forget a route or fault (the path then falls back to ``root`` or 404)."""
        path = self._norm(path)
        with self._lock:
            self._routes.pop(path, None)
            self._faults.pop(path, None)

    def count(self, path: str) -> int:
        """How many requests reached ``path`` (any query string)."""
        with self._lock:
            return self.counts[self._norm(path)]

    def reset(self) -> None:
        """Clear recorded requests and counts."""
        with self._lock:
            self.requests.clear()
            self.counts.clear()

    @staticmethod
    def _norm(path: str) -> str:
        path = urlsplit(path).path or "/"
        return path if path.startswith("/") else "/" + path

    # -- serving -------------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        _read_body(h)
        path = self._norm(h.path)
        with self._lock:
            self.requests.append((h.command, h.path, _headers(h)))
            self.counts[path] += 1
            fault = self._faults.get(path)
            route = self._routes.get(path)
        if self.latency and not self._sleep(self.latency):
            h.close_connection = True
            return
        if fault is not None:
            self._fault(h, path, fault)
            return
        if route is None:
            route = self._file_route(path)
        if route is None:
            _send(h, 404, b"not found\n", {"Content-Type": "text/plain; charset=utf-8"})
            return
        validators = {"ETag": route.etag, "Last-Modified": route.last_modified}
        if route.status == 200 and self._not_modified(h, route):
            _send(h, 304, b"", validators)
            return
        headers = {"Content-Type": route.content_type, **validators, **route.headers}
        _send(h, route.status, route.body, headers)

    @staticmethod
    def _not_modified(h: _Handler, route: _Route) -> bool:
        inm = h.headers.get("If-None-Match")
        if inm is not None:
            # RFC 9110 §13.1.2: weak comparison, and If-Modified-Since is then ignored.
            tags = {_strip_weak(t) for t in inm.split(",")}
            return "*" in tags or _strip_weak(route.etag) in tags
        ims = h.headers.get("If-Modified-Since")
        if ims:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                return False
            return route.mtime <= since
        return False

    def _file_route(self, path: str) -> _Route | None:
        if self.root is None:
            return None
        target = (self.root / unquote(path).lstrip("/")).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            return None
        data = target.read_bytes()
        mtime = float(int(target.stat().st_mtime))
        ctype = _FILE_TYPES.get(target.suffix.lower()) or (
            mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        )
        # No charset parameter: the file's own XML prolog must decide, as on most real hosts.
        return _Route(data, ctype, {}, 200, _etag(data), _http_date(mtime), mtime)

    def _fault(self, h: _Handler, path: str, fault: _Fault) -> None:
        o = fault.opts
        kind = fault.kind
        if kind == "hang":
            self._stop.wait()
            h.close_connection = True
        elif kind == "slow":
            body = o.get("body", _rss("slow", [("slow", "one byte at a time")]).encode())
            body = body.encode() if isinstance(body, str) else body
            interval = float(o.get("interval", 0.2))
            h.send_response(200)
            h.send_header("Content-Type", o.get("content_type", "application/rss+xml"))
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.flush()
            for i in range(len(body)):
                h.wfile.write(body[i : i + 1])
                h.wfile.flush()
                if not self._sleep(interval):
                    break
            h.close_connection = True
        elif kind == "huge":
            self._huge(h, int(o.get("size", 50_000_000)), bool(o.get("content_length", True)))
        elif kind == "redirect_loop":
            hop = 0
            m = re.search(r"[?&]hop=(\d+)", h.path)
            if m:
                hop = int(m.group(1))
            _send(h, 302, b"", {"Location": f"{path}?hop={hop + 1}"})
        elif kind == "redirect":
            to = str(o.get("to", "/"))
            _send(h, int(o.get("status", 301)), b"", {"Location": to})
        elif kind == "status":
            body = o.get("body", b"")
            body = body.encode() if isinstance(body, str) else body
            headers = {"Content-Type": "text/plain; charset=utf-8", **o.get("headers", {})}
            _send(h, int(o.get("code", 500)), body, headers)
        elif kind == "gzip_bomb":
            bomb = gzip_bomb(int(o.get("size", 1 << 30)))
            _send(h, 200, bomb, {
                "Content-Type": "application/rss+xml; charset=utf-8",
                "Content-Encoding": "gzip",
            })
        elif kind == "billion_laughs":
            _send(h, 200, billion_laughs(int(o.get("levels", 9))),
                  {"Content-Type": "application/rss+xml; charset=utf-8"})
        elif kind == "wrong_charset":
            text = o.get("text", _CHARSET_TEXT)
            body = text.encode(o.get("encoding", "gb18030"))
            declared = o.get("declared", "utf-8")
            _send(h, 200, body, {"Content-Type": f"application/rss+xml; charset={declared}"})
        elif kind == "reset":
            self._reset(h, int(o.get("size", 100_000)), int(o.get("after", 6_500)),
                        bool(o.get("close", False)))
        elif kind == "html":
            body = o.get("body", _HTML_PAGE)
            body = body.encode() if isinstance(body, str) else body
            _send(h, 200, body, {"Content-Type": "text/html; charset=utf-8"})

    @staticmethod
    def _reset(h: _Handler, size: int, after: int, close: bool) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        h.send_header("Content-Length", str(size))
        h.end_headers()
        head = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>cut'
        h.wfile.write((head + b"x" * after)[:after])
        h.wfile.flush()
        h.close_connection = True
        if not close:
            # Linger 0 and a close right here (not the server's shutdown, which sends FIN
            # first): the peer gets a RST, as from a crashed proxy.
            h.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            h.rfile.close()
            h.connection.close()

    def _huge(self, h: _Handler, size: int, content_length: bool) -> None:
        head = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>huge'
        filler = (
            b"</title><item><title>padding</title><description>" + b"x" * 200 + b"</description>"
        )
        chunk = (filler * (65536 // len(filler) + 1))[:65536]
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        if content_length:
            h.send_header("Content-Length", str(size))
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        sent = 0
        first = head
        while sent < size and not self._stop.is_set():
            piece = (first + chunk)[: min(65536, size - sent)]
            first = b""
            h.wfile.write(piece)
            sent += len(piece)
        h.close_connection = True


# --------------------------------------------------------------------------------------------
# OpenAI-protocol server


@dataclass(frozen=True)
class Reply:
    """Answer 200 with this assistant message (``reasoning_content`` as DeepSeek-style APIs)."""

    content: str
    reasoning_content: str | None = None
    usage: Mapping[str, int] | None = None
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Status:
    """Answer with an HTTP error status; ``body`` defaults to an OpenAI-style error object."""

    code: int
    body: bytes | str | Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Hang:
    """Wait ``seconds`` (or until the server stops), then answer with ``then`` (default echo)."""

    seconds: float
    then: Behaviour | None = None


@dataclass(frozen=True)
class Garbage:
    """Answer 200 with a body that is not JSON."""

    body: bytes = b"<html><body>502 upstream sent garbage {not json"
    content_type: str = "application/json"


@dataclass(frozen=True)
class Func:
    """Compute the behaviour from the parsed request JSON."""

    fn: Callable[[dict[str, Any]], Behaviour]


EchoStyle = Literal["faithful", "punctuation", "english", "meta", "traditional", "runaway"]


@dataclass(frozen=True)
class Echo:
    """The default: a deterministic, faithful digest built only from the article's message.

    Other ``style`` values imitate how small real models fail, still per request:
    ``punctuation`` answers ``……``; ``english`` a faithful digest in English words;
    ``meta`` the faithful digest behind "以下是摘要："; ``traditional`` it in Traditional
    characters; ``runaway`` repeats the digest until the request's ``max_tokens`` (or
    ``max_completion_tokens``) is reached, like a looping model, finishing with
    ``length`` (without a cap it stops at 200,000 characters, "the context is full").
    """

    category: str = "行业观察"
    style: EchoStyle = "faithful"


@dataclass(frozen=True)
class Trickle:
    """Send the whole response (status line included) one byte every ``interval`` seconds."""

    interval: float
    then: Behaviour | None = None


Behaviour = Reply | Status | Hang | Garbage | Func | Echo | Trickle

HTML_PAGE = Garbage(
    b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head>"
    b"<body><h1>Welcome to nginx!</h1></body></html>",
    "text/html",
)
"""What a proxy or a web server answers when ``base_url`` misses the API path."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    json: Any
    """Parsed body, or None when the body was not JSON."""


_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|\n+|(?<=\.)\s+")
_TAG = re.compile(r"<[^>]{0,200}>")
_LABEL = re.compile(r"^\s*[\w\u4e00-\u9fff ]{1,10}[:：]\s*")
_INSTRUCTION = re.compile(r"请|摘要|总结|输出|JSON|json|summar|Summar|字以内|格式|respond", re.I)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_FACT = re.compile(r"\d+(?:\.\d+)?\s*(?:%|亿元|亿|万元|万|元|倍|个|家|场|人|月|日|年)?")


def _message_text(msg: Mapping[str, Any]) -> str:
    content = msg.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def echo_digest(request: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Summary and key facts taken verbatim from the last user message.

    The message is the last user message holding an ``<article>`` (else the last one).
    The summary is the first sentence with at least 10 CJK characters that does not read like
    an instruction (请/摘要/JSON/...), tags and a leading "标签：" removed, joined with the
    next such sentences until it has 20 CJK characters, cut to 60 characters
    (without CJK: the first such sentence of at least 20 characters);
    key facts are up to three distinct numbers (with unit) that appear in that message.
    """
    messages = request.get("messages") or []
    users = [
        _message_text(m) for m in messages if isinstance(m, Mapping) and m.get("role") == "user"
    ]
    # The article, not a follow-up correction, is what a digest is made of.
    last = next((u for u in reversed(users) if "<article>" in u), users[-1] if users else "")
    sentences = [s.strip() for s in _SENTENCE_END.split(_TAG.sub("", last)) if s and s.strip()]
    chosen = ""
    for s in sentences:
        s = _LABEL.sub("", s).strip()
        if len(_CJK.findall(s)) >= 10 and not _INSTRUCTION.search(s):
            chosen += s
            if len(_CJK.findall(chosen)) >= 20:
                break
    if not chosen:  # e.g. an English article: first long non-instruction sentence
        plain = [_LABEL.sub("", s).strip() for s in sentences]
        chosen = next((s for s in plain if len(s) >= 20 and not _INSTRUCTION.search(s)),
                      plain[0] if plain else last.strip())
    summary = chosen[:60]
    facts: list[str] = []
    for m in _FACT.finditer(last):
        f = m.group(0).strip()
        if len(f) > 1 and f not in facts and not f.isdigit():
            facts.append(f)
        if len(facts) == 3:
            break
    return summary, facts


def _client_gone(h: _Handler) -> bool:
    """True when the client closed its side (readable with nothing to read)."""
    try:
        ready, _, _ = select.select([h.connection], [], [], 0)
        return bool(ready) and h.connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _usage(request: Mapping[str, Any], content: str, reasoning: str | None) -> dict[str, Any]:
    prompt_chars = sum(len(_message_text(m)) for m in request.get("messages") or []
                       if isinstance(m, Mapping))
    prompt = max(1, prompt_chars // 2)
    reasoning_tokens = len(reasoning) // 2 if reasoning else 0
    completion = max(1, len(content) // 2) + reasoning_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
    }


_ENGLISH = (
    "The platform reported that live commerce sales on its channels kept growing during "
    "the shopping festival, with more merchants and creators joining"
)


def _echo_reply(req: Mapping[str, Any], echo: Echo) -> Reply:
    summary, facts = echo_digest(req)
    finish = "stop"
    if echo.style == "punctuation":
        summary = "……"
    elif echo.style == "english":
        summary = _ENGLISH + (" (" + ", ".join(facts) + ")." if facts else ".")
    elif echo.style == "meta":
        summary = "以下是摘要：" + summary
    elif echo.style == "traditional":
        import opencc

        summary = opencc.OpenCC("s2t").convert(summary)
    limit = 0
    if echo.style == "runaway":
        cap = req.get("max_tokens") or req.get("max_completion_tokens")
        # _usage counts two characters a token: stop where the cap says.
        limit = int(cap) * 2 if isinstance(cap, int) and cap > 0 else 200_000
        summary = summary * (limit // max(1, len(summary)) + 1)
        finish = "length"
    rf = req.get("response_format") or {}
    if isinstance(rf, Mapping) and rf.get("type") in ("json_object", "json_schema"):
        content = json.dumps(
            {"summary": summary, "category": echo.category, "key_facts": facts},
            ensure_ascii=False,
        )
    else:
        content = summary
    return Reply(content[:limit] if limit else content, finish_reason=finish)


class OpenAIServer(_LoopbackServer):
    """Chat-completions endpoint at ``base_url`` (``http://127.0.0.1:PORT/v1``).

    Each ``POST /v1/chat/completions`` consumes the next queued behaviour (``queue``) or
    else uses ``default`` (initially :class:`Echo`).  ``GET /v1/models`` lists ``model``.
    With ``api_key`` set, other bearer tokens get 401.  ``latency`` delays every chat
    answer; ``slots`` serves that many at a time and queues the rest (a llama.cpp server
    started with ``--parallel 1`` is ``slots=1``); ``peak`` is the most seen at once.
    """

    def __init__(
        self,
        *,
        model: str = "loopback-model",
        api_key: str | None = None,
        latency: float = 0.0,
        slots: int | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.api_key = api_key
        self.default: Behaviour = Echo()
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Behaviour] = deque()
        self.latency = latency
        """Seconds each chat request takes before its behaviour runs (model time)."""
        # Like llama.cpp's server with ``--parallel N``: requests beyond N wait their turn.
        self._slots = threading.Semaphore(slots) if slots else None
        self._active = 0
        self.peak = 0
        """Most chat requests seen in progress at once."""

    def __enter__(self) -> OpenAIServer:
        self.start()
        return self

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    @property
    def request_count(self) -> int:
        """Chat-completion requests received so far."""
        with self._lock:
            return len(self.requests)

    def queue(self, *behaviours: Behaviour) -> None:
        """Append one-shot behaviours, consumed in order by the next requests."""
        with self._lock:
            self._queue.extend(behaviours)

    @property
    def pending(self) -> int:
        """Queued behaviours not yet consumed."""
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget recorded requests and queued behaviours; default back to Echo."""
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self.default = Echo()
            self.peak = 0

    def _handle(self, h: _Handler) -> None:
        raw = _read_body(h)
        path = urlsplit(h.path).path.rstrip("/")
        if self.api_key is not None:
            auth = h.headers.get("Authorization", "")
            if auth != f"Bearer {self.api_key}":
                self._error(h, 401, "Incorrect API key provided", "invalid_api_key")
                return
        if h.command == "GET" and path == "/v1/models":
            data = {"object": "list", "data": [
                {"id": self.model, "object": "model", "created": 0, "owned_by": "loopback"}]}
            self._json(h, 200, data)
            return
        if h.command != "POST" or path != "/v1/chat/completions":
            self._error(h, 404, f"no route {h.command} {path}", "not_found")
            return
        try:
            req = json.loads(raw or b"null")
        except ValueError:
            req = None
        with self._lock:
            self.requests.append(RecordedRequest(h.command, h.path, _headers(h), req))
            behaviour = self._queue.popleft() if self._queue else self.default
        if not isinstance(req, dict):
            self._error(h, 400, "request body is not a JSON object", "invalid_request_error")
            return
        if not self._wait_slot(h):
            h.close_connection = True
            return
        with self._lock:
            self._active += 1
            self.peak = max(self.peak, self._active)
        try:
            if self._model_time(h):
                self._behave(h, req, behaviour)
            else:
                h.close_connection = True
        finally:
            with self._lock:
                self._active -= 1
            if self._slots is not None:
                self._slots.release()

    def _wait_slot(self, h: _Handler) -> bool:
        """Queue for a slot; give up when the client has gone, as llama.cpp and Ollama do."""
        if self._slots is None:
            return True
        while not self._slots.acquire(timeout=0.02):
            if self.stopping or _client_gone(h):
                return False
        return True

    def _model_time(self, h: _Handler) -> bool:
        end = time.monotonic() + self.latency
        while (left := end - time.monotonic()) > 0:
            if not self._sleep(min(left, 0.02)) or _client_gone(h):
                return False
        return not self.stopping

    def _behave(self, h: _Handler, req: dict[str, Any], b: Behaviour) -> None:
        for _ in range(10):  # Func may return another Func; bound it
            if not isinstance(b, Func):
                break
            b = b.fn(req)
        if isinstance(b, Hang):
            if not self._sleep(b.seconds):
                h.close_connection = True
                return
            b = b.then or self.default
            if isinstance(b, Hang | Func):
                b = Echo()
        if isinstance(b, Trickle):
            self._trickle(h, req, b)
            return
        if isinstance(b, Echo):
            b = _echo_reply(req, b)
        if isinstance(b, Reply):
            self._reply(h, req, b)
        elif isinstance(b, Status):
            body: Any = b.body
            if body is None:
                self._error(h, b.code, f"loopback status {b.code}", "server_error",
                            b.headers)
                return
            if isinstance(body, Mapping):
                body = json.dumps(body).encode()
            elif isinstance(body, str):
                body = body.encode()
            _send(h, b.code, body, {"Content-Type": "application/json", **(b.headers or {})})
        elif isinstance(b, Garbage):
            _send(h, 200, b.body, {"Content-Type": b.content_type})
        else:
            self._error(h, 500, f"unknown behaviour {b!r}", "server_error")

    def _trickle(self, h: _Handler, req: dict[str, Any], t: Trickle) -> None:
        then = t.then or self.default
        if isinstance(then, Echo):
            then = _echo_reply(req, then)
        if not isinstance(then, Reply):
            then = Reply("{}")
        body = json.dumps(self._completion(req, then), ensure_ascii=False).encode()
        raw = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        for i in range(len(raw)):
            h.wfile.write(raw[i : i + 1])
            h.wfile.flush()
            if not self._sleep(t.interval):
                break
        h.close_connection = True

    def _completion(self, req: Mapping[str, Any], r: Reply) -> dict[str, Any]:
        usage = (
            dict(r.usage) if r.usage is not None
            else _usage(req, r.content, r.reasoning_content)
        )
        msg: dict[str, Any] = {"role": "assistant", "content": r.content}
        if r.reasoning_content is not None:
            msg["reasoning_content"] = r.reasoning_content
        return {
            "id": "chatcmpl-trickle", "object": "chat.completion", "created": int(time.time()),
            "model": str(req.get("model") or self.model),
            "choices": [{"index": 0, "message": msg, "finish_reason": r.finish_reason,
                         "logprobs": None}],
            "usage": usage,
        }

    def _reply(self, h: _Handler, req: Mapping[str, Any], r: Reply) -> None:
        usage = (
            dict(r.usage) if r.usage is not None
            else _usage(req, r.content, r.reasoning_content)
        )
        model = str(req.get("model") or self.model)
        created = int(time.time())
        msg: dict[str, Any] = {"role": "assistant", "content": r.content}
        if r.reasoning_content is not None:
            msg["reasoning_content"] = r.reasoning_content
        ident = "chatcmpl-" + hashlib.sha1(
            json.dumps(req, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:24]
        if req.get("stream"):
            self._stream(h, ident, model, created, msg, r.finish_reason, usage, req)
            return
        self._json(h, 200, {
            "id": ident, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": msg, "finish_reason": r.finish_reason,
                         "logprobs": None}],
            "usage": usage,
        })

    def _stream(
        self, h: _Handler, ident: str, model: str, created: int, msg: dict[str, Any],
        finish: str, usage: dict[str, Any], req: Mapping[str, Any],
    ) -> None:
        def chunk(delta: dict[str, Any], fin: str | None, use: Any = None) -> bytes:
            obj: dict[str, Any] = {
                "id": ident, "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": fin}],
            }
            if use is not None:
                obj["choices"] = []
                obj["usage"] = use
            return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"

        parts = [chunk({"role": "assistant", "content": ""}, None)]
        if msg.get("reasoning_content"):
            parts.append(chunk({"reasoning_content": msg["reasoning_content"]}, None))
        text = msg["content"]
        parts += [chunk({"content": text[i : i + 16]}, None) for i in range(0, len(text), 16)]
        parts.append(chunk({}, finish))
        opts = req.get("stream_options") or {}
        if isinstance(opts, Mapping) and opts.get("include_usage"):
            parts.append(chunk({}, None, usage))
        parts.append(b"data: [DONE]\n\n")
        _send(h, 200, b"".join(parts), {"Content-Type": "text/event-stream"})

    def _json(self, h: _Handler, status: int, obj: Any,
              headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode()
        _send(h, status, body, {"Content-Type": "application/json", **(headers or {})})

    def _error(self, h: _Handler, status: int, message: str, code: str,
               headers: Mapping[str, str] | None = None) -> None:
        kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
        self._json(h, status, {"error": {"message": message, "type": kind, "param": None,
                                         "code": code}}, headers)


@contextlib.contextmanager
def serving(*servers: _LoopbackServer) -> Iterator[None]:
    """Run several servers for the duration of a ``with`` block."""
    with contextlib.ExitStack() as stack:
        for s in servers:
            stack.enter_context(s)
        yield



def free_port() -> int:
    """A loopback TCP port nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def newsletter_serve(
    config: Path, port: int, *, env: Mapping[str, str] | None = None, timeout: float = 90.0
) -> Iterator[str]:
    """``newsletter serve -c config`` as a child process on ``127.0.0.1:port``.

    Yields the base URL once ``/healthz`` answers 200 and stops the server (SIGTERM) on
    exit. Raises ``AssertionError`` with the end of the server's log when it exits first or
    does not come up within ``timeout`` seconds.
    """
    repo = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "newsletter", "serve", "-c", str(config),
               "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    # No proxy from the environment may stand between the test and a loopback server.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    # A file, not a pipe: uvicorn logs every request, and a full pipe would stall it.
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, cwd=repo, env={**os.environ, **(env or {})},
                                  stdout=subprocess.DEVNULL, stderr=log)

        def tail() -> str:
            log.seek(0)
            return log.read().decode("utf-8", "replace")[-2000:]

        deadline = time.monotonic() + timeout
        try:
            while True:
                if server.poll() is not None:
                    raise AssertionError(f"newsletter serve exited ({server.returncode}): {tail()}")
                try:
                    with opener.open(f"{base}/healthz", timeout=1) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"newsletter serve not up within {timeout:g}s: {tail()}")
                time.sleep(0.05)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=10)


def child_pids(pid: int) -> list[int]:
    """The direct children of a process, from ``ps``."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout
    return [int(p) for p in out.split()]


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
