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
