"""``newsletter doctor``: reach every configured service and say what works and what to fix.

Read-only towards the outside world: feeds are fetched without conditional headers and
nothing is stored; the LLM check lists models (or sends one tiny chat); the SMTP check
stops after EHLO / STARTTLS / login and never sends a message.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .config import Config
from .errors import LLMError, NewsletterError
from .flows.poll import all_feeds, poll_interval, probe
from .llm import LLMSettings, check_endpoint
from .models import Feed, FetchResult
from .parse import ParsedFeed
from .store import SCHEMA_VERSION, FeedHealth, Store

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    area: str
    name: str
    status: Status
    detail: str
    fix: str = ""


def check_database(config: Config) -> tuple[Check, Store | None]:
    """The database's check, and its store open for the other checks (the caller closes it)."""
    store = None
    try:
        store = Store.open(config.database)
        version = store.schema_version()
        entries = store.entry_count()
        issues = len(store.list_issues())
    except NewsletterError as exc:
        if store is not None:
            store.close()
        return (
            Check("database", "", "fail", str(exc), "check `database:` in the config"),
            None,
        )
    detail = (
        f"{store.describe()}, schema version {version} (current {SCHEMA_VERSION}), "
        f"{entries} entries, {issues} issues"
    )
    return Check("database", "", "ok", detail), store


def _feed_check(
    feed: Feed,
    result: FetchResult,
    parsed: ParsedFeed | None,
    health: FeedHealth | None,
    stale_days: int = 30,
) -> Check:
    name = feed.display_name
    history = ""
    if health is not None and health.consecutive_failures:
        history = f"; {health.consecutive_failures} failed polls in a row"
    if parsed is None:
        last = f"; last poll: {health.last_error}" if health and health.last_error else ""
        fix = (
            "check the URL in a browser, then fix it in the config"
            if health is None or health.origin == "config"
            else f"check the URL in a browser; `newsletter feeds remove {feed.url}` drops it"
        )
        if (result.error or "").startswith("refused: "):
            fix = "no request was made to that address: use the feed's public URL (" + fix + ")"
        return Check("feed", name, "fail", f"{feed.url}: {result.error}{history}{last}", fix)
    took = f"{result.elapsed:.1f}s"
    if parsed.error:
        return Check(
            "feed",
            name,
            "fail",
            f"{feed.url}: reachable (HTTP {result.http_status or 200}, {took}) but {parsed.error}",
            "the URL answers with something that is not RSS/Atom: use the site's feed link",
        )
    newest = max((e.published for e in parsed.entries), default=None)
    found = f"{len(parsed.entries)} entries" + (
        f", newest {newest:%Y-%m-%d}" if newest is not None else ""
    )
    detail = f"HTTP {result.http_status or 200} in {took}, parses ({parsed.title[:30]!r}), {found}"
    if parsed.problems:
        return Check(
            "feed",
            name,
            "warn",
            f"{detail}; " + "; ".join(parsed.problems),
            "set `encoding:` on this feed in the config if its charset is known",
        )
    if not parsed.entries:
        return Check("feed", name, "warn", f"{detail}{history}", "the feed is empty right now")
    age = (datetime.now(UTC) - newest).days if newest is not None else 0
    if age > stale_days:
        return Check(
            "feed",
            name,
            "warn",
            f"{detail}{history}; nothing new for {age} days (doctor.stale_days: {stale_days})",
            "the site may have stopped this feed or moved it: look for a newer feed link, "
            "or raise doctor.stale_days if it posts rarely",
        )
    return Check("feed", name, "ok", detail + history)


def check_feeds(config: Config, feeds: list[Feed], health: list[FeedHealth]) -> list[Check]:
    if not feeds:
        return [
            Check(
                "feed",
                "feeds",
                "fail",
                "no feeds configured",
                "add feeds under `feeds:` in the config or with `newsletter feeds add URL`",
            )
        ]
    by_url = {h.url: h for h in health}
    probed = probe(config, feeds, timeout=15)
    return [
        _feed_check(f, r, parsed, by_url.get(f.url), config.doctor.stale_days)
        for f, (r, parsed) in zip(feeds, probed, strict=True)
    ]


def check_llm(config: Config) -> Check:
    llm = config.llm
    if not llm.model:
        return Check(
            "LLM endpoint",
            "",
            "skip",
            "no llm.model set: digests are extracted from the articles (marked 原文摘录)",
            "for AI digests set llm.base_url, llm.model and llm.api_key_env",
        )
    key = llm.api_key()
    where = llm.base_url or "https://api.openai.com/v1"
    if not key:
        return Check(
            "LLM endpoint",
            "",
            "fail",
            f"environment variable {llm.api_key_env} is unset or empty, so {llm.model} at "
            f"{where} is never called and every digest is extracted",
            f"export {llm.api_key_env}=<your key> (or remove llm.model for extracts only)",
        )
    settings = LLMSettings(
        model=llm.model,
        api_key=key,
        base_url=llm.base_url,
        extra_headers=dict(llm.extra_headers),
        timeout=llm.timeout,
    )
    try:
        found = check_endpoint(settings)
    except LLMError as exc:
        return Check(
            "LLM endpoint",
            "",
            "fail",
            f"{where}: {exc}",
            "check llm.base_url, llm.model and the key in " + llm.api_key_env,
        )
    return Check("LLM endpoint", "", "ok", f"{where}: {found}")


def check_smtp(config: Config) -> Check:
    if "smtp" not in config.email.model_fields_set:
        return Check(
            "SMTP server",
            "",
            "skip",
            "email.smtp is not configured: issues are written to output/ but not sent",
            "set email.smtp.host / port / starttls and email.from before `newsletter send`",
        )
    smtp = config.email.smtp
    where = f"{smtp.host}:{smtp.port}"
    fix = "check email.smtp.host, port, starttls/ssl and the credentials' env variables"
    user = os.environ.get(smtp.username_env) or ""
    password = os.environ.get(smtp.password_env) or ""
    steps: list[str] = []
    try:
        context = ssl.create_default_context()
        timeout = min(smtp.timeout, 15.0)
        server = (
            smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
            if smtp.ssl
            else smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
        )
        with server:
            steps.append("connected" + (" over TLS" if smtp.ssl else ""))
            server.ehlo()
            steps.append("EHLO")
            if smtp.starttls and not smtp.ssl:
                if not server.has_extn("starttls"):
                    return Check(
                        "SMTP server",
                        "",
                        "fail",
                        f"{where}: the server does not offer STARTTLS",
                        "set email.smtp.starttls: false only for a trusted local relay, "
                        "or use the provider's submission port",
                    )
                server.starttls(context=context)
                server.ehlo()
                steps.append("STARTTLS")
            if user and password:
                server.login(user, password)
                steps.append(f"login as {user}")
            elif user or password:
                missing = smtp.password_env if user else smtp.username_env
                return Check(
                    "SMTP server",
                    "",
                    "fail",
                    f"{where}: {', '.join(steps)}; {missing} is unset, so no login",
                    f"export {missing}",
                )
    except smtplib.SMTPAuthenticationError as exc:
        return Check("SMTP server", "", "fail", f"{where}: login refused ({exc.smtp_code})", fix)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, socket.timeout):
            reason = "timed out"
        done = f" after {', '.join(steps)}" if steps else ""
        return Check("SMTP server", "", "fail", f"{where}: {reason}{done}", fix)
    if not (user or password):
        steps.append(f"no login ({smtp.username_env} / {smtp.password_env} unset)")
    return Check("SMTP server", "", "ok", f"{where}: {', '.join(steps)}; no mail sent")


def check_workers(config: Config, store: Store) -> Check | None:
    """Who polls and who schedules, when several workers or daemons share the database."""
    seen = store.worker_overview()
    if not (seen.feed_leases or seen.expired_feed_leases or seen.scheduler or config.workers):
        return None  # a single process: nothing to report
    parts = []
    if seen.feed_leases:
        owners = ", ".join(f"{o} ({n})" for o, n in sorted(seen.feed_leases.items()))
        parts.append(f"polling now: {owners}")
    else:
        parts.append("no feed leased right now")
    if seen.sending:
        parts.append(f"{seen.sending} deliveries leased by senders")
    if seen.scheduler is not None:
        live = seen.scheduler.until > datetime.now(UTC)
        parts.append(
            f"scheduler: {seen.scheduler.owner}" + ("" if live else " (lease expired)")
        )
    status: Status = "ok"
    fix = ""
    if seen.expired_feed_leases:
        status = "warn"
        parts.append(f"{seen.expired_feed_leases} feed leases expired (a worker died)")
        fix = "nothing to do if other workers run: they poll those feeds; else start one"
    interval = poll_interval(config)
    if seen.oldest_poll is not None:
        lag = (datetime.now(UTC) - seen.oldest_poll).total_seconds()
        parts.append(f"oldest poll {lag / 60:.0f} min ago (interval {interval / 60:.0f} min)")
        if lag > 3 * interval:
            status = "warn"
            fix = fix or "polls lag behind the interval: run more workers (config `workers`)"
    return Check("workers", "", status, "; ".join(parts), fix)


def check_subscribers(store: Store) -> Check:
    """How many subscribers are in each state; complaints are worth a look."""
    counts = store.subscriber_counts()
    order = ("active", "pending", "unsubscribed", "bounced", "complained")
    names = [*order, *sorted(set(counts) - set(order))]
    detail = ", ".join(f"{counts.get(n, 0)} {n}" for n in names if n in order or counts.get(n))
    total = sum(counts.values())
    complained = counts.get("complained", 0)
    if total and complained / total > 0.001:
        # Gmail's bulk-sender rule: keep spam complaints under 0.3 %, ideally 0.1 %.
        return Check(
            "subscribers", "", "warn", f"{detail}: {complained / total:.2%} complained",
            "complaints above 0.1 % hurt delivery: check how people came on the list",
        )
    return Check("subscribers", "", "ok", detail)


def run_checks(config: Config) -> list[Check]:
    """Every check, in the order an operator fixes things: database, feeds, LLM, SMTP."""
    database, store = check_database(config)
    checks = [database]
    feeds = config.feed_list
    health: list[FeedHealth] = []
    if store is not None:
        with store:
            feeds = all_feeds(config, store)
            health = store.feed_health()
            workers = check_workers(config, store)
            if workers is not None:
                checks.append(workers)
            checks.append(check_subscribers(store))
            checks += check_retries(config, store)
    checks += check_feeds(config, feeds, health)
    checks.append(check_llm(config))
    checks.append(check_smtp(config))
    checks += check_mailing(config)
    checks += check_mail_dns(config)
    checks += check_channels(config)
    return checks


def check_channels(config: Config) -> list[Check]:
    """Each chat channel's variables and webhook address, read without posting."""
    from .flows import channels as channels_flow

    return [
        Check("channel", c.name, c.status, c.detail, c.fix) for c in channels_flow.check(config)
    ]


def check_mail_dns(config: Config, res: Any = None) -> list[Check]:
    """SPF, DMARC and DKIM records of the From domain (skipped when DNS is unreachable)."""
    from . import _mailauth

    found = _mailauth.check(config, res if res is not None else _mailauth.resolver())
    return [Check("mail DNS", c.name, c.status, c.detail, c.fix) for c in found]


def check_retries(config: Config, store: Store) -> list[Check]:
    """Deliveries that failed temporarily: waiting for the daemon's retry, or given up."""
    retries = store.delivery_retries()
    if not (retries.waiting or retries.given_up):
        return []
    parts = []
    if retries.waiting:
        when = retries.next_at.astimezone(config.tz) if retries.next_at else None
        parts.append(
            f"{retries.waiting} failed temporarily and wait for the daemon's retry"
            + (f" (next at {when:%Y-%m-%d %H:%M %Z})" if when else "")
        )
    if retries.given_up:
        parts.append(f"{retries.given_up} given up after the retry schedule")
    return [
        Check(
            "deliveries",
            "",
            "warn",
            "; ".join(parts),
            "`newsletter send` (`--issue ID` for an older issue) tries them now and shows the "
            "relay's answers; retries wait email.retry_delays_seconds, up to "
            "email.give_up_after_seconds",
        )
    ]


def check_mailing(config: Config) -> list[Check]:
    """What ``send`` refuses or the links need, once SMTP is set up: the signing secret,
    ``base_url`` and ``email.from`` (see :func:`flows._mail.mailing_problems`)."""
    from .flows._mail import mailing_problems, secret_problem

    if "smtp" not in config.email.model_fields_set:
        return []  # nothing is mailed: check_smtp says so
    problems = mailing_problems(config)
    secret = secret_problem(config)
    if secret is not None:
        problems.insert(0, secret)
    if not problems:
        detail = f"{config.secret_env} set; links at {config.base_url}; from {config.email.from_}"
        return [Check("mail settings", "", "ok", detail)]
    return [Check("mail settings", p.key, "fail", p.detail, p.fix) for p in problems]
