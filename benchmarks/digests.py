"""Measure extractive digests (no LLM) the way a reader would judge them.

Usage (from the repository root)::

    python benchmarks/digests.py [--max-chars 120] [--max-words 60] [--show 5] [--corpus DIR]

Over three sets — the demo feeds in ``examples/feeds/``, the entries of
``../shared/corpus/labeled/dev.jsonl`` that have ``content``, and every item of the real
feeds in ``../shared/corpus/feeds/real/`` — it prints, per set, how many digests

* end mid-sentence (no sentence-final punctuation, a trailing "…", or a last sentence that
  is not a whole sentence of the source),
* start with a connective or lean on an earlier sentence (此外, 还, also, however, "X还…"),
* share no key term with the title,
* are over the cap (characters for Chinese, words for English),

and how many are empty (no sentence of the entry carries a title term within the cap: the
issue shows the headline and its link alone). Targets: 0, 0, 0, 0.

The checks are written here on their own (jieba terms, a connective list of this file)
rather than by calling the extractor's helpers, so that a mistake there does not hide here.
Exit status 0 when every count meets its target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import jieba  # noqa: E402
import opencc  # noqa: E402

from newsletter._extract import DigestCaps, extract_digest  # noqa: E402
from newsletter._text import split_sentences  # noqa: E402
from newsletter.models import Feed  # noqa: E402
from newsletter.parse import parse_feed  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
T2S = opencc.OpenCC("t2s")


def _words(text: str) -> list[str]:
    return text.split()


CONNECTIVES_ZH = _words(
    "此外 另外 同时 与此同时 而且 并且 但是 不过 然而 因此 所以 于是 此前 随后 其中 对此 "
    "同样 除此之外 另一方面 还 也 并 而 但 又 这 该 其 此 他 她 它"
)
CONTINUING_ZH = ("还", "也", "亦", "同时", "此外", "另外")
CONNECTIVES_EN = _words(
    "also however but and so yet meanwhile moreover furthermore additionally besides thus "
    "therefore instead nevertheless nonetheless plus likewise similarly separately it its "
    "they their he his she her these those"
)
STOP = set(
    _words(
        "我们 他们 一个 没有 可以 因为 所以 但是 而且 以及 已经 这些 那些 其中 之后 之前 同时 "
        "此外 目前 通过 进行 对于 关于 表示 认为 自己 一些 方面 可能 需要 正在 作为 the and for "
        "with from that this are was were has have will its into about over after than more new "
        "says said"
    )
)


def simplified(text: str) -> str:
    return str(T2S.convert(unicodedata.normalize("NFKC", text))).lower()


def terms(text: str) -> set[str]:
    out = set()
    for token in jieba.lcut(simplified(text)):
        token = token.strip()
        if token in STOP or not token:
            continue
        if token.isascii():
            if token.isalpha() and len(token) >= 3:
                out.add(token.rstrip("s") if len(token) > 4 else token)
            elif token.isalnum() and len(token) >= 2 and not token.isalpha():
                out.add(token)  # 1u, 10gbe, 618
        elif len(token) >= 2 or any(c.isdigit() for c in token):
            out.add(token)
    return out


def shares_key_term(title: str, digest: str) -> bool:
    wanted = terms(title)
    normal = simplified(digest)
    words = {w.rstrip("s") if len(w) > 4 else w for w in re.findall(r"[a-z]+", normal)}
    tokens = set(re.findall(r"[a-z0-9]+", normal))
    return any((t in words or t in tokens) if t.isascii() else (t in normal) for t in wanted)


def starts_with_connective(digest: str) -> bool:
    text = simplified(digest).lstrip(" \"'“‘「（(")
    if text[:1].isascii():
        words = re.findall(r"[a-z']+", text[:60])
        return bool(words) and (words[0] in CONNECTIVES_EN or "also" in words[1:4])
    clause = re.split(r"[，,：:]", text, maxsplit=1)[0]
    tokens = [t for t in jieba.lcut(clause[:30]) if t.strip()]
    return bool(tokens) and (
        tokens[0] in CONNECTIVES_ZH or any(t in CONTINUING_ZH for t in tokens[1:4])
    )


def ends_mid_sentence(digest: str, source: str) -> bool:
    if digest.endswith(("…", "...")) or not re.search(r"[。！？!?.][”’」』\"')）]*$", digest):
        return True
    whole = {" ".join(s.split()) for s in split_sentences(source)}
    whole |= {s[:-1] + "。" for s in whole if s.endswith("；")}
    whole |= {s[:-1] + "." for s in whole if s.endswith(";")}
    # The digest joins sentences with a space where the source had a line break, so compare
    # its end with the source's sentences rather than splitting it again.
    compact = digest.replace(" ", "")
    return not any(compact.endswith(s.replace(" ", "")) for s in whole if s)


def over_cap(digest: str, caps: DigestCaps) -> bool:
    cjk = sum(1 for c in digest if "\u3400" <= c <= "\u9fff")
    if cjk >= len(re.findall(r"[A-Za-z0-9]+", digest)):
        return len(digest) > caps.max_chars
    return len(digest.split()) > caps.max_words


@dataclass
class Tally:
    name: str
    entries: int = 0
    empty: int = 0
    mid_sentence: list[str] = field(default_factory=list)
    connective: list[str] = field(default_factory=list)
    off_title: list[str] = field(default_factory=list)
    too_long: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bad(self) -> int:
        return (
            len(self.mid_sentence) + len(self.connective) + len(self.off_title) + len(self.too_long)
        )


def demo_entries() -> Iterator[tuple[str, str]]:
    for path in sorted((REPO / "examples" / "feeds").glob("*.*")):
        if path.suffix == ".md":
            continue
        for entry in parse_feed(path.read_bytes(), Feed(str(path))).entries:
            yield entry.title, entry.text


def dev_entries(corpus: Path) -> Iterator[tuple[str, str]]:
    path = corpus / "labeled" / "dev.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("content"):
            yield row["title"], row["content"]


def real_feed_entries(corpus: Path) -> Iterator[tuple[str, str]]:
    for path in sorted((corpus / "feeds" / "real").iterdir()):
        for entry in parse_feed(path.read_bytes(), Feed(str(path))).entries:
            yield entry.title, entry.text


def measure(name: str, entries: Iterator[tuple[str, str]], caps: DigestCaps) -> Tally:
    tally = Tally(name)
    started = time.perf_counter()
    for title, text in entries:
        tally.entries += 1
        digest = extract_digest(title, text, caps)
        if not digest:
            tally.empty += 1
            continue
        shown = f"{title[:40]} | {digest[:140]}"
        if ends_mid_sentence(digest, text):
            tally.mid_sentence.append(shown)
        if starts_with_connective(digest):
            tally.connective.append(shown)
        if not shares_key_term(title, digest):
            tally.off_title.append(shown)
        if over_cap(digest, caps):
            tally.too_long.append(shown)
    tally.seconds = time.perf_counter() - started
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-chars", type=int, default=120)
    parser.add_argument("--max-words", type=int, default=60)
    parser.add_argument("--show", type=int, default=5, help="examples printed per failure")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    corpus: Path = args.corpus
    caps = DigestCaps(args.max_chars, args.max_words)
    jieba.setLogLevel(60)
    sets = [("demo feeds", demo_entries())]
    if corpus.is_dir():
        sets += [
            ("dev set (content)", dev_entries(corpus)),
            ("real feed items", real_feed_entries(corpus)),
        ]
    else:
        print(f"shared corpus not found at {corpus}: measuring the demo feeds only")
    print(f"caps: {caps.max_chars} characters (Chinese), {caps.max_words} words (English)")
    header = (
        f"{'set':<20} {'entries':>7} {'empty':>6} {'mid-sentence':>12} {'connective':>10} "
        f"{'off-title':>9} {'over cap':>8} {'ms/entry':>8}"
    )
    print(header)
    tallies = [measure(name, entries, caps) for name, entries in sets]
    for t in tallies:
        print(
            f"{t.name:<20} {t.entries:>7} {t.empty:>6} {len(t.mid_sentence):>12} "
            f"{len(t.connective):>10} {len(t.off_title):>9} {len(t.too_long):>8} "
            f"{1000 * t.seconds / max(1, t.entries):>8.1f}"
        )
    for t in tallies:
        for what, items in (
            ("mid-sentence", t.mid_sentence),
            ("connective", t.connective),
            ("off-title", t.off_title),
            ("over cap", t.too_long),
        ):
            for shown in items[: args.show]:
                print(f"  {t.name} / {what}: {shown}")
    return 0 if all(t.bad == 0 for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
