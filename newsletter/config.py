"""Load ``config.yaml``: the settings' models, validation, errors with key path and line.

The text-level steps (``${ENV}`` interpolation, line numbers, local paths) are in
``_config_source``. Relative paths (``database`` SQLite files, ``output_dir``, local feed
paths, a custom lexicon) are resolved against the directory of the config file, so a config
works from whatever directory the command is started in.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from ._config_source import (
    check_schemes,
    did_you_mean,
    format_loc,
    interpolate,
    line_map,
    resolve_paths,
)
from ._config_source import (
    looks_like_host as looks_like_host,  # re-exported for `feeds add`
)
from .errors import ConfigError
from .models import Feed


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedConfig(_Strict):
    url: str
    name: str = ""
    weight: float = Field(1.0, ge=0)
    encoding: str | None = None
    max_items_per_issue: int | None = Field(None, ge=1)

    @field_validator("url")
    @classmethod
    def _url_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        return value

    def to_feed(self) -> Feed:
        return Feed(
            url=self.url,
            name=self.name,
            weight=self.weight,
            encoding=self.encoding,
            max_items_per_issue=self.max_items_per_issue,
        )


class FetchConfig(_Strict):
    timeout: float = Field(20.0, gt=0, description="seconds for a whole fetch, body included")
    max_bytes: int = Field(10 * 1024 * 1024, gt=0)
    concurrency: int = Field(128, ge=1)  # requests in flight overall; per_host stays polite
    per_host: int = Field(4, ge=1)
    user_agent: str = "newsletter/0.1 (+https://github.com/newsletter)"
    max_redirects: int = Field(5, ge=0)
    allow_private_addresses: bool = Field(
        False, description="poll feeds on loopback and private networks (a local RSSHub)"
    )


class RelevanceConfig(_Strict):
    lexicon: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    llm_judge: bool = False


class LLMConfig(_Strict):
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    extra_headers: dict[str, str] = Field(default_factory=dict)
    max_chars: int = Field(120, ge=20, description="digest cap in characters (Chinese)")
    max_words: int = Field(60, ge=10, description="digest cap in words (English)")
    min_digest: dict[str, int] = Field(
        default_factory=lambda: {"zh": 20, "en": 8},
        description="shortest usable digest per language: Chinese characters, else words",
    )
    timeout: float = Field(60.0, gt=0, description="seconds for one request, connect to last byte")
    max_retries: int = Field(2, ge=0)
    max_concurrency: int = Field(4, ge=1)
    max_tokens_per_run: int | None = Field(None, ge=1)
    max_output_tokens: int | None = Field(
        None, ge=16, description="completion cap per request; default derived from max_chars"
    )
    reasoning: bool | None = Field(
        None, description="the model reasons first (more output room); None: guess from name"
    )
    breaker_failures: int = Field(
        3, ge=1, description="consecutive transport failures that stop LLM calls for the run"
    )
    build_deadline_seconds: float | None = Field(
        900.0, gt=0, description="all LLM time in one build or poll; then extracts"
    )
    json_mode: bool = True
    temperature: float = Field(0.2, ge=0, le=2)

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None

    def missing_key(self) -> str | None:
        """Why a configured model will never be called (its key variable is empty), or None."""
        if not self.model or self.api_key():
            return None
        return (
            f"llm.model is {self.model!r} but the environment variable {self.api_key_env} "
            "is unset or empty: every digest is extracted from the article instead "
            f"(export {self.api_key_env}, or remove llm.model)"
        )


class IssueConfig(_Strict):
    max_items: int = Field(30, ge=1)
    min_items: int = Field(1, ge=0)
    first_window_days: int = Field(7, ge=1)
    as_of: datetime | None = Field(
        None, description="build as if it were this moment (reproducible demos and tests)"
    )


class SMTPConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    username_env: str = "SMTP_USERNAME"
    password_env: str = "SMTP_PASSWORD"
    timeout: float = Field(30.0, gt=0)
    cafile: str | None = Field(None, description="CA bundle for a relay with a private CA")


class DKIMConfig(_Strict):
    domain: str = Field(description="the d= domain, normally the From address's domain")
    selector: str = Field(description="the s= selector: the key is at <s>._domainkey.<domain>")
    private_key_file: str | None = None
    private_key_env: str | None = Field(None, description="variable holding the PEM key")


class BounceMailboxConfig(_Strict):
    protocol: Literal["imap", "pop3"] = "imap"
    host: str
    port: int | None = Field(None, ge=1, le=65535, description="default 993 (IMAP) / 995 (POP3)")
    ssl: bool = Field(True, description="TLS from the first byte (IMAPS, POP3S)")
    starttls: bool = Field(False, description="plain port upgraded with STARTTLS / STLS")
    username_env: str = "BOUNCE_USERNAME"
    password_env: str = "BOUNCE_PASSWORD"
    folder: str = "INBOX"
    move_to: str | None = Field(None, description="IMAP folder processed mail is moved to")
    delete: bool = Field(False, description="delete processed mail (never by default)")
    cafile: str | None = None
    timeout: float = Field(30.0, gt=0)
    interval_seconds: float = Field(300.0, gt=0, description="how often the daemon polls it")


class EmailConfig(_Strict):
    from_: str = Field("newsletter@localhost", alias="from")
    reply_to: str | None = None
    smtp: SMTPConfig = Field(default_factory=SMTPConfig)
    max_per_second: float = Field(10.0, gt=0)
    double_opt_in: bool = False
    list_id: str | None = None
    unsubscribe_mailto: str | None = Field(
        None, description="mailbox for mailto: unsubscribe requests (default reply_to, from)"
    )
    contact: str = Field(
        "",
        max_length=300,
        description="the sender's line in every mail's footer, e.g. a name and postal address",
    )
    retries: int = Field(3, ge=0, description="retries of a transient (4xx) SMTP failure")
    retry_backoff: float = Field(2.0, ge=0, description="seconds before the first retry")
    retry_delays_seconds: list[PositiveFloat] = Field(
        default_factory=lambda: [900.0, 3600.0, 14400.0, 43200.0],
        min_length=1,
        description="the daemon's waits before retrying a delivery that failed temporarily "
        "(a 4xx outlasting `retries`), one per attempt; the last one repeats",
    )
    give_up_after_seconds: float = Field(
        3 * 86400.0, gt=0, description="no retry later than this after the first attempt"
    )
    max_messages_per_connection: int | None = Field(
        100, ge=1, description="reconnect after this many messages (relays cap it)"
    )
    max_consecutive_failures: int | None = Field(
        10, ge=1, description="pause the send after this many recipients in a row failed"
    )
    return_path: str | None = Field(
        None, description="envelope sender: where bounces go (default: the From address)"
    )
    verp: bool = Field(False, description="return path bounces+<id>-<mac>@domain per subscriber")
    soft_bounce_limit: int = Field(3, ge=1, description="soft bounces within the window → bounced")
    soft_bounce_days: int = Field(30, ge=1)
    dkim: DKIMConfig | None = None
    bounce_mailbox: BounceMailboxConfig | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_DEFAULT_CRONS = frozenset({"*/30 * * * *", "0 8 * * mon"})


class ScheduleConfig(_Strict):
    poll: str = "*/30 * * * *"
    issue: str = "0 8 * * mon"
    misfire_grace_seconds: int = Field(6 * 3600, ge=1)
    poll_interval_seconds: float | None = Field(
        None, gt=0, description="poll every N seconds instead of on the `poll` cron string"
    )
    backoff_base_seconds: float = Field(
        300, gt=0, description="a failing feed waits base * 2^(failures-1) before its next poll"
    )
    backoff_max_seconds: float = Field(24 * 3600, gt=0, description="cap on that wait")

    @field_validator("poll", "issue")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if value in _DEFAULT_CRONS:
            # Known valid (a test parses them): a config holding the defaults, as the one
            # `init` writes does, loads without importing APScheduler (and asyncio), a
            # tenth of `newsletter feeds`' start-up.
            return value
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a valid cron string ({exc})") from exc
        return value


class WebConfig(_Strict):
    subscribe_limit: int = Field(
        5, ge=1, description="subscribe attempts one IP (an IPv6 /64) may make per window"
    )
    subscribe_window_seconds: int = Field(900, ge=1)
    feed_issues: int = Field(20, ge=1, description="issues in /feed.xml, newest first")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks of reverse proxies whose X-Forwarded-For is believed",
    )
    confirm_interval_hours: float = Field(
        24, gt=0, description="at most one confirmation mail per address in this many hours"
    )
    confirmations_per_hour: int = Field(
        100, ge=1, description="confirmation mails per hour at most, all addresses together"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value


_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS = tuple(name[:3] for name in _WEEKDAY_NAMES)


def parse_deadline(value: str) -> tuple[int, int, int]:
    """ "Mon 07:30" → (weekday 0-6, hour, minute); ``ValueError`` naming what is wrong."""
    match = re.fullmatch(r"\s*([A-Za-z]+)\s+(\d{1,2}):(\d{2})\s*", value)
    if match is None:
        raise ValueError(f"{value!r} is not a weekday and a time like 'Mon 07:30'")
    word = match.group(1).lower()
    day = next((i for i, name in enumerate(_WEEKDAYS) if name.startswith(word[:3])), None)
    if len(word) < 3 or day is None or not _WEEKDAY_NAMES[day].startswith(word):
        raise ValueError(f"{match.group(1)!r} is not a weekday (Mon, Tue, ... Sun)")
    hour, minute = int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise ValueError(f"{match.group(2)}:{match.group(3)} is not a time of day")
    return day, hour, minute


class ReviewConfig(_Strict):
    """The editor's desk: drafts wait for an editor's approval before they are sent."""

    required: bool = Field(False, description="the weekly build makes a draft and sends nothing")
    editors: list[str] = Field(
        default_factory=list, description="addresses that may sign in to /desk and approve"
    )
    deadline: str | None = Field(
        None, description="weekday and time (in `timezone`) a draft is due, e.g. 'Mon 07:30'"
    )
    on_deadline: Literal["send", "hold"] = Field(
        "hold", description="what happens to a draft nobody approved by the deadline"
    )
    link_minutes: int = Field(15, ge=1, le=24 * 60, description="a sign-in link's lifetime")
    session_hours: float = Field(12, gt=0, le=24 * 14, description="a desk session's lifetime")
    check_seconds: float = Field(
        60, gt=0, description="how often the daemon looks for approved drafts and deadlines"
    )

    @field_validator("deadline")
    @classmethod
    def _valid_deadline(cls, value: str | None) -> str | None:
        if value is not None:
            parse_deadline(value)
        return value

    @field_validator("editors")
    @classmethod
    def _valid_editors(cls, value: list[str]) -> list[str]:
        from email_validator import EmailNotValidError, validate_email

        cleaned = []
        for item in value:
            try:
                cleaned.append(validate_email(item, check_deliverability=False).normalized.lower())
            except EmailNotValidError as exc:
                raise ValueError(f"{item!r} is not an email address ({exc})") from None
        return cleaned

    @model_validator(mode="after")
    def _editors_when_required(self) -> ReviewConfig:
        if self.required and not self.editors:
            raise ValueError("review.required needs at least one address in review.editors")
        return self


class DoctorConfig(_Strict):
    stale_days: int = Field(
        30, ge=1, description="`doctor` warns on a feed whose newest entry is older than this"
    )


class SESWebhook(_Strict):
    topic_arns: list[str] = Field(
        default_factory=list, description="accept only these SNS topics (empty: any)"
    )
    cert_hosts: list[str] = Field(
        default_factory=lambda: [r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?"],
        description="hosts (regular expressions) SNS signing certificates may come from",
    )


class MailgunWebhook(_Strict):
    signing_key_env: str = "MAILGUN_WEBHOOK_SIGNING_KEY"


class PostmarkWebhook(_Strict):
    username_env: str = "POSTMARK_WEBHOOK_USER"
    password_env: str = "POSTMARK_WEBHOOK_PASSWORD"


class SendGridWebhook(_Strict):
    public_key_env: str = "SENDGRID_WEBHOOK_PUBLIC_KEY"


class WebhooksConfig(_Strict):
    """Each provider set here gets its ``/webhooks/<provider>`` route on ``serve``."""

    ses: SESWebhook | None = None
    mailgun: MailgunWebhook | None = None
    postmark: PostmarkWebhook | None = None
    sendgrid: SendGridWebhook | None = None


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_CHANNEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class _ChannelBase(_Strict):
    """What every chat channel has: a unique name, how many stories, how patient to be."""

    name: str = Field(pattern=_CHANNEL_NAME, description="used by `channels test NAME`")
    max_items: int = Field(8, ge=1, le=30, description="top stories posted (by rank)")
    timeout: float = Field(15.0, gt=0, le=120, description="seconds for one request")
    max_retries: int = Field(3, ge=0, le=10, description="retries of a 429 / 5xx answer")
    max_wait_seconds: float = Field(
        60.0, ge=0, le=900, description="the longest backoff honoured; longer: failed, rerun"
    )


class _WebhookChannel(_ChannelBase):
    webhook_url_env: str = Field(
        pattern=_ENV_NAME, description="variable holding the webhook URL (it is a credential)"
    )


class WeComChannel(_WebhookChannel):
    """企业微信 group robot: markdown messages (the URL's key is the only credential)."""

    type: Literal["wecom"]


class FeishuChannel(_WebhookChannel):
    """飞书 custom bot: rich-text (post) messages, signed when the bot has a secret."""

    type: Literal["feishu"]
    secret_env: str | None = Field(None, pattern=_ENV_NAME)
    format: Literal["post", "card"] = Field(
        "post", description="rich text, or an interactive card with a button per story"
    )


class DingTalkChannel(_WebhookChannel):
    """钉钉 custom robot: markdown messages, signed when the robot has a secret (加签)."""

    type: Literal["dingtalk"]
    secret_env: str | None = Field(None, pattern=_ENV_NAME)


class SlackChannel(_WebhookChannel):
    """Slack incoming webhook: Block Kit messages."""

    type: Literal["slack"]


class TelegramChannel(_ChannelBase):
    """Telegram bot: HTML messages to one chat (a group, a channel ``@name`` or a user id)."""

    type: Literal["telegram"]
    token_env: str = Field(pattern=_ENV_NAME, description="variable holding the bot token")
    chat_id: str = Field(min_length=1, max_length=100)
    thread_id: int | None = Field(None, ge=1, description="a forum group's topic")
    api_url: str = Field(
        "https://api.telegram.org", description="Bot API server (a local one, or tests)"
    )


ChannelConfig = Annotated[
    WeComChannel | FeishuChannel | DingTalkChannel | SlackChannel | TelegramChannel,
    Field(discriminator="type"),
]
CHANNEL_TYPES = ("wecom", "feishu", "dingtalk", "telegram", "slack")


class Config(_Strict):
    database: str = "sqlite:///output/newsletter.db"
    output_dir: str = "output"
    title: str = "视频号与直播电商周报"
    language: str = "zh-CN"
    timezone: str = "Asia/Shanghai"
    base_url: str = "http://127.0.0.1:8000"
    secret_env: str = "NEWSLETTER_SECRET"
    templates_dir: str | None = None
    feeds: list[FeedConfig] = Field(default_factory=list)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    relevance: RelevanceConfig = Field(default_factory=RelevanceConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    issue: IssueConfig = Field(default_factory=IssueConfig)
    email: EmailConfig = Field(default_factory=EmailConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    channels: list[ChannelConfig] = Field(
        default_factory=list, description="chat groups that get each issue after the email"
    )
    doctor: DoctorConfig = Field(default_factory=DoctorConfig)
    log_format: Literal["text", "json"] = "text"
    workers: int = Field(
        0, ge=0, le=64, description="`newsletter worker` processes the daemon runs (0: none)"
    )
    lease_seconds: float = Field(
        300, ge=1, description="a dead worker's feeds and deliveries are taken over after this"
    )
    worker_batch: int = Field(25, ge=1, le=1000, description="feeds one worker leases at a time")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, value: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for channel in value:
            if channel.name in seen:
                raise ValueError(f"two channels are named {channel.name!r}; names must differ")
            seen.add(channel.name)
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def feed_list(self) -> list[Feed]:
        return [f.to_feed() for f in self.feeds]

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir)


def parse_config(text: str, *, base_dir: Path, source: str = "config") -> Config:
    """Validate YAML text into a :class:`Config`, raising :class:`ConfigError` on any problem."""
    # One parse: the node tree gives the lines, then the data (what yaml.safe_load does).
    # The lines first: constructing merges `<<:` keys into the tree in place.
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines = line_map(node)
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}:{where}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys, not {type(data).__name__}"
        )
    data = interpolate(data, "")
    # Bare strings in `feeds:` are a convenient shorthand for {url: ...}.
    if isinstance(data.get("feeds"), list):
        data["feeds"] = [{"url": f} if isinstance(f, str) else f for f in data["feeds"]]
        check_schemes(data["feeds"], base_dir, lines, source)
    data = resolve_paths(data, base_dir)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        if len(loc) > 2 and loc[0] == "channels" and loc[2] in CHANNEL_TYPES:
            loc = loc[:2] + loc[3:]  # pydantic adds the union member chosen by `type`
        line = None
        for cut in range(len(loc), -1, -1):
            line = lines.get(loc[:cut])
            if line is not None:
                break
        key = format_loc(loc)
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown key" + did_you_mean(Config, loc)
        elif first["type"] == "missing":
            message = "required key is missing"
        elif "input" in first and first["type"] not in ("value_error",):
            message = f"{message} (got {first['input']!r})"
        more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
        where = f" line {line}" if line else ""
        raise ConfigError(f"{source}:{where}: {key}: {message}{more}") from None


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; paths inside are relative to its directory."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read config file ({exc})") from None
    return parse_config(text, base_dir=file.resolve().parent, source=str(file))
