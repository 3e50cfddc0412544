"""A digest per story: LLM-written when an endpoint is configured, extractive otherwise.

LLM digests are checked before they are used: every figure must appear in the source,
the text is stripped of markup and capped in length. A digest that fails is retried
once with the problem stated, then replaced by the extractive digest; both outcomes
are recorded in the :class:`Summary`.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2
import nh3

from ._extract import DigestCaps, extract_digest
from ._facts import cap_length, unsupported_facts
from ._guard import (
    Problem,
    category_of,
    digest_problems,
    grounded,
    neutralise,
    scrub_contacts,
)
from ._guard import (
    min_units as gate_minimum,
)
from ._resources import templates_root
from .errors import LLMError
from .llm import Completion, LLMClient, TokenBudget, parse_json_object
from .models import Entry, Summary, Tokens

CATEGORIES = ("平台政策", "数据财报", "商家与达人", "品牌案例", "行业观察")
DEFAULT_CATEGORY = "行业观察"
# Rough keyword cues so extractive digests still land in a sensible section.
_CATEGORY_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "平台政策",
        ("规则", "政策", "处罚", "监管", "规定", "整治", "新规", "罚", "公告", "上线", "调整"),
    ),
    ("数据财报", ("财报", "GMV", "gmv", "同比", "季度", "营收", "增长", "数据", "亿元")),
    ("商家与达人", ("主播", "达人", "商家", "MCN", "mcn", "带货", "店播", "创作者")),
    ("品牌案例", ("品牌", "案例", "旗舰店", "新品", "首发")),
)
LANGUAGE_NAMES = {
    "zh-CN": "简体中文",
    "zh-Hans": "简体中文",
    "zh-TW": "繁體中文",
    "zh-Hant": "繁體中文",
    "en": "English",
}
MAX_SOURCE_CHARS = 6000
# The part of an article a digest must share key terms with, after the title.
LEAD = 1000
# Shortest digest worth publishing, per language: Chinese characters, else words.
MIN_UNITS: Mapping[str, int] = {"zh": 20, "en": 8}
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"(?:https?|ftp|javascript|data):[!-~]+", re.I)
_MD_MARKS = re.compile(r"(\*\*|__|`+|^#+\s*|^\s*[-*>]\s+)", re.M)
_SPACES = re.compile(r"\s+")


PROMPT_NAMES = (
    "summary_system",
    "summary_user",
    "summary_repair",
    "intro_system",
    "intro_user",
    "judge_system",
    "judge_user",
)


@dataclass(frozen=True)
class Prompts:
    """The prompt templates and the version that enters every cache key."""

    env: jinja2.Environment
    version: str

    def render(self, name: str, **values: object) -> str:
        """The prompt ``name`` with ``values``; text values are neutralised first, so
        nothing from a feed can close the prompt's delimiters."""
        safe = {key: _neutralised(value) for key, value in values.items()}
        return self.env.get_template(f"prompts/{name}.j2").render(**safe).strip()


def _neutralised(value: object) -> object:
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, list | tuple):
        return type(value)(_neutralised(v) for v in value)
    return value


def load_prompts(templates_dir: str | Path | None = None) -> Prompts:
    """Prompts from ``templates_dir/prompts`` if given there, else the packaged ones."""
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(jinja2.FileSystemLoader(str(templates_root())))
    # Prompts are plain text for a model, not HTML: no autoescaping here.
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders), autoescape=False, keep_trailing_newline=True
    )
    digest = hashlib.sha256()
    for name in PROMPT_NAMES:
        source, _, _ = env.loader.get_source(env, f"prompts/{name}.j2")  # type: ignore[union-attr]
        digest.update(source.encode())
    return Prompts(env, digest.hexdigest()[:12])


def cache_key(entry: Entry, model: str, prompt_version: str, max_chars: int, language: str) -> str:
    """Same content, model, prompt and limits → same key → no second LLM call."""
    raw = f"{entry.content_hash}|{model}|{prompt_version}|{max_chars}|{language}"
    return hashlib.sha256(raw.encode()).hexdigest()


def intro_cache_key(
    items: Sequence[tuple[str, str]], model: str, prompt_version: str, language: str
) -> str:
    raw = json.dumps([list(i) for i in items], ensure_ascii=False)
    return (
        "intro-" + hashlib.sha256(f"{raw}|{model}|{prompt_version}|{language}".encode()).hexdigest()
    )


def guess_category(title: str, text: str) -> str:
    haystack = f"{title} {title} {text[:400]}"
    best, hits = DEFAULT_CATEGORY, 0
    for category, cues in _CATEGORY_CUES:
        count = sum(haystack.count(cue) for cue in cues)
        if count > hits:
            best, hits = category, count
    return best


def plain_text(text: str) -> str:
    """Model output as plain text: no HTML, no Markdown, no links."""
    text = nh3.clean(text, tags=set(), attributes={})
    text = html.unescape(text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _MD_MARKS.sub("", text)
    return _SPACES.sub(" ", text).strip()


def extractive_summary(entry: Entry, caps: DigestCaps | int, error: str | None = None) -> Summary:
    """A digest made of the entry's own sentences, marked as extracted.

    ``caps`` in characters (Chinese) and words (English); a bare int is the character cap.
    """
    text = scrub_contacts(extract_digest(entry.title, entry.text, caps))
    return Summary(
        text=text,
        kind="extractive",
        category=guess_category(entry.title, entry.text),
        error=error,
    )


def _source_text(entry: Entry) -> str:
    return f"{entry.title}\n{entry.text}"


def _repair_message(
    prompts: Prompts, problems: Sequence[Problem], *, max_chars: int, minimum: int, language: str
) -> str:
    return prompts.render(
        "summary_repair",
        problems=problems,
        max_chars=max_chars,
        min_units=minimum,
        categories=CATEGORIES,
        language_name=LANGUAGE_NAMES.get(language, language),
    )


def _judge_answer(
    completion: Completion,
    entry: Entry,
    *,
    max_chars: int,
    minimum: int,
    language: str,
) -> tuple[Summary | None, list[Problem]]:
    """The digest in one answer if it passes every check, else what is wrong with it."""
    try:
        answer = parse_json_object(completion.content)
    except LLMError as exc:
        if completion.truncated:
            return None, [Problem("truncated", "answer cut off at the output cap (the model "
                                  "kept writing): " + str(exc))]
        return None, [Problem("json", str(exc))]
    raw = answer.get("summary")
    if not isinstance(raw, str) or not raw.strip():
        return None, [Problem("json", "answer has no summary")]
    summary = cap_length(scrub_contacts(plain_text(raw)), max_chars)
    problems = digest_problems(
        summary, language=language, minimum=minimum, title=entry.title, lead=entry.text[:LEAD]
    )
    invented = unsupported_facts(summary, _source_text(entry))
    if invented:
        problems.append(
            Problem(
                "figures",
                "figures not in the source: " + ", ".join(invented[:5]),
                "、".join(invented[:5]),
            )
        )
    named = str(answer.get("category", ""))
    category = category_of(named, CATEGORIES)
    if category is None:
        problems.append(
            Problem("category", f"category {named[:20]!r} is not an allowed one", named[:20])
        )
    if problems:
        return None, problems
    facts = answer.get("key_facts")
    cleaned = (scrub_contacts(plain_text(str(f)))[:80] for f in facts or [])
    key_facts = tuple(
        fact
        for fact in (cleaned if isinstance(facts, list) else ())
        if fact and not unsupported_facts(fact, _source_text(entry))
    )[:3]
    return Summary(text=summary, kind="llm", category=category or "", key_facts=key_facts), []


def llm_summary(
    entry: Entry,
    client: LLMClient,
    prompts: Prompts,
    *,
    max_chars: int = 120,
    max_words: int = 60,
    language: str = "zh-CN",
    budget: TokenBudget | None = None,
    min_units: Mapping[str, int] | None = None,
) -> Summary:
    """An LLM digest of one entry that passed the quality gate and the figure check.

    A failing answer gets one retry naming its problems, then the extractive digest with
    the reason recorded. Never raises :class:`LLMError` (a cancelled run raises
    :class:`LLMCancelled`).
    """
    caps = DigestCaps(max_chars, max_words)
    if budget is not None and budget.exhausted:
        spent = extractive_summary(entry, caps, error="token budget for this run is spent")
        return replace(spent, transient=True)
    minimum = gate_minimum(min_units or MIN_UNITS, language, max_chars)
    system = prompts.render(
        "summary_system",
        max_chars=max_chars,
        min_units=minimum,
        categories=CATEGORIES,
        language_name=LANGUAGE_NAMES.get(language, language),
    )
    user = prompts.render(
        "summary_user",
        title=entry.title,
        source=entry.source_name,
        text=entry.text[:MAX_SOURCE_CHARS],
    )
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    tokens = Tokens()
    problem = ""
    transient = False
    for attempt in range(2):
        if attempt and budget is not None and budget.exhausted:
            break
        try:
            completion = client.chat(messages, json_mode=True)
        except LLMError as exc:
            problem, transient = str(exc), True
            break
        tokens += completion.tokens
        if budget is not None:
            budget.spend(completion.tokens.total)
        accepted, problems = _judge_answer(
            completion, entry, max_chars=max_chars, minimum=minimum, language=language
        )
        if accepted is not None:
            return replace(
                accepted,
                model=client.model,
                error=f"first answer rejected: {problem}" if problem else None,
                tokens=tokens,
            )
        problem = "; ".join(p.reason for p in problems)
        messages = messages[:2] + [
            {"role": "assistant", "content": completion.content[:2000]},
            {
                "role": "user",
                "content": _repair_message(
                    prompts, problems, max_chars=max_chars, minimum=minimum, language=language
                ),
            },
        ]
    fallback = extractive_summary(entry, caps, error=f"LLM digest not used: {problem}")
    return replace(
        fallback,
        model=client.model,
        tokens=tokens,
        transient=transient,
    )


def write_intro(
    items: list[tuple[str, str]],
    client: LLMClient | None,
    prompts: Prompts,
    *,
    language: str = "zh-CN",
    budget: TokenBudget | None = None,
    fallback: tuple[str, ...] | None = None,
) -> tuple[tuple[str, ...], Summary]:
    """The issue's "本周要点" from (title, digest) pairs, in issue order.

    Returns the bullets and a :class:`Summary` describing how they were made (kind,
    tokens, fallback reason). Bullets not grounded in a story of their own are dropped;
    without an LLM, or when fewer than three bullets pass (grounding, figure check), the
    bullets are ``fallback`` (``compose.highlights``: the week's most important stories
    across sections), or else the first headlines.
    """
    headlines = fallback if fallback is not None else tuple(title for title, _ in items[:5])
    if client is None or not items:
        return headlines, Summary(text="", kind="extractive")
    if budget is not None and budget.exhausted:
        return headlines, Summary(
            text="", kind="extractive", error="token budget spent", transient=True
        )
    digests = [f"{title}：{digest}" for title, digest in items[:20]]
    messages = [
        {
            "role": "system",
            "content": prompts.render(
                "intro_system", language_name=LANGUAGE_NAMES.get(language, language)
            ),
        },
        {"role": "user", "content": prompts.render("intro_user", digests=digests)},
    ]
    source = "\n".join(digests)
    try:
        completion = client.chat(messages, json_mode=True)
    except LLMError as exc:
        return headlines, Summary(text="", kind="extractive", error=str(exc), transient=True)
    try:
        if budget is not None:
            budget.spend(completion.tokens.total)
        raw = parse_json_object(completion.content).get("bullets")
        if not isinstance(raw, list):
            raise LLMError("answer has no bullets list")
        written = tuple(
            cap_length(scrub_contacts(plain_text(str(b))), 60) for b in raw if str(b).strip()
        )
        # Each bullet must rest on its own story; the rest are dropped, not repaired.
        bullets = grounded(written, [f"{t} {d}" for t, d in items[:20]])[:5]
        if len(bullets) < 3 and len(items) >= 3:
            dropped = len(written) - len(bullets)
            raise LLMError(
                f"only {len(bullets)} bullets"
                + (f" ({dropped} not grounded in one story each)" if dropped else "")
            )
        invented = [f for b in bullets for f in unsupported_facts(b, source)]
        if invented:
            raise LLMError("figures not in the digests: " + ", ".join(invented[:5]))
    except LLMError as exc:
        return headlines, Summary(
            text="",
            kind="extractive",
            model=client.model,
            error=str(exc),
            tokens=completion.tokens,
        )
    return bullets, Summary(text="", kind="llm", model=client.model, tokens=completion.tokens)
