"""Link identity shared by the parser (entry ids) and dedupe (same story, same link)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track the click, never select the content.
_TRACKING_PREFIXES = ("utm_", "spm", "mc_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci")
_TRACKING_NAMES = frozenset(
    {
        "fbclid",
        "gclid",
        "yclid",
        "igshid",
        "from",
        "source",
        "share_token",
        "scene",
        "clicktime",
        "enterid",
        "sessionid",
        "isappinstalled",
        "wxfrom",
        "ref",
        "ref_src",
    }
)


def canonical_url(url: str) -> str:
    """Normalize a link for identity: lower-case scheme/host, no fragment, no tracking params."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (scheme == "http" and parts.port == 80) or (scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_NAMES
    ]
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def feed_key(url: str) -> str:
    """A feed's identity: URLs that differ only by http/https, host case, a default port,
    a trailing slash, a fragment or ``utm_*`` parameters name the same feed.

    Only for telling feeds apart (``feeds add``, OPML import): the URL the operator gave is
    the one fetched. Other query parameters stay, since a feed's query often selects it
    (``?cat=live``); a local path is its own key.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower()
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
    ]
    path = parts.path.rstrip("/")
    return urlunsplit(("", host, path, urlencode(query), "")).removeprefix("//")


def feed_label(name: str, title: str, url: str) -> str:
    """What a table calls a feed: its configured name, else its own title, else host + path tail.

    Many feeds are added without a name, and their full URLs all start alike (``https://…``),
    so they could not be told apart in an 80-column table.
    """
    if name.strip() and name != url:
        return name.strip()
    if title.strip():
        return title.strip()
    parts = urlsplit(url)
    if not parts.netloc:  # a local file: its name says more than its directory
        return url.rstrip("/").rsplit("/", 1)[-1] or url
    host = parts.netloc.removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        return host
    # One segment says little when it is short or generic (`feed`, `4`, `0.xml`): take two.
    keep = 2 if len(segments[-1]) < 8 or segments[-1].split(".")[0] in _GENERIC else 1
    shown = "/".join(segments[-keep:])
    return f"{host}/{shown}" if len(segments) <= keep else f"{host}/…/{shown}"


_GENERIC = frozenset({"feed", "rss", "atom", "index", "rss2", "feeds"})
