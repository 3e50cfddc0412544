"""The one door to an OpenAI-compatible chat endpoint (the official ``openai`` client).

Works with OpenAI, DeepSeek, Qwen (DashScope compatible mode), Moonshot, Zhipu GLM,
Ollama, llama.cpp, vLLM: anything that speaks ``POST /v1/chat/completions``.

What a caller can rely on, whatever the endpoint does:

* ``timeout`` bounds each request from connect to last byte (a server trickling one byte
  a second cannot stretch it), and the client's ``deadline`` bounds all its calls together;
* every request carries an output cap (``max_tokens`` or ``max_completion_tokens``);
* after a timeout the client lowers its concurrency (halving, down to 1) and retries, so a
  single-slot local server that queues requests still gets through them;
* after ``breaker_failures`` consecutive transport failures (timeouts, connection errors,
  5xx) it stops calling and says so once; every later call fails at once. A request that
  timed out while another succeeded waited in a queue: it is tried again, not counted;
* :meth:`LLMClient.cancel` (and :func:`cancel_all`, for a stopping process) aborts calls in
  flight: they raise :class:`LLMCancelled` within a fraction of a second.

Why one file over 600 lines: it is the single door to the endpoint (the design's rule),
and the request loop, its whole-request timeout, adaptive concurrency, breaker and the
answer parsing share one client state; split apart they would pass that state around.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import logging
import math
import os
import random
import re
import threading
import time
import weakref
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from .errors import LLMCancelled, LLMError
from .models import Tokens

log = logging.getLogger(__name__)

# Retry-After values above this are not waited for: the entry falls back instead of
# stalling the whole run.
MAX_RETRY_AFTER = 60.0
# Room for hidden reasoning on top of the answer's own cap (reasoning models think first).
REASONING_HEADROOM = 4096
_REASONING_MODEL = re.compile(
    r"(^|[/:_-])(o[1345]([_-]|$)|gpt-5|deepseek-r|r1([_-]|$)|qwq|.*reason|.*think)", re.I
)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$", re.M)
_HTML_TITLE = re.compile(r"<title[^>]*>([^<]{1,120})", re.I)


@dataclass(frozen=True)
class LLMSettings:
    model: str
    api_key: str
    base_url: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    """Seconds for one whole request, connect to last byte."""
    max_retries: int = 2
    max_concurrency: int = 4
    json_mode: bool = True
    temperature: float = 0.2
    max_chars: int = 120
    """The digest length asked for; the output cap is derived from it."""
    max_output_tokens: int | None = None
    """Explicit output cap; overrides the one derived from ``max_chars``."""
    reasoning: bool | None = None
    """The model reasons before answering; ``None`` guesses from the model name."""
    breaker_failures: int = 3
    deadline: float | None = None
    """Seconds for all calls of this client together (one build)."""


def is_reasoning_model(settings: LLMSettings) -> bool:
    if settings.reasoning is not None:
        return settings.reasoning
    return bool(_REASONING_MODEL.search(settings.model))


def output_cap(settings: LLMSettings) -> int:
    """Completion tokens one request may use.

    A digest answer is a JSON object: the summary (models overshoot the asked length by
    up to half), three short key facts and the syntax around them. One CJK character is
    up to 1.5 tokens in common tokenizers, so ``3 × max_chars + 256`` leaves headroom for
    a faithful answer while a looping model is cut off after a few hundred tokens.
    """
    if settings.max_output_tokens is not None:
        return settings.max_output_tokens
    cap = 3 * settings.max_chars + 256
    return cap + REASONING_HEADROOM if is_reasoning_model(settings) else cap


@dataclass(frozen=True)
class Completion:
    content: str
    """The answer with any hidden reasoning removed."""
    reasoning: str = ""
    tokens: Tokens = Tokens()
    truncated: bool = False
    """The endpoint stopped at the output cap (``finish_reason == "length"``)."""



class TokenBudget:
    """A per-run token allowance shared by all threads; ``None`` means unlimited."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.spent = 0
        self._lock = threading.Lock()

    def spend(self, tokens: int) -> None:
        with self._lock:
            self.spent += tokens

    @property
    def exhausted(self) -> bool:
        with self._lock:
            return self.limit is not None and self.spent >= self.limit


def strip_reasoning(content: str) -> tuple[str, str]:
    """Split ``<think>…</think>`` (DeepSeek-R1 style) from the visible answer."""
    thoughts = " ".join(m.group(0) for m in _THINK.finditer(content))
    return _THINK.sub("", content).strip(), thoughts


def parse_json_object(text: str) -> dict[str, Any]:
    """Tolerant JSON-object parser: code fences, leading prose, trailing junk."""
    text, _ = strip_reasoning(text)
    candidates = [text, _FENCE.sub("", text).strip()]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(value, dict):
            return value
    raise LLMError(f"answer is not a JSON object: {text[:80]!r}")


def _status_retryable(status: int) -> bool:
    # 4xx other than 408/429 means the request itself is wrong: retrying cannot help.
    return status in (408, 429) or status >= 500


class _Transport(Exception):
    """A failure of the endpoint rather than of the request: worth another try."""

    def __init__(self, reason: str, *, timed_out: bool = False, delay: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.delay = delay


class _Retry(Exception):
    """The request must change (JSON mode, token parameter) and go again at once."""


# -- one event loop per process for all requests ------------------------------------------
# Requests run as asyncio tasks so that one deadline covers connect to last byte and a
# stop can cancel them; callers stay synchronous threads.
_loop_lock = threading.Lock()
_loop: tuple[int, asyncio.AbstractEventLoop] | None = None


def _event_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop[0] != os.getpid():  # a forked child needs its own thread
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="llm-io", daemon=True).start()
            _loop = (os.getpid(), loop)
        return _loop[1]


_clients: weakref.WeakSet[LLMClient] = weakref.WeakSet()
_clients_lock = threading.Lock()


def cancel_all() -> int:
    """Cancel every live client's calls (a stopping process); returns how many were live."""
    with _clients_lock:
        clients = list(_clients)
    for client in clients:
        client.cancel()
    return len(clients)


def _close_later(client: Any) -> None:
    loop = _loop[1] if _loop is not None and _loop[0] == os.getpid() else None
    if loop is not None and loop.is_running():
        asyncio.run_coroutine_threadsafe(client.close(), loop)


class _Limiter:
    """A semaphore whose size can shrink while requests are waiting or in flight."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self._cond = threading.Condition()

    def acquire(self, stop: threading.Event, until: float | None) -> int:
        with self._cond:
            while self.active >= self.limit:
                if stop.is_set():
                    raise LLMCancelled("LLM calls cancelled: the process is stopping")
                if until is not None and time.monotonic() >= until:
                    return 0
                self._cond.wait(0.1)
            self.active += 1
            return self.limit

    def release(self) -> None:
        with self._cond:
            self.active -= 1
            self._cond.notify_all()

    def lower(self, started_at: int) -> int | None:
        """Halve the limit a timed-out request was sent under; the new limit, or None when
        it is already that low (another request lowered it, or it is 1)."""
        with self._cond:
            lowered = min(self.limit, max(1, started_at // 2))
            if lowered == self.limit:
                return None
            self.limit = lowered
            return lowered


class LLMClient:
    """Thread-safe chat client with bounded time, adaptive concurrency and a breaker.

    The ``openai`` client's built-in retries are switched off because they also retry
    409 and cap Retry-After differently; here only timeouts, connection errors, 408,
    429 and 5xx are retried, and a server's Retry-After is honoured.
    """

    def __init__(self, settings: LLMSettings) -> None:
        # Imported here: the client library takes ~0.4 s to import and most commands
        # (poll, send, serve, extractive builds) never talk to an LLM.
        import openai

        self.settings = settings
        # Our own deadline (asyncio.timeout) bounds the request; httpx's per-read timeout
        # is only a backstop a little beyond it.
        self._client = openai.AsyncOpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout + 5,
            max_retries=0,
            default_headers=settings.extra_headers or None,
        )
        # Resolved now: the client imports its resource modules on first access, which
        # must not happen inside a request's timeout (seconds on a loaded machine).
        self._create = self._client.chat.completions.with_raw_response.create
        self._limiter = _Limiter(settings.max_concurrency)
        self._json_supported = settings.json_mode
        self._cap_param = (
            "max_completion_tokens" if is_reasoning_model(settings) else "max_tokens"
        )
        self._send_temperature = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._inflight: set[concurrent.futures.Future[Any]] = set()
        self._failures = 0
        self._last_success = -math.inf
        self._open_reason: str | None = None
        self._until = time.monotonic() + settings.deadline if settings.deadline else None
        with _clients_lock:
            _clients.add(self)
        # Its connections belong to the shared loop: close them there once the client is gone.
        weakref.finalize(self, _close_later, self._client)

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def concurrency(self) -> int:
        """Requests allowed in flight now (lowered after timeouts)."""
        return self._limiter.limit

    @property
    def stopped(self) -> str | None:
        """Why this client makes no more calls (breaker open), or None."""
        return self._open_reason

    def cancel(self) -> None:
        """Abort calls in flight and refuse new ones (:class:`LLMCancelled`)."""
        self._stop.set()
        with self._lock:
            futures = list(self._inflight)
        for future in futures:
            future.cancel()

    def _check(self) -> float:
        """The timeout for the next request, or why there is none."""
        if self._stop.is_set():
            raise LLMCancelled("LLM calls cancelled: the process is stopping")
        if self._open_reason is not None:
            raise LLMError(self._open_reason)
        timeout = self.settings.timeout
        if self._until is not None:
            left = self._until - time.monotonic()
            if left <= 0:
                raise LLMError(self._deadline_reason())
            timeout = min(timeout, left)
        return timeout

    def _deadline_reason(self) -> str:
        return (
            f"the LLM time for this run is used up "
            f"(llm.build_deadline_seconds={self.settings.deadline:g})"
        )

    def _failed(self, started: float, reason: str) -> bool:
        """Count a transport failure; False when it does not count.

        A request that failed while another one succeeded was queued behind it (a
        single-slot server), not refused by a dead endpoint: it does not count.
        """
        with self._lock:
            if self._last_success > started:
                return False
            self._failures += 1
            if self._failures < self.settings.breaker_failures or self._open_reason:
                return True
            self._open_reason = (
                f"LLM calls stopped for this run after {self._failures} failures in a row "
                f"(last: {reason})"
            )
        log.warning("%s; the remaining digests are extracted", self._open_reason)
        return True

    def _succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._last_success = time.monotonic()

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise LLMCancelled("LLM calls cancelled: the process is stopping")

    def chat(self, messages: list[dict[str, str]], *, json_mode: bool = False) -> Completion:
        """One completion; raises :class:`LLMError` with a one-line reason when it fails."""
        attempt = 0
        while True:
            timeout = self._check()
            started = time.monotonic()
            slot = self._limiter.acquire(self._stop, self._until)
            if not slot:
                raise LLMError(self._deadline_reason())
            try:
                timeout = self._check()
                completion = self._run(
                    self._chat_once(messages, json_mode and self._json_supported, timeout)
                )
            except _Retry:
                continue
            except _Transport as exc:
                reason = exc.reason
                if exc.timed_out and self._until is not None and time.monotonic() >= self._until:
                    raise LLMError(self._deadline_reason()) from None
                counted = self._failed(started, reason)
                if self._open_reason is not None:
                    raise LLMError(self._open_reason) from None
                if exc.timed_out:
                    lowered = self._limiter.lower(slot)
                    if lowered is not None:
                        log.warning(
                            "LLM request sent at concurrency %d timed out; concurrency lowered "
                            "to %d",
                            slot,
                            lowered,
                        )
                    if not counted:
                        continue  # it waited in the server's queue: a fresh try, not a retry
                if attempt >= self.settings.max_retries:
                    raise LLMError(reason) from None
                delay = exc.delay if exc.delay is not None else _backoff(attempt)
                if delay > MAX_RETRY_AFTER:
                    raise LLMError(f"{reason}; retry after {delay:.0f}s is too long") from None
            else:
                self._succeeded()
                return completion
            finally:
                if slot:
                    self._limiter.release()
            attempt += 1
            self._sleep(delay)

    def _run(self, coro: Coroutine[Any, Any, Completion]) -> Completion:
        future = asyncio.run_coroutine_threadsafe(coro, _event_loop())
        with self._lock:
            self._inflight.add(future)
        try:
            if self._stop.is_set():
                future.cancel()
            return future.result()
        except concurrent.futures.CancelledError:
            raise LLMCancelled("LLM calls cancelled: the process is stopping") from None
        finally:
            with self._lock:
                self._inflight.discard(future)

    async def _chat_once(
        self, messages: list[dict[str, str]], json_mode: bool, timeout: float
    ) -> Completion:
        import openai

        kwargs: dict[str, Any] = {self._cap_param: output_cap(self.settings)}
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        if self._send_temperature:
            kwargs["temperature"] = self.settings.temperature
        try:
            async with asyncio.timeout(timeout):
                raw = await self._create(
                    model=self.settings.model,
                    messages=messages,  # type: ignore[arg-type]
                    **kwargs,
                )
                http = raw.http_response
                body = (await http.aread()).decode("utf-8", "replace")
        except TimeoutError:
            raise _Transport(f"endpoint timed out after {timeout:g}s", timed_out=True) from None
        except openai.BadRequestError as exc:
            self._adapt(exc, json_mode)
            raise LLMError(f"HTTP {exc.status_code}: {_brief(exc)}") from None
        except openai.APIStatusError as exc:
            reason = f"HTTP {exc.status_code}: {_brief(exc)}"
            if not _status_retryable(exc.status_code):
                raise LLMError(reason) from None
            raise _Transport(reason, delay=_retry_after(exc.response.headers)) from None
        except openai.APITimeoutError as exc:
            raise _Transport(f"endpoint timed out: {_brief(exc)}", timed_out=True) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise _Transport(f"endpoint unreachable: {_brief(cause)}") from None
        except openai.OpenAIError as exc:
            raise LLMError(f"{type(exc).__name__}: {_brief(exc)}") from None
        return _completion(body, http.status_code, http.headers.get("content-type", ""))

    def _adapt(self, exc: Exception, json_mode: bool) -> None:
        """Change the request for endpoints that reject one of its parameters, or return."""
        text = str(exc)
        if json_mode and "response_format" in text:
            # Some providers (older vLLM, Ollama builds) reject JSON mode.
            log.info("endpoint rejects response_format; using plain answers")
            self._json_supported = False
            raise _Retry from None
        if "max_tokens" in text and self._cap_param == "max_tokens":
            log.info("endpoint wants max_completion_tokens instead of max_tokens")
            self._cap_param = "max_completion_tokens"
            raise _Retry from None
        if "max_completion_tokens" in text and self._cap_param == "max_completion_tokens":
            self._cap_param = "max_tokens"
            raise _Retry from None
        if "temperature" in text and self._send_temperature:
            log.info("endpoint rejects temperature; using its default")
            self._send_temperature = False
            raise _Retry from None


def _completion(body: str, status: int, content_type: str) -> Completion:
    """The answer from a 2xx body, or an :class:`LLMError` a person can act on."""
    stripped = body.lstrip()
    if not stripped:
        raise LLMError(f"the endpoint answered an empty body (HTTP {status}), not JSON")
    if stripped.startswith("<") or "html" in content_type.lower():
        title = _HTML_TITLE.search(stripped)
        named = f" titled {title.group(1).strip()!r}" if title else ""
        raise LLMError(
            f"the endpoint answered an HTML page{named} (HTTP {status}), not JSON: "
            "is llm.base_url the API address (usually ending in /v1)?"
        )
    try:
        data = json.loads(stripped)
    except ValueError:
        raise LLMError(
            f"the endpoint answered text that is not JSON (HTTP {status}): {stripped[:80]!r}"
        ) from None
    if not isinstance(data, dict):
        raise LLMError(f"the endpoint answered JSON that is not an object (HTTP {status})")
    error = data.get("error")
    if error:
        said = error.get("message") if isinstance(error, dict) else error
        raise LLMError(f"the endpoint answered an error with HTTP {status}: {str(said)[:160]}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        keys = ", ".join(sorted(map(str, data))[:6]) or "none"
        raise LLMError(
            f"the endpoint answered JSON without choices (HTTP {status}; keys: {keys})"
        )
    choice = choices[0]
    found = choice.get("message")
    message: dict[str, Any] = found if isinstance(found, dict) else {}
    raw = message.get("content") or ""
    if not isinstance(raw, str):
        raw = json.dumps(raw, ensure_ascii=False)
    visible, inline_thoughts = strip_reasoning(raw)
    hidden = message.get("reasoning_content") or message.get("reasoning")
    counted = data.get("usage")
    usage: dict[str, Any] = counted if isinstance(counted, dict) else {}
    details = usage.get("completion_tokens_details")
    reasoning_tokens = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else 0
    return Completion(
        content=visible,
        reasoning=str(hidden or inline_thoughts or ""),
        tokens=Tokens(
            _int(usage.get("prompt_tokens")),
            max(0, _int(usage.get("completion_tokens")) - reasoning_tokens),
            reasoning_tokens,
        ),
        truncated=choice.get("finish_reason") == "length",
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _backoff(attempt: int) -> float:
    return min(8.0, 0.5 * 2.0**attempt) * (0.5 + random.random() / 2)


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def check_endpoint(settings: LLMSettings) -> str:
    """Reach the endpoint for ``newsletter doctor``; a one-line finding, or :class:`LLMError`.

    ``GET /models`` first (it names a wrong key or model without spending tokens), then
    one small timed chat request, from which the finding suggests ``llm.timeout`` and
    ``llm.max_concurrency`` when the endpoint is slow.
    """
    import openai

    client = openai.OpenAI(
        api_key=settings.api_key,
        base_url=settings.base_url,
        timeout=min(settings.timeout, 20.0),
        max_retries=0,
        default_headers=settings.extra_headers or None,
    )
    listed: list[str] | None = None
    try:
        listed = [m.id for m in client.models.list()]
    except openai.AuthenticationError as exc:
        reason = f"the API key was rejected (HTTP {exc.status_code}): {_brief(exc)}"
        raise LLMError(reason) from None
    except (openai.APITimeoutError, openai.APIConnectionError) as exc:
        raise LLMError(f"endpoint unreachable: {_brief(exc)}") from None
    except (openai.OpenAIError, ValueError):
        listed = None  # no /models route here; the chat request below decides
    quick = dataclasses.replace(
        settings, max_retries=0, json_mode=False, max_output_tokens=16, deadline=None
    )
    started = time.monotonic()
    try:
        answer = LLMClient(quick).chat([{"role": "user", "content": "Reply with: ok"}])
    except LLMError as exc:
        known = f"; the endpoint lists {', '.join(listed[:5])}" if listed else ""
        raise LLMError(f"chat with model {settings.model!r} failed: {exc}{known}") from None
    elapsed = time.monotonic() - started
    found = (
        f"model {settings.model!r} answered a one-line chat in {elapsed:.1f}s "
        f"({answer.tokens.total} tokens)"
    )
    return found + suggest_settings(elapsed, settings)


def suggest_settings(elapsed: float, settings: LLMSettings) -> str:
    """Advice from one small request's time: a digest costs ~20× its output, a slow
    endpoint is usually a local single-slot server (queueing would time requests out)."""
    digest = max(1.0, elapsed * 20)
    if digest * 2 <= settings.timeout:
        return ""
    timeout = int(math.ceil(digest * 3 / 10) * 10)
    return (
        f"; a digest may take ~{digest:.0f}s here: set llm.timeout: {timeout} and "
        "llm.max_concurrency: 1 (see the README's presets)"
    )
