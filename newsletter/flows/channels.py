"""Channels: post each issue once to every configured chat group, after the email.

A channel's webhook URL, token and secret come from environment variables only; a
missing one is reported naming the variable and the config key. Each (issue, channel)
has one delivery row claimed before the first post (see ``store._channels``), so a rerun
posts only what was not accepted yet and a channel that got the issue never gets it
again. A failing channel is reported and never stops the others or the email.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import httpx

from .. import channels
from .._lease import dead_here, owner_id
from ..config import ChannelConfig, Config, FeishuChannel, TelegramChannel
from ..errors import ConfigError, NewsletterError
from ..models import Issue
from ..store import ChannelDelivery, Store
from .archive import write_atomic

log = logging.getLogger(__name__)

Status = Literal["sent", "already", "busy", "failed"]


@dataclass(frozen=True)
class ChannelResult:
    name: str
    kind: str
    status: Status
    posted: int = 0
    """Messages the platform accepted in this run."""
    parts: int = 0
    """Messages the issue takes on this platform."""
    detail: str = ""


@dataclass(frozen=True)
class ChannelsReport:
    issue_id: str
    results: tuple[ChannelResult, ...] = ()

    @property
    def failed(self) -> tuple[ChannelResult, ...]:
        return tuple(r for r in self.results if r.status == "failed")


def _key(config: Config, channel: ChannelConfig, field: str) -> str:
    return f"channels[{config.channels.index(channel)}].{field}"


def _env(config: Config, channel: ChannelConfig, field: str, env: Mapping[str, str]) -> str:
    name = getattr(channel, field)
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"channel {channel.name!r}: environment variable {name} "
            f"({_key(config, channel, field)}) is not set"
        )
    return value


def platform(
    config: Config, channel: ChannelConfig, env: Mapping[str, str] | None = None
) -> channels.Platform:
    """The channel's platform with its credentials from the environment."""
    env = os.environ if env is None else env
    if isinstance(channel, TelegramChannel):
        token = _env(config, channel, "token_env", env)
        return channels.Telegram(channel.api_url, token, channel.chat_id, channel.thread_id)
    url = _env(config, channel, "webhook_url_env", env)
    if not url.lower().startswith(("https://", "http://")):
        raise ConfigError(
            f"channel {channel.name!r}: {channel.webhook_url_env} "
            f"({_key(config, channel, 'webhook_url_env')}) does not hold an http(s) URL"
        )
    secret = None
    if getattr(channel, "secret_env", None):
        secret = _env(config, channel, "secret_env", env)
    if channel.type == "wecom":
        return channels.WeCom(url)
    if isinstance(channel, FeishuChannel):
        return channels.Feishu(url, secret, card=channel.format == "card")
    if channel.type == "dingtalk":
        return channels.DingTalk(url, secret)
    return channels.Slack(url)


def web_url(config: Config, issue_id: str) -> str:
    return f"{config.base_url.rstrip('/')}/issues/{issue_id}"


def digest_of(config: Config, issue: Issue, max_items: int) -> channels.Digest:
    """The issue as a chat message shows it: title, 本周要点, the top stories, the web link."""
    end = issue.window_end.astimezone(config.tz).strftime("%Y-%m-%d")
    title = issue.title if end in issue.title else f"{issue.title}（{end}）"
    top = issue.items[:max_items]
    stories = tuple(
        channels.Story(
            title=item.entry.title,
            digest=item.summary.text,
            link=item.entry.link,
            source=item.entry.source_name,
        )
        for item in top
    )
    return channels.Digest(
        title=title,
        highlights=issue.intro,
        stories=stories,
        web_url=web_url(config, issue.id),
        more=len(issue.items) - len(top),
    )


def _retry(channel: ChannelConfig) -> channels.Retry:
    return channels.Retry(
        max_retries=channel.max_retries, max_wait=channel.max_wait_seconds, timeout=channel.timeout
    )


def _client() -> httpx.Client:
    # No redirects: a webhook that moved is a configuration to fix, not a place to follow
    # with the message (and the credential in its URL).
    return httpx.Client(headers={"User-Agent": channels.USER_AGENT}, follow_redirects=False)


def _selected(config: Config, only: str | None) -> list[ChannelConfig]:
    if only is None:
        return list(config.channels)
    chosen = [c for c in config.channels if c.name == only]
    if not chosen:
        names = ", ".join(c.name for c in config.channels) or "none configured"
        raise ConfigError(f"no channel named {only!r} (channels: {names})")
    return chosen


def post_issue(
    config: Config,
    store: Store,
    issue_id: str | None = None,
    *,
    only: str | None = None,
    owner: str | None = None,
) -> ChannelsReport:
    """Post an issue (default: the newest) to every channel that has not had it."""
    record = store.get_issue(issue_id) if issue_id else next(iter(store.list_issues()), None)
    issue = None if record is None else store.load_issue(record.id)
    if record is None or issue is None:
        wanted = f"issue {issue_id!r}" if issue_id else "issue"
        raise NewsletterError(f"cannot post: no {wanted} in the database (run `build` first)")
    review = store.get_review(issue.id)
    if review is not None and review.status != "sent":
        raise NewsletterError(
            f"cannot post: issue {issue.id} is {review.status} on the editor's desk; the "
            f"desk posts it once approved (`newsletter review show {issue.id}`)"
        )
    selected = _selected(config, only)
    me = owner or owner_id("channels")
    results = []
    with _client() as client:
        for channel in selected:
            try:
                result = _post_one(config, store, client, issue, channel, me)
            except (NewsletterError, ValueError, OSError) as exc:
                result = ChannelResult(channel.name, channel.type, "failed", detail=str(exc))
            log.log(
                logging.WARNING if result.status == "failed" else logging.INFO,
                "channel %s (%s): issue %s %s, %d of %d messages posted now%s",
                result.name,
                result.kind,
                issue.id,
                result.status,
                result.posted,
                result.parts,
                f": {result.detail}" if result.detail else "",
            )
            results.append(result)
    return ChannelsReport(issue.id, tuple(results))


def _post_one(
    config: Config,
    store: Store,
    client: httpx.Client,
    issue: Issue,
    channel: ChannelConfig,
    me: str,
) -> ChannelResult:
    target = platform(config, channel)  # before the claim: a setup error claims nothing
    messages = target.messages(digest_of(config, issue, channel.max_items))
    lease = config.lease_seconds
    row = store.claim_channel_delivery(issue.id, channel.name, channel.type, me, seconds=lease)
    if row is None:
        held = _row(store, issue.id, channel.name)
        # A sender that died on this machine need not be waited for until its lease ends.
        if held is not None and held.owner and held.status == "sending" and dead_here(held.owner):
            store.release_channel_delivery(issue.id, channel.name, held.owner)
            row = store.claim_channel_delivery(
                issue.id, channel.name, channel.type, me, seconds=lease
            )
    if row is None:
        held = _row(store, issue.id, channel.name)
        if held is not None and held.status == "sent":
            return ChannelResult(channel.name, channel.type, "already", parts=held.parts)
        return ChannelResult(
            channel.name, channel.type, "busy", detail="another sender is posting it now"
        )
    posted = 0
    retry = _retry(channel)
    for index in range(row.parts_sent, len(messages)):
        outcome = channels.post(client, target, messages[index], retry)
        if not outcome.ok:
            store.finish_channel_delivery(
                issue.id, channel.name, me, "failed", outcome.detail, len(messages)
            )
            where = f"message {index + 1} of {len(messages)}: " if len(messages) > 1 else ""
            return ChannelResult(
                channel.name, channel.type, "failed", posted, len(messages), where + outcome.detail
            )
        posted += 1
        if not store.channel_part_sent(issue.id, channel.name, me, index + 1, len(messages), lease):
            return ChannelResult(
                channel.name, channel.type, "busy", posted, len(messages), "lease lost"
            )
    store.finish_channel_delivery(issue.id, channel.name, me, "sent", "ok", len(messages))
    return ChannelResult(channel.name, channel.type, "sent", posted, len(messages))


@dataclass(frozen=True)
class Preview:
    name: str
    kind: str
    files: tuple[Path, ...]
    already: bool
    """The channel has this issue: ``send`` would post nothing to it."""


def preview(config: Config, store: Store, issue_id: str | None = None) -> list[Preview]:
    """What each channel would get, as JSON files under ``<issue folder>/channels/``.

    Posts nothing and needs no credentials: the bodies are shown unsigned.
    """
    record = store.get_issue(issue_id) if issue_id else next(iter(store.list_issues()), None)
    issue = None if record is None else store.load_issue(record.id)
    if record is None or issue is None:
        wanted = f"issue {issue_id!r}" if issue_id else "issue"
        raise NewsletterError(f"cannot preview: no {wanted} in the database (run `build` first)")
    folder = Path(record.path) if record.path else config.output_path / "issues" / issue.id
    target = folder / "channels"
    target.mkdir(parents=True, exist_ok=True)
    sent = {r.channel for r in store.channel_deliveries(issue.id) if r.status == "sent"}
    env = {v: "https://placeholder.invalid/" for c in config.channels for v in _variables(c)}
    previews = []
    for channel in config.channels:
        messages = platform(config, channel, env).messages(
            digest_of(config, issue, channel.max_items)
        )
        files = []
        for number, message in enumerate(messages, 1):
            path = target / f"{channel.name}-{number}.json"
            write_atomic(path, json.dumps(message, ensure_ascii=False, indent=2) + "\n")
            files.append(path)
        previews.append(Preview(channel.name, channel.type, tuple(files), channel.name in sent))
    return previews


def _variables(channel: ChannelConfig) -> tuple[str, ...]:
    """The environment variables a channel reads."""
    fields = ("token_env",) if isinstance(channel, TelegramChannel) else ("webhook_url_env",)
    secret = getattr(channel, "secret_env", None)
    return tuple(getattr(channel, f) for f in fields) + ((secret,) if secret else ())


def _row(store: Store, issue_id: str, name: str) -> ChannelDelivery | None:
    return next((r for r in store.channel_deliveries(issue_id) if r.channel == name), None)


def owed(config: Config, store: Store, now: datetime) -> str | None:
    """The newest issue if a channel was tried and not sent yet, within the misfire grace.

    What the daemon retries between weekly runs: a platform's long rate-limit wait (10
    minutes on DingTalk) or a fixed secret is posted later, never a week late, and a channel
    no send has tried yet (an issue waiting for approval) is left alone.
    """
    if not config.channels:
        return None
    newest = next(iter(store.list_issues()), None)
    if newest is None:
        return None
    if now - newest.created > timedelta(seconds=config.schedule.misfire_grace_seconds):
        return None
    names = {c.name for c in config.channels}
    rows = [r for r in store.channel_deliveries(newest.id) if r.channel in names]
    return newest.id if any(r.status != "sent" for r in rows) else None


def post_test(config: Config, name: str) -> ChannelResult:
    """Post a short test message to one channel; records nothing."""
    channel = _selected(config, name)[0]
    target = platform(config, channel)
    digest = channels.Digest(
        title=f"测试消息 · {config.title}",
        highlights=(f"频道 {channel.name}（{channel.type}）已接通：每期周报发出后会发到这里。",),
        stories=(),
        web_url=config.base_url,
    )
    messages = target.messages(digest)
    with _client() as client:
        outcome = channels.post(client, target, messages[0], _retry(channel))
    status: Status = "sent" if outcome.ok else "failed"
    return ChannelResult(channel.name, channel.type, status, int(outcome.ok), 1, outcome.detail)


# -- doctor -----------------------------------------------------------------------------

CheckStatus = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class ChannelCheck:
    name: str
    status: CheckStatus
    detail: str
    fix: str = ""


# Where each platform's webhooks live (a proxy or a test server is allowed, with a warning).
_HOSTS = {
    "wecom": ("qyapi.weixin.qq.com",),
    "feishu": ("open.feishu.cn", "open.larksuite.com"),
    "dingtalk": ("oapi.dingtalk.com",),
    "slack": ("hooks.slack.com",),
    "telegram": ("api.telegram.org",),
}
_PATHS = {
    "wecom": "/cgi-bin/webhook/send",
    "feishu": "/open-apis/bot/v2/hook/",
    "dingtalk": "/robot/send",
    "slack": "/services/",
}
_TOKEN = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")


def check(config: Config, env: Mapping[str, str] | None = None) -> list[ChannelCheck]:
    """Each channel's configuration, read without posting anything."""
    env = os.environ if env is None else env
    return [_check_one(config, c, env) for c in config.channels]


def _check_one(config: Config, channel: ChannelConfig, env: Mapping[str, str]) -> ChannelCheck:
    name = channel.name
    try:
        platform(config, channel, env)
    except ConfigError as exc:
        variable = str(exc).split("environment variable ")[-1].split(" ")[0]
        detail = str(exc).removeprefix(f"channel {channel.name!r}: ")  # the check names it
        return ChannelCheck(name, "fail", detail, f"export {variable}=… before starting")
    warnings: list[str] = []
    if isinstance(channel, TelegramChannel):
        address = channel.api_url
        if not _TOKEN.match(env[channel.token_env].strip()):
            warnings.append(f"{channel.token_env} does not look like a bot token (123456:ABC…)")
    else:
        address = env[channel.webhook_url_env].strip()
    parts = urlsplit(address)
    host = (parts.hostname or "").lower()
    if host not in _HOSTS[channel.type]:
        warnings.append(f"{host or 'the URL'} is not {' or '.join(_HOSTS[channel.type])}")
    elif parts.scheme != "https":
        warnings.append("the URL is not https")
    expected = _PATHS.get(channel.type)
    if expected and host in _HOSTS[channel.type] and not parts.path.startswith(expected):
        warnings.append(f"the path is not {expected}…")
    query = parse_qs(parts.query)
    if channel.type == "wecom" and "key" not in query:
        warnings.append("the URL has no key= (copy it whole from the robot's page)")
    if channel.type == "dingtalk" and "access_token" not in query:
        warnings.append("the URL has no access_token= (copy it whole from the robot's page)")
    secret_env = getattr(channel, "secret_env", None)
    if channel.type in ("feishu", "dingtalk") and not secret_env:
        warnings.append("unsigned: set secret_env and turn on 签名校验 / 加签 on the bot")
    if channel.type == "dingtalk" and secret_env and not env[secret_env].strip().startswith("SEC"):
        warnings.append(f"{secret_env} does not start with SEC like DingTalk's 加签 secrets")
    detail = f"{channel.type} at {host or '?'}, up to {channel.max_items} stories; nothing posted"
    if warnings:
        return ChannelCheck(name, "warn", f"{detail}; " + "; ".join(warnings), _FIX)
    return ChannelCheck(name, "ok", detail)


_FIX = "compare with the README's Chat channels section; `newsletter channels test NAME` posts"


# -- overview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelLine:
    name: str
    kind: str
    variables: tuple[tuple[str, bool], ...]
    """Environment variables it needs, and whether each is set."""
    max_items: int
    newest: str
    """The newest issue's delivery status on this channel ("" when none)."""


def overview(config: Config, store: Store | None) -> list[ChannelLine]:
    """What ``channels list`` shows: every channel, its variables, the newest issue's state."""
    rows: dict[str, str] = {}
    if store is not None:
        newest = next(iter(store.list_issues()), None)
        if newest is not None:
            for row in store.channel_deliveries(newest.id):
                rows[row.channel] = f"{newest.id}: {row.status}"
    lines = []
    for channel in config.channels:
        variables = tuple((v, bool(os.environ.get(v, "").strip())) for v in _variables(channel))
        lines.append(
            ChannelLine(
                channel.name,
                channel.type,
                variables,
                channel.max_items,
                rows.get(channel.name, ""),
            )
        )
    return lines
