"""The editor's desk on ``newsletter serve``: ``/desk/...`` pages for ``review.editors``.

An editor signs in with a link mailed to their address (signed, short-lived, one use; see
``flows.review``), which opens a signed session cookie scoped to ``/desk`` (HttpOnly,
SameSite=Strict, Secure with an https ``base_url``). No passwords exist. Every POST carries
the web app's signed double-submit CSRF token; a request without a valid editor session
gets 403, whatever it asks for. Pages keep the app's CSP (no script at all): every action
is a plain form, and the page is rendered again after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .config import Config
from .errors import NewsletterError
from .flows import review, signin
from .flows.archive import renderer
from .flows.send import send_issue
from .render import WebRenderer
from .store import Store
from .summarize import CATEGORIES
from .tokens import DeskTokens, secret_from_env

log = logging.getLogger(__name__)

SESSION_COOKIE = "newsletter_desk"
# A rewritten digest is up to 2,000 characters, three bytes each and percent-encoded.
MAX_BODY = 64 * 1024
MAX_CANDIDATES = 300
PREVIEW_CSP = (
    # The email exactly as sent: its inlined styles need 'unsafe-inline'; still no script,
    # no form, no frame, and images only over https.
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DONE = {
    "drop": "已删除这条。",
    "up": "已上移。",
    "down": "已下移。",
    "section": "已移到另一栏目。",
    "digest": "摘要已保存。",
    "bullet": "要点已保存。",
    "drop-bullet": "要点已删除。",
    "add": "已加入这条。",
    "test": "测试邮件已发出，请查收。",
    "approve": "已批准，将在截止时间发出。",
    "approve-now": "已批准，正在发送。",
}
STATUS_LABELS = {
    "draft": "草稿",
    "held": "到期未批准，暂停发送",
    "approved": "已批准",
    "sent": "已发出",
}


class CsrfGuard(Protocol):
    def token_for(self, request: Request) -> tuple[str, str]: ...
    def set_cookie(self, response: Response, nonce: str) -> None: ...
    def valid(self, request: Request, form: FormData) -> bool: ...


PageFn = Callable[..., HTMLResponse]


@dataclass(frozen=True)
class _Desk:
    config: Config
    store: Store
    render: WebRenderer
    csrf: CsrfGuard
    page: PageFn
    tokens: DeskTokens
    allow_sign_in: Callable[[Request], float | None]

    # -- sessions ------------------------------------------------------------------------
    def editor(self, request: Request) -> str | None:
        token = request.cookies.get(SESSION_COOKIE, "")
        if not token or len(token) > 1000:
            return None
        email = self.tokens.read_session(token, int(self.config.review.session_hours * 3600))
        return email if email and signin.is_editor(self.config, email) else None

    def secure(self) -> bool:
        return self.config.base_url.startswith("https://")

    def form_page(
        self, request: Request, template: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        """A page with forms: a fresh CSRF token, its cookie, never cached."""
        token, nonce = self.csrf.token_for(request)
        response = self.page(
            request, template, status, cache_control="no-store", csrf_token=token, **values
        )
        self.csrf.set_cookie(response, nonce)
        return response

    def sign_in_page(self, request: Request, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("sent", False)
        values.setdefault("error", "")
        return self.form_page(request, "desk_signin.html.j2", status, **values)

    def forbidden(self, request: Request) -> HTMLResponse:
        return self.sign_in_page(request, 403, error="只有编辑可以打开审稿台，请先用邮箱登录。")

    # -- pages ---------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        editor = self.editor(request)
        if editor is None:
            return self.sign_in_page(request)
        reviews = await run_in_threadpool(self.store.list_reviews)
        return self.form_page(
            request,
            "desk_list.html.j2",
            editor=editor,
            reviews=[(r, STATUS_LABELS.get(r.status, r.status), self._when(r.deadline))
                     for r in reviews],
        )

    async def ask_link(self, request: Request) -> Response:
        form = await _read_form(request)
        if not self.csrf.valid(request, form):
            return self.sign_in_page(request, 403, error="表单已过期或无效，请再提交一次。")
        wait = self.allow_sign_in(request)
        if wait is not None:
            return self.sign_in_page(request, 429, error="请求太频繁了，请稍后再试。")
        email = str(form.get("email") or "")[:320]
        # The same answer at the same speed for every address: the page does not say who
        # is an editor; the mail (if any) goes after the answer.
        response = self.sign_in_page(request, sent=True)
        response.background = BackgroundTask(self._mail_link, email)
        return response

    def _mail_link(self, email: str) -> None:
        try:
            signin.request_sign_in(self.config, self.store, email)
        except Exception as exc:  # logged without the address: the visitor was answered
            log.error("desk: sign-in link not sent: %s: %s", type(exc).__name__, exc)

    async def link(self, request: Request) -> Response:
        token = request.path_params["token"]
        if request.method != "POST":
            # Mail scanners fetch links: only pressing the button spends the one-use link.
            return self.form_page(
                request, "desk_link.html.j2", action=request.url.path, error=""
            )
        form = await _read_form(request)
        if not self.csrf.valid(request, form):
            return self.form_page(
                request,
                "desk_link.html.j2",
                403,
                action=request.url.path,
                error="表单已过期或无效，请再按一次。",
            )
        try:
            email = await run_in_threadpool(signin.sign_in, self.config, self.store, token)
        except review.ReviewError as exc:
            return self.sign_in_page(request, 403, error=_chinese_reason(str(exc)))
        log.info("desk: an editor signed in")
        response = Response(status_code=303, headers={"location": f"{_root(request)}/desk"})
        response.set_cookie(
            SESSION_COOKIE,
            self.tokens.session(email),
            max_age=int(self.config.review.session_hours * 3600),
            path="/desk",
            httponly=True,
            samesite="strict",
            secure=self.secure(),
        )
        return response

    async def sign_out(self, request: Request) -> Response:
        form = await _read_form(request)
        if self.editor(request) is None or not self.csrf.valid(request, form):
            return self.forbidden(request)
        response = Response(status_code=303, headers={"location": f"{_root(request)}/desk"})
        response.delete_cookie(
            SESSION_COOKIE, path="/desk", httponly=True, samesite="strict", secure=self.secure()
        )
        return response

    async def issue(self, request: Request) -> Response:
        editor = self.editor(request)
        if editor is None:
            return self.forbidden(request)
        issue_id = request.path_params["issue_id"]
        done = DONE.get(request.query_params.get("done", ""), "")
        return await self._issue_page(request, issue_id, editor, message=done)

    async def _issue_page(
        self, request: Request, issue_id: str, editor: str, status: int = 200, **extra: Any
    ) -> Response:
        def load() -> dict[str, Any] | None:
            try:
                state, issue = review.draft(self.store, issue_id)
            except review.ReviewError:
                return None
            found = review.candidates(self.store, issue)
            return {
                "review": state,
                "status_label": STATUS_LABELS.get(state.status, state.status),
                "editable": state.status in review.EDITABLE,
                "issue": issue,
                "window_label": self.render.window_label(issue),
                "deadline": self._when(state.deadline),
                "send_at": self._when(state.send_at),
                "warnings": {i.entry.id: review.figure_warnings(i) for i in issue.items},
                "candidates": found[:MAX_CANDIDATES],
                "more_candidates": max(0, len(found) - MAX_CANDIDATES),
                "changes": [
                    (self._when(c.at), c) for c in reversed(self.store.review_changes(issue_id))
                ],
                "categories": CATEGORIES,
            }

        values = await run_in_threadpool(load)
        if values is None:
            return self.page(request, "action.html.j2", 404, cache_control="no-store",
                             heading="没有这份草稿", message="审稿台上没有这一期。",
                             action="", button="")
        values.setdefault("message", "")
        values.setdefault("error", "")
        values.update(extra)
        return self.form_page(request, "desk.html.j2", status, editor=editor, **values)

    async def preview(self, request: Request) -> Response:
        if self.editor(request) is None:
            return self.forbidden(request)
        issue_id = request.path_params["issue_id"]

        def html() -> str | None:
            issue = self.store.load_issue(issue_id)
            if issue is None or self.store.get_review(issue_id) is None:
                return None
            web = f"{self.config.base_url.rstrip('/')}/issues/{issue.id}"
            return renderer(self.config).issue(issue, web_url=web).html

        body = await run_in_threadpool(html)
        if body is None:
            return Response("no such draft", 404, media_type="text/plain")
        return HTMLResponse(
            body, headers={"content-security-policy": PREVIEW_CSP, "cache-control": "no-store"}
        )

    async def act(self, request: Request) -> Response:
        editor = self.editor(request)
        form = await _read_form(request)
        if editor is None:
            return self.forbidden(request)
        issue_id = request.path_params["issue_id"]
        if not self.csrf.valid(request, form):
            # An editor's page left open past the token's life (or a forged form): refused,
            # and the page comes back with a fresh token.
            return await self._issue_page(
                request, issue_id, editor, 403, error="表单已过期或无效，请再操作一次。"
            )
        op = str(form.get("op") or "")
        if op not in DONE:
            return await self._issue_page(request, issue_id, editor, 400, error="未知的操作。")

        def field(name: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else ""

        def run() -> None:
            config, store, entry = self.config, self.store, field("entry")
            if op == "drop":
                review.drop_story(config, store, issue_id, entry, editor, field("why"))
            elif op in ("up", "down"):
                review.move_story(config, store, issue_id, entry, op, editor)
            elif op == "section":
                review.move_story(config, store, issue_id, entry, field("section"), editor)
            elif op == "digest":
                review.edit_digest(config, store, issue_id, entry, field("text"), editor)
            elif op in ("bullet", "drop-bullet"):
                index = int(field("index")) if field("index").isdigit() else -1
                text = None if op == "drop-bullet" else field("text")
                review.edit_bullet(config, store, issue_id, index, text, editor)
            elif op == "add":
                review.add_story(config, store, issue_id, field("url"), editor)
            elif op == "test":
                review.draft(store, issue_id)  # only drafts get test copies from here
                copy = send_issue(config, store, issue_id=issue_id, to=editor)
                if copy.failed:
                    raise review.ReviewError(f"测试邮件未能发出：{copy.failures[0][1]}")
            else:
                review.approve(config, store, issue_id, editor, now=op == "approve-now")

        try:
            await run_in_threadpool(run)
        except NewsletterError as exc:
            return await self._issue_page(request, issue_id, editor, 400, error=str(exc))
        anchor = f"#story-{field('entry')}" if op in ("up", "down", "digest", "section") else ""
        location = f"{_root(request)}/desk/{issue_id}?done={op}{anchor}"
        response = Response(status_code=303, headers={"location": location})
        if op in ("approve", "approve-now"):
            # Sent after the answer: the editor's page does not wait for every subscriber.
            response.background = BackgroundTask(self._send_due)
        return response

    def _send_due(self) -> None:
        try:
            for done in review.run_due(self.config, self.store):
                log.info("desk: issue %s %s", done.issue_id, done.action)
        except Exception as exc:  # the daemon's review job tries again
            log.error("desk: sending failed: %s: %s", type(exc).__name__, exc)

    def _when(self, moment: Any) -> str:
        if moment is None:
            return ""
        return str(moment.astimezone(self.config.tz).strftime("%Y-%m-%d %H:%M"))


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


async def _read_form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=20, max_part_size=MAX_BODY)


def _chinese_reason(reason: str) -> str:
    if "expired" in reason:
        return "登录链接已过期，请重新获取。"
    if "already used" in reason:
        return "登录链接已经用过了，请重新获取。"
    if "no longer an editor" in reason:
        return "这个邮箱已不在编辑名单中。"
    return "登录链接无效，请重新获取。"


def routes(
    config: Config,
    store: Store,
    render: WebRenderer,
    csrf: CsrfGuard,
    page: PageFn,
    allow_sign_in: Callable[[Request], float | None],
) -> list[Route]:
    """The desk's routes, or none when ``review.editors`` is empty."""
    if not config.review.editors:
        return []
    desk = _Desk(
        config,
        store,
        render,
        csrf,
        page,
        DeskTokens(secret_from_env(config.secret_env)),
        allow_sign_in,
    )
    return [
        Route("/desk", desk.home, methods=["GET"]),
        Route("/desk/signin", desk.ask_link, methods=["POST"]),
        Route("/desk/signin/{token}", desk.link, methods=["GET", "POST"]),
        Route("/desk/signout", desk.sign_out, methods=["POST"]),
        Route("/desk/{issue_id}", desk.issue, methods=["GET"]),
        Route("/desk/{issue_id}", desk.act, methods=["POST"]),
        Route("/desk/{issue_id}/preview", desk.preview, methods=["GET"]),
    ]
