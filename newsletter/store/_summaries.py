"""Summaries (the LLM's cache by content key) and the LLM calls' token usage."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Integer, func, select, update

from ..models import IntroRecord, Judgement, LLMUsage, Summary, Tokens
from ._base import StoreBase, now_utc
from ._schema import llm_calls, summaries


class SummariesMixin(StoreBase):
    """The summary cache and the log of LLM calls with their tokens."""

    def _cached(self, cache_key: str) -> Any:
        with self._tx() as conn:
            return conn.execute(
                select(summaries).where(summaries.c.cache_key == cache_key)
            ).first()

    def _put_cached(self, cache_key: str, entry_id: str, **values: Any) -> None:
        row = {"entry_id": entry_id, **values, "created": now_utc()}
        with self._tx() as conn:
            done = conn.execute(
                update(summaries).where(summaries.c.cache_key == cache_key).values(**row)
            )
            if done.rowcount == 0:
                conn.execute(summaries.insert().values(cache_key=cache_key, **row))

    @staticmethod
    def _tokens(row: Any) -> Tokens:
        return Tokens(row.prompt_tokens, row.completion_tokens, row.reasoning_tokens)

    @staticmethod
    def _token_columns(tokens: Tokens) -> dict[str, int]:
        return {
            "prompt_tokens": tokens.prompt,
            "completion_tokens": tokens.completion,
            "reasoning_tokens": tokens.reasoning,
        }

    def get_summary(self, cache_key: str) -> Summary | None:
        r = self._cached(cache_key)
        if r is None:
            return None
        return Summary(
            text=r.text,
            kind=r.kind,
            model=r.model,
            category=r.category,
            key_facts=tuple(json.loads(r.key_facts)),
            error=r.error,
            tokens=self._tokens(r),
        )

    def put_summary(self, cache_key: str, entry_id: str, summary: Summary) -> None:
        self._put_cached(
            cache_key,
            entry_id,
            text=summary.text,
            kind=summary.kind,
            model=summary.model,
            category=summary.category,
            key_facts=json.dumps(list(summary.key_facts), ensure_ascii=False),
            error=summary.error,
            **self._token_columns(summary.tokens),
        )

    # Judge answers and intro bullets share the digests' table (and its claims), each
    # serialized as JSON in ``text``; their types keep them apart from digests.
    def get_judgement(self, cache_key: str) -> Judgement | None:
        r = self._cached(cache_key)
        if r is None:
            return None
        said = json.loads(r.text)
        return Judgement(
            bool(said["relevant"]), str(said["reason"]), r.model, tokens=self._tokens(r)
        )

    def put_judgement(self, cache_key: str, entry_id: str, judgement: Judgement) -> None:
        said = {"relevant": judgement.relevant, "reason": judgement.reason}
        self._put_cached(
            cache_key,
            entry_id,
            text=json.dumps(said, ensure_ascii=False),
            kind="llm",
            model=judgement.model,
            category="",
            key_facts="[]",
            error=judgement.error,
            **self._token_columns(judgement.tokens),
        )

    def get_intro(self, cache_key: str) -> IntroRecord | None:
        r = self._cached(cache_key)
        if r is None:
            return None
        bullets = tuple(str(b) for b in json.loads(r.text))
        return IntroRecord(bullets, r.kind, r.model, self._tokens(r))

    def put_intro(self, cache_key: str, intro: IntroRecord) -> None:
        self._put_cached(
            cache_key,
            "intro",
            text=json.dumps(list(intro.bullets), ensure_ascii=False),
            kind=intro.kind,
            model=intro.model,
            category="",
            key_facts="[]",
            error=None,
            **self._token_columns(intro.tokens),
        )

    def record_llm_call(
        self,
        *,
        run_id: str,
        issue_id: str | None = None,
        purpose: str,
        entry_id: str | None,
        model: str,
        ok: bool,
        error: str | None,
        tokens: Tokens,
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                llm_calls.insert().values(
                    run_id=run_id,
                    issue_id=issue_id,
                    purpose=purpose,
                    entry_id=entry_id,
                    model=model,
                    ok=ok,
                    error=error,
                    prompt_tokens=tokens.prompt,
                    completion_tokens=tokens.completion,
                    reasoning_tokens=tokens.reasoning,
                    created=now_utc(),
                )
            )

    def llm_usage(self, run_id: str | None = None, issue_id: str | None = None) -> LLMUsage:
        """Token and call totals for one run, one issue (all its runs), or all time."""
        query = select(
            func.count(),
            func.coalesce(func.sum(llm_calls.c.prompt_tokens), 0),
            func.coalesce(func.sum(llm_calls.c.completion_tokens), 0),
            func.coalesce(func.sum(llm_calls.c.reasoning_tokens), 0),
            func.coalesce(func.sum(func.cast(~llm_calls.c.ok, Integer)), 0),
        )
        if run_id is not None:
            query = query.where(llm_calls.c.run_id == run_id)
        if issue_id is not None:
            query = query.where(llm_calls.c.issue_id == issue_id)
        with self._tx() as conn:
            calls, prompt, completion, reasoning, failed = conn.execute(query).one()
        return LLMUsage(
            int(calls), int(failed), Tokens(int(prompt), int(completion), int(reasoning))
        )
