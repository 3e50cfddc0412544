"""Extractive digests: TextRank sentence ranking (jieba tokens) over ``_text``'s sentences.

Used by ``summarize.py`` when no LLM is configured or an LLM digest is rejected, so it
must work offline, be deterministic and never emit a half sentence.

Ranking uses a *sentence* graph (TextRank over sentences, edges from shared jieba terms)
rather than ``jieba.analyse.textrank`` keywords: keyword TextRank needs part-of-speech
tagging (jieba.posseg, several times slower than plain cutting) and only scores words,
so sentences would still have to be scored from keywords; ``jieba.analyse`` also loads a
270k-entry IDF table on import (~0.8 s). In-document term rarity serves instead.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass
from types import ModuleType

from ._facts import extract_numbers
from ._text import char_len, split_sentences

__all__ = ["DigestCaps", "dangling_start", "extract_digest", "fits", "key_terms", "uses_words"]

# --- ranking ------------------------------------------------------------------------------

_jieba: ModuleType | None = None
_jieba_lock = threading.Lock()


def _jieba_module() -> ModuleType:
    """Import and initialise jieba once, quietly (its dictionary load takes ~0.7 s)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


# Function words that would otherwise link every sentence to every other one.
_STOPWORDS = frozenset(
    """我们 他们 你们 它们 这个 那个 一个 没有 可以 因为 所以 但是 而且 以及 或者 如果 虽然
    还是 就是 已经 这些 那些 什么 怎么 这样 那样 其中 之后 之前 同时 此外 目前 通过 进行
    对于 关于 不过 并且 表示 认为 自己 一些 一种 这种 不是 也是 还有 方面 随着 之一 以来 当下
    可能 需要 能够 而是 其实 甚至 同样 不少 更加 非常 正在 然而 由于 为了 为何 如何 作为
    the a an and or of to in on for with by at from as is are was were be been it its this
    that these those he she they we you i not but have has had will would can could
    said says also than more into about over after""".split()  # noqa: SIM905 - a word list reads better as text
)
_TERMINAL = frozenset("。！？!?.…；;”」』\"')）")
_MAX_SENTENCES = 300  # bounds the O(n²) graph on very long entries; the lead matters most


def _terms(jieba: ModuleType, sentence: str) -> list[str]:
    out: list[str] = []
    for token in jieba.lcut(sentence):
        word = token.strip().lower()
        if not word or word in _STOPWORDS:
            continue
        if any(ch.isdigit() for ch in word) or (len(word) >= 2 and any(c.isalnum() for c in word)):
            out.append(word)
    return out


def _pagerank(weights: list[list[float]], damping: float = 0.85) -> list[float]:
    """Weighted PageRank by power iteration; deterministic (fixed start, fixed order)."""
    import numpy as np

    n = len(weights)
    if n == 0:
        return []
    matrix = np.array(weights, dtype=float)
    out_sum = matrix.sum(axis=1)
    out_sum[out_sum == 0] = 1.0
    transition = (matrix / out_sum[:, None]).T
    rank = np.full(n, 1.0 / n)
    for _ in range(100):
        new = (1 - damping) / n + damping * transition @ rank
        if float(np.abs(new - rank).sum()) < 1e-8:
            rank = new
            break
        rank = new
    return [float(x) for x in rank]


# --- what a digest may start with ---------------------------------------------------------
# A digest is read cold, right under its headline: a first sentence that leans on one the
# reader never saw ("此外，…", "征求意见稿还规定…", "It also said…") reads as a fragment.
# Checked on jieba tokens of the Simplified form, so 並且/與此同時 count like 并且/与此同时.

_ZH_CONNECTIVES = frozenset(
    """还 也 又 亦 并 而 但 却 且 则 故 另 此外 另外 同时 与此同时 而且 并且 但是 不过 然而
    因此 所以 因而 于是 此前 此后 随后 其后 其中 对此 为此 同样 再者 总之 可见 那么 其次 最后
    首先 另据 还有 除此之外 除此以外 另一方面 总的来说 换言之 尽管如此 即便如此 加之 况且 何况
    甚至 以及 或者 这 这些 这一 这是 这次 这个 那 那些 该 其 此 此次 他 她 它
    他们 她们 它们""".split()  # noqa: SIM905 - a word list reads better as text
)
# "X还/也…" in the first clause: the subject is named, but the sentence continues another.
_ZH_CONTINUING = frozenset("还 也 亦 另 同时 此外 另外 同样 也将 还将 亦将".split())  # noqa: SIM905
_ZH_POINTING = frozenset("该这那此其他她它")
_ZH_NOT_POINTING = frozenset("其他 其余 其实 他人 那些年".split())  # noqa: SIM905
_EN_CONNECTIVES = frozenset(
    """also however but and or nor so yet still meanwhile moreover furthermore additionally
    besides thus therefore hence instead otherwise nevertheless nonetheless plus then likewise
    similarly separately further again conversely consequently accordingly indeed it its
    they their them he his she her these those such""".split()  # noqa: SIM905
)
_EN_CONNECTIVE_PAIRS = frozenset(
    """in addition|on the other hand|at the same time|as a result|in turn|for example|for
    instance|by contrast|in contrast|even so|that said|on top|this is|this comes|this
    follows|this means|that is|all this|both companies""".replace("\n    ", " ").split("|")
)
_CLAUSE_END = re.compile(r"[，,：:；;（(]")


def dangling_start(sentence: str) -> bool:
    """Whether ``sentence`` opens with a connective or leans on an earlier sentence."""
    from newsletter.relevance import normalize

    text = normalize(sentence).lstrip(" \"'“‘「『（(【[-—*·•")
    if not text:
        return False
    if text[0].isascii() and text[0].isalpha():
        words = re.findall(r"[a-z][a-z'’]*", text[:80])
        if not words:
            return False
        if words[0] in _EN_CONNECTIVES or " ".join(words[:2]) in _EN_CONNECTIVE_PAIRS:
            return True
        if " ".join(words[:3]) in _EN_CONNECTIVE_PAIRS:
            return True
        # "The company also said…": a subject, then a word tying it to an earlier sentence.
        return "also" in words[1:5] or "too" in words[1:3]
    tokens = [t for t in _jieba_module().lcut(_CLAUSE_END.split(text, 1)[0][:40]) if t.strip()]
    if not tokens:
        return False
    if tokens[0] in _ZH_CONNECTIVES or any(t in _ZH_CONTINUING for t in tokens[1:4]):
        return True
    # jieba glues demonstratives to their noun (该主播, 这一数字): refer back all the same.
    return text[0] in _ZH_POINTING and tokens[0] not in _ZH_NOT_POINTING


# --- key terms ---------------------------------------------------------------------------


def key_terms(text: str) -> set[str]:
    """The words that carry ``text``'s meaning: jieba terms of two or more characters or
    with a figure, function words dropped, lower-cased, Traditional folded to Simplified."""
    from newsletter.relevance import normalize

    out: set[str] = set()
    for term in _terms(_jieba_module(), normalize(text)):
        if term.isascii() and term.isalpha():
            if len(term) < 3:
                continue
            term = _stem(term)
        elif term.isdigit() and len(term) < 2:
            continue  # "2 bed 1 bath": a lone digit is in every text
        out.add(term)
    return out


def _stem(word: str) -> str:
    """A crude English stem so that "creators" matches "creator" and "tests" "testing"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _has_term(term: str, haystack: str, words: set[str]) -> bool:
    if term.isascii() and term.isalpha():
        return term in words
    if term.isascii():
        # A figure or code matches whole: "01" is not in "2018", "1ba" not in "1bathroom",
        # but "618" is in "618预热期".
        pattern = rf"(?<![0-9a-z.]){re.escape(term)}(?![0-9a-z])"
        return re.search(pattern, haystack) is not None
    return term in haystack


def _term_view(text: str) -> tuple[str, set[str]]:
    """``text`` normalized, and its English word stems, for :func:`_has_term`."""
    from newsletter.relevance import normalize

    normal = normalize(text)
    return normal, {_stem(w) for w in re.findall(r"[a-z]+", normal)}


# --- length caps -------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestCaps:
    """How long a digest may be: characters for Chinese, words for English.

    120 characters is about two Chinese news sentences but not one English one, so the
    two scripts get caps in their own units.
    """

    max_chars: int = 120
    max_words: int = 60


_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9][\w'’.-]*")


def uses_words(text: str) -> bool:
    """Whether ``text`` is measured in words (Latin script) rather than characters."""
    return len(_CJK_RUN.findall(text)) < len(_LATIN_WORD.findall(text))


def fits(text: str, caps: DigestCaps, *, words: bool | None = None) -> bool:
    """Whether ``text`` is within the cap of its script (``words`` forces the unit)."""
    if words is None:
        words = uses_words(text)
    if words:
        return len(text.split()) <= caps.max_words
    return char_len(text) <= caps.max_chars


# --- the digest ---------------------------------------------------------------------------

# A sentence must end like one: a feed's own "…" or "[…]" marks a cut, not an end.
_SENTENCE_END = re.compile(r"[。！？!?.][”’」』\"')）]*$")
_CUT_END = re.compile(r"(?:…|\.\.\.|\[…\]|\[\.\.\.\])[”’」』\"')）\]]*$")


def _full_stop(sentence: str) -> str:
    if sentence[-1] == "；":
        return sentence[:-1] + "。"
    if sentence[-1] == ";":
        return sentence[:-1] + "."
    return sentence


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        if out and out[-1].isascii() and part[0].isascii():
            out += " "
        out += part
    return out


def extract_digest(title: str, text: str, caps: DigestCaps | int = DigestCaps()) -> str:
    """An extractive digest of ``text``: whole sentences of it, within the cap of its script.

    The first sentence states the headline's fact: of the complete sentences that carry the
    title's key terms and do not open with a connective (:func:`dangling_start`), the one
    covering most of the title (weighted by in-document rarity), with centrality and lead
    position as tie-breakers. The rest are added by TextRank centrality on a sentence
    graph (edges = shared jieba terms, Mihalcea & Tarau 2004), new title terms covered,
    figures and position, kept in source order after the lead, while they fit.

    Nothing is ever cut: a sentence that does not fit is left out. The digest is empty
    when no sentence both fits and carries a title term (the issue then shows the headline
    and the link alone rather than an unrelated or broken sentence).
    """
    if isinstance(caps, int):
        caps = DigestCaps(max_chars=caps)
    title = " ".join(title.split())
    sentences = [" ".join(s.split()) for s in split_sentences(text)][:_MAX_SENTENCES]
    sentences = [_full_stop(s) for s in sentences if s]
    if not sentences:
        return ""
    by_words = uses_words(text)
    jieba = _jieba_module()
    terms = [_terms(jieba, s) for s in sentences]
    sets = [set(t) for t in terms]
    n = len(sentences)

    weights = [[0.0] * n for _ in range(n)]
    for i in range(n):
        if not sets[i]:
            continue
        for j in range(i + 1, n):
            shared = len(sets[i] & sets[j])
            if shared:
                w = shared / (math.log(len(terms[i]) + 1) + math.log(len(terms[j]) + 1))
                weights[i][j] = weights[j][i] = w
    rank = _pagerank(weights)
    top_rank = max(rank) or 1.0

    views = [_term_view(s) for s in sentences]
    wanted = key_terms(title)
    # Title terms the body never uses cannot tell its sentences apart: leave them out.
    doc_freq = {t: sum(_has_term(t, v[0], v[1]) for v in views) for t in wanted}
    wanted = {t for t, df in doc_freq.items() if df}

    def idf(term: str) -> float:
        return math.log((n + 1) / (doc_freq[term] + 1)) + 1.0

    title_weight = sum(idf(t) for t in wanted) or 1.0
    covers = [{t for t in wanted if _has_term(t, v[0], v[1])} for v in views]
    title_key = "".join(title.split())
    title_figures = {(f.kind, f.value) for f in extract_numbers(title)}

    usable: list[bool] = []
    base: list[float] = []
    for i, sentence in enumerate(sentences):
        compact = "".join(sentence.split())
        ok = (
            bool(_SENTENCE_END.search(sentence))
            and not _CUT_END.search(sentence)
            and not (title_key and (compact == title_key or compact in title_key))
            and (len(sentence.split()) >= 4 if by_words else char_len(sentence) >= 8)
            and fits(sentence, caps, words=by_words)
        )
        usable.append(ok)
        figures = [f for f in extract_numbers(sentence) if f.kind != "count" or f.value != 1.0]
        headline = any((f.kind, f.value) in title_figures for f in figures)
        score = (
            0.45 * rank[i] / top_rank
            + 0.15 * bool(figures)
            + 0.15 * headline  # the figure the title leads with
            + 0.10 / (1 + 0.2 * i)
        )
        if sentence.rstrip("”」』\"')）")[-1:] in "？?！!":
            score *= 0.5  # a digest states; it neither asks nor exclaims ("快来评价吧!")
        base.append(score)

    def coverage(i: int, seen: set[str]) -> float:
        return sum(idf(t) for t in covers[i] - seen) / title_weight

    leads = [i for i in range(n) if usable[i] and covers[i] and not dangling_start(sentences[i])]
    if not leads:
        return ""
    # News puts its fact first: among sentences covering the title alike, the earlier wins.
    lead = max(leads, key=lambda i: (coverage(i, set()) + 0.5 * base[i] + 0.2 / (1 + i), -i))
    chosen = [lead]
    seen = set(covers[lead])
    rest = [i for i in range(n) if usable[i] and i != lead]

    def repeats(i: int) -> bool:
        return any(len(sets[i] & sets[c]) > 0.6 * min(len(sets[i]), len(sets[c])) for c in chosen)

    while rest:
        best = max(rest, key=lambda i: (base[i] + 0.6 * coverage(i, seen), -i))
        rest.remove(best)
        if repeats(best):
            continue  # the same content again (feeds often repeat the lead)
        if base[best] < 0.5 * base[lead] and not covers[best] - seen:
            continue  # boilerplate and asides: a shorter digest is better than filler
        trial = _join([sentences[lead]] + [sentences[c] for c in sorted([*chosen[1:], best])])
        if fits(trial, caps, words=by_words):
            chosen.append(best)
            seen |= covers[best]
    ordered = sorted(chosen)
    first = ordered[0]
    # Source order reads best when its first sentence could lead as well as the lead.
    if first != lead and not (
        coverage(first, set()) >= 0.5 * coverage(lead, set())
        and not dangling_start(sentences[first])
    ):
        ordered = [lead, *(c for c in ordered if c != lead)]
    return _join([sentences[c] for c in ordered])
