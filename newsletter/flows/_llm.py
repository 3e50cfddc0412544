"""LLM plumbing shared by poll (second opinion) and build (digests, intro).

The client from the config, the cross-process claim that makes each cache key cost one
call, and the usage row each paid call leaves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .._lease import dead_here
from ..config import Config
from ..llm import LLMClient, LLMSettings
from ..models import Summary, Tokens
from ..store import Store

T = TypeVar("T")


def llm_client(config: Config) -> LLMClient | None:
    """A client when ``llm.model`` and the API key are both set, else ``None`` (extractive)."""
    key = config.llm.api_key()
    if not (config.llm.model and key):
        return None
    llm = config.llm
    return LLMClient(
        LLMSettings(
            model=llm.model or "",
            api_key=key,
            base_url=llm.base_url,
            extra_headers=dict(llm.extra_headers),
            timeout=llm.timeout,
            max_retries=llm.max_retries,
            max_concurrency=llm.max_concurrency,
            json_mode=llm.json_mode,
            temperature=llm.temperature,
            max_chars=llm.max_chars,
            max_output_tokens=llm.max_output_tokens,
            reasoning=llm.reasoning,
            breaker_failures=llm.breaker_failures,
            deadline=llm.build_deadline_seconds,
        )
    )


def claim_seconds(config: Config) -> float:
    """How long a claim on a cache key lasts: longer than one LLM call with its retries."""
    llm = config.llm
    return min(config.lease_seconds, llm.timeout * (llm.max_retries + 1) + 30)


def computed_once(
    store: Store,
    key: str,
    owner: str,
    seconds: float,
    compute: Callable[[], T],
    *,
    load: Callable[[], T | None],
    save: Callable[[T], None],
    keep: Callable[[T], bool],
) -> tuple[T, bool]:
    """The cached value of ``key``, computing it at most once across processes.

    The cache row is claimed before ``compute`` (the LLM call) runs: a second worker that
    meets the same content waits for the first one's answer instead of paying for its own.
    A claim whose holder died on this host (``kill -9`` included) is taken over at once;
    one held elsewhere expires after ``seconds``. A result ``keep`` rejects (a transient
    failure) is not stored, so a waiter then claims and tries itself.
    ``load`` reads the cached value, ``save`` stores one. Returns ``(value, True)`` when
    this call ran ``compute``.
    """
    while True:
        cached = load()
        if cached is not None:
            return cached, False
        if store.claim_summary(key, owner, seconds):
            try:
                value = compute()
                if keep(value):
                    save(value)
            finally:
                store.release_summary_claim(key, owner)
            return value, True
        holder = store.summary_claim_owner(key)
        if holder is not None and dead_here(holder) and store.expire_summary_claim(key, holder):
            continue
        time.sleep(0.05)


def record_call(
    store: Store,
    run_id: str,
    issue_id: str | None,
    purpose: str,
    entry_id: str | None,
    *,
    model: str,
    ok: bool,
    error: str | None,
    tokens: Tokens,
) -> None:
    """One usage row per LLM call made (digest, intro, judge); failures without tokens too.

    Cache hits spent nothing and are skipped.
    """
    if not tokens.total and not (not ok and error):
        return
    store.record_llm_call(
        run_id=run_id,
        issue_id=issue_id,
        purpose=purpose,
        entry_id=entry_id,
        model=model,
        ok=ok,
        error=error,
        tokens=tokens,
    )


def record_summary(
    store: Store,
    run_id: str,
    issue_id: str | None,
    purpose: str,
    entry_id: str | None,
    summary: Summary,
) -> None:
    """:func:`record_call` for a digest or the intro, from how it was made."""
    record_call(
        store,
        run_id,
        issue_id,
        purpose,
        entry_id,
        model=summary.model,
        ok=summary.kind == "llm",
        error=summary.error,
        tokens=summary.tokens,
    )
