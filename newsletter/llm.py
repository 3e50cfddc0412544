"""The one door to an OpenAI-compatible chat endpoint (the official ``openai`` client).

Works with OpenAI, DeepSeek, Qwen (DashScope compatible mode), Moonshot, Zhipu GLM,
Ollama, vLLM: anything that speaks ``POST /v1/chat/completions``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import LLMError
from .models import Tokens

log = logging.getLogger(__name__)

# Retry-After values above this are not waited for: the entry falls back instead of
# stalling the whole run.
MAX_RETRY_AFTER = 60.0
_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$", re.M)


@dataclass(frozen=True)
class LLMSettings:
    model: str
    api_key: str
    base_url: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    max_retries: int = 2
    max_concurrency: int = 4
    json_mode: bool = True
    temperature: float = 0.2


@dataclass(frozen=True)
class Completion:
    content: str
    """The answer with any hidden reasoning removed."""
    reasoning: str = ""
    tokens: Tokens = Tokens()


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


class LLMClient:
    """Thread-safe chat client with bounded concurrency and our own retry policy.

    The ``openai`` client's built-in retries are switched off because they also retry
    409 and cap Retry-After differently; here only timeouts, connection errors, 408,
    429 and 5xx are retried, and a server's Retry-After is honoured.
    """

    def __init__(self, settings: LLMSettings) -> None:
        # Imported here: the client library takes ~0.4 s to import and most commands
        # (poll, send, serve, extractive builds) never talk to an LLM.
        import openai

        self.settings = settings
        self._client = openai.OpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=0,
            default_headers=settings.extra_headers or None,
        )
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        self._json_supported = settings.json_mode

    @property
    def model(self) -> str:
        return self.settings.model

    def chat(self, messages: list[dict[str, str]], *, json_mode: bool = False) -> Completion:
        """One completion; raises :class:`LLMError` with a one-line reason when it fails."""
        import openai

        attempt = 0
        while True:
            try:
                return self._chat_once(messages, json_mode=json_mode and self._json_supported)
            except openai.BadRequestError as exc:
                if json_mode and self._json_supported and "response_format" in str(exc):
                    # Some providers (older vLLM, Ollama builds) reject JSON mode.
                    log.info("endpoint rejects response_format; using plain answers")
                    self._json_supported = False
                    continue
                raise LLMError(f"HTTP {exc.status_code}: {_brief(exc)}") from None
            except openai.APIStatusError as exc:
                if not _status_retryable(exc.status_code) or attempt >= self.settings.max_retries:
                    raise LLMError(f"HTTP {exc.status_code}: {_brief(exc)}") from None
                delay = _retry_after(exc.response.headers) or _backoff(attempt)
                if delay > MAX_RETRY_AFTER:
                    raise LLMError(
                        f"HTTP {exc.status_code}: retry after {delay:.0f}s is too long"
                    ) from None
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                if attempt >= self.settings.max_retries:
                    kind = "timed out" if isinstance(exc, openai.APITimeoutError) else "unreachable"
                    raise LLMError(f"endpoint {kind}: {_brief(exc)}") from None
                delay = _backoff(attempt)
            except openai.OpenAIError as exc:
                raise LLMError(f"{type(exc).__name__}: {_brief(exc)}") from None
            except ValueError as exc:
                # The client raises JSONDecodeError for a 200 whose body is not JSON.
                raise LLMError(f"answer is not valid JSON: {_brief(exc)}") from None
            attempt += 1
            time.sleep(delay)

    def _chat_once(self, messages: list[dict[str, str]], *, json_mode: bool) -> Completion:
        kwargs: dict[str, Any] = {}
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        with self._slots:
            response = self._client.chat.completions.create(
                model=self.settings.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=self.settings.temperature,
                **kwargs,
            )
        if not getattr(response, "choices", None):
            raise LLMError("answer has no choices")
        message = response.choices[0].message
        raw = message.content or ""
        visible, inline_thoughts = strip_reasoning(raw)
        hidden = getattr(message, "reasoning_content", None) or (
            (message.model_extra or {}).get("reasoning_content") if message.model_extra else None
        )
        usage = response.usage
        reasoning_tokens = 0
        if usage is not None and usage.completion_tokens_details is not None:
            reasoning_tokens = usage.completion_tokens_details.reasoning_tokens or 0
        return Completion(
            content=visible,
            reasoning=str(hidden or inline_thoughts or ""),
            tokens=Tokens(
                usage.prompt_tokens if usage else 0,
                (usage.completion_tokens if usage else 0) - reasoning_tokens,
                reasoning_tokens,
            ),
        )


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

    ``GET /models`` first, which costs no tokens; when the endpoint does not list the
    model (or has no such route), one tiny chat request settles it.
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
    if listed is not None and settings.model in listed:
        return f"GET /models lists {settings.model!r}"
    quick = dataclasses.replace(settings, max_retries=0, json_mode=False)
    try:
        answer = LLMClient(quick).chat([{"role": "user", "content": "Reply with: ok"}])
    except LLMError as exc:
        known = f"; the endpoint lists {', '.join(listed[:5])}" if listed else ""
        raise LLMError(f"chat with model {settings.model!r} failed: {exc}{known}") from None
    return f"model {settings.model!r} answered a one-line chat ({answer.tokens.total} tokens)"
