"""The web app's edges over real HTTP: ``newsletter serve`` (uvicorn) on a loopback port.

Forged X-Forwarded-For, bodies too large (declared or chunked), and the trailing-slash
redirect with a hostile Host header.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsletter.config import parse_config
from newsletter.store import Store
from newsletter.web import CSRF_COOKIE, create_app
from tests.servers import free_port, newsletter_serve
from tests.smtp import SECRET


def _config_text(root: Path, **web: object) -> str:
    return json.dumps(
        {
            "database": f"sqlite:///{root / 'db.sqlite'}",
            "output_dir": str(root / "out"),
            # http: the CSRF cookie of an https site would not come back over plain HTTP.
            "base_url": "http://news.example.org",
            "web": {"subscribe_limit": 2, **web},
            # Nothing listens there: confirmation mails fail at once, without retries.
            "email": {"retries": 0, "smtp": {"starttls": False, "port": free_port()}},
        }
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("limits")
    (root / "config.yaml").write_text(_config_text(root), encoding="utf-8")
    Store.open(f"sqlite:///{root / 'db.sqlite'}").close()
    with newsletter_serve(
        root / "config.yaml", free_port(), env={"NEWSLETTER_SECRET": SECRET}
    ) as base:
        yield base


def _post_subscribe(c: httpx.Client, address: str, headers: dict[str, str]) -> httpx.Response:
    page = c.get("/subscribe", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token and c.cookies.get(CSRF_COOKIE)
    data = {"email": address, "csrf_token": token.group(1)}
    return c.post("/subscribe", data=data, headers=headers)


def test_forged_x_forwarded_for_from_loopback_is_not_believed(served: str) -> None:
    with httpx.Client(base_url=served) as c:
        answers = [
            _post_subscribe(c, "victim@example.org", {"x-forwarded-for": f"198.51.100.{n}"})
            for n in range(1, 5)
        ]
    # subscribe_limit is 2: every request counts against 127.0.0.1, whatever it claims.
    assert [a.status_code for a in answers] == [200, 200, 429, 429]


@pytest.mark.parametrize("kind", ["application/x-www-form-urlencoded", "text/plain"])
def test_a_declared_oversized_body_is_refused_unread(served: str, kind: str) -> None:
    r = httpx.post(
        f"{served}/unsubscribe/x", content=b"a" * 200_000, headers={"content-type": kind}
    )
    assert r.status_code == 413 and r.headers["connection"] == "close"
    # A form of the right size still works (an invalid token here, so 400 and not 413).
    ok = httpx.post(f"{served}/unsubscribe/x", content=b"List-Unsubscribe=One-Click")
    assert ok.status_code == 400


def test_a_chunked_body_is_refused_at_the_limit_not_read_to_the_end(served: str) -> None:
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /unsubscribe/x HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: text/plain\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"a" * 4096
        sent = 0
        answer = b""
        sock.settimeout(0.05)
        # Up to 100 MB offered; the server must answer long before.
        while sent < 100 * 1024 * 1024 and b"\r\n\r\n" not in answer:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                break  # the server closed the connection: also a refusal
            sent += len(chunk)
            with contextlib.suppress(TimeoutError):
                answer += sock.recv(4096)
        sock.settimeout(5)
        while b"\r\n\r\n" not in answer:
            try:
                more = sock.recv(4096)
            except OSError:
                break
            if not more:
                break
            answer += more
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 2 * 1024 * 1024


def test_trailing_slash_redirect_ignores_the_host_header(served: str) -> None:
    r = httpx.get(f"{served}/subscribe/?x=1", headers={"host": "evil.example"})
    assert r.status_code == 307 and r.headers["location"] == "/subscribe?x=1"
    # A doubled slash must not become a protocol-relative redirect to another site.
    odd = httpx.get(f"{served}//evil.example/", headers={"host": "evil.example"})
    assert odd.status_code == 404 and "location" not in odd.headers


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_x_forwarded_for_is_believed_from_a_trusted_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    config = parse_config(_config_text(tmp_path, trusted_proxies=["10.0.0.0/8"]), base_dir=tmp_path)
    store = Store.open(config.database)

    async def attempts(proxy: str) -> list[int]:
        transport = httpx.ASGITransport(app=create_app(config, store), client=(proxy, 5000))
        codes = []
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as c:
            for n in range(3):
                await c.get("/subscribe")
                r = await c.post(
                    "/subscribe",
                    data={"email": "x"},
                    headers={"x-forwarded-for": f"198.51.100.{n}"},
                )
                codes.append(r.status_code)
        return codes

    try:
        # Behind the trusted proxy each client has its own limit (403: no CSRF token).
        assert await attempts("10.1.2.3") == [403, 403, 403]
        # From anywhere else the header is ignored and the limit (2) is the sender's.
        assert await attempts("192.0.2.8") == [403, 403, 429]
    finally:
        store.close()
