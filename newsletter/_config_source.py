"""The config file as text: YAML with line numbers, ``${ENV}`` interpolation, local paths.

Split from ``config`` so that module holds only the settings' models: everything here works on
plain parsed YAML before (or, for error messages, after) pydantic sees it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from .errors import ConfigError

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, path: str) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is not None:
                return found
            if default is not None:
                return default
            raise ConfigError(f"{path}: environment variable {name} is not set")

        return _ENV_PATTERN.sub(substitute, value)
    if isinstance(value, dict):
        return {k: interpolate(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def line_map(node: yaml.Node | None, prefix: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map each key path to its 1-based line, so errors can point into the file."""
    lines: dict[tuple[Any, ...], int] = {}
    if node is None:
        return lines
    lines[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[prefix + (key,)] = key_node.start_mark.line + 1
            lines.update(line_map(value_node, prefix + (key,)))
            lines[prefix + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(line_map(item, prefix + (index,)))
    return lines


def format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    def local(value: str) -> str:
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())

    out = dict(data)
    out.setdefault("output_dir", "output")
    if "database" not in out:
        out["database"] = f"sqlite:///{local(str(out['output_dir']))}/newsletter.db"
    db = out.get("database")
    if isinstance(db, str) and db.startswith("sqlite:///") and not db.startswith("sqlite:////"):
        target = db[len("sqlite:///") :]
        if target and target != ":memory:":
            out["database"] = "sqlite:///" + local(target)
    for key in ("output_dir", "templates_dir"):
        if isinstance(out.get(key), str):
            out[key] = local(out[key])
    feeds = out.get("feeds")
    if isinstance(feeds, list):
        resolved = []
        for feed in feeds:
            if isinstance(feed, dict) and isinstance(feed.get("url"), str):
                url = feed["url"].strip()
                if "://" not in url and url:
                    feed = {**feed, "url": local(url)}
            elif isinstance(feed, str):
                feed = {"url": local(feed) if "://" not in feed else feed}
            resolved.append(feed)
        out["feeds"] = resolved
    email = out.get("email")
    if isinstance(email, dict):
        email = dict(email)
        for key in ("dkim", "bounce_mailbox"):
            block = email.get(key)
            for name in ("private_key_file", "cafile"):
                if isinstance(block, dict) and isinstance(block.get(name), str):
                    email[key] = block = {**block, name: local(block[name])}
        out["email"] = email
    rel = out.get("relevance")
    if isinstance(rel, dict) and isinstance(rel.get("lexicon"), str):
        out["relevance"] = {**rel, "lexicon": local(rel["lexicon"])}
    return out


def did_you_mean(root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """`` (did you mean 'model'?)`` for a misspelt key, from the keys allowed where it is."""
    import difflib
    import typing

    model: Any = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return ""
        # Unwrap `X | None` and `list[X]` down to the model the next key belongs to.
        kind = field.annotation
        while not (isinstance(kind, type) and issubclass(kind, BaseModel)):
            inner = [a for a in typing.get_args(kind) if a is not type(None)]
            if not inner:
                return ""
            kind = inner[0]
        model = kind
    keys = [f.alias or name for name, f in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# A first path segment that looks like a host name (``www.36kr.com/feed``), not like a
# file name (``demo.xml``).
_HOST_LIKE = re.compile(
    r"^(?:[a-z0-9-]+\.)+(?!(?:xml|rss|atom|rdf|json|txt|opml|html?|ya?ml)(?:/|$))[a-z]{2,}"
    r"(?::\d+)?(?:/|$)|^(?:localhost|\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?/",
    re.IGNORECASE,
)


def looks_like_host(url: str) -> bool:
    """Whether a URL without ``://`` starts like a host name, i.e. lacks its scheme."""
    return "://" not in url and bool(_HOST_LIKE.match(url.strip()))


def check_schemes(
    feeds: list[Any], base: Path, lines: dict[tuple[Any, ...], int], source: str
) -> None:
    """A feed URL written without ``https://`` would be read as a (missing) local file."""
    for index, feed in enumerate(feeds):
        url = feed.get("url") if isinstance(feed, dict) else None
        if not isinstance(url, str) or not looks_like_host(url):
            continue
        if (base / Path(url.strip()).expanduser()).exists():
            continue  # a local file that happens to be named like a host
        line = lines.get(("feeds", index, "url")) or lines.get(("feeds", index))
        where = f" line {line}" if line else ""
        raise ConfigError(
            f"{source}:{where}: feeds[{index}].url: {url.strip()!r} has no scheme; "
            f"write https://{url.strip()} (or http://)"
        )
