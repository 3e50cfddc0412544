"""Rule-based topic scoring for the WeChat Channels (视频号) / live-commerce beat.

The rules live in ``newsletter/data/lexicon.yaml`` (its header documents the scoring and
the override schema); ``_lexicon`` loads and compiles them, ``_normalize`` gives the text
its matching form. This module applies them: :func:`judge` is a pure function of its
inputs, so the same entry always gets the same verdict and reasons. An optional LLM judge
may be asked about entries in the uncertain band.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter

from newsletter._lexicon import Lexicon, TermInfo, default_lexicon, load_lexicon
from newsletter._normalize import normalize
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
# A long article that names the beat once, past its lead ("she once did 淘宝直播 before
# joining the firm"), mentions it in passing: stories about it say so in the title or the
# lead, or come back to it. Such a lone mention counts this much of its weight.
_PASSING_BODY_CHARS = 1200
_PASSING_LEAD_CHARS = 400
_PASSING_SPREAD = 40  # evidence this close together is one mention (one phrase)
_PASSING_FACTOR = 0.5
# A single English word in scare quotes ("'shoppable' live videos") is the word itself: the
# quotes would otherwise split a term of the lexicon. Apostrophes inside words are no quotes.
# The quote comes first (its look-behind after it), so `re` scans for quote characters only.
_QUOTED_WORD = re.compile(r"['‘\"“](?<![a-z0-9].)([a-z][a-z0-9-]*)['’\"”](?![a-z0-9])")


# ---------------------------------------------------------------------------------------
# Judging.

_Span = tuple[int, int]
_value = itemgetter(0)


def _round3(value: float) -> float:
    """``round(value, 3)``, without its cost in the usual case.

    round() with digits goes through a decimal string (a tenth of judge()'s time at one
    call per group). Weights and factors are halves and quarters: a multiple of 1/8 has at
    most three decimals, so it is its own rounding (and ``* 8`` is exact in binary).
    """
    return value if (value * 8).is_integer() else round(value, 3)


# Reasons print few distinct values (weights are halves and quarters): formatting a float
# costs more than looking its text up. Zero is never stored (0.0 and -0.0 are one key).
_SIGNED: dict[float, str] = {}
_ONE_DECIMAL: dict[float, str] = {}


def _formatted(table: dict[float, str], spec: str, value: float) -> str:
    """``format(value, spec)``, from ``table``."""
    text = table.get(value)
    if text is None:
        text = format(value, spec)
        if value and len(table) < 4096:  # bounded whatever the lexicon's weights
            table[value] = text
    return text


def _signed(value: float) -> str:
    return _formatted(_SIGNED, "+g", value)


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
    title_cues: tuple[int, dict[str, list[_Span]]],
    body_cues: tuple[int, dict[str, list[_Span]]],
    best: dict[str, tuple[float, str, str, bool]],
    support: dict[str, set[str]],
    evidence: list[int],
) -> None:
    """Run the `near` and `all` rules over the cue spans, updating ``best`` and ``support``;
    where positive rules matched goes to ``evidence`` (-1: the entry as a whole).

    The cues of the title and of the body come as (the bits of their classes, the spans of
    each class).
    """
    full_support = lex._full_support
    title_bits, title_spans = title_cues
    body_bits, body_spans = body_cues
    near_rules, all_rules = lex.rule_plan(title_bits | body_bits)
    for name, group, cue_a, cue_b, both, title_value, body_value, window in near_rules:
        for where, bits, cues, value in (
            ("title", title_bits, title_spans, title_value),
            ("body", body_bits, body_spans, body_value),
        ):
            if bits & both != both:
                continue
            a = cues[cue_a]
            b = cues[cue_b]
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
                    evidence.append(span[0])
                if beats:
                    what = f"rule {name} '{_short(full[span[0] : span[1]])}'"
                    best[group] = (value, where, what, False)
                break  # the title is tried first and weighs more
    for name, group, needs, title_value, value, what in all_rules:
        if title_bits & needs == needs:
            value, where = title_value, "title"
        else:
            where = "entry"
        if value > 0:
            support.setdefault(group, set()).add(name)
            evidence.append(-1)
        old = best.get(group)
        if old is None or (value > old[0] if value > 0 else value < old[0]):
            best[group] = (value, where, what, False)


def _apply_masks(lex: Lexicon, full: str, split: int, reasons: list[str]) -> str:
    """Blank out what the lexicon's masks match; each blanked mention becomes a reason.

    A mask with a group named ``blank`` blanks only that group: "TikTok is full of
    teleshopping" keeps TikTok and drops the comparison.
    """
    masks = lex._mask_res
    words = lex._mask_words
    # The masks to run, as bits (bit i: masks[i]): those whose required words occur.
    todo = (1 << len(masks)) - 1
    blanked = False
    # Every required word found, overlapping ones too: (its index, start, end).
    occurrences: list[tuple[int, int, int]] = []
    word_bits = lex._mask_word_bits
    if words is not None:
        todo = 0
        occurrences = words.find_matches_as_indexes(full, overlapping=True)
        for index, _start, _end in occurrences:
            todo |= word_bits[index]
        if not todo:
            return full
    while todo:
        lowest = todo & -todo
        todo ^= lowest
        label, scanner = masks[lowest.bit_length() - 1]
        if scanner.anchored and words is not None and not blanked:
            # Tried only where its words begin (the words whose bits name this mask). Where
            # they were found is where they are as long as nothing was blanked (a blank could
            # join two words into one of them).
            starts = {s for w, s, _e in occurrences if word_bits[w] & lowest}
            found = scanner.match_at(full, sorted(starts))
        else:
            found = scanner.finditer(full)
        if not found:
            continue
        groups = scanner.pattern.groupindex
        pieces = []
        last = 0
        for m in found:
            where = "title" if m.start() < split else "body"
            reasons.append(f"{where} masked {label}: '{_short(m.group())}'")
            start, end = m.span("blank") if "blank" in groups else m.span()
            if start < 0:
                continue  # the optional group did not take part
            # Same length, so positions stay meaningful; spaces match no term. Keep
            # newlines: they end sentences (and separate the title from the body).
            blank = "".join("\n" if c == "\n" else " " for c in full[start:end])
            pieces.append(full[last:start] + blank)
            last = end
        if pieces:
            full = "".join(pieces) + full[last:]
            blanked = True
    return full


def judge(title: str, text: str, lexicon: Lexicon | None = None) -> Verdict:
    """Score one entry against the lexicon; the reasons say which terms and rules counted."""
    lex = lexicon if lexicon is not None else default_lexicon()
    reasons: list[str] = []
    # One string, one scan: the newline is a sentence end, so no rule pairs across it. It
    # is normalized in one call (tw2sp may change lengths, so the title's end is found
    # again afterwards); newlines inside the title become spaces.
    full = normalize(title[:_MAX_CHARS].replace("\n", " ") + "\n" + text[:_MAX_CHARS])
    # Most entries have no quote at all: four substring tests cost less than one search.
    quoted = "'" in full or '"' in full or "‘" in full or "“" in full
    if quoted and _QUOTED_WORD.search(full) is not None:
        full = _QUOTED_WORD.sub(r"\1", full)
    split = full.index("\n")
    full = _apply_masks(lex, full, split, reasons)

    factor = lex.title_factor
    # Per group the best hit: (value, where, what, what is a bare term). Max for positive,
    # min for negative; the reason text is built at the end, only for the hits that stay.
    best: dict[str, tuple[float, str, str, bool]] = {}
    title_cues: defaultdict[str, list[_Span]] = defaultdict(list)
    body_cues: defaultdict[str, list[_Span]] = defaultdict(list)
    # Which cue classes occur in each, as bits (TermInfo.cue_bits).
    title_bits = body_bits = 0
    # Hits of terms that need context, judged once every cue of the entry is known.
    pending: list[tuple[str, TermInfo, bool, str, _Span]] = []
    # Per positive group the distinct pieces of evidence (words, rules) seen.
    support: dict[str, set[str]] = {}
    # Where each piece of positive evidence starts in ``full``.
    evidence: list[int] = []
    for word, info, start, end in lex.scan(full):
        in_title = start < split
        span = (start, end)
        if info.cues:
            if in_title:
                cues = title_cues
                title_bits |= info.cue_bits
            else:
                cues = body_cues
                body_bits |= info.cue_bits
            for cue in info.cues:
                cues[cue].append(span)
        group = info.group
        weight = info.weight
        if weight and group is not None:
            if info.context:
                pending.append((group, info, in_title, word, span))
                continue
            value = weight * factor if in_title else weight
            if value > 0:
                evidence.append(start)
                if group in support:
                    support[group].add(word)
                else:
                    support[group] = {word}
            old = best.get(group)
            if old is None or (value > old[0] if value > 0 else value < old[0]):
                best[group] = (value, "title" if in_title else "body", word, True)

    cue_bits = title_bits | body_bits
    for group, info, in_title, word, span in pending:
        # A word that is often figurative (带货 for any influence) or ambiguous ("WeChat
        # channel" for an official account) counts fully only beside words that show the
        # literal sense somewhere in the entry; alone it counts its `alone` weight.
        # No class present at all: no need to look at spans.
        if info.context_bits & cue_bits and _has_context(
            info.context, span, title_cues, body_cues
        ):
            weight, what = info.weight, f"{group} '{word}'"
            support.setdefault(group, set()).add(word)
        else:
            weight = info.alone
            what = f"{group} '{word}' alone (no {'/'.join(info.context)} words in the entry)"
        value = weight * factor if in_title else weight
        if value > 0:
            evidence.append(span[0])
        old = best.get(group)
        if old is None or value > old[0]:
            best[group] = (value, "title" if in_title else "body", what, False)

    if cue_bits:
        _apply_rules(
            lex, full, (title_bits, title_cues), (body_bits, body_cues), best, support, evidence
        )
    passing = _passing_mention(evidence, split, len(full) - split - 1)

    unless = lex._unless
    score = 0.0
    positives: list[tuple[float, str]] = []
    negatives: list[tuple[float, str]] = []
    for group, (value, where, what, bare) in best.items():
        shown = _signed(value)
        reason = f"{where} {group} '{what}' {shown}" if bare else f"{where} {what} {shown}"
        if value < 0:
            cancel = None
            weighed_by, unless_factor = unless.get(group, ((), 1.0))
            for other in weighed_by:
                # Only literal evidence weighs the context down: a word counted alone
                # (figurative 带货) is in no group's support.
                if support.get(other):
                    cancel = other
                    break
            if cancel is not None:
                # Evidence of selling makes a negative context (game streaming, sales
                # channels) less telling, but it is weighed, not dropped: one positive
                # word must not silence everything that speaks against the entry (a
                # group may void itself instead: its own unless_factor of 0).
                value = _round3(value * unless_factor)
                if value == 0:
                    negatives.append((0.0, f"{reason} ignored: {cancel} scored"))
                    continue
                reason = f"{reason} weighed {_signed(value)}: {cancel} also scored"
            negatives.append((value, reason))
        else:
            more = len(support.get(group, ())) - 1
            if more > 0 and lex.corroboration:
                # Several independent words or rules for the same thing: the entry is
                # about it, not mentioning it once.
                bonus = min(more * lex.corroboration, lex.corroboration_cap)
                value = _round3(value + bonus)
                hits = "hit" if more == 1 else "hits"
                reason = f"{reason} {_signed(bonus)} ({more} more {hits} for {group})"
            if passing:
                value = _round3(value * _PASSING_FACTOR)
                reason = (
                    f"{reason} weighed {_signed(value)}: mentioned once, {passing[0]} characters "
                    f"into a {passing[1]}-character text (in passing)"
                )
            positives.append((value, reason))
        score += value
    score = _round3(score)
    # Strongest first; sort() is stable with reverse too, so ties keep the scan's order.
    if len(positives) > 1:
        positives.sort(key=_value, reverse=True)
    if len(negatives) > 1:
        negatives.sort(key=_value)
    reasons.extend([r for _v, r in positives])
    reasons.extend([r for _v, r in negatives])
    relevant = score >= lex.threshold
    op = ">=" if relevant else "<"
    reasons.append(f"score {_formatted(_ONE_DECIMAL, '.1f', score)} {op} {lex._threshold_text}")
    return Verdict(relevant, score, tuple(reasons))


def _passing_mention(evidence: list[int], split: int, body: int) -> tuple[int, int] | None:
    """(where, body length) when all positive evidence is one mention deep in a long body."""
    if not evidence or body < _PASSING_BODY_CHARS:
        return None
    first, last = min(evidence), max(evidence)
    if first - split - 1 < _PASSING_LEAD_CHARS or last - first > _PASSING_SPREAD:
        return None  # in the title or the lead (or the entry as a whole), or said again
    return first - split - 1, body


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
