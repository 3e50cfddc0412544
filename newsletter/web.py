"""The web app: issue archive, the newsletter's own Atom feed, subscribe / confirm / unsubscribe.

Starlette on uvicorn (``newsletter serve``). Every page carries a strict
Content-Security-Policy (no script at all, styles only from ``/static/web.css``), so even
feed text that slipped past sanitizing could not run. Forms use a signed double-submit
CSRF token; the confirm and unsubscribe POSTs are authenticated by the signed token in
their URL instead, which is what lets mail providers send the RFC 8058 one-click POST.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import desk
from ._resources import templates_root
from .config import Config
from .flows import subscriptions
from .flows.archive import atom_feed
from .render import WebRenderer
from .store import Store
from .tokens import Signer, secret_from_env

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    # Confirm and unsubscribe URLs carry tokens; no page ever sends its URL elsewhere.
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "interest-cohort=()",
}
CSRF_COOKIE = "newsletter_csrf"
CSRF_MAX_AGE = 2 * 3600
# Forms here are a few short fields; anything bigger is not ours to parse.
MAX_BODY = 16 * 1024
ISSUE_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class SecurityHeaders:
    """Adds the security headers to every HTTP response that has not set its own."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds per key (sliding window, in memory).

    Per process: behind several workers each enforces its own share, which is still a
    bound. Hand-written because it is a dozen lines and a library would add a store.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 50_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str) -> float | None:
        """Record a hit; ``None`` if allowed, else the seconds until the next one is."""
        now = self.clock()
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        self._hits[key] = hits
        # Forget the least recently seen clients first, so memory stays bounded.
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)
        if len(hits) >= self.limit:
            return max(1.0, hits[0] + self.window - now)
        hits.append(now)
        return None


def client_key(host: str | None) -> str:
    """The rate-limit key for a client address: the address, or its /64 for IPv6.

    One IPv6 subscriber line usually owns a whole /64, so per-address limits would be void.
    """
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Csrf:
    """Signed double submit: a random cookie plus a form field that is that value, signed.

    The signature stops an attacker who can plant a cookie (e.g. from a sibling subdomain)
    from minting a matching pair; the cookie stops a token copied from one browser being
    replayed from another.
    """

    def __init__(self, secret: str, *, secure: bool) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="newsletter-csrf")
        self.secure = secure

    def token_for(self, request: Request) -> tuple[str, str]:
        """(form token, cookie value): reuses the browser's cookie when it has one."""
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if not (20 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum()):
            nonce = secrets.token_urlsafe(24)
        return str(self._serializer.dumps(nonce)), nonce

    def set_cookie(self, response: Response, nonce: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            max_age=CSRF_MAX_AGE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )

    def valid(self, request: Request, form: FormData) -> bool:
        token = form.get("csrf_token")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not isinstance(token, str) or not cookie:
            return False
        try:
            nonce = self._serializer.loads(token, max_age=CSRF_MAX_AGE)
        except (BadSignature, SignatureExpired):
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, cookie)


@cache
def _stylesheet(templates_dir: str | None) -> bytes:
    for base in ([Path(templates_dir)] if templates_dir else []) + [templates_root()]:
        path = base / "web" / "web.css"
        if path.is_file():
            return path.read_bytes()
    return b""


def _clean_name(value: str) -> str:
    return " ".join(value.split())[:100]


async def _read_form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=20, max_part_size=4096)


class BodyLimit:
    """Reads a request body (at most ``limit`` bytes) before the app sees the request.

    A declared Content-Length over the limit is refused unread; a chunked body is refused
    at the first chunk past the limit. Either way the connection is closed, so the rest is
    never read (otherwise the server drains it after answering: four 100 MB uploads slowed
    every other request). Starlette has no such limit; its form parser caps only fields.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        *,
        webhook_limit: int | None = None,
        desk_limit: int | None = None,
    ) -> None:
        self.app = app
        self.default = limit
        self.webhook_limit = webhook_limit
        """A provider's batch of events is larger than a form (``/webhooks/...`` only)."""
        self.desk_limit = desk_limit
        """An editor's rewritten digest is larger than a sign-up form (``/desk/...`` only)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.default
        if self.webhook_limit is not None and str(scope["path"]).startswith("/webhooks/"):
            limit = self.webhook_limit
        if self.desk_limit is not None and str(scope["path"]).startswith("/desk/"):
            limit = self.desk_limit
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(scope, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(body) > limit:
                await _too_large(scope, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, send: Send) -> None:
    response = Response(
        "request body too large", 413, headers={"connection": "close"}, media_type="text/plain"
    )
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _known_path(routes: list[Route], path: str) -> bool:
    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in routes)


def _webhook_routes(config: Config, store: Store) -> list[Route]:
    """``/webhooks/<provider>`` for each ESP configured (see ``_webhooks``)."""
    hooks = config.webhooks
    if not (hooks.ses or hooks.mailgun or hooks.postmark or hooks.sendgrid):
        return []
    from . import _webhooks
    from .bounces import Report
    from .flows import bounces

    def apply(report: Report) -> None:
        bounces.apply(config, store, report, source=report.detector)

    return _webhooks.routes(hooks, apply)


def _webhook_body_limit(config: Config) -> int | None:
    hooks = config.webhooks
    if not (hooks.ses or hooks.mailgun or hooks.postmark or hooks.sendgrid):
        return None
    from ._webhooks import MAX_BODY as WEBHOOK_MAX_BODY

    return WEBHOOK_MAX_BODY


def create_app(config: Config, store: Store | None = None) -> Starlette:
    """The web app for ``config``; opens the configured database unless ``store`` is given.

    Raises :class:`~newsletter.errors.ConfigError` when the signing secret is missing:
    without it no confirm, unsubscribe or CSRF token could be trusted.
    """
    secret = secret_from_env(config.secret_env)
    signer = Signer(secret)
    own_store = store is None
    db = store if store is not None else Store.open(config.database)
    render = WebRenderer(
        config.templates_dir,
        timezone=config.timezone,
        language=config.language,
        title=config.title,
    )
    csrf = Csrf(secret, secure=config.base_url.startswith("https://"))
    limiter = RateLimiter(config.web.subscribe_limit, config.web.subscribe_window_seconds)

    def page(
        request: Request,
        template: str,
        status: int = 200,
        *,
        cache_control: str = "no-cache",
        **values: Any,
    ) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        body = render.page(template, root=root, **values)
        return HTMLResponse(body, status, headers={"cache-control": cache_control})

    def message(
        request: Request,
        heading: str,
        text: str,
        status: int = 200,
        *,
        action: str = "",
        button: str = "",
    ) -> HTMLResponse:
        return page(
            request,
            "action.html.j2",
            status,
            cache_control="no-store",
            heading=heading,
            message=text,
            action=action,
            button=button,
        )

    async def archive(request: Request) -> Response:
        issues = await run_in_threadpool(db.public_issues)
        return page(request, "archive.html.j2", issues=issues)

    async def issue_page(request: Request) -> Response:
        issue_id = request.path_params["issue_id"]
        issue = None
        if 0 < len(issue_id) <= 64 and set(issue_id) <= ISSUE_ID_CHARS:
            issue = await run_in_threadpool(db.load_issue, issue_id)
        if issue is not None and issue_id in await run_in_threadpool(db.unpublished_issue_ids):
            issue = None  # on the editor's desk (/desk/...), not out yet
        if issue is None:
            return message(request, "没有这一期", "找不到这一期周报，它可能从未存在。", 404)
        return page(
            request,
            "issue.html.j2",
            cache_control="public, max-age=300",
            issue=issue,
            window_label=render.window_label(issue),
            any_llm=any(i.summary.kind == "llm" for i in issue.items),
        )

    async def feed(request: Request) -> Response:
        xml = await run_in_threadpool(atom_feed, config, db, render)
        return Response(
            xml,
            media_type="application/atom+xml; charset=utf-8",
            headers={"cache-control": "public, max-age=300"},
        )

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(db.schema_version)
        except Exception:  # the reason goes to the log, not to whoever probes
            log.exception("healthz: database check failed")
            return JSONResponse({"status": "error"}, 503, headers={"cache-control": "no-store"})
        return JSONResponse({"status": "ok"}, headers={"cache-control": "no-store"})

    async def favicon(request: Request) -> Response:
        # Browsers ask for it on every site; an empty answer beats a logged 404.
        return Response(status_code=204, headers={"cache-control": "public, max-age=86400"})

    async def stylesheet(request: Request) -> Response:
        return Response(
            _stylesheet(config.templates_dir),
            media_type="text/css; charset=utf-8",
            headers={"cache-control": "public, max-age=3600"},
        )

    def subscribe_form(
        request: Request, status: int = 200, *, error: str = "", email: str = "", name: str = ""
    ) -> Response:
        token, nonce = csrf.token_for(request)
        response = page(
            request,
            "subscribe.html.j2",
            status,
            cache_control="no-store",
            done=False,
            error=error,
            email=email,
            name=name,
            csrf_token=token,
        )
        csrf.set_cookie(response, nonce)
        return response

    def do_subscribe(email: str, name: str) -> None:
        try:
            subscriptions.subscribe(config, db, email, name, public=True)
        except subscriptions.ConfirmationLimited as exc:
            log.warning("subscribe: %s", exc)
        except Exception as exc:  # logged without the address: the visitor was already answered
            log.error("subscribe failed: %s: %s", type(exc).__name__, exc)

    async def subscribe(request: Request) -> Response:
        if request.method != "POST":
            return subscribe_form(request)
        wait = limiter.hit(client_key(request.client.host if request.client else None))
        if wait is not None:
            response = message(
                request,
                "请稍后再试",
                f"提交太频繁了，请在 {int(wait + 59) // 60} 分钟后再试。",
                429,
            )
            response.headers["retry-after"] = str(int(wait + 0.999))
            return response
        form = await _read_form(request)
        email = str(form.get("email") or "").strip()
        raw_name = str(form.get("name") or "")
        name = _clean_name(subscriptions.displayable_name(raw_name))
        if not csrf.valid(request, form):
            return subscribe_form(
                request, 403, error="表单已过期或无效，请再提交一次。", email=email, name=name
            )
        if subscriptions.name_problem(raw_name.strip()) is not None:
            # It would end up in a mail header: refuse rather than store something else.
            return subscribe_form(
                request,
                400,
                error="名字里不能有控制字符、换行或 “=?” 这样的编码，请改一下再提交。",
                email=email,
                name=name,
            )
        try:
            address = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            return subscribe_form(request, 400, error="请输入有效的邮箱地址。", name=name)
        # The work (and any confirmation email) happens after the answer is sent: new and
        # known addresses get the same page at the same speed.
        response = page(
            request,
            "subscribe.html.j2",
            cache_control="no-store",
            done=True,
            double_opt_in=True,  # the public form always asks for a confirmed click
        )
        response.background = BackgroundTask(do_subscribe, address, name)
        return response

    async def confirm(request: Request) -> Response:
        token = request.path_params["token"]
        if request.method != "POST":
            # Mail scanners fetch links; only a person pressing the button confirms.
            if signer.verify("confirm", token) is None:
                return message(request, "链接无效", "确认链接无效或已过期，请重新订阅。", 400)
            return message(
                request,
                "确认订阅",
                "点击下面的按钮，确认订阅这份周报。",
                action=str(request.url_for("confirm", token=token).path),
                button="确认订阅",
            )
        subscriber = await run_in_threadpool(subscriptions.confirm, config, db, token)
        if subscriber is None:
            return message(request, "链接无效", "确认链接无效或已过期，请重新订阅。", 400)
        return message(request, "订阅成功", "已确认，下一期周报会发到你的邮箱。")

    async def unsubscribe(request: Request) -> Response:
        token = request.path_params["token"]
        if request.method != "POST":
            if signer.verify("unsubscribe", token) is None:
                return message(request, "链接无效", "退订链接无效，请使用邮件中的退订链接。", 400)
            return message(
                request,
                "退订",
                "确定不再接收这份周报吗？",
                action=str(request.url_for("unsubscribe", token=token).path),
                button="确认退订",
            )
        # Authenticated by the signed token alone: the RFC 8058 one-click POST
        # (body "List-Unsubscribe=One-Click") comes from a mail provider with no cookie.
        await _read_form(request)
        subscriber = await run_in_threadpool(subscriptions.unsubscribe, config, db, token)
        if subscriber is None:
            return message(request, "链接无效", "退订链接无效，请使用邮件中的退订链接。", 400)
        return message(request, "已退订", "你不会再收到这份周报。随时欢迎回来订阅。")

    async def slash_redirect(request: Request) -> Response:
        # Starlette's own redirect builds an absolute URL from the Host header, which
        # whoever sends the request chooses; a path-only Location cannot leave this site.
        target = "/" + str(request.path_params["rest"]).strip("/")
        if not _known_path(routes, target):
            return message(request, "页面不存在", "这里什么也没有。", 404)
        root = str(request.scope.get("root_path", "")).rstrip("/")
        query = f"?{request.url.query}" if request.url.query else ""
        return Response(status_code=307, headers={"location": f"{root}{target}{query}"})

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            return message(request, "页面不存在", "这里什么也没有。", 404)
        if status == 405:
            return message(request, "不支持的请求", "这个地址不接受这种请求。", 405)
        return message(request, "请求有误", "无法处理这个请求。", status)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        yield
        if own_store:
            db.close()

    routes = _webhook_routes(config, db)
    sign_ins = RateLimiter(config.web.subscribe_limit, config.web.subscribe_window_seconds)
    routes += desk.routes(
        config,
        db,
        render,
        csrf,
        page,
        lambda request: sign_ins.hit(client_key(request.client.host if request.client else None)),
    )
    routes += [
        Route("/", archive, methods=["GET"]),
        Route("/issues/{issue_id}", issue_page, methods=["GET"]),
        Route("/feed.xml", feed, methods=["GET"]),
        Route("/subscribe", subscribe, methods=["GET", "POST"]),
        Route("/confirm/{token}", confirm, methods=["GET", "POST"], name="confirm"),
        Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"], name="unsubscribe"),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/static/web.css", stylesheet, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
    ]
    middleware = [
        Middleware(SecurityHeaders, headers=SECURITY_HEADERS),
        Middleware(
            BodyLimit,
            limit=MAX_BODY,
            webhook_limit=_webhook_body_limit(config),
            desk_limit=desk.MAX_BODY if config.review.editors else None,
        ),
    ]
    if config.web.trusted_proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        # Only these proxies' X-Forwarded-For names the client (rate limits key on it);
        # `serve` turns uvicorn's own handling off, which trusts any local process.
        middleware.insert(
            0, Middleware(ProxyHeadersMiddleware, trusted_hosts=config.web.trusted_proxies)
        )
    web = Starlette(
        routes=[*routes, Route("/{rest:path}/", slash_redirect, methods=["GET", "HEAD"])],
        middleware=middleware,
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    web.router.redirect_slashes = False
    return web
