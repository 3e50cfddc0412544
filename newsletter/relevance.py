"""Rule-based topic scoring for the WeChat Channels (视频号) / live-commerce beat.

The rules live in ``newsletter/data/lexicon.yaml`` (its header documents the scoring and
the override schema). This module only loads that file and applies it: :func:`judge` is a
pure function of its inputs, so the same entry always gets the same verdict and reasons.

Why one file over 600 lines: the lexicon loader, the normaliser and the scorer with its
context rules and reasons form one judgement that must stay fast (≥ 20,000 entries/s);
the vocabulary itself lives in ``data/lexicon.yaml``.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import opencc
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from newsletter.errors import LLMError
from newsletter.llm import LLMClient, parse_json_object
from newsletter.models import Tokens, Verdict

__all__ = [
    "JudgeAnswer",
    "Lexicon",
    "apply_judgement",
    "is_uncertain",
    "judge",
    "llm_judge",
    "load_lexicon",
    "normalize",
]

# Feed text is untrusted: bound the work one entry can cost (articles are far shorter).
_MAX_CHARS = 50_000
# Sentence ends: a `near` rule never pairs words across them.
_SENTENCE_END = re.compile(r"[。！？!?；;\n]|[.．](?:\s|$)")
_ASCII_WORD = re.compile(r"[a-z0-9]")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    # Building the converter loads dictionaries (milliseconds); do it once per process.
    # OpenCC 1.4.x accepts "t2s" (and "t2s.json"); both name the same configuration.
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _tw2sp() -> opencc.OpenCC:
    # Character conversion alone turns Taiwan's 影片號 into 影片号, not 视频号: tw2sp also
    # maps Taiwan phrases to mainland ones (影片→视频, 網路→网络, 軟體→软件). Hong Kong
    # text is written with the same phrases or with characters t2s already covers.
    return opencc.OpenCC("tw2sp")


@lru_cache(maxsize=1)
def _nfkc_needed() -> re.Pattern[str]:
    """Characters that make NFKC change a string, minus full-width punctuation.

    NFKC is the costliest normalization step (~15 us per entry) and nearly every Chinese
    text "needs" it only because of full-width punctuation (，：！), which matching treats
    like ASCII anyway. So NFKC runs only when other characters would change: those NFKC
    maps (full-width letters and digits, ligatures, compatibility ideographs), combining
    marks, scripts whose vowel signs compose, and anything outside the BMP.
    """
    keep = {
        0x3000,
        *range(0xFF01, 0xFF10),
        *range(0xFF1A, 0xFF21),
        *range(0xFF3B, 0xFF41),
        *range(0xFF5B, 0xFF5F),
    }
    ranges: list[str] = []
    for cp in range(0x80, 0x10000):
        if cp in keep or 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if unicodedata.combining(ch) or unicodedata.normalize("NFKC", ch) != ch:
            ranges.append(re.escape(ch))
    composing = "\u0900-\u0dff\u1000-\u109f\u1100-\u11ff\u1b00-\u1b7f\U00010000-\U0010ffff"
    return re.compile("[" + "".join(ranges) + composing + "]")


@lru_cache(maxsize=1)
def _t2s_needed() -> re.Pattern[str]:
    """Characters that OpenCC t2s changes: most Chinese feed text has none of them.

    Found once (~20 ms) by converting every BMP CJK character, one per line so no phrase
    spans two. Characters outside the BMP always take the conversion path.
    """
    blocks = ((0x2E80, 0x2FDF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
    chars = [chr(cp) for lo, hi in blocks for cp in range(lo, hi + 1)]
    converted = _t2s().convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # never seen; stay correct if OpenCC changes
        converted = [_t2s().convert(ch) for ch in chars]
    changed = "".join(re.escape(a) for a, b in zip(chars, converted, strict=True) if a != b)
    return re.compile("[" + changed + "\U00010000-\U0010ffff]")


def normalize(text: str) -> str:
    """NFKC, Traditional → Simplified Chinese with regional phrases, lower case.

    This is the form all matching uses. Traditional text is converted with OpenCC's tw2sp,
    so Taiwan and Hong Kong phrasing (影片號, 網路直播) reads as the mainland terms of the
    lexicon (视频号, 网络直播). Each step runs only when the text has characters it would
    change; full-width punctuation alone does not trigger NFKC (matching treats it like
    ASCII).
    """
    if text.isascii():
        return text.lower()
    nfkc, t2s = _NEEDED or _needed()
    if nfkc.search(text) is not None:
        text = unicodedata.normalize("NFKC", text)
    if t2s.search(text) is not None:
        text = _tw2sp().convert(text)
    return text.lower()


_NEEDED: tuple[re.Pattern[str], re.Pattern[str]] | None = None


def _needed() -> tuple[re.Pattern[str], re.Pattern[str]]:
    # Module-level rather than lru_cache lookups: normalize() runs for every entry.
    global _NEEDED
    _NEEDED = (_nfkc_needed(), _t2s_needed())
    return _NEEDED


# ---------------------------------------------------------------------------------------
# Schema of the YAML file and of operator overrides (validated with pydantic so that an
# error names the offending key path).


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _MaskSpec(_Strict):
    label: str
    pattern: str
    requires: list[str] = []


class _TermSpec(_Strict):
    """A term that counts fully only when the entry also has words of a cue class."""

    weight: float
    context: list[str]
    alone: float = 0.0


class _GroupSpec(_Strict):
    terms: dict[str, float | _TermSpec]
    unless: list[str] = []


class _RuleSpec(_Strict):
    name: str
    group: str
    weight: float
    near: list[str] | None = None
    all: list[str] | None = None
    window: int | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> _RuleSpec:
        if (self.near is None) == (self.all is None):
            raise ValueError("a rule needs exactly one of 'near' or 'all'")
        if self.near is not None and len(self.near) != 2:
            raise ValueError("'near' takes exactly two cue classes")
        if self.all is not None and not self.all:
            raise ValueError("'all' needs at least one cue class")
        if self.window is not None and self.window < 0:
            raise ValueError("'window' must be >= 0")
        return self


class _LexiconSpec(_Strict):
    threshold: float
    title_factor: float = 1.0
    unless_factor: float = 0.0
    corroboration: float = 0.0
    corroboration_cap: float = 0.0
    window: int = 40
    uncertain_band: tuple[float, float] = (0.0, 0.0)
    masks: list[_MaskSpec] = []
    groups: dict[str, _GroupSpec]
    cues: dict[str, list[str]] = {}
    traps: list[str] = []
    rules: list[_RuleSpec] = []


class _GroupPatch(_Strict):
    unless: list[str]


class _OverrideSpec(_Strict):
    threshold: float | None = None
    title_factor: float | None = None
    unless_factor: float | None = None
    corroboration: float | None = None
    corroboration_cap: float | None = None
    window: int | None = None
    uncertain_band: tuple[float, float] | None = None
    add: dict[str, dict[str, float | _TermSpec]] = {}
    remove: list[str] = []
    groups: dict[str, _GroupPatch] = {}
    cues: dict[str, list[str]] = {}
    traps: list[str] = []
    rules: list[_RuleSpec] = []
    remove_rules: list[str] = []
    masks: list[_MaskSpec] = []


def _validation_error(what: str, exc: ValidationError) -> ValueError:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
        problems.append(f"{loc}: {err['msg']}")
    return ValueError(f"invalid {what}: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------
# The compiled lexicon.


@dataclass(frozen=True)
class Group:
    """Weighted terms of which only the strongest hit counts."""

    name: str
    terms: Mapping[str, float]
    unless: tuple[str, ...] = ()
    context: Mapping[str, tuple[tuple[str, ...], float]] = field(default_factory=dict)
    """Terms that need context: term -> (cue classes, weight when none of them occurs)."""

    @property
    def negative(self) -> bool:
        return any(w < 0 for w in self.terms.values())


@dataclass(frozen=True)
class Rule:
    """A co-occurrence rule over cue classes (``kind`` is ``near`` or ``all``)."""

    name: str
    group: str
    kind: str
    cues: tuple[str, ...]
    weight: float
    window: int


@dataclass(frozen=True)
class _TermInfo:
    group: str | None
    weight: float
    cues: frozenset[str]
    context: tuple[str, ...] = ()
    alone: float = 0.0


@dataclass(frozen=True, eq=False)
class Lexicon:
    """A validated, compiled lexicon. Build it with :func:`load_lexicon`."""

    threshold: float
    title_factor: float
    unless_factor: float
    corroboration: float
    corroboration_cap: float
    window: int
    uncertain_band: tuple[float, float]
    groups: Mapping[str, Group]
    cues: Mapping[str, tuple[str, ...]]
    traps: tuple[str, ...]
    rules: tuple[Rule, ...]
    masks: tuple[tuple[str, str, tuple[str, ...]], ...]
    """(label, regular expression, required substrings: any one must occur) triples."""
    _info: dict[str, _TermInfo] = field(init=False, repr=False)
    _prefixes: tuple[tuple[str, _TermInfo], ...] = field(init=False, repr=False)
    _matcher: re.Pattern[str] = field(init=False, repr=False)
    _mask_res: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = field(
        init=False, repr=False
    )
    _mask_gate: re.Pattern[str] | None = field(init=False, repr=False)
    _near_rules: tuple[tuple[str, str, str, str, float, int], ...] = field(init=False, repr=False)
    _all_rules: tuple[tuple[str, str, tuple[str, ...], float], ...] = field(init=False, repr=False)
    _unless: dict[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        info: dict[str, _TermInfo] = {}
        for group in self.groups.values():
            for term, weight in group.terms.items():
                context, alone = group.context.get(term, ((), 0.0))
                info[term] = _TermInfo(group.name, weight, frozenset(), context, alone)
        for cue, words in self.cues.items():
            for word in words:
                old = info.get(word, _TermInfo(None, 0.0, frozenset()))
                info[word] = _TermInfo(
                    old.group, old.weight, old.cues | {cue}, old.context, old.alone
                )
        for trap in self.traps:
            info.setdefault(trap, _TermInfo(None, 0.0, frozenset()))
        prefixes = tuple(
            (t[:-1], info[t]) for t in sorted(info, key=len, reverse=True) if t.endswith("*")
        )
        object.__setattr__(self, "_info", info)
        object.__setattr__(self, "_prefixes", prefixes)
        object.__setattr__(self, "_matcher", re.compile(_trie_regex(info) or r"(?!)"))
        masks = []
        for i, (label, pattern, requires) in enumerate(self.masks):
            try:
                # Not normalize(): lower-casing would turn \S into \s. No IGNORECASE either:
                # it doubles the search time, and the text is lower case already.
                compiled = re.compile(_t2s().convert(pattern))
                masks.append((label, compiled, tuple(normalize(r) for r in requires)))
            except re.error as exc:
                raise ValueError(f"invalid lexicon: masks.{i}.pattern: {exc}") from exc
        object.__setattr__(self, "_mask_res", tuple(masks))
        # Every mask has `requires`: an entry with none of them skips the mask loop.
        gate = None
        if masks and all(req for _l, _p, req in masks):
            gate_words = sorted({r for _l, _p, req in masks for r in req})
            gate = re.compile("|".join(map(re.escape, gate_words)))
        object.__setattr__(self, "_mask_gate", gate)
        # Flat tuples: judge() runs these loops for every entry.
        near = tuple(
            (r.name, r.group, r.cues[0], r.cues[1], r.weight, r.window)
            for r in self.rules
            if r.kind == "near"
        )
        every = tuple((r.name, r.group, r.cues, r.weight) for r in self.rules if r.kind == "all")
        object.__setattr__(self, "_near_rules", near)
        object.__setattr__(self, "_all_rules", every)
        unless = {g.name: g.unless for g in self.groups.values() if g.unless}
        object.__setattr__(self, "_unless", unless)

    def __repr__(self) -> str:
        terms = sum(len(g.terms) for g in self.groups.values())
        return (
            f"Lexicon(threshold={self.threshold}, title_factor={self.title_factor}, "
            f"unless_factor={self.unless_factor}, "
            f"uncertain_band={self.uncertain_band}, groups={len(self.groups)}, "
            f"terms={terms}, rules={len(self.rules)}, masks={len(self.masks)})"
        )

    def _lookup(self, word: str) -> _TermInfo:
        found = self._info.get(word)
        if found is not None:
            return found
        for prefix, info in self._prefixes:
            if word.startswith(prefix):
                return info
        raise KeyError(word)  # unreachable: every alternative comes from _info


def _trie_regex(words: Iterable[str]) -> str:
    """One regular expression matching the longest of ``words`` at each position.

    Python's ``re`` has no Aho-Corasick. A plain alternation of a few hundred literals
    tries every branch at every position (~25x slower here); factored into a trie, each
    position costs one branch per distinct next character, and since every branch starts
    with a literal, ``re`` skips positions that cannot start any word. Greedy longest
    match per position is forward maximum matching, the classic dictionary segmentation:
    "游戏直播" is taken whole, so the "直播" inside it never counts on its own.
    ASCII words must end at a non-alphanumeric character; the start boundary is checked
    by the caller (a look-behind here would defeat the position skipping).
    A trailing "*" matches any alphanumeric continuation.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        core = word[:-1] if word.endswith("*") else word
        for ch in core:
            node = node.setdefault(ch, {})
        if word.endswith("*"):
            node[""] = r"[a-z0-9]*"
        elif _ASCII_WORD.match(core[-1]):
            node.setdefault("", r"(?![a-z0-9])")
        else:
            node.setdefault("", "")

    def build(node: dict[str, Any]) -> str:
        # Longer continuations first; the end of a word ("") is the last alternative.
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            alts.append(node[""])
        if len(alts) == 1:
            return alts[0]
        return "(?:" + "|".join(alts) + ")"

    return "|".join(re.escape(ch) + build(child) for ch, child in sorted(trie.items()))


def _default_spec() -> dict[str, Any]:
    text = (resources.files("newsletter") / "data" / "lexicon.yaml").read_text(encoding="utf-8")
    return _parse_yaml(text, "packaged lexicon")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str, what: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid {what}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"invalid {what}: top level must be a mapping")
    return data


def load_lexicon(
    path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Lexicon:
    """Load a lexicon (default: the packaged one) and merge operator ``overrides`` into it.

    The override schema is documented in the header of ``newsletter/data/lexicon.yaml``.
    Raises ``ValueError`` naming the bad key when the file or the overrides are invalid.
    """
    if path is None:
        raw = _default_spec()
    else:
        raw = _parse_yaml(Path(path).read_text(encoding="utf-8"), f"lexicon {path}")
    try:
        spec = _LexiconSpec.model_validate(raw)
    except ValidationError as exc:
        raise _validation_error("lexicon", exc) from exc
    if overrides:
        try:
            patch = _OverrideSpec.model_validate(dict(overrides))
        except ValidationError as exc:
            raise _validation_error("lexicon overrides", exc) from exc
        spec = _apply_overrides(spec, patch)
    return _compile(spec)


def _apply_overrides(spec: _LexiconSpec, patch: _OverrideSpec) -> _LexiconSpec:
    groups = {name: (dict(g.terms), list(g.unless)) for name, g in spec.groups.items()}
    cues = {name: list(words) for name, words in spec.cues.items()}
    traps = list(spec.traps)
    removed = {normalize(t) for t in patch.remove}
    for terms, _unless in groups.values():
        for term in [t for t in terms if normalize(t) in removed]:
            del terms[term]
    for name, words in cues.items():
        cues[name] = [w for w in words if normalize(w) not in removed]
    traps = [t for t in traps if normalize(t) not in removed]
    for name, added in patch.add.items():
        terms, _unless = groups.setdefault(name, ({}, []))
        for term, weight in added.items():
            # Changing a weight is adding the term again; drop it from other groups so it
            # does not end up ambiguous.
            for other_terms, _ in groups.values():
                for t in [t for t in other_terms if normalize(t) == normalize(term)]:
                    del other_terms[t]
            terms[term] = weight
    for name, group_patch in patch.groups.items():
        if name not in groups:
            raise ValueError(f"invalid lexicon overrides: groups.{name}: no such group")
        groups[name] = (groups[name][0], list(group_patch.unless))
    for name, words in patch.cues.items():
        cues.setdefault(name, []).extend(words)
    traps.extend(patch.traps)
    rules = {r.name: r for r in spec.rules}
    for rule_name in patch.remove_rules:
        if rule_name not in rules:
            raise ValueError(f"invalid lexicon overrides: remove_rules: no rule {rule_name!r}")
        del rules[rule_name]
    for rule in patch.rules:
        rules[rule.name] = rule
    return _LexiconSpec(
        threshold=spec.threshold if patch.threshold is None else patch.threshold,
        title_factor=spec.title_factor if patch.title_factor is None else patch.title_factor,
        unless_factor=(spec.unless_factor if patch.unless_factor is None else patch.unless_factor),
        corroboration=(spec.corroboration if patch.corroboration is None else patch.corroboration),
        corroboration_cap=(
            spec.corroboration_cap if patch.corroboration_cap is None else patch.corroboration_cap
        ),
        window=spec.window if patch.window is None else patch.window,
        uncertain_band=(
            spec.uncertain_band if patch.uncertain_band is None else patch.uncertain_band
        ),
        masks=[*spec.masks, *patch.masks],
        groups={
            name: _GroupSpec(terms=terms, unless=unless)
            for name, (terms, unless) in groups.items()
            if terms
        },
        cues=cues,
        traps=traps,
        rules=list(rules.values()),
    )


def _compile(spec: _LexiconSpec) -> Lexicon:
    def bad(key: str, msg: str) -> ValueError:
        return ValueError(f"invalid lexicon: {key}: {msg}")

    if spec.title_factor <= 0:
        raise bad("title_factor", "must be > 0")
    if not 0 <= spec.unless_factor <= 1:
        raise bad("unless_factor", "must be between 0 and 1")
    if spec.corroboration < 0 or spec.corroboration_cap < 0:
        raise bad("corroboration", "must be >= 0")
    lo, hi = spec.uncertain_band
    if lo > hi:
        raise bad("uncertain_band", "lower bound is above the upper bound")
    owner: dict[str, str] = {}
    groups: dict[str, Group] = {}
    for name, g in spec.groups.items():
        terms: dict[str, float] = {}
        context: dict[str, tuple[tuple[str, ...], float]] = {}
        for term, value in g.terms.items():
            where = f"groups.{name}.terms.{term}"
            key = _normal_term(term, where)
            if key in owner and owner[key] != name:
                raise bad(where, f"already in group {owner[key]!r}")
            owner[key] = name
            if isinstance(value, _TermSpec):
                for cue in value.context:
                    if cue not in spec.cues:
                        raise bad(f"{where}.context", f"unknown cue {cue!r}")
                if not value.context:
                    raise bad(f"{where}.context", "needs at least one cue class")
                if value.weight <= 0 or value.alone < 0 or value.alone > value.weight:
                    raise bad(where, "context terms need weight > 0 and 0 <= alone <= weight")
                terms[key] = value.weight
                context[key] = (tuple(value.context), value.alone)
            else:
                terms[key] = value
        signs = {w > 0 for w in terms.values() if w != 0}
        if len(signs) > 1:
            raise bad(f"groups.{name}", "mixes positive and negative weights")
        groups[name] = Group(name, terms, tuple(g.unless), context)
    rule_groups = {r.group for r in spec.rules}
    for name, group in groups.items():
        for other in group.unless:
            if other not in groups and other not in rule_groups:
                raise bad(f"groups.{name}.unless", f"unknown group {other!r}")
        if group.unless and not group.negative:
            raise bad(f"groups.{name}.unless", "only negative groups can have 'unless'")
    cues = {
        name: tuple(_normal_term(w, f"cues.{name}") for w in words)
        for name, words in spec.cues.items()
    }
    traps = tuple(_normal_term(t, "traps") for t in spec.traps)
    rules = []
    for i, r in enumerate(spec.rules):
        names = tuple(r.near if r.near is not None else r.all or ())
        for cue in names:
            if cue not in cues:
                raise bad(f"rules.{i}.{'near' if r.near else 'all'}", f"unknown cue {cue!r}")
        kind = "near" if r.near is not None else "all"
        window = spec.window if r.window is None else r.window
        rules.append(Rule(r.name, r.group, kind, names, r.weight, window))
    return Lexicon(
        threshold=spec.threshold,
        title_factor=spec.title_factor,
        unless_factor=spec.unless_factor,
        corroboration=spec.corroboration,
        corroboration_cap=spec.corroboration_cap,
        window=spec.window,
        uncertain_band=(lo, hi),
        groups=groups,
        cues=cues,
        traps=traps,
        rules=tuple(rules),
        masks=tuple((m.label, m.pattern, tuple(m.requires)) for m in spec.masks),
    )


def _normal_term(term: str, key: str) -> str:
    norm = normalize(term).strip()
    if not norm or norm == "*":
        raise ValueError(f"invalid lexicon: {key}: empty term")
    return norm


@lru_cache(maxsize=1)
def _default_lexicon() -> Lexicon:
    return load_lexicon()


# ---------------------------------------------------------------------------------------
# Judging.

_Span = tuple[int, int]


def _short(snippet: str, limit: int = 30) -> str:
    snippet = " ".join(snippet.split())
    return snippet if len(snippet) <= limit else snippet[: limit - 1] + "…"


def _near(text: str, a: list[_Span], b: list[_Span], window: int) -> _Span | None:
    """First pair of spans from ``a`` and ``b`` at most ``window`` apart in one sentence."""
    starts = [s for s, _ in b]
    for sa, ea in a:
        # b is sorted by start; only spans starting within reach of this one matter.
        i = bisect_left(starts, sa - window - 64)
        while i < len(b) and b[i][0] <= ea + window:
            sb, eb = b[i]
            i += 1
            if sb >= ea:
                lo, hi = ea, sb
            elif sa >= eb:
                lo, hi = eb, sa
            else:
                continue  # overlapping spans are one word, not two
            if hi - lo <= window and _SENTENCE_END.search(text, lo, hi) is None:
                return min(sa, sb), max(ea, eb)
    return None


def _has_context(
    classes: tuple[str, ...],
    span: _Span,
    title_cues: Mapping[str, list[_Span]],
    body_cues: Mapping[str, list[_Span]],
) -> bool:
    """True when a word of one of the cue ``classes`` occurs outside ``span``."""
    start, end = span
    for cues in (title_cues, body_cues):
        for cls in classes:
            for s, e in cues.get(cls, ()):
                if e <= start or s >= end:
                    return True
    return False


def _apply_rules(
    lex: Lexicon,
    full: str,
    title_cues: dict[str, list[_Span]],
    body_cues: dict[str, list[_Span]],
    best: dict[str, tuple[float, str, str]],
    support: dict[str, set[str]],
) -> None:
    """Run the `near` and `all` rules over the cue spans, updating ``best`` and ``support``."""
    factor = lex.title_factor
    # Beyond this many pieces of evidence a group's corroboration bonus is at its cap.
    full_support = int(lex.corroboration_cap / lex.corroboration) if lex.corroboration else 0
    for name, group, cue_a, cue_b, weight, window in lex._near_rules:
        if (cue_a not in title_cues and cue_a not in body_cues) or (
            cue_b not in title_cues and cue_b not in body_cues
        ):
            continue
        for where, cues, value in (
            ("title", title_cues, weight * factor),
            ("body", body_cues, weight),
        ):
            a = cues.get(cue_a)
            if not a:
                continue
            b = cues.get(cue_b)
            if not b:
                continue
            old = best.get(group)
            beats = old is None or (value > old[0] if value > 0 else value < old[0])
            if not beats and (
                value < 0
                or name in support.get(group, ())
                or len(support.get(group, ())) > full_support
            ):
                continue  # changes neither the group's value nor its (capped) support
            span = _near(full, a, b, window)
            if span is not None:
                if value > 0:
                    support.setdefault(group, set()).add(name)
                if beats:
                    what = f"rule {name} '{_short(full[span[0] : span[1]])}'"
                    best[group] = (value, where, what)
                break  # the title is tried first and weighs more
    for name, group, names, weight in lex._all_rules:
        first = names[0]
        if first not in title_cues and first not in body_cues:
            continue  # the usual case: skip the generator below
        if all(c in title_cues for c in names):
            value, where = weight * factor, "title"
        elif all(c in title_cues or c in body_cues for c in names):
            value, where = weight, "entry"
        else:
            continue
        if value > 0:
            support.setdefault(group, set()).add(name)
        old = best.get(group)
        if old is None or (value > old[0] if value > 0 else value < old[0]):
            best[group] = (value, where, f"rule {name}")


def judge(title: str, text: str, lexicon: Lexicon | None = None) -> Verdict:
    """Score one entry against the lexicon; the reasons say which terms and rules counted."""
    lex = lexicon if lexicon is not None else _default_lexicon()
    reasons: list[str] = []
    # One string, one scan: the newline is a sentence end, so no rule pairs across it. It
    # is normalized in one call (tw2sp may change lengths, so the title's end is found
    # again afterwards); newlines inside the title become spaces.
    full = normalize(title[:_MAX_CHARS].replace("\n", " ") + "\n" + text[:_MAX_CHARS])
    split = full.index("\n")
    gate = lex._mask_gate
    masks = lex._mask_res if gate is None or gate.search(full) is not None else ()
    for label, pattern, requires in masks:
        # A substring test is far cheaper than a regex search, and most entries fail it.
        if requires and not any(r in full for r in requires):
            continue
        if pattern.search(full) is None:
            continue
        pieces = []
        last = 0
        for m in pattern.finditer(full):
            where = "title" if m.start() < split else "body"
            reasons.append(f"{where} masked {label}: '{_short(m.group())}'")
            # Same length, so positions stay meaningful; spaces match no term. Keep
            # newlines: they end sentences (and separate the title from the body).
            blank = "".join("\n" if c == "\n" else " " for c in m.group())
            pieces.append(full[last : m.start()] + blank)
            last = m.end()
        full = "".join(pieces) + full[last:]

    factor = lex.title_factor
    # Per group the best hit: (value, where, what). Max for positive, min for negative.
    best: dict[str, tuple[float, str, str]] = {}
    title_cues: dict[str, list[_Span]] = {}
    body_cues: dict[str, list[_Span]] = {}
    # Hits of terms that need context, judged once every cue of the entry is known.
    pending: list[tuple[str, _TermInfo, bool, str, _Span]] = []
    # Per positive group the distinct pieces of evidence (words, rules) seen.
    support: dict[str, set[str]] = {}
    info_of = lex._info
    for m in lex._matcher.finditer(full):
        word = m.group()
        start, end = m.span()
        if start and word[0] in _ASCII_ALNUM and full[start - 1] in _ASCII_ALNUM:
            continue  # inside a longer ASCII word ("olive" is not "live")
        info = info_of.get(word) or lex._lookup(word)
        in_title = start < split
        if info.cues:
            cues = title_cues if in_title else body_cues
            for cue in info.cues:
                if cue in cues:
                    cues[cue].append((start, end))
                else:
                    cues[cue] = [(start, end)]
        group = info.group
        if info.weight and group is not None:
            if info.context:
                pending.append((group, info, in_title, word, (start, end)))
                continue
            value = info.weight * factor if in_title else info.weight
            if value > 0:
                if group in support:
                    support[group].add(word)
                else:
                    support[group] = {word}
            old = best.get(group)
            if old is None or (value > old[0] if value > 0 else value < old[0]):
                best[group] = (value, "title" if in_title else "body", f"{group} '{word}'")

    for group, info, in_title, word, span in pending:
        # A word that is often figurative (带货 for any influence) or ambiguous ("WeChat
        # channel" for an official account) counts fully only beside words that show the
        # literal sense somewhere in the entry; alone it counts its `alone` weight.
        if _has_context(info.context, span, title_cues, body_cues):
            weight, what = info.weight, f"{group} '{word}'"
            support.setdefault(group, set()).add(word)
        else:
            weight = info.alone
            what = f"{group} '{word}' alone (no {'/'.join(info.context)} words in the entry)"
        value = weight * factor if in_title else weight
        old = best.get(group)
        if old is None or value > old[0]:
            best[group] = (value, "title" if in_title else "body", what)

    if title_cues or body_cues:
        _apply_rules(lex, full, title_cues, body_cues, best, support)

    scored = {g for g, hit in best.items() if hit[0] > 0}
    score = 0.0
    positives: list[tuple[float, str]] = []
    negatives: list[tuple[float, str]] = []
    for group, (value, where, what) in best.items():
        reason = f"{where} {what} {value:+g}"
        if value < 0:
            cancel = [g for g in lex._unless.get(group, ()) if g in scored]
            if cancel:
                # Evidence of selling makes a negative context (game streaming, sales
                # channels) less telling, but it is weighed, not dropped: one positive
                # word must not silence everything that speaks against the entry.
                value = round(value * lex.unless_factor, 3)
                if value == 0:
                    negatives.append((0.0, f"{reason} ignored: {cancel[0]} scored"))
                    continue
                reason = f"{reason} weighed {value:+g}: {cancel[0]} also scored"
            negatives.append((value, reason))
        else:
            more = len(support.get(group, ())) - 1
            if more > 0 and lex.corroboration:
                # Several independent words or rules for the same thing: the entry is
                # about it, not mentioning it once.
                bonus = min(more * lex.corroboration, lex.corroboration_cap)
                value = round(value + bonus, 3)
                hits = "hit" if more == 1 else "hits"
                reason = f"{reason} {bonus:+g} ({more} more {hits} for {group})"
            positives.append((value, reason))
        score += value
    score = round(score, 3)
    positives.sort(key=lambda p: -p[0])
    negatives.sort(key=lambda p: p[0])
    reasons.extend(r for _v, r in positives)
    reasons.extend(r for _v, r in negatives)
    relevant = score >= lex.threshold
    op = ">=" if relevant else "<"
    reasons.append(f"score {score:.1f} {op} threshold {lex.threshold:.1f}")
    return Verdict(relevant=relevant, score=score, reasons=tuple(reasons))


def is_uncertain(verdict: Verdict, lexicon: Lexicon) -> bool:
    """True when the score lies in the lexicon's uncertain band ``[low, high)``."""
    low, high = lexicon.uncertain_band
    return low <= verdict.score < high


# -- optional LLM judge for the uncertain band -------------------------------------------


@dataclass(frozen=True)
class JudgeAnswer:
    """What the LLM judge said about one entry, with its cost and any failure."""

    verdict: Verdict
    answered: bool
    reason: str = ""
    error: str | None = None
    transient: bool = False
    tokens: Tokens = Tokens()


def apply_judgement(
    rules: Verdict, relevant: bool, reason: str, *, floor: float | None = None
) -> Verdict:
    """The rule verdict overruled (or confirmed) by the judge; the rule reasons stay visible.

    The judge never admits an entry the rules scored below ``floor`` (the uncertain band's
    lower bound): text in an article cannot talk its way past the rules.
    """
    if relevant and floor is not None and rules.score < floor:
        return Verdict(False, rules.score, (*rules.reasons, "llm judge overruled: below band"))
    said = "yes" if relevant else "no"
    return Verdict(relevant, rules.score, (*rules.reasons, f"llm judge: {said} — {reason}"[:300]))


def llm_judge(
    rules: Verdict,
    client: LLMClient,
    messages: list[dict[str, str]],
    *,
    floor: float | None = None,
) -> JudgeAnswer:
    """Ask the LLM whether an uncertain entry is on topic; keep the rule verdict on failure."""
    try:
        completion = client.chat(messages, json_mode=True)
    except LLMError as exc:
        return JudgeAnswer(rules, False, error=str(exc), transient=True)

    def answered(
        verdict: Verdict, ok: bool, reason: str = "", error: str | None = None
    ) -> JudgeAnswer:
        return JudgeAnswer(
            verdict,
            ok,
            reason,
            error,
            tokens=completion.tokens,
        )

    try:
        answer = parse_json_object(completion.content)
    except LLMError as exc:
        return answered(rules, False, error=str(exc))
    relevant = answer.get("relevant")
    if isinstance(relevant, str):
        relevant = {"true": True, "yes": True, "false": False, "no": False}.get(relevant.lower())
    if not isinstance(relevant, bool):
        return answered(rules, False, error="answer has no true/false 'relevant'")
    reason = " ".join(str(answer.get("reason", "")).split())[:200]
    return answered(apply_judgement(rules, relevant, reason, floor=floor), True, reason)
