"""Rule-based topic scoring for the WeChat Channels (视频号) / live-commerce beat.

The rules live in ``newsletter/data/lexicon.yaml`` (its header documents the scoring and
the override schema). This module only loads that file and applies it: :func:`judge` is a
pure function of its inputs, so the same entry always gets the same verdict and reasons.
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

from newsletter.models import Verdict

__all__ = ["Lexicon", "is_uncertain", "judge", "load_lexicon", "normalize"]

# Feed text is untrusted: bound the work one entry can cost (articles are far shorter).
_MAX_CHARS = 50_000
# Sentence ends: a `near` rule never pairs words across them.
_SENTENCE_END = re.compile(r"[。！？!?；;\n]|\.(?:\s|$)")
_ASCII_WORD = re.compile(r"[a-z0-9]")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    # Building the converter loads dictionaries (milliseconds); do it once per process.
    # OpenCC 1.4.x accepts "t2s" (and "t2s.json"); both name the same configuration.
    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """NFKC, Traditional → Simplified Chinese, lower case: the form all matching uses."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = _t2s().convert(text)
    return text.lower()


# ---------------------------------------------------------------------------------------
# Schema of the YAML file and of operator overrides (validated with pydantic so that an
# error names the offending key path).


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _MaskSpec(_Strict):
    label: str
    pattern: str


class _GroupSpec(_Strict):
    terms: dict[str, float]
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
    window: int | None = None
    uncertain_band: tuple[float, float] | None = None
    add: dict[str, dict[str, float]] = {}
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


@dataclass(frozen=True, eq=False)
class Lexicon:
    """A validated, compiled lexicon. Build it with :func:`load_lexicon`."""

    threshold: float
    title_factor: float
    window: int
    uncertain_band: tuple[float, float]
    groups: Mapping[str, Group]
    cues: Mapping[str, tuple[str, ...]]
    traps: tuple[str, ...]
    rules: tuple[Rule, ...]
    masks: tuple[tuple[str, str], ...]
    """(label, regular expression) pairs."""
    _info: dict[str, _TermInfo] = field(init=False, repr=False)
    _prefixes: tuple[tuple[str, _TermInfo], ...] = field(init=False, repr=False)
    _matcher: re.Pattern[str] = field(init=False, repr=False)
    _mask_res: tuple[tuple[str, re.Pattern[str]], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        info: dict[str, _TermInfo] = {}
        for group in self.groups.values():
            for term, weight in group.terms.items():
                info[term] = _TermInfo(group.name, weight, frozenset())
        for cue, words in self.cues.items():
            for word in words:
                old = info.get(word, _TermInfo(None, 0.0, frozenset()))
                info[word] = _TermInfo(old.group, old.weight, old.cues | {cue})
        for trap in self.traps:
            info.setdefault(trap, _TermInfo(None, 0.0, frozenset()))
        # Longest literal first: the alternation then takes the longest word at each
        # position, i.e. greedy forward maximum matching, the classic dictionary
        # segmentation. Python's `re` has no Aho-Corasick; one compiled alternation
        # scanned once is far faster than a Python loop over hundreds of terms.
        literals = sorted(info, key=lambda t: (-len(t.rstrip("*")), t))
        pieces = [_literal_regex(t) for t in literals]
        prefixes = tuple((t[:-1], info[t]) for t in literals if t.endswith("*"))
        object.__setattr__(self, "_info", info)
        object.__setattr__(self, "_prefixes", prefixes)
        object.__setattr__(self, "_matcher", re.compile("|".join(pieces) or r"(?!)"))
        masks = []
        for i, (label, pattern) in enumerate(self.masks):
            try:
                # Not normalize(): lower-casing would turn \S into \s. Text is lower-cased
                # anyway, so IGNORECASE keeps operator patterns with capitals working.
                masks.append((label, re.compile(_t2s().convert(pattern), re.IGNORECASE)))
            except re.error as exc:
                raise ValueError(f"invalid lexicon: masks.{i}.pattern: {exc}") from exc
        object.__setattr__(self, "_mask_res", tuple(masks))

    def _lookup(self, word: str) -> _TermInfo:
        found = self._info.get(word)
        if found is not None:
            return found
        for prefix, info in self._prefixes:
            if word.startswith(prefix):
                return info
        raise KeyError(word)  # unreachable: every alternative comes from _info


def _literal_regex(term: str) -> str:
    prefix = term.endswith("*")
    core = term[:-1] if prefix else term
    piece = re.escape(core)
    # ASCII words match whole words only; CJK has no spaces, so no boundary there.
    # (Not \b: in Python, CJK characters are word characters, so "shop马来西亚" has none.)
    if _ASCII_WORD.match(core[0]):
        piece = r"(?<![a-z0-9])" + piece
    if prefix:
        piece += r"[a-z0-9]*"
    if _ASCII_WORD.match(core[-1]):
        piece += r"(?![a-z0-9])"
    return piece


def _default_spec() -> dict[str, Any]:
    text = (resources.files("newsletter") / "data" / "lexicon.yaml").read_text(encoding="utf-8")
    return _parse_yaml(text, "packaged lexicon")


def _parse_yaml(text: str, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
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
    for name, (terms, _unless) in groups.items():
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
    lo, hi = spec.uncertain_band
    if lo > hi:
        raise bad("uncertain_band", "lower bound is above the upper bound")
    owner: dict[str, str] = {}
    groups: dict[str, Group] = {}
    for name, g in spec.groups.items():
        terms: dict[str, float] = {}
        for term, weight in g.terms.items():
            key = _normal_term(term, f"groups.{name}.terms.{term}")
            if key in owner and owner[key] != name:
                raise bad(f"groups.{name}.terms.{term}", f"already in group {owner[key]!r}")
            owner[key] = name
            terms[key] = weight
        signs = {w > 0 for w in terms.values() if w != 0}
        if len(signs) > 1:
            raise bad(f"groups.{name}", "mixes positive and negative weights")
        groups[name] = Group(name, terms, tuple(g.unless))
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
        window=spec.window,
        uncertain_band=(lo, hi),
        groups=groups,
        cues=cues,
        traps=traps,
        rules=tuple(rules),
        masks=tuple((m.label, m.pattern) for m in spec.masks),
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

_Hit = tuple[int, int, str, _TermInfo]


def _mask(lexicon: Lexicon, text: str, where: str, reasons: list[str]) -> str:
    for label, pattern in lexicon._mask_res:
        if pattern.search(text) is None:
            continue

        def blank(m: re.Match[str], label: str = label) -> str:
            reasons.append(f"{where} masked {label}: '{_short(m.group())}'")
            # Same length, so positions stay meaningful; spaces match no term.
            return " " * len(m.group())

        text = pattern.sub(blank, text)
    return text


def _scan(lexicon: Lexicon, text: str) -> list[_Hit]:
    lookup = lexicon._lookup
    return [(m.start(), m.end(), m.group(), lookup(m.group())) for m in
            lexicon._matcher.finditer(text)]


def _short(snippet: str, limit: int = 30) -> str:
    snippet = " ".join(snippet.split())
    return snippet if len(snippet) <= limit else snippet[: limit - 1] + "…"


def _near(
    text: str, a: list[tuple[int, int]], b: list[tuple[int, int]], window: int
) -> tuple[int, int] | None:
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


def _cue_spans(hits: Iterable[_Hit]) -> dict[str, list[tuple[int, int]]]:
    spans: dict[str, list[tuple[int, int]]] = {}
    for start, end, _word, info in hits:
        for cue in info.cues:
            spans.setdefault(cue, []).append((start, end))
    return spans


def judge(title: str, text: str, lexicon: Lexicon | None = None) -> Verdict:
    """Score one entry against the lexicon; the reasons say which terms and rules counted."""
    lex = lexicon if lexicon is not None else _default_lexicon()
    reasons: list[str] = []
    parts = (
        ("title", _mask(lex, normalize(title[:_MAX_CHARS]), "title", reasons), lex.title_factor),
        ("body", _mask(lex, normalize(text[:_MAX_CHARS]), "body", reasons), 1.0),
    )
    # Best (value, reason) per group: max for positive signals, min for negative ones.
    best: dict[str, tuple[float, str]] = {}

    def offer(group: str, value: float, reason: str) -> None:
        old = best.get(group)
        if old is None or (value > old[0] if value > 0 else value < old[0]):
            best[group] = (value, reason)

    cue_sets: list[dict[str, list[tuple[int, int]]]] = []
    for where, norm, factor in parts:
        hits = _scan(lex, norm)
        for _start, _end, word, info in hits:
            if info.group is not None and info.weight:
                value = info.weight * factor
                offer(info.group, value, f"{where} {info.group} '{word}' {value:+g}")
        cues = _cue_spans(hits)
        cue_sets.append(cues)
        for rule in lex.rules:
            if rule.kind != "near":
                continue
            a, b = (cues.get(c) for c in rule.cues)
            if not a or not b:
                continue
            span = _near(norm, a, b, rule.window)
            if span is not None:
                value = rule.weight * factor
                snippet = _short(norm[span[0] : span[1]])
                offer(rule.group, value, f"rule {rule.name} in {where} '{snippet}' {value:+g}")
    title_cues, body_cues = cue_sets
    for rule in lex.rules:
        if rule.kind != "all":
            continue
        if all(c in title_cues for c in rule.cues):
            value = rule.weight * lex.title_factor
            where = "title"
        elif all(c in title_cues or c in body_cues for c in rule.cues):
            value, where = rule.weight, "entry"
        else:
            continue
        offer(rule.group, value, f"rule {rule.name} in {where} {value:+g}")

    scored = {g for g, (v, _r) in best.items() if v > 0}
    score = 0.0
    positives: list[tuple[float, str]] = []
    negatives: list[tuple[float, str]] = []
    for group, (value, reason) in best.items():
        if value < 0:
            spec = lex.groups.get(group)
            cancel = [g for g in (spec.unless if spec else ()) if g in scored]
            if cancel:
                negatives.append((0.0, f"{reason} ignored: {cancel[0]} scored"))
                continue
            negatives.append((value, reason))
        else:
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
