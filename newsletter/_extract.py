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
import threading
from types import ModuleType

from ._facts import cap_length, extract_numbers
from ._text import char_len, split_sentences

__all__ = ["extract_digest"]

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


def extract_digest(title: str, text: str, max_chars: int = 120) -> str:
    """An extractive digest of ``text``: its most central, informative complete sentences.

    Sentences are ranked by TextRank on a sentence graph (edge weight = shared jieba terms,
    normalised by sentence length, as in Mihalcea & Tarau 2004), blended with how many of
    the title's terms a sentence carries (weighted by in-document rarity), whether it
    states a figure, and a small lead bias. Headings, boilerplate lines without end
    punctuation, questions and repeats of the title are demoted. The best sentences that
    fit in ``max_chars`` are returned in their original order; if none fits, the best one
    is cut with :func:`newsletter._facts.cap_length`. Empty text gives the (capped) title.
    """
    title = " ".join(title.split())
    sentences = [" ".join(s.split()) for s in split_sentences(text)][:_MAX_SENTENCES]
    sentences = [s for s in sentences if s]
    if not sentences:
        return cap_length(title, max_chars)
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

    df: dict[str, int] = {}
    for s in sets:
        for t in s:
            df[t] = df.get(t, 0) + 1
    title_terms = set(_terms(jieba, title)) if title else set()

    def idf(term: str) -> float:
        return math.log((n + 1) / (df.get(term, 0) + 1)) + 1.0

    # Title terms the body never uses cannot tell its sentences apart: leave them out.
    title_terms = {t for t in title_terms if t in df}
    title_weight = sum(idf(t) for t in title_terms) or 1.0
    title_key = "".join(title.split())
    title_figures = {(f.kind, f.value) for f in extract_numbers(title)}

    scores: list[float] = []
    for i, sentence in enumerate(sentences):
        central = rank[i] / top_rank
        on_title = sum(idf(t) for t in title_terms & sets[i]) / title_weight
        figures = [f for f in extract_numbers(sentence) if f.kind != "count" or f.value != 1.0]
        headline = any((f.kind, f.value) in title_figures for f in figures)
        score = (
            0.45 * central
            + 0.30 * on_title
            + 0.15 * bool(figures)
            + 0.15 * headline  # the figure the title leads with
            + 0.10 / (1 + 0.2 * i)
        )
        compact = "".join(sentence.split())
        if title_key and (compact == title_key or compact in title_key):
            score = 0.0  # the feed repeats its title in the body; the issue shows it already
        if sentence[-1] not in _TERMINAL:
            score *= 0.2  # headings, bylines, "扫一扫下载APP": not sentences
        if sentence.rstrip("”」』\"')）")[-1:] in "？?":
            score *= 0.5  # a digest states, it does not ask
        if char_len(sentence) < 10:
            score *= 0.3
        scores.append(score)

    # A clause ending in ；is a sentence here, but reads as unfinished at a digest's end.
    sentences = [_full_stop(s) for s in sentences]
    keep = [k for k in range(n) if scores[k] > 0 and sentences[k][-1] in _TERMINAL]
    whole = _join([sentences[k] for k in keep])
    if keep and char_len(whole) <= max_chars:
        return whole  # a short entry is its own best digest
    order = sorted(range(n), key=lambda k: (-scores[k], k))
    best = order[0]
    if scores[best] <= 0:
        return cap_length(title or sentences[best], max_chars)
    chosen: list[int] = []
    for k in order:
        # The first pick may stand in for a best sentence that is too long only if it is
        # nearly as good; otherwise the best sentence, cut, says more.
        floor = (0.5 if chosen else 0.8) * scores[best]
        if scores[k] < floor:
            break
        if any(len(sets[k] & sets[c]) > 0.6 * min(len(sets[k]), len(sets[c])) for c in chosen):
            continue  # same content again (feeds often repeat the lead)
        trial = sorted([*chosen, k])
        if char_len(_join([sentences[c] for c in trial])) <= max_chars:
            chosen = trial
    if not chosen:
        return cap_length(sentences[best], max_chars)
    digest = _join([sentences[k] for k in chosen])
    return digest
