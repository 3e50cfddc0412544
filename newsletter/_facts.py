"""Faithfulness checks for digests (numbers, percentages, amounts, dates) and a length cap.

A digest, LLM-written or extractive, may only state figures its source states. The check
compares *normalized values*, so ``300%`` is supported by ``百分之三百`` and ``3.2亿`` by
``32000万`` or ``320,000,000``.

Chinese numerals are converted by a small hand-written converter rather than ``cn2an``
(available on PyPI): cn2an rejects ``千万``/``百万``/``三点二亿``/``百分之三百``, needs its
"smart" mode for ``3.2亿``, gives no offsets for spans, and would add two dependencies
(cn2an + proces) for ~40 lines of arithmetic.

Rules (documented here because summarize.py and its users depend on them):

* Text is NFKC-normalized first: full-width digits, ``％``, ``＄``, ``￥`` become ASCII.
* Kinds: ``percent`` (300% = 百分之三百 = 300; ``三成`` = 30; ``个百分点`` has unit ``pp``),
  ``amount`` (a currency sign or word: ``$1.5M``, ``12万元``; unit is the currency code),
  ``year`` (``2026年``, or a bare 1900–2100 four-digit number), ``date`` (value
  ``(year, month, day)``, parts not stated are ``None``), ``count`` (everything else).
* Support: a percent needs a percent of the same value and unit; a date needs a source
  date agreeing on every part the digest states (a year may also come from anywhere in the
  source); amounts, counts and years support each other by value (a source often states
  the unit apart from the figure), except amounts in two different named currencies.
* Not checked (too many false alarms, too little information): counts written in Chinese
  numerals whose value is an integer ≤ 10 with no multiplier — 一次, 一家, 两个, 三大,
  第一, 十分. Arabic figures are always checked, however small.
* Not numbers at all: fixed words containing numeral characters (一些, 统一, 百度, 千川,
  千万别 …), approximations without a figure (数百万, 几千, 上万), and figures glued to
  Latin letters (5G, iPhone15, B2B, 3C), which are names.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from newsletter._text import char_len, sentence_spans

__all__ = [
    "DateValue",
    "FactKind",
    "NumberFact",
    "cap_length",
    "extract_numbers",
    "unsupported_facts",
]

FactKind = Literal["percent", "amount", "count", "date", "year"]
DateValue = tuple[int | None, int | None, int | None]


@dataclass(frozen=True)
class NumberFact:
    """One figure found in text.

    ``value`` is a float for numeric kinds (percent 300% → 300.0, 3.2亿 → 320000000.0)
    and a ``(year, month, day)`` tuple for dates. ``unit`` is a currency code for amounts
    (``CNY``, ``USD`` …) or ``pp`` for percentage points; empty otherwise.
    """

    raw: str
    value: float | DateValue
    kind: FactKind
    unit: str = ""


# --- normalization ------------------------------------------------------------------------

_MASK = "\ue000"  # private-use char: keeps offsets while hiding claimed or non-numeric text
_KEEP_WIDE = frozenset("，：；！？（）")
_MAX_DIGITS = 24


def _nfkc_with_map(text: str) -> tuple[str, list[int]]:
    """NFKC per character, with the original index of every output character."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        # CJK punctuation stays as is: "4.5亿，500万" must not become "4.5亿,500万".
        keep = ch.isascii() or ch in _KEEP_WIDE
        norm = ch if keep else unicodedata.normalize("NFKC", ch)
        if not norm:
            continue
        out.append(norm)
        index.extend([i] * len(norm))
    return "".join(out), index


_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
    "七": 7, "八": 8, "九": 9, "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6,
    "柒": 7, "捌": 8, "玖": 9,
}  # fmt: skip
_CN_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10**4, "亿": 10**8}
_CD = "".join(_CN_DIGITS)
_CN_CHARS = _CD + "".join(_CN_SMALL) + "".join(_CN_BIG)


def _cn_integer(s: str) -> int | None:
    """Chinese numeral → int: 三百, 一万二 (=12000), 三亿五千万, 千万, 二〇二六, 一百零五."""
    if not s:
        return None
    if all(ch in _CN_DIGITS for ch in s):
        if len(s) == 1:
            return _CN_DIGITS[s]
        if len(s) == 2:
            return None  # 一两, 三四, 七八: "one or two", a range, not 12 / 34
        return int("".join(str(_CN_DIGITS[ch]) for ch in s))  # positional: 二〇二六
    total = 0
    section = 0
    number = 0
    last_unit = 0
    after_zero = False
    pending = False  # a digit not yet multiplied by a unit
    for ch in s:
        if ch in _CN_DIGITS:
            if pending:
                return None  # two digits in a row inside a unit numeral: not a number
            number = _CN_DIGITS[ch]
            after_zero = after_zero or number == 0
            pending = number != 0
        elif ch in _CN_SMALL:
            unit = _CN_SMALL[ch]
            section += (number if pending else 1) * unit
            number, pending, last_unit, after_zero = 0, False, unit, False
        else:
            unit = _CN_BIG[ch]
            if unit == 10**8:
                total = (total + section + number) * unit
            else:
                total += (section + number) * unit
            section, number, pending, last_unit, after_zero = 0, 0, False, unit, False
    if pending and last_unit and not after_zero:
        number *= last_unit // 10  # shorthand: 一万二 = 12000, 三千五 = 3500, 十二 = 12
    return total + section + number


def _cn_number(s: str) -> Decimal | None:
    """Chinese numeral with an optional decimal part: 三点二亿 → 320000000."""
    if "点" not in s:
        integer = _cn_integer(s)
        return None if integer is None else Decimal(integer)
    head, _, tail = s.partition("点")
    m = re.fullmatch(f"([{_CD}]+)([万亿]*)", tail)
    if not m:
        return None
    whole = _cn_integer(head) if head else 0
    if whole is None:
        return None
    value = Decimal(whole) + Decimal("0." + "".join(str(_CN_DIGITS[c]) for c in m.group(1)))
    for ch in m.group(2):
        value *= _CN_BIG[ch]
    return value


# --- patterns (on NFKC text) --------------------------------------------------------------

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH_RE = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_CN_MONTH = r"(?:十[一二]?|[一二三四五六七八九])"
_CN_DAY = r"(?:[二三]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_CN_YEAR = r"(?:[〇零一二三四五六七八九]{4})"
_DAY_END = r"(?:[日号]|(?=[\s,，.。;；、)）~～\-至到]|$))"

_ISO_DATE = re.compile(r"(?<![\d.])(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?![\d.]\d)")
_CN_DATE = re.compile(
    rf"(?:(?<!\d)(\d{{4}}|{_CN_YEAR})\s*年\s*)?(?<![\d个])(\d{{1,2}}|{_CN_MONTH})\s*月份?"
    rf"(?:\s*(\d{{1,2}}|{_CN_DAY})\s*{_DAY_END})?"
)
# A bare "27日" is a day of the month, but 三日内 / 3日后 / 5日均 are durations and rates.
_CN_DAY_ONLY = re.compile(
    rf"(?<![\d{_CD}十])(\d{{1,2}}|{_CN_DAY})\s*日(?!元|本|报|常|内|內|后|後|以|之|均)"
)
_EN_DATE_MD = re.compile(
    rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?"
)
_EN_DATE_DM = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_RE})\b\.?(?:,?\s+(\d{{4}})\b)?"
)
_EN_DATE_MY = re.compile(rf"\b({_MONTH_RE})\.?,?\s+(\d{{4}})\b")

_AR = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_EN_MULT = {
    "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
    "bn": 10**9, "mn": 10**6, "k": 10**3, "m": 10**6, "b": 10**9,
}  # fmt: skip
_CUR_PREFIX = {
    "US$": "USD", "HK$": "HKD", "RMB": "CNY", "CNY": "CNY", "USD": "USD", "EUR": "EUR",
    "$": "USD", "¥": "CNY", "€": "EUR", "£": "GBP",
}  # fmt: skip
_CUR_SUFFIX = {
    "人民币": "CNY", "块钱": "CNY", "元": "CNY", "yuan": "CNY", "RMB": "CNY",
    "CNY": "CNY", "美元": "USD", "美金": "USD", "dollars": "USD", "dollar": "USD",
    "USD": "USD", "港元": "HKD", "港币": "HKD", "HKD": "HKD", "欧元": "EUR", "euros": "EUR",
    "EUR": "EUR", "英镑": "GBP", "日元": "JPY", "yen": "JPY", "韩元": "KRW",
}  # fmt: skip
_CUR_SUFFIX_RE = "|".join(sorted(map(re.escape, _CUR_SUFFIX), key=len, reverse=True))
_CUR_PREFIX_RE = "|".join(sorted(map(re.escape, _CUR_PREFIX), key=len, reverse=True))

_PERCENT_WORD = re.compile(r"百分之\s*(" + _AR + f"|[{_CN_CHARS}]+(?:点[{_CD}]+)?)")
_CURRENCY_FIRST = re.compile(
    rf"(?<![A-Za-z])({_CUR_PREFIX_RE})\s?({_AR})"
    r"(?:\s?(thousand|million|billion|trillion|bn|mn|[kKmMbB])(?![A-Za-z]))?"
    r"((?:[百千万亿](?![克米瓦卡伏兆]))*)"
)
_AR_NUMBER = re.compile(
    rf"(?<!\d)(?<!\d\.)({_AR})"
    r"(?:\s?(thousand|million|billion|trillion|bn|mn|[kKmMbB])(?![A-Za-z]))?"
    r"((?:[百千万亿](?![克米瓦卡伏兆]))*)"
)
_CN_NUMBER = re.compile(f"[{_CN_CHARS}]+(?:点[{_CD}]+[万亿]*)?")

# Fixed words that contain numeral characters but state no figure. Masked before scanning.
_NOT_NUMBERS = re.compile(
    "一些|一起|一直|一定|一样|一般|一切|一旦|一致|一同|一边|一面|一体|一贯|一向|一律|一再"
    "|一下|一番|一带|一手|一线|一站式|一键|一味|一流|一举|一心|一道|一概|一并|一度|一时"
    "|一方面|一成不变|一模一样|一会|一半|唯一|统一|同一|万一|一一|之一|逐一|独一无二|三星"
    "|千方百计|五花八门|乱七八糟|七嘴八舌|三心二意|十分|十足|万分|万物|万能|亿万|百度|百货"
    "|百科|百姓|百强|千川|千牛|千帆|万达|万科|亿邦|九阳|五粮液|两岸|两会|两者|一点(?![" + _CD + "])"
    "|千万(?=[不别要记莫勿注小])"
)
# A figure-less numeral after these is an approximation (数百万, 几千, 上万, 成千上万).
_APPROX_BEFORE = "数几上成"


def _scale(value: Decimal, en_mult: str | None, cn_mult: str) -> Decimal:
    if en_mult:
        value *= _EN_MULT[en_mult.lower()]
    for ch in cn_mult:
        value *= {"百": 100, "千": 1000, "万": 10**4, "亿": 10**8}[ch]
    return value


def _to_float(value: Decimal) -> float:
    return float(value)


def _suffix_kind(text: str, end: int) -> tuple[FactKind | None, str, int, Decimal]:
    """Classify a figure by what follows it: (kind, unit, new end, factor) or kind None."""
    rest = text[end : end + 24]
    stripped = rest.lstrip(" ")
    gap = len(rest) - len(stripped)
    if stripped.startswith(("%", "％")):
        return "percent", "", end + gap + 1, Decimal(1)
    if stripped.startswith("‰"):
        return "percent", "", end + gap + 1, Decimal("0.1")
    for word, unit in (("个百分点", "pp"), ("percentage points", "pp"),
                       ("percentage point", "pp"), ("per cent", ""), ("percent", ""),
                       ("pct", "")):  # fmt: skip
        if stripped.startswith(word) and not stripped[len(word) : len(word) + 1].isalpha():
            return "percent", unit, end + gap + len(word), Decimal(1)
    m = re.match(rf"({_CUR_SUFFIX_RE})(?![A-Za-z])", stripped)
    if m and not stripped.startswith(("元宇宙", "元旦", "元素")):
        return "amount", _CUR_SUFFIX[m.group(1)], end + gap + len(m.group(1)), Decimal(1)
    return None, "", end, Decimal(1)


def _tenths(work: str, end: int) -> bool:
    """Whether the 成 at ``end`` means tenths (三成 = 30%), not 成为/成立/成本 …."""
    after = work[end + 1 : end + 2]
    return work[end : end + 1] == "成" and (not after or after not in "为立功本员果熟长都")


def _scan(text: str) -> list[tuple[NumberFact, int, int]]:
    """Every figure in ``text`` with its (start, end) offsets in the original string."""
    norm, index = _nfkc_with_map(text)
    work = _NOT_NUMBERS.sub(lambda m: _MASK * len(m.group(0)), norm)
    found: list[tuple[NumberFact, int, int]] = []
    pending: list[tuple[int, int]] = []

    def claim(
        start: int, end: int, value: float | DateValue, kind: FactKind, unit: str = ""
    ) -> None:
        raw = text[index[start] : index[end - 1] + 1]
        if isinstance(value, tuple) or math.isfinite(value):
            found.append((NumberFact(raw, value, kind, unit), index[start], index[end - 1] + 1))
        pending.append((start, end))

    def flush() -> None:
        """Mask this pass's claims so later passes cannot read them again."""
        nonlocal work
        if pending:
            chars = list(work)
            for start, end in pending:
                chars[start:end] = _MASK * (end - start)
            work = "".join(chars)
            pending.clear()

    def num(s: str | None) -> int | None:
        if s is None:
            return None
        return int(s) if s.isdigit() else _cn_integer(s)

    def date_ok(y: int | None, mo: int | None, d: int | None) -> bool:
        return (
            (y is None or 1900 <= y <= 2100)
            and (mo is None or 1 <= mo <= 12)
            and (d is None or 1 <= d <= 31)
        )

    for m in list(_ISO_DATE.finditer(work)):
        iso: DateValue = (int(m.group(1)), int(m.group(3)), int(m.group(4)))
        if date_ok(*iso):
            claim(m.start(), m.end(), iso, "date")
    flush()
    for m in list(_CN_DATE.finditer(work)):
        cn: DateValue = (num(m.group(1)), num(m.group(2)), num(m.group(3)))
        if cn[1] is not None and date_ok(*cn):
            claim(m.start(), m.end(), cn, "date")
    flush()
    for pattern, order in ((_EN_DATE_MD, "md"), (_EN_DATE_DM, "dm"), (_EN_DATE_MY, "my")):
        flush()
        for m in list(pattern.finditer(work)):
            en: DateValue
            if order == "my":
                en = (int(m.group(2)), _MONTHS[m.group(1)[:3].lower()], None)
            else:
                mname, day = (m.group(1), m.group(2)) if order == "md" else (m.group(2), m.group(1))
                year = int(m.group(3)) if m.group(3) else None
                en = (year, _MONTHS[mname[:3].lower()], int(day))
            if date_ok(*en):
                claim(m.start(), m.end(), en, "date")
    flush()
    for m in list(_CN_DAY_ONLY.finditer(work)):
        day_only = num(m.group(1))
        if day_only is not None and date_ok(None, None, day_only):
            claim(m.start(), m.end(), (None, None, day_only), "date")

    flush()
    for m in list(_PERCENT_WORD.finditer(work)):
        body = m.group(1)
        value = Decimal(body.replace(",", "")) if body[0].isdigit() else _cn_number(body)
        if value is not None:
            claim(m.start(), m.end(), _to_float(value), "percent")

    flush()
    for m in list(_CURRENCY_FIRST.finditer(work)):
        value = _scale(Decimal(m.group(2).replace(",", "")), m.group(3), m.group(4))
        claim(m.start(), m.end(), _to_float(value), "amount", _CUR_PREFIX[m.group(1)])

    flush()
    for m in list(_AR_NUMBER.finditer(work)):
        start, end = m.start(), m.end()
        if len(m.group(1)) > _MAX_DIGITS:
            continue  # an ID or a hash, not a figure
        if start > 0 and work[start - 1].isascii() and work[start - 1].isalpha():
            continue  # iPhone15, H5, B2B: part of a name
        if end < len(work) and work[end].isascii() and work[end].isalpha() and not m.group(2):
            continue  # 5G, 3C, 1st
        try:
            value = _scale(Decimal(m.group(1).replace(",", "")), m.group(2), m.group(3))
        except InvalidOperation:
            continue
        kind, unit, end, factor = _suffix_kind(work, end)
        if kind is None:
            plain = m.group(1)
            if work[end : end + 1] == "年" and re.fullmatch(r"\d{4}", plain):
                kind = "year"
                end += 1
            elif (
                re.fullmatch(r"\d{4}", plain)
                and not m.group(2)
                and not m.group(3)
                and 1900 <= int(plain) <= 2100
            ):
                kind = "year"
            elif work[end : end + 1] == "成" and value <= 10 and _tenths(work, end):
                kind, value, end = "percent", value * 10, end + 1
            else:
                kind = "count"
        claim(start, end, _to_float(value * factor), kind, unit)

    flush()
    for m in list(_CN_NUMBER.finditer(work)):
        start, end, body = m.start(), m.end(), m.group(0)
        if len(body) > _MAX_DIGITS:
            continue  # a run of numeral characters this long is not a figure anyone reads
        has_digit = any(ch in _CN_DIGITS for ch in body)
        if not has_digit:
            if len(body) == 1 and body != "十":
                continue  # a lone 百/千/万/亿 is a word (百度, 万达), not a figure
            if start > 0 and work[start - 1] in _APPROX_BEFORE:
                continue
        cn_value = _cn_number(body)
        if cn_value is None:
            continue
        kind, unit, end, factor = _suffix_kind(work, end)
        if kind is None:
            if work[end : end + 1] == "年" and re.fullmatch(f"[{_CD}]{{4}}", body):
                kind, end = "year", end + 1
            elif work[end : end + 1] == "成" and cn_value <= 10 and _tenths(work, end):
                kind, cn_value, end = "percent", cn_value * 10, end + 1
            else:
                kind = "count"
        claim(start, end, _to_float(cn_value * factor), kind, unit)

    found.sort(key=lambda item: item[1])
    return found


def extract_numbers(text: str) -> list[NumberFact]:
    """Every number, percentage, amount, date and year in ``text``, in reading order."""
    return [fact for fact, _, _ in _scan(text)]


# --- support ------------------------------------------------------------------------------


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _is_trivial(fact: NumberFact) -> bool:
    """Small Chinese-numeral counts (一次, 两个, 第一): words, not figures anyone invents."""
    if fact.kind != "count" or any(ch.isdigit() for ch in fact.raw):
        return False
    value = fact.value
    return isinstance(value, float) and value <= 10 and value == int(value)


def _years(facts: list[NumberFact]) -> set[int]:
    years: set[int] = set()
    for f in facts:
        if f.kind == "date" and isinstance(f.value, tuple) and f.value[0] is not None:
            years.add(f.value[0])
        elif isinstance(f.value, float) and f.kind != "percent" and f.value == int(f.value):
            years.add(int(f.value))
    return years


def _supported(fact: NumberFact, source: list[NumberFact], years: set[int]) -> bool:
    value = fact.value
    if isinstance(value, tuple):
        for other in source:
            if other.kind != "date" or not isinstance(other.value, tuple):
                continue
            ok = True
            for part, (mine, theirs) in enumerate(zip(value, other.value, strict=True)):
                if mine is None or mine == theirs:
                    continue
                if part == 0 and theirs is None and mine in years:
                    continue  # 2026年11月25日 vs "11月25日" with 2026 stated elsewhere
                ok = False
                break
            if ok:
                return True
        return False
    if fact.kind == "year" and int(value) in years:
        return True
    for other in source:
        if not isinstance(other.value, float) or not _same(value, other.value):
            continue
        if fact.kind == "percent" or other.kind == "percent":
            if fact.kind == other.kind and fact.unit == other.unit:
                return True
            continue
        if fact.kind == "amount" and other.kind == "amount" and fact.unit != other.unit:
            continue
        return True
    return False


def unsupported_facts(digest: str, source: str) -> list[str]:
    """Raw figures in ``digest`` that ``source`` does not state (by normalized value).

    Order of appearance, each raw string once. See the module docstring for the rules.
    """
    source_facts = extract_numbers(source)
    years = _years(source_facts)
    missing: list[str] = []
    for fact in extract_numbers(digest):
        if _is_trivial(fact) or fact.raw in missing:
            continue
        if not _supported(fact, source_facts, years):
            missing.append(fact.raw)
    return missing


# --- length cap ---------------------------------------------------------------------------

_CLAUSE = frozenset("，、；：,;:")
_OPENERS = "“‘「『（([《【\"'"


def _unbreakable(text: str) -> list[tuple[int, int]]:
    """Spans a cut must not fall inside: figures (3.2亿, 12万元) and Latin words/URLs."""
    spans = [(s, e) for _, s, e in _scan(text)]
    words = re.finditer(r"[A-Za-z0-9][\w.'’/:@%+-]*\w", text, re.ASCII)
    spans += [(m.start(), m.end()) for m in words]
    return spans


def cap_length(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters, as gracefully as possible.

    Prefers the last sentence end within the cap (no ellipsis); then the last clause
    boundary (，、；,;) keeping at least a third of the cap; then the last point that is not
    inside a Latin word or a figure. A mid-sentence cut ends in "…", counted in the cap.
    """
    if char_len(text) <= max_chars:
        return text
    if max_chars <= 0:
        return ""
    text = unicodedata.normalize("NFC", text)
    best = 0
    for _, end in sentence_spans(text):
        if end <= max_chars:
            best = end
        else:
            break
    if best:
        return text[:best]
    budget = max_chars - 1  # room for the ellipsis
    if budget <= 0:
        return "…"
    spans = _unbreakable(text)

    def inside(pos: int) -> bool:
        """Whether cutting before ``pos`` would split a figure or word."""
        return any(s < pos < e for s, e in spans)

    for pos in range(budget + 1, max(budget // 3, 1), -1):
        if text[pos - 1] in _CLAUSE and not inside(pos - 1):
            head = text[: pos - 1].rstrip()
            if head:
                return head + "…"
    for pos in range(budget, 0, -1):
        if not inside(pos):
            head = text[:pos].rstrip().rstrip(_OPENERS + "，、；：,;:").rstrip()
            if head:
                return head + "…"
    return text[:budget] + "…"  # one unbreakable token longer than the cap
