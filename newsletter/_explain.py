"""Relevance reasons in an editor's words, for ``newsletter explain``.

The verdict's reasons are terse on purpose (``title live_commerce '直播带货' +6``): they are
stored with every entry and read by tests. An editor asking why a story was dropped wants
"the title says '直播带货' — live selling (+6)". This module rewrites each reason; one it
does not recognise (an operator's own group, a newer format) is shown as it is.
"""

from __future__ import annotations

import re

# What each group of the shipped lexicon stands for (see data/lexicon.yaml); an
# operator's own group is shown by its name.
GROUPS = {
    "channels": "WeChat Channels (视频号)",
    "wechat_commerce": "WeChat commerce tied to Channels",
    "channels_programs": "a Channels commerce programme",
    "live_commerce": "live selling (直播带货)",
    "live_platforms": "a platform's live-commerce business",
    "anchors": "a live seller or MCN",
    "live_selling": "live selling",
    "live_selling_weak": "live and selling words, far apart",
    "games_streaming": "game streaming",
    "broadcast": "an event or show streamed, nothing sold",
    "tipping": "tipping a streamer",
    "tv_shopping": "TV shopping",
    "tv_shopping_names": "a TV shopping network by name",
    "channel_senses": "'channel' in another sense (sales or TV channel)",
    "wechat_other": "WeChat news without Channels or commerce",
    "games": "Tencent's games business",
    "ecommerce_other": "e-commerce without live selling",
    "short_video_other": "short video without selling",
    "recruitment": "jobs presented on a live stream",
    "divestiture": "a company sold, not goods",
    "markets": "stock-market wording",
    "endorsement": "a celebrity's endorsement, not selling",
    "local_services": "local services (本地生活) competition",
}
RULES = {
    "live+sell": "live-stream and selling words in one sentence",
    "host+sell": "a host selling goods",
    "creator+sell": "an influencer beside goods sold",
    "creator-platform+goods": "goods sold on a creator platform",
    "creator-platform+commerce": "a creator platform's shop business",
    "live+gift": "gifts sent in a live room (tipping)",
    "host+gift": "gifts sent to a host (tipping)",
    "wechat+gift": "WeChat and gifts together",
    "wechat+shop": "WeChat and a shop together",
    "channels+wechat": "Channels named with WeChat",
    "video accounts+wechat": "video accounts named with WeChat",
    "channels+wechat+video": "Channels named with WeChat and video",
    "live component+wechat": "WeChat's live-selling component",
    "live+sell (entry)": "live-stream and selling words, not in one sentence",
}
# Cue classes named in "alone (no live/sell_goods words …)".
CUES = {
    "live": "being live",
    "on_stream": "a live stream",
    "sell": "selling",
    "sell_goods": "goods sold",
    "shop": "a shop",
    "host": "a host",
    "commerce_zh": "commerce",
    "channels_context": "video, live or selling",
}
WHERE = {"title": "the title says", "body": "the text says", "entry": "the entry says"}

_NUMBER = r"[+-]?\d+(?:\.\d+)?"
_HIT = re.compile(
    rf"^(?P<where>title|body|entry) (?:rule (?P<rule>.+?)|(?P<group>[\w-]+))"
    rf"(?: '(?P<word>[^']*)')?(?P<alone> alone \(no (?P<cues>[^)]*) words in the entry\))?"
    rf" (?P<value>{_NUMBER})(?P<rest>.*)$"
)
_MORE = re.compile(rf"^ (?P<bonus>{_NUMBER}) \((?P<n>\d+) more hits? for [\w-]+\)$")
_WEIGHED = re.compile(rf"^ weighed (?P<value>{_NUMBER}): (?P<group>[\w-]+) also scored$")
_IGNORED = re.compile(r"^ ignored: (?P<group>[\w-]+) scored$")
_MASKED = re.compile(r"^(?P<where>title|body) masked (?P<label>.+?): '(?P<text>.*)'$")
_SCORE = re.compile(
    rf"^score (?P<score>{_NUMBER}) (?P<op>>=|<) threshold (?P<threshold>{_NUMBER})$"
)


def _group(name: str) -> str:
    return GROUPS.get(name, name.replace("_", " "))


def _signed(value: str) -> str:
    number = float(value)
    return f"{number:+g}".replace("-", "−")


def plain_reason(reason: str) -> str:
    """One reason of a verdict as a sentence; unknown formats come back unchanged."""
    if m := _SCORE.match(reason):
        # Not "kept" or "dropped": an LLM judge may overrule the rules' score.
        need = "at least" if m["op"] == ">=" else "below the"
        return f"the rules scored {m['score']}, {need} {m['threshold']} needed to keep it"
    if m := _MASKED.match(reason):
        where = "the title" if m["where"] == "title" else "the text"
        return f"not counted in {where}: '{m['text']}' ({m['label']})"
    if reason.startswith("llm judge"):
        said = reason.removeprefix("llm judge").lstrip(": ")
        return f"the AI judge: {said}"
    m = _HIT.match(reason)
    if m is None:
        return reason
    value = float(m["value"])
    word = f"'{m['word']}'" if m["word"] is not None else ""
    if m["rule"]:
        # Rules say what they found together; the quoted words are where.
        rule = m["rule"].removesuffix(" (en)")
        about = RULES.get(rule, f"rule {m['rule']!r}")
        has = WHERE[m["where"]].rsplit(" ", 1)[0] + " has"
        text = f"{has} {about}" + (f": {word}" if word else "")
    else:
        text = f"{WHERE[m['where']]} {word}: {_group(m['group'])}"
    if m["alone"]:
        wanted = " or ".join(CUES.get(c, c.replace("_", " ")) for c in m["cues"].split("/"))
        text += f", with nothing about {wanted} in the entry, so it counts less"
    rest = m["rest"]
    tail = ""
    if more := _MORE.match(rest):
        n = int(more["n"])
        says = "word says" if n == 1 else "words say"
        tail = f", {_signed(more['bonus'])} as {n} more {says} the same"
    elif weighed := _WEIGHED.match(rest):
        tail = (
            f", weighed {_signed(weighed['value'])} only: the entry is also about "
            f"{_group(weighed['group'])}"
        )
        value = float(weighed["value"])
    elif ignored := _IGNORED.match(rest):
        return f"{text} — not counted: the entry is also about {_group(ignored['group'])}"
    elif rest:
        return reason
    side = "for" if value > 0 else "against"
    return f"{_signed(m['value'])} {side}: {text}{tail}"
