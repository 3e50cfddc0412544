"""Summaries (the LLM's cache by content key) and the LLM calls' token usage."""

from __future__ import annotations

import json

from sqlalchemy import Integer, func, select, update

from ..models import LLMUsage, Summary, Tokens
from ._base import StoreBase, now_utc
from ._schema import llm_calls, summaries


class SummariesMixin(StoreBase):
    """The summary cache and the log of LLM calls with their tokens."""

    def get_summary(self, cache_key: str) -> Summary | None:
        with self._tx() as conn:
            r = conn.execute(select(summaries).where(summaries.c.cache_key == cache_key)).first()
        if r is None:
            return None
        return Summary(
            text=r.text,
            kind=r.kind,
            model=r.model,
            category=r.category,
            key_facts=tuple(json.loads(r.key_facts)),
            error=r.error,
            tokens=Tokens(r.prompt_tokens, r.completion_tokens, r.reasoning_tokens),
        )

    def put_summary(self, cache_key: str, entry_id: str, summary: Summary) -> None:
        row = {
            "entry_id": entry_id,
            "text": summary.text,
            "kind": summary.kind,
            "model": summary.model,
            "category": summary.category,
            "key_facts": json.dumps(list(summary.key_facts), ensure_ascii=False),
            "error": summary.error,
            "prompt_tokens": summary.tokens.prompt,
            "completion_tokens": summary.tokens.completion,
            "reasoning_tokens": summary.tokens.reasoning,
            "created": now_utc(),
        }
        with self._tx() as conn:
            done = conn.execute(
                update(summaries).where(summaries.c.cache_key == cache_key).values(**row)
            )
            if done.rowcount == 0:
                conn.execute(summaries.insert().values(cache_key=cache_key, **row))

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
