"""Guards around the LLM: what goes into a prompt and what an answer must be to be used.

* :func:`neutralise` takes delimiter-like text out of feed text before a prompt wraps it
  in ``<article>``/``<text>`` tags, so ``</text></article>`` in a feed cannot close them.
* :func:`scrub_contacts` removes web addresses, bare domains, e-mail addresses and phone
  numbers from a digest, including full-width, zero-width-split and ``hxxp``/``[.]``
  forms: a digest is read as our words, and a feed must not plant contacts in it.
* :func:`digest_problems` is the quality gate every LLM digest passes: substantive length
  in the issue's language, not mostly punctuation, sharing key terms with the article,
  no meta-text, a category from the allowed set.
* :func:`grounded` keeps the "本周要点" bullets that each rest on a distinct story.

Hand-written rather than a language-identification library: the decision needed is only
"which script, and Simplified or Traditional", which character classes and OpenCC answer
exactly on a 100-character digest where statistical identifiers are least reliable.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import opencc

# Each counts as one unit of length: a CJK character, or a Latin word.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")
_ZERO_WIDTH = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Full-width forms of the characters addresses are made of (not ，：；, which Chinese
# prose uses as its own punctuation).
_FULL_WIDTH = {
    **{0xFF10 + i: 0x30 + i for i in range(10)},
    **{0xFF21 + i: 0x41 + i for i in range(26)},
    **{0xFF41 + i: 0x61 + i for i in range(26)},
    0xFF20: ord("@"),
    0xFF0E: ord("."),
    0xFF0F: ord("/"),
    0xFF0D: ord("-"),
    0xFF3F: ord("_"),
    0xFF0B: ord("+"),
}

# -- prompt input --------------------------------------------------------------------------

_TAG_LIKE = re.compile(r"[<＜〈‹](?=\s*[/|!?A-Za-z])")
_TAG_CLOSE = re.compile(r"(?<=[A-Za-z\"'|/])\s*[>＞〉›]")
_CHAT_TOKENS = re.compile(r"\[/?INST\]|<<\s*/?SYS\s*>>|<\|[^|>]{0,40}\|>", re.I)


def neutralise(text: str) -> str:
    """Text safe to place between prompt delimiters: nothing in it reads as a tag.

    Angle brackets that open or close something tag-like become ``‹``/``›`` (readable,
    but no longer markup); chat-template tokens (``<|im_start|>``, ``[INST]``) go.
    """
    text = _CHAT_TOKENS.sub(" ", text)
    text = _TAG_LIKE.sub("‹", text)
    return _TAG_CLOSE.sub("›", text)


# -- contacts in answers -------------------------------------------------------------------

# A dot as written, or obfuscated ("[.]", "(dot)"); full-width dots were folded to "." first.
_DOT = r"(?:\.|\s*(?:\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\})\s*)"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Generic TLDs seen in feeds plus every two-letter country code shape; a two-letter
# "TLD" after a one-letter label (e.g. "U.S") is too short to be a domain.
_TLDS = (
    "com|net|org|edu|gov|info|biz|xyz|top|site|online|shop|store|app|dev|tech|vip|club|"
    "live|link|io|ai|co|cc|tv|me|cn|hk|tw|mo|sg|jp|kr|uk|us|de|fr|ru|in|au|ca|example|"
    "wang|ltd|group|work|fun|icu|cloud|pro|mobi|asia|news|press|media|page"
)
_SCHEME = r"(?:h[tx*]{2}ps?|ftp|javascript|data|mailto|weixin|tel)\s*(?:\[:\]|:)\s*(?://)?"
# An address is printable ASCII: it ends where Chinese text or its punctuation begins.
_URLISH = re.compile(
    rf"{_SCHEME}[!-~]*"
    rf"|(?:www{_DOT})[!-~]+"
    rf"|\b{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}(?:{_TLDS})\b(?:[:/][^\s，。；）)]*)?",
    re.I,
)
_EMAIL = re.compile(
    rf"[a-z0-9._%+-]+\s*(?:@|\[\s*at\s*\]|\(\s*at\s*\))\s*{_LABEL}(?:{_DOT}{_LABEL})+", re.I
)
_PHONE = re.compile(
    r"(?<![\d.])(?:"
    r"\+\s?\d{1,3}[\s-]?\(?\d{1,4}\)?(?:[\s-]?\d{2,4}){2,4}"  # international
    r"|1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}"  # mainland mobile
    r"|09\d{2}[\s-]?\d{3}[\s-]?\d{3}"  # Taiwan mobile
    r"|0\d{2,3}[\s-]\d{7,8}"  # landline with area code
    r"|[48]00[\s-]?\d{3}[\s-]?\d{4}"  # 400/800 service numbers
    r"|\(?0?\d{2,3}\)[\s-]?\d{3,4}[\s-]?\d{4}"  # (02) 2345-6789
    r")(?![\d.])"
)
_SPACES = re.compile(r"[ \t]{2,}")
_ORPHAN = re.compile(r"[（(]\s*[）)]|[：:]\s*(?=[，。；,;]|$)")


def scrub_contacts(text: str) -> str:
    """``text`` without addresses, domains, e-mail addresses and phone numbers."""
    text = _ZERO_WIDTH.sub("", text).translate(_FULL_WIDTH)
    for pattern in (_EMAIL, _URLISH, _PHONE):
        text = pattern.sub("", text)
    text = _ORPHAN.sub("", text)
    return _SPACES.sub(" ", text).strip()


# -- the quality gate ----------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why an answer is not used: ``code`` selects the repair prompt's wording."""

    code: str
    reason: str
    """For people: the fallback reason recorded with the digest."""
    detail: str = ""
    """For the repair prompt: what to fix (a length, a language, the offending words)."""


_META = re.compile(
    r"^\s*(?:好的|当然|以下是|下面是|这是(?:一段|一篇|本文|文章)|本文|这篇(?:文章|新闻|报道)|"
    r"摘要\s*[:：]|总结\s*[:：]|sure\b|okay\b|certainly\b|here\s+is|here's|"
    r"summary\s*:|this\s+article|the\s+article)"
    r"|作为(?:一[个名])?(?:AI|人工智能|语言模型|助手)|我(?:无法|不能)(?:提供|完成|回答|总结)|"
    r"根据(?:您|你)(?:提供|给出)的|希望(?:以上|这)(?:对你|对您|能)|"
    r"\bas\s+an\s+ai\b|\blanguage\s+model\b|\bi\s+(?:cannot|can't|am\s+unable)\b|"
    r"\bi'm\s+sorry\b",
    re.I,
)
_STOP = frozenset(
    ("the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "by", "at", "from")
    + ("is", "are", "was", "were", "be", "as", "that", "this", "it", "its", "has", "have")
    + ("had", "will", "would", "can", "could", "new", "said", "says")
)


@lru_cache(maxsize=2)
def _opencc(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def _family(language: str) -> str:
    return language.split("-")[0].lower()


def _traditional(language: str) -> bool:
    return language.lower() in ("zh-tw", "zh-hant", "zh-hk", "zh-mo")


def units(text: str, language: str) -> int:
    """Length as a reader of ``language`` counts it: characters for Chinese, else words."""
    if _family(language) == "zh":
        return len(_CJK.findall(text))
    return len(_WORD.findall(text))


def script(text: str) -> str:
    """``"zh"``, ``"ja"``, ``"ko"``, ``"latin"`` or ``""`` (no letters): the dominant script."""
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    if len(_KANA.findall(text)) >= 3:
        return "ja"
    if len(_HANGUL.findall(text)) >= 3:
        return "ko"
    if not cjk and not latin:
        return ""
    # Three Latin letters carry about as much as one CJK character.
    return "zh" if cjk * 3 >= latin else "latin"


def language_tag(text: str) -> str:
    """``"en"``, ``"zh-Hant"`` or ``"zh-Hans"`` (the labeled corpus's ``lang`` values)."""
    if script(text) != "zh":
        return "en"
    return "zh-Hant" if _chinese_variant(text) == "Traditional" else "zh-Hans"


def _chinese_variant(text: str) -> str | None:
    """``"Traditional"`` or ``"Simplified"`` when the text clearly uses that form."""
    cjk = "".join(_CJK.findall(text))
    to_simplified = _opencc("t2s").convert(cjk)
    to_traditional = _opencc("s2t").convert(cjk)
    traditional_only = sum(a != b for a, b in zip(cjk, to_simplified, strict=False))
    simplified_only = sum(a != b for a, b in zip(cjk, to_traditional, strict=False))
    if traditional_only >= 3 and traditional_only > 2 * simplified_only:
        return "Traditional"
    if simplified_only >= 3 and simplified_only > 2 * traditional_only:
        return "Simplified"
    return None


def key_terms(text: str) -> set[str]:
    """CJK character pairs and Latin words (Simplified, lower case): what two texts about
    the same event share whatever their wording."""
    text = _opencc("t2s").convert(unicodedata.normalize("NFKC", text)).lower()
    terms = {w for w in _WORD.findall(text) if len(w) > 1 and w not in _STOP}
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        terms.update(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def min_units(minimum: Mapping[str, int], language: str, max_chars: int) -> int:
    """The configured minimum for ``language``, never more than a digest of
    ``max_chars`` can hold (half of it for Chinese, a word per 12 characters else)."""
    family = _family(language)
    wanted = minimum.get(language, minimum.get(family, 0))
    room = max_chars // 2 if family == "zh" else max_chars // 12
    return max(1, min(wanted, room))


def digest_problems(
    text: str,
    *,
    language: str,
    minimum: int,
    title: str,
    lead: str,
) -> list[Problem]:
    """Every reason ``text`` is not a usable digest of the article (empty when it is)."""
    problems: list[Problem] = []
    visible = [c for c in text if not c.isspace()]
    substance = [c for c in visible if unicodedata.category(c)[0] in "LN"]
    if not visible or len(substance) * 2 < len(visible):
        return [Problem("punctuation", f"digest is mostly punctuation: {text[:30]!r}")]
    family = _family(language)
    written = script(text)
    expected = "zh" if family == "zh" else ("latin" if family == "en" else None)
    if expected is not None and written != expected:
        name = {"zh": "Chinese", "latin": "English", "ja": "Japanese", "ko": "Korean"}
        problems.append(
            Problem(
                "language",
                f"digest is in {name.get(written, 'another language')}, "
                f"the issue is in {language}",
                language,
            )
        )
    elif family == "zh":
        variant = _chinese_variant(text)
        wanted = "Traditional" if _traditional(language) else "Simplified"
        if variant is not None and variant != wanted:
            problems.append(
                Problem(
                    "language",
                    f"digest is in {variant} Chinese, the issue is in {language}",
                    language,
                )
            )
    count = units(text, language)
    # In the wrong language its length in this one means nothing.
    if count < minimum and not problems:
        unit = "Chinese characters" if family == "zh" else "words"
        problems.append(
            Problem(
                "short",
                f"digest too short: {count} {unit}, at least {minimum} wanted",
                str(minimum),
            )
        )
    meta = _META.search(text)
    if meta:
        problems.append(
            Problem("meta", f"digest talks about itself: {meta.group(0).strip()!r}",
                    meta.group(0).strip())
        )
    # A translation shares no surface terms with its source: compare only like scripts.
    article = f"{title}\n{lead}"
    if not problems and script(article) == written:
        shared = key_terms(text) & key_terms(article)
        if len(shared) < 2:
            problems.append(
                Problem("off_topic", "digest shares no key terms with the article's title "
                        "and lead")
            )
    return problems


def category_of(answer: str, allowed: Sequence[str]) -> str | None:
    """The allowed category an answer names (exactly, in Traditional form or with
    decoration around it), or None."""
    cleaned = str(_opencc("t2s").convert(re.sub(r"[\s\"'“”「」【】\[\]《》]", "", answer)))
    if cleaned in allowed:
        return cleaned
    named = [c for c in allowed if c in cleaned]
    return named[0] if len(named) == 1 else None


# -- bullets -------------------------------------------------------------------------------


def grounded(bullets: Sequence[str], stories: Sequence[str]) -> tuple[str, ...]:
    """The bullets that each rest on a distinct story (in bullet order).

    A bullet rests on the story sharing most of its key terms, at least two and a third
    of them (a paraphrase keeps the names and facts, not the character pairs between);
    a second bullet resting on the same story is dropped, so one story (or text planted
    in one story's title) cannot fill the whole list.
    """
    story_terms = [key_terms(s) for s in stories]
    used: set[int] = set()
    kept: list[str] = []
    for bullet in bullets:
        terms = key_terms(bullet)
        if not terms:
            continue
        scores = [len(terms & st) for st in story_terms]
        best = max(range(len(scores)), key=scores.__getitem__, default=-1)
        if best < 0 or scores[best] < 2 or scores[best] * 3 < len(terms) or best in used:
            continue
        used.add(best)
        kept.append(bullet)
    return tuple(kept)
