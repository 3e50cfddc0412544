"""Same-story clustering: group entries that report one event from several sources.

Two entries are linked when they share a canonical link, or when their text is close:
MinHash LSH over character shingles proposes candidate pairs cheaply, and each candidate
is then verified with a TF-IDF cosine (weights from the batch itself, so words every
entry of the week uses count for little) and a guard against "same template, other
figures" (press releases filled in for another brand, the next issue of a weekly
column). Links are closed transitively with union-find.

Text is compared after NFKC, Traditional → Simplified (OpenCC ``t2s``) and lower-casing,
so a Traditional copy of a Simplified report matches.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Any

import numpy as np

from newsletter._urls import canonical_url
from newsletter.models import Entry

# --- Parameters, measured on ../shared/corpus/labeled/stories.jsonl with
# `python benchmarks/dedupe.py` (and a sweep of LINK_COSINE x FIGURES_AGREE x IDF_PRIOR_DOCS).

NUM_PERM = 128
"""MinHash permutations: enough for 64 bands of 2 rows, the candidate curve below.
Hashing time grows linearly with it."""

SHINGLE_SIZE = 3
"""Character shingle length. 3-grams separate Chinese reports of different events
(off-story pairs almost all < 0.1 Jaccard) while rewrites of one event still share
0.13-0.4; 2-grams make every pair of Chinese e-commerce news look alike."""

LSH_BANDS, LSH_ROWS = 64, 2
"""LSH banding: what datasketch's optimiser picks for a 0.1 Jaccard threshold at 128
permutations. A pair
becomes a candidate with probability 1-(1-J^2)^64: 0.47 at J=0.1, 0.93 at 0.2, >0.99 at
0.3. Heavy rewrites of one story have 3-gram Jaccard as low as 0.13, so the net must be
wide; the verification below supplies precision. On the labeled set this proposes
236 of 7,260 pairs and contains 96 of the 99 same-story pairs (transitivity recovers
the other three)."""

LINK_COSINE = 0.30
"""TF-IDF cosine needed to link two candidates. With the figures guard on, every value
from 0.22 to 0.38 meets the targets on the labeled set (precision 0.97-1.00, recall
0.88-1.00); 0.30 is the middle of that plateau. Below it, different stories of one company
start to merge; above it, heavy rewrites fall apart."""

SHORT_TOKENS = 40
"""Entries with fewer tokens than this (title-only items, one-line teasers) give too
little evidence for a loose match: two short headlines about one company share most of
their characters."""

SHORT_LINK_COSINE = 0.8
"""Cosine needed when either entry is short: a near-verbatim copy only."""

IDF_PRIOR_DOCS = 10.0
"""Pseudo-documents added to the batch size in the IDF, so a tiny batch (two copies of
one story) still gives shared tokens a positive weight; negligible for a week's batch."""

FIGURES_MIN = 3
"""Figures guard applies only when both entries quote at least this many numbers."""

FIGURES_AGREE = 0.34
"""Minimum Jaccard of the number sets of two linked entries (when the guard applies).
Reports of one event repeat its figures (0.4-1.0 on the labeled set); a template filled
in for another brand or the next issue of a weekly column shares the wording but not
the figures (0.0-0.29). Any value in 0.25-0.45 gives the same result there; without
the guard precision drops to 0.86."""

_SEED = 1
"""Fixed MinHash seed: the same input always gives the same clusters."""

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W_]+(?:['.][^\W_]+)*")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3})")
# Function words only; e-commerce vocabulary is down-weighted by the IDF instead.
_EN_STOPWORDS = frozenset(
    (
        "a", "an", "the", "of", "to", "in", "on", "at", "for", "and", "or", "but", "is", "are",
        "was", "were", "be", "been", "by", "with", "as", "from", "that", "this", "these", "those",
        "it", "its", "their", "his", "her", "they", "we", "you", "our", "has", "have", "had",
        "will", "would", "can", "could", "not", "no", "than", "more", "most", "also", "into",
        "over", "after", "about", "up", "out", "new", "says", "said",
    )
)


@lru_cache(maxsize=1)
def _t2s() -> Callable[[str], str]:
    import opencc

    converter = opencc.OpenCC("t2s")
    return converter.convert


def _prepare(text: str) -> str:
    """NFKC, Traditional → Simplified, lower case, no thousands separators."""
    text = unicodedata.normalize("NFKC", text)
    if _CJK_RUN.search(text):
        text = _t2s()(text)
    return _THOUSANDS_RE.sub("", text.lower())


def _shingles(prepared: str) -> set[bytes]:
    # Punctuation and whitespace dropped so layout and quoting style do not matter.
    s = "".join(ch for ch in prepared if ch.isalnum())
    if len(s) < SHINGLE_SIZE:
        return {s.encode()} if s else set()
    return {s[i : i + SHINGLE_SIZE].encode() for i in range(len(s) - SHINGLE_SIZE + 1)}


def _tokens(prepared: str) -> list[str]:
    # Chinese has no spaces: character unigrams + bigrams stand in for words (the usual
    # CJK indexing choice); it needs no dictionary and is ~20x faster than jieba, which
    # separated the labeled set about as well.
    out: list[str] = []
    for m in _TOKEN_RE.finditer(prepared):
        w = m.group()
        if _CJK_RUN.fullmatch(w):
            out.extend(w)
            out.extend(w[i : i + 2] for i in range(len(w) - 1))
        elif w not in _EN_STOPWORDS:
            out.append(w)
    return out


# Platforms a headline is about. Two headlines that each name platforms, none in common,
# report different events even when their figures and wording match ("快手双11：GMV增长73%"
# vs "视频号双11战报：GMV增长73%"): reports of one story name the same platform.
_PLATFORMS: dict[str, tuple[str, ...]] = {
    "wechat": ("视频号", "微信", "wechat", "weixin", "腾讯", "tencent"),
    "douyin": ("抖音", "douyin"),
    "tiktok": ("tiktok",),
    "kuaishou": ("快手", "kuaishou"),
    "alibaba": ("淘宝", "天猫", "taobao", "tmall", "阿里", "alibaba"),
    "jd": ("京东", "jd.com", "jingdong"),
    "xiaohongshu": ("小红书", "xiaohongshu", "rednote"),
    "pdd": ("拼多多", "pinduoduo", "temu"),
    "amazon": ("亚马逊", "amazon"),
    "bilibili": ("哔哩哔哩", "b站", "bilibili"),
    "youtube": ("youtube",),
    "instagram": ("instagram",),
    "whatnot": ("whatnot",),
    "shopee": ("shopee", "虾皮"),
}
_PLATFORM_RE = re.compile(
    "|".join(re.escape(n) for names in _PLATFORMS.values() for n in names)
)
_PLATFORM_OF = {n: key for key, names in _PLATFORMS.items() for n in names}


@dataclass(frozen=True)
class _Doc:
    shingles: set[bytes]
    counts: Counter[str]
    numbers: frozenset[str]
    n_tokens: int
    platforms: frozenset[str]


def _doc(entry: Entry) -> _Doc:
    prepared = _prepare(f"{entry.title}\n{entry.text}")
    tokens = _tokens(prepared)
    title = _prepare(entry.title)
    return _Doc(
        shingles=_shingles(prepared),
        counts=Counter(tokens),
        numbers=frozenset(_NUMBER_RE.findall(prepared)),
        n_tokens=len(tokens),
        platforms=frozenset(_PLATFORM_OF[m] for m in _PLATFORM_RE.findall(title)),
    )


def _different_platforms(a: _Doc, b: _Doc) -> bool:
    return bool(a.platforms and b.platforms and not a.platforms & b.platforms)


def _tfidf(docs: Sequence[_Doc]) -> list[dict[str, float]]:
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.counts.keys())
    n = len(docs) + IDF_PRIOR_DOCS
    idf = {t: math.log(n / (1 + c)) for t, c in df.items()}
    vectors: list[dict[str, float]] = []
    for d in docs:
        v = {t: (1.0 + math.log(c)) * idf[t] if c > 1 else idf[t] for t, c in d.counts.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors.append({t: x / norm for t, x in v.items()})
    return vectors


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    # Walking the smaller vector with dict.get beats intersecting the key sets first.
    if len(a) > len(b):
        a, b = b, a
    get = b.get
    return sum([x * get(t, 0.0) for t, x in a.items()])


def _figures_disagree(a: _Doc, b: _Doc) -> bool:
    if len(a.numbers) < FIGURES_MIN or len(b.numbers) < FIGURES_MIN:
        return False
    return len(a.numbers & b.numbers) / len(a.numbers | b.numbers) < FIGURES_AGREE


# MinHash and LSH banding are written out here rather than taken from datasketch, which
# they replaced: importing datasketch imports scipy (0.5 s of every `newsletter build`,
# for a parameter optimiser we never call), its LSH index cost 0.25 s per 1,300 entries
# only for us to walk its buckets, and its default scheme changed in 2.0, so clusters
# depended on the installed version. The hashing below is datasketch 2's "affine32"
# scheme with the same seed: the signatures are identical to the ones it produced.
_FMIX32 = (np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35))


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """NUM_PERM random bijections h -> a*h + b (mod 2^32); odd ``a`` keeps them bijective."""
    gen = np.random.RandomState(_SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _signature(shingles: set[bytes]) -> np.ndarray:
    """MinHash signature: per permutation, the least permuted hash of any shingle."""
    # crc32 is C-fast and stable across processes (built-in hash() is salted); the
    # MurmurHash3 finaliser spreads its structured output before the affine maps.
    hv = np.fromiter((zlib.crc32(s) for s in shingles), dtype=np.uint32, count=len(shingles))
    m1, m2 = _FMIX32
    hv ^= hv >> np.uint32(16)
    hv *= m1
    hv ^= hv >> np.uint32(13)
    hv *= m2
    hv ^= hv >> np.uint32(16)
    a, b = _permutations()
    signature: np.ndarray = (hv[:, None] * a + b).min(axis=0)
    return signature


def _candidates(docs: Sequence[_Doc]) -> set[tuple[int, int]]:
    """Pairs that share at least one LSH band: identical signatures over its rows."""
    idx = [i for i, d in enumerate(docs) if d.shingles]
    if len(idx) < 2:
        return set()
    # Each band's LSH_ROWS 32-bit values, read as one bytes key per entry.
    signatures = np.stack([_signature(docs[i].shingles) for i in idx])
    bands = np.ascontiguousarray(signatures.reshape(len(idx), LSH_BANDS, LSH_ROWS))
    keys = bands.view(np.dtype(f"V{4 * LSH_ROWS}")).reshape(len(idx), LSH_BANDS)
    pairs: set[tuple[int, int]] = set()
    for band in range(LSH_BANDS):
        buckets: dict[bytes, list[int]] = {}
        for i, key in zip(idx, keys[:, band].tolist(), strict=True):
            buckets.setdefault(key, []).append(i)
        for bucket in buckets.values():
            if len(bucket) > 1:
                pairs.update(combinations(bucket, 2))
    return pairs


class _UnionFind:
    # Hand-written: a dozen lines, and no graph library is among our dependencies.
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _links(entries: Sequence[Entry]) -> _UnionFind:
    uf = _UnionFind(len(entries))
    first_by_url: dict[str, int] = {}
    for i, e in enumerate(entries):
        url = canonical_url(e.link)
        if url:
            if url in first_by_url:
                uf.union(first_by_url[url], i)
            else:
                first_by_url[url] = i
    docs = [_doc(e) for e in entries]
    vectors = _tfidf(docs)
    for i, j in sorted(_candidates(docs)):
        if uf.find(i) == uf.find(j):
            continue  # already together: another link cannot change the components
        a, b = docs[i], docs[j]
        short = min(a.n_tokens, b.n_tokens) < SHORT_TOKENS
        need = SHORT_LINK_COSINE if short else LINK_COSINE
        if (
            _cosine(vectors[i], vectors[j]) >= need
            and not _figures_disagree(a, b)
            and not _different_platforms(a, b)
        ):
            uf.union(i, j)
    return uf


def cluster(
    entries: Sequence[Entry], rank: Callable[[Entry], float] | None = None
) -> list[tuple[Entry, ...]]:
    """Group entries that report the same story.

    Each cluster lists its best entry first: highest ``rank(entry)`` (0 for all when
    ``rank`` is None), then longer text, earlier ``published``, smaller ``id``. Clusters
    are ordered by their best entry's rank (highest first), then its id. The result does
    not depend on the order of ``entries``.
    """
    if not entries:
        return []
    uf = _links(entries)
    scores = [float(rank(e)) if rank is not None else 0.0 for e in entries]

    def key(i: int) -> tuple[Any, ...]:
        e = entries[i]
        return (-scores[i], -len(e.text), e.published, e.id, i)

    groups: dict[int, list[int]] = {}
    for i in range(len(entries)):
        groups.setdefault(uf.find(i), []).append(i)
    ordered = [sorted(members, key=key) for members in groups.values()]
    ordered.sort(key=lambda m: (-scores[m[0]], entries[m[0]].id, key(m[0])))
    return [tuple(entries[i] for i in members) for members in ordered]
