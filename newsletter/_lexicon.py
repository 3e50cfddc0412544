"""The relevance lexicon: its YAML schema, operator overrides, and the compiled form.

``newsletter/data/lexicon.yaml`` (its header documents the scoring and the override
schema) is validated with pydantic so that an error names the offending key, merged with
the operator's overrides and compiled into a :class:`Lexicon`: weighted terms, cue
classes, rules, masks and a word scanner (``_wordscan``) over every literal. Scoring lives
in ``relevance``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ahocorasick_rs
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from newsletter._normalize import normalize, to_simplified
from newsletter._regexscan import StartScanner
from newsletter._wordscan import WordScanner

__all__ = [
    "AllRule",
    "Group",
    "Lexicon",
    "NearRule",
    "Rule",
    "TermInfo",
    "default_lexicon",
    "load_lexicon",
]

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
    unless_factor: float | None = None


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
    unless: list[str] | None = None
    unless_factor: float | None = None


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
    unless_factor: float | None = None
    """This group's own factor under `unless`; ``None`` takes the lexicon's."""

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


@dataclass(frozen=True, slots=True)
class TermInfo:
    group: str | None
    weight: float
    cues: frozenset[str]
    context: tuple[str, ...] = ()
    alone: float = 0.0
    cue_bits: int = 0
    """``cues`` as one bit per cue class of the lexicon: judge() ORs them per entry, and
    which rules can match is a test on that int, not on sets of names."""
    context_bits: int = 0
    """``context`` as bits the same way."""


# A rule as judge() runs it, flat (it runs them for every entry), its values with the title
# factor applied once here: `near` (name, group, cue A, cue B, bits of both, value in the
# title, value in the body, window); `all` (name, group, bits of its cues, value in the
# title, value elsewhere, its reason text).
NearRule = tuple[str, str, str, str, int, float, float, int]
AllRule = tuple[str, str, int, float, float, str]


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
    _info: dict[str, TermInfo] = field(init=False, repr=False)
    _scanner: WordScanner[TermInfo] = field(init=False, repr=False)
    _mask_res: tuple[tuple[str, StartScanner], ...] = field(init=False, repr=False)
    _mask_words: ahocorasick_rs.AhoCorasick | None = field(init=False, repr=False)
    """Every mask's `requires` words, found in one pass; ``None`` when a mask has none."""
    _mask_word_bits: tuple[int, ...] = field(init=False, repr=False)
    """Per word of ``_mask_words`` (by its index), the masks it lets run (bit i:
    ``_mask_res[i]``)."""
    _near_rules: tuple[NearRule, ...] = field(init=False, repr=False)
    _all_rules: tuple[AllRule, ...] = field(init=False, repr=False)
    _unless: dict[str, tuple[tuple[str, ...], float]] = field(init=False, repr=False)
    """Per negative group with `unless`: (the groups that weigh it down, by how much)."""
    _plans: dict[int, tuple[tuple[NearRule, ...], tuple[AllRule, ...]]] = field(
        init=False, repr=False
    )
    _full_support: int = field(init=False, repr=False)
    """Beyond this many pieces of evidence a group's corroboration bonus is at its cap."""
    _threshold_text: str = field(init=False, repr=False)
    """The end of every verdict's last reason, formatted once."""

    def __post_init__(self) -> None:
        info: dict[str, TermInfo] = {}
        for group in self.groups.values():
            for term, weight in group.terms.items():
                context, alone = group.context.get(term, ((), 0.0))
                info[term] = TermInfo(group.name, weight, frozenset(), context, alone)
        for cue, words in self.cues.items():
            for word in words:
                old = info.get(word, TermInfo(None, 0.0, frozenset()))
                info[word] = TermInfo(
                    old.group, old.weight, old.cues | {cue}, old.context, old.alone
                )
        for trap in self.traps:
            info.setdefault(trap, TermInfo(None, 0.0, frozenset()))
        bits: dict[str, int] = {}

        def bit(cue: str) -> int:
            # A name no word has (only a directly built Lexicon can have one) gets a bit no
            # entry ever sets, so its rules never match, as before.
            return bits.setdefault(cue, 1 << len(bits))

        def mask(cues: Iterable[str]) -> int:
            return sum({bit(c) for c in cues})

        info = {
            word: replace(t, cue_bits=mask(t.cues), context_bits=mask(t.context))
            for word, t in info.items()
        }
        object.__setattr__(self, "_info", info)
        object.__setattr__(self, "_scanner", WordScanner(info))
        masks = []
        for i, (label, pattern, requires) in enumerate(self.masks):
            try:
                # Not normalize(): lower-casing would turn \S into \s. No IGNORECASE either:
                # it doubles the search time, and the text is lower case already.
                compiled = re.compile(to_simplified(pattern))
                masks.append((label, compiled, frozenset(normalize(r) for r in requires)))
            except re.error as exc:
                raise ValueError(f"invalid lexicon: masks.{i}.pattern: {exc}") from exc
        merged = _merge_masks(masks)
        scanners = tuple((lb, StartScanner(p, r)) for lb, p, r in merged)
        object.__setattr__(self, "_mask_res", scanners)
        # When every mask has `requires`, one automaton pass says which masks can match at
        # all (a substring test per mask and word cost more than the searches it saved).
        mask_words = None
        required: list[str] = []
        if masks and all(req for _l, _p, req in masks):
            required = sorted({r for _l, _p, req in masks for r in req})
            # A DFA always: left to itself the library builds one only up to 100 words and an
            # NFA above, which made this pass cost a twentieth of judge() at 101 words.
            mask_words = ahocorasick_rs.AhoCorasick(
                required, implementation=ahocorasick_rs.Implementation.DFA
            )
        object.__setattr__(self, "_mask_words", mask_words)
        word_bits = tuple(
            sum(1 << i for i, (_l, _p, req) in enumerate(merged) if word in req)
            for word in required
        )
        object.__setattr__(self, "_mask_word_bits", word_bits)
        # Flat tuples: judge() runs these loops for every entry.
        factor = self.title_factor
        near = tuple(
            (r.name, r.group, *r.cues, mask(r.cues), r.weight * factor, r.weight, r.window)
            for r in self.rules
            if r.kind == "near"
        )
        every = tuple(
            (r.name, r.group, mask(r.cues), r.weight * factor, r.weight, f"rule {r.name}")
            for r in self.rules
            if r.kind == "all"
        )
        object.__setattr__(self, "_near_rules", near)
        object.__setattr__(self, "_all_rules", every)
        object.__setattr__(self, "_plans", {})
        full_support = int(self.corroboration_cap / self.corroboration) if self.corroboration else 0
        object.__setattr__(self, "_full_support", full_support)
        unless = {
            g.name: (g.unless, self.unless_factor if g.unless_factor is None else g.unless_factor)
            for g in self.groups.values()
            if g.unless
        }
        object.__setattr__(self, "_unless", unless)
        object.__setattr__(self, "_threshold_text", f"threshold {self.threshold:.1f}")

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The compiled automata (ahocorasick_rs) cannot be pickled; a process that receives
        # a lexicon (a parse worker) compiles it again from the declared fields.
        return (Lexicon, tuple(getattr(self, f.name) for f in fields(self) if f.init))

    def __repr__(self) -> str:
        terms = sum(len(g.terms) for g in self.groups.values())
        return (
            f"Lexicon(threshold={self.threshold}, title_factor={self.title_factor}, "
            f"unless_factor={self.unless_factor}, "
            f"uncertain_band={self.uncertain_band}, groups={len(self.groups)}, "
            f"terms={terms}, rules={len(self.rules)}, masks={len(self.masks)})"
        )

    def rule_plan(self, present: int) -> tuple[tuple[NearRule, ...], tuple[AllRule, ...]]:
        """The `near` and `all` rules whose cue classes all occur in ``present`` (the bits of
        :attr:`TermInfo.cue_bits`), in order.

        Memoized per set of cue classes: entries share few combinations, and testing every
        rule against every entry was a fifth of judge()'s time.
        """
        plan = self._plans.get(present)
        if plan is None:
            near = tuple(r for r in self._near_rules if r[4] & present == r[4])
            every = tuple(r for r in self._all_rules if r[2] & present == r[2])
            plan = (near, every)
            if len(self._plans) >= 4096:  # bound the memory an adversarial feed can cost
                self._plans.clear()
            self._plans[present] = plan
        return plan

    def scan(self, text: str) -> list[tuple[str, TermInfo, int, int]]:
        """Every literal of the lexicon in normalized ``text``: (word, info, start, end)."""
        return self._scanner.scan(text)


def _merge_masks(
    masks: list[tuple[str, re.Pattern[str], frozenset[str]]],
) -> tuple[tuple[str, re.Pattern[str], frozenset[str]], ...]:
    """Adjacent masks with the same label become one alternation: one search, not four.

    A mask with a ``blank`` group stays alone (a group name may occur once per pattern).
    """
    merged: list[tuple[str, re.Pattern[str], frozenset[str]]] = []
    for label, pattern, requires in masks:
        if (
            merged
            and merged[-1][0] == label
            and not {"blank"} & (pattern.groupindex.keys() | merged[-1][1].groupindex.keys())
        ):
            _label, previous, before = merged[-1]
            both = f"(?:{previous.pattern})|(?:{pattern.pattern})"
            # An empty `requires` means "always run": the merged mask must then always run.
            needs = before | requires if before and requires else frozenset()
            merged[-1] = (label, re.compile(both), needs)
        else:
            merged.append((label, pattern, requires))
    return tuple(merged)


def _default_spec() -> dict[str, Any]:
    text = (resources.files("newsletter") / "data" / "lexicon.yaml").read_text(encoding="utf-8")
    return _parse_yaml(text, "packaged lexicon")


# libyaml's parser when PyYAML was built with it (its wheels are): the packaged lexicon took
# 0.68 s to parse in pure Python, a fixed cost of every process that judges relevance.
if TYPE_CHECKING or not getattr(yaml, "__with_libyaml__", False):
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = yaml.CSafeLoader


class _UniqueKeyLoader(_SafeLoader):
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
    groups = {
        name: (dict(g.terms), list(g.unless), g.unless_factor) for name, g in spec.groups.items()
    }
    cues = {name: list(words) for name, words in spec.cues.items()}
    traps = list(spec.traps)
    removed = {normalize(t) for t in patch.remove}
    for terms, _unless, _factor in groups.values():
        for term in [t for t in terms if normalize(t) in removed]:
            del terms[term]
    for name, words in cues.items():
        cues[name] = [w for w in words if normalize(w) not in removed]
    traps = [t for t in traps if normalize(t) not in removed]
    for name, added in patch.add.items():
        terms, _unless, _factor = groups.setdefault(name, ({}, [], None))
        for term, weight in added.items():
            # Changing a weight is adding the term again; drop it from other groups so it
            # does not end up ambiguous.
            for other_terms, _, _ in groups.values():
                for t in [t for t in other_terms if normalize(t) == normalize(term)]:
                    del other_terms[t]
            terms[term] = weight
    for name, group_patch in patch.groups.items():
        if name not in groups:
            raise ValueError(f"invalid lexicon overrides: groups.{name}: no such group")
        terms, unless, factor = groups[name]
        if group_patch.unless is not None:
            unless = list(group_patch.unless)
        if group_patch.unless_factor is not None:
            factor = group_patch.unless_factor
        groups[name] = (terms, unless, factor)
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
            name: _GroupSpec(terms=terms, unless=unless, unless_factor=factor)
            for name, (terms, unless, factor) in groups.items()
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
        if g.unless_factor is not None and not 0 <= g.unless_factor <= 1:
            raise bad(f"groups.{name}.unless_factor", "must be between 0 and 1")
        groups[name] = Group(name, terms, tuple(g.unless), context, g.unless_factor)
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
def default_lexicon() -> Lexicon:
    """The packaged lexicon, compiled once per process."""
    return load_lexicon()
