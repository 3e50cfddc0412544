"""Fetch feeds over HTTP (or from local files) with hard limits on time, size and concurrency.

Every fetch ends as a :class:`FetchResult`; nothing here raises for a bad feed.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import socket
import ssl
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from ._netguard import AddressRefused, guarded_transport
from .models import Feed, FetchResult, FetchState

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


@dataclass(frozen=True)
class FetchOptions:
    """Limits for one poll. ``timeout`` bounds the whole fetch, redirects and body included."""

    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    concurrency: int = 128
    per_host: int = 4
    user_agent: str = "newsletter/0.1"
    max_redirects: int = 5
    allow_private_addresses: bool = False  # loopback and private networks (see _netguard)


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _TooLarge(Exception):
    pass


class _BodyFailed(Exception):
    """The response started but its body did not arrive whole; the message says how far."""


@dataclass
class _Progress:
    """How far one fetch got, for a reason that says where it stopped."""

    received: int = 0
    expected: int | None = None
    reading_body: bool = False

    def where(self) -> str:
        if not self.reading_body:
            return "before the response headers"
        got = f"after {_size(self.received)}"
        if self.expected is not None:
            got += f" of {_size(self.expected)}"
        return f"while reading the body, {got}"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def _network_reason(exc: BaseException) -> str:
    """What went wrong on the wire, in words, from the exception or the OS error under it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionResetError):
            return "connection reset"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, ConnectionAbortedError | BrokenPipeError):
            return "connection aborted"
        if isinstance(seen, socket.gaierror):
            return "host name not found (DNS)"
        if isinstance(seen, ssl.SSLError):
            return f"TLS error ({seen.reason or seen})"
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    if "reset" in text:
        return "connection reset"
    if "closed" in text or "disconnected" in text or "incomplete" in text:
        return "connection closed by the server"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return _one_line(exc)


def is_remote(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text}"[:300] if text else name


def _read_local(feed: Feed, options: FetchOptions) -> FetchResult:
    started = time.monotonic()
    path = Path(feed.url[len("file://") :] if feed.url.startswith("file://") else feed.url)
    try:
        size = path.stat().st_size
        if size > options.max_bytes:
            return FetchResult(
                feed.url, "error", error=f"file is {size} bytes, over the {options.max_bytes} cap"
            )
        body = path.read_bytes()
    except OSError as exc:
        return FetchResult(feed.url, "error", error=f"cannot read file: {exc.strerror or exc}")
    return FetchResult(feed.url, "ok", body=body, elapsed=time.monotonic() - started)


class _BoundedDecoder:
    """Content-Encoding decoding that never inflates past the size cap.

    httpx's own decoders inflate a whole network chunk at once, so one 64 KB chunk of a
    gzip bomb can become ~64 MB before any cap is checked; ``max_length`` stops it at the cap.
    """

    def __init__(self, encoding: str, cap: int) -> None:
        encoding = encoding.strip().lower()
        self.cap = cap
        self.total = 0
        self._zlib: zlib._Decompress | None
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        else:
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")
        self._first = True

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.cap:
            raise _TooLarge(f"body over the {self.cap} byte cap")
        return data

    def decode(self, chunk: bytes) -> bytes:
        if self._zlib is None:
            return self._count(chunk)
        room = self.cap - self.total + 1
        try:
            out = self._zlib.decompress(chunk, room)
        except zlib.error:
            if not self._first:
                raise
            # Some servers send raw deflate without the zlib header.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(chunk, room)
        self._first = False
        # Output stopped at ``room`` bytes with input left over: that is past the cap.
        return self._count(out + (b"\0" if self._zlib.unconsumed_tail else b""))[: len(out)]

    def flush(self) -> bytes:
        if self._zlib is None:
            return b""
        return self._count(self._zlib.flush(self.cap - self.total + 1))


def _redirect_target(base: str, location: str) -> str:
    target = urljoin(base, location.strip())
    if urlsplit(target).scheme not in ("http", "https"):
        raise _Refused(f"redirect to a non-HTTP URL {target[:200]!r} refused")
    return target


class _Refused(Exception):
    pass


async def _drain(response: httpx.Response, limit: int = 64 * 1024) -> None:
    """Read a small unwanted body to its end, so the keep-alive connection can be reused.

    An unread response makes httpcore close the connection: every 304 of a repoll would
    then pay for a new TCP connection. A body over ``limit`` is abandoned instead.
    """
    seen = 0
    async for chunk in response.aiter_raw():
        seen += len(chunk)
        if seen > limit:
            return


async def _get(
    client: httpx.AsyncClient,
    feed: Feed,
    state: FetchState,
    options: FetchOptions,
    progress: _Progress,
) -> FetchResult:
    headers = {"Accept-Encoding": "gzip, deflate"}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    start_url = url = state.url or feed.url
    seen = {url}
    permanent = True
    moved = False
    for _ in range(options.max_redirects + 1):
        async with client.stream("GET", url, headers=headers) as response:
            # Not ``response.is_redirect``: that is true for every 3xx, 304 included.
            if response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    return FetchResult(
                        feed.url,
                        "error",
                        http_status=response.status_code,
                        error=f"HTTP {response.status_code} redirect without Location",
                    )
                permanent = permanent and response.status_code in (301, 308)
                moved = True
                await _drain(response)
                url = _redirect_target(url, location)
                if url in seen:
                    return FetchResult(feed.url, "error", error=f"redirect loop at {url[:200]}")
                seen.add(url)
                continue
            base = {
                "url": feed.url,
                "http_status": response.status_code,
                "final_url": url if moved or url != feed.url else None,
                "permanent_redirect": moved and permanent and url != start_url,
            }
            if response.status_code == 304:
                await _drain(response)
                return FetchResult(status="not_modified", **base)  # type: ignore[arg-type]
            if response.status_code >= 400:
                await _drain(response)
                retry_after = _retry_after_seconds(response.headers.get("retry-after"))
                reason = f"HTTP {response.status_code} {response.reason_phrase}".strip()
                if response.status_code == 410:
                    reason += " (feed disabled)"
                if retry_after is not None:
                    reason += f" (retry after {retry_after:.0f}s)"
                return FetchResult(
                    status="error",
                    error=reason,
                    retry_after=retry_after,
                    **base,  # type: ignore[arg-type]
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > options.max_bytes:
                raise _TooLarge(f"Content-Length {declared} over the {options.max_bytes} byte cap")
            decoder = _BoundedDecoder(
                response.headers.get("content-encoding", ""), options.max_bytes
            )
            chunks: list[bytes] = []
            progress.reading_body = True
            progress.expected = int(declared) if declared and declared.isdigit() else None
            try:
                async for raw in response.aiter_raw():
                    progress.received += len(raw)
                    if progress.received > options.max_bytes:
                        raise _TooLarge(f"body over the {options.max_bytes} byte cap")
                    chunks.append(decoder.decode(raw))
            except (httpx.TransportError, OSError) as exc:
                raise _BodyFailed(f"{_network_reason(exc)} {progress.where()}") from exc
            chunks.append(decoder.flush())
            return FetchResult(
                status="ok",
                body=b"".join(chunks),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                content_type=response.headers.get("content-type"),
                **base,  # type: ignore[arg-type]
            )
    return FetchResult(feed.url, "error", error=f"more than {options.max_redirects} redirects")


@cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~20 ms, 4 % of a 500-feed repoll; a context is safe to
    # share between clients and polls.
    return httpx.create_ssl_context()


class _Clients:
    """One small connection pool per host instead of one big one.

    httpcore scans every pooled connection, quadratically, each time it assigns a request;
    with dozens of keep-alive connections in one pool that costs more than the requests.
    Per host the pool never exceeds ``per_host``; the TLS context is built once per process.
    """

    def __init__(self, options: FetchOptions, transport: httpx.AsyncBaseTransport | None):
        self._options = options
        self._transport = transport
        self._ssl = _ssl_context()
        self._clients: dict[str, httpx.AsyncClient] = {}

    def get(self, host: str) -> httpx.AsyncClient:
        key = "" if self._transport is not None else host
        client = self._clients.get(key)
        if client is None:
            per_host = self._options.per_host
            limits = httpx.Limits(max_connections=per_host, max_keepalive_connections=per_host)
            client = httpx.AsyncClient(
                headers={"User-Agent": self._options.user_agent, "Accept": ACCEPT},
                timeout=httpx.Timeout(self._options.timeout),
                follow_redirects=False,
                verify=self._ssl,
                transport=self._transport
                or guarded_transport(
                    self._ssl, limits, allow_private=self._options.allow_private_addresses
                ),
            )
            self._clients[key] = client
        return client

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._clients.values()))


async def _fetch_one(
    clients: _Clients,
    feed: Feed,
    state: FetchState,
    options: FetchOptions,
    host_limits: dict[str, asyncio.Semaphore],
    global_limit: asyncio.Semaphore,
    consume: Callable[[FetchResult], Awaitable[None] | None] | None = None,
) -> FetchResult:
    if not is_remote(feed.url):
        if "://" in feed.url and not feed.url.startswith("file://"):
            result = FetchResult(feed.url, "error", error=f"unsupported URL scheme in {feed.url!r}")
        else:
            result = await asyncio.to_thread(_read_local, feed, options)
        await _hand_over(consume, result)
        return result
    host = urlsplit(state.url or feed.url).netloc.lower()
    # Host first: a task queued behind a busy host must not hold one of the global slots.
    async with host_limits[host], global_limit:
        started = time.monotonic()
        progress = _Progress()
        try:
            client = clients.get(host)
            # asyncio.timeout, not wait_for: wait_for wraps every request in a task of its own.
            async with asyncio.timeout(options.timeout):
                result = await _get(client, feed, state, options, progress)
        except TimeoutError:
            where = f" {progress.where()}" if progress.reading_body else ""
            error = f"timed out after {options.timeout:g}s{where}"
            result = FetchResult(feed.url, "error", error=error)
        except (_TooLarge, _Refused, _BodyFailed, AddressRefused) as exc:
            result = FetchResult(feed.url, "error", error=str(exc))
        except httpx.ConnectError as exc:
            error = f"could not connect: {_network_reason(exc)}"
            result = FetchResult(feed.url, "error", error=error)
        except httpx.TransportError as exc:
            error = f"{_network_reason(exc)} {progress.where()}"
            result = FetchResult(feed.url, "error", error=error)
        except httpx.HTTPError as exc:
            result = FetchResult(feed.url, "error", error=_one_line(exc))
        except (OSError, ValueError, UnicodeError, zlib.error) as exc:
            result = FetchResult(feed.url, "error", error=_one_line(exc))
        except Exception as exc:  # one feed's surprise must never end the poll
            result = FetchResult(feed.url, "error", error="unexpected: " + _one_line(exc))
        result = _with_elapsed(result, time.monotonic() - started)
        # Inside the slots: a body whose consumer is behind keeps them until it catches
        # up, so downloads wait for it instead of piling bodies up in memory.
        await _hand_over(consume, result)
    return result


async def _hand_over(
    consume: Callable[[FetchResult], Awaitable[None] | None] | None, result: FetchResult
) -> None:
    if consume is not None:
        behind = consume(result)
        if behind is not None:
            await behind


def _with_elapsed(result: FetchResult, elapsed: float) -> FetchResult:
    return replace(result, elapsed=elapsed)


async def fetch_all(
    jobs: Sequence[tuple[Feed, FetchState]],
    options: FetchOptions = FetchOptions(),
    on_result: Callable[[Feed, FetchResult], Awaitable[None] | None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[FetchResult]:
    """Fetch every feed concurrently; results come back in the order of ``jobs``.

    ``on_result`` is called as each fetch finishes, so the caller can start parsing
    while other feeds are still downloading. It takes the body: the results returned
    then carry none, so a poll of thousands of feeds never holds all their bodies. When
    it returns an awaitable (its consumer is behind), that fetch keeps its download slot
    until the awaitable is done: downloads wait for the consumer, and the bodies waiting
    for it stay bounded (by ``concurrency``) however many feeds there are.
    """
    global_limit = asyncio.Semaphore(options.concurrency)
    host_limits: dict[str, asyncio.Semaphore] = defaultdict(
        lambda: asyncio.Semaphore(options.per_host)
    )
    clients = _Clients(options, transport)
    try:

        async def run(feed: Feed, state: FetchState) -> FetchResult:
            if on_result is None:
                return await _fetch_one(clients, feed, state, options, host_limits, global_limit)
            consume = functools.partial(on_result, feed)
            result = await _fetch_one(
                clients, feed, state, options, host_limits, global_limit, consume
            )
            return replace(result, body=None) if result.body is not None else result

        return list(await asyncio.gather(*(run(feed, state) for feed, state in jobs)))
    finally:
        await clients.aclose()
