"""The loopback servers do what tests elsewhere rely on them to do."""

from __future__ import annotations

import calendar
import http.client
import json
import threading
import time
import zlib
from pathlib import Path

import httpx
import openai
import pytest

from tests.servers import (
    FeedServer,
    Func,
    Garbage,
    Hang,
    OpenAIServer,
    Reply,
    Status,
    billion_laughs,
    gzip_bomb,
)

RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    "<item><title>视频号</title><link>http://example.com/1</link></item></channel></rss>"
).encode()

ARTICLE = (
    "微信小店公布双十一经营数据。视频号直播带货GMV同比增长65%，达到3.2亿元，"
    "开播商家数创新高。优选联盟同时宣布追加佣金补贴。"
)


def _client(**timeouts: float) -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(timeouts.pop("timeout", 5.0), **timeouts))


# ------------------------------------------------------------------------------ FeedServer


def test_conditional_get_answers_304_and_counts(feed_server: FeedServer) -> None:
    url = feed_server.add("/a.xml", RSS)
    with _client() as c:
        first = c.get(url)
        assert first.status_code == 200 and first.content == RSS
        etag, lm = first.headers["etag"], first.headers["last-modified"]
        assert etag.startswith('"') and not etag.startswith("W/")

        again = c.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert c.get(url, headers={"If-Modified-Since": lm}).status_code == 304
        # A stale validator gets the full body.
        assert c.get(url, headers={"If-None-Match": '"other"'}).status_code == 200

        feed_server.add("/a.xml", RSS.replace(b"<title>t</title>", b"<title>t2</title>"))
        changed = c.get(url, headers={"If-None-Match": etag, "If-Modified-Since": lm})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert c.get(url, headers={"If-Modified-Since": lm}).status_code == 200

    assert feed_server.count("/a.xml") == 6
    methods_paths = [(m, p) for m, p, _ in feed_server.requests]
    assert methods_paths[0] == ("GET", "/a.xml")
    assert feed_server.requests[1][2]["if-none-match"] == etag


def test_serves_files_from_root_without_traversal(feed_server: FeedServer) -> None:
    assert feed_server.root is not None
    (feed_server.root / "gb.xml").write_bytes("<?xml version='1.0' encoding='GB18030'?>视频号"
                                              .encode("gb18030"))
    (feed_server.root.parent / "secret.txt").write_text("secret")
    with _client() as c:
        r = c.get(feed_server.url("/gb.xml"))
        assert r.status_code == 200 and r.content.decode("gb18030").endswith("视频号")
        assert r.headers["content-type"] == "application/xml"  # no charset: the prolog decides
        assert c.get(feed_server.url("/nope.xml")).status_code == 404
    conn = http.client.HTTPConnection("127.0.0.1", feed_server.port, timeout=5)
    conn.request("GET", "/../secret.txt")
    resp = conn.getresponse()
    assert resp.status == 404 and b"secret" not in resp.read()
    conn.close()


def test_latency_delays_each_response(tmp_path: Path) -> None:
    with FeedServer(tmp_path, latency=0.3) as server, _client() as c:
        url = server.add("/x", RSS)
        t = time.perf_counter()
        assert c.get(url).status_code == 200
        assert time.perf_counter() - t >= 0.3


def test_hang_times_out_client_and_does_not_block_stop(tmp_path: Path) -> None:
    server = FeedServer(tmp_path)
    server.start()
    url = server.add_fault("/hang", "hang")
    with _client(timeout=0.3) as c:
        t = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            c.get(url)
        assert time.perf_counter() - t < 2
    # A request still hanging while we stop.
    started = threading.Event()

    def hang_forever() -> None:
        started.set()
        with _client(timeout=30) as c2, pytest.raises(httpx.HTTPError):
            c2.get(url)

    worker = threading.Thread(target=hang_forever, daemon=True)
    worker.start()
    started.wait()
    time.sleep(0.1)
    t = time.perf_counter()
    server.stop()
    assert time.perf_counter() - t < 2
    worker.join(5)
    assert not worker.is_alive()


def test_slow_trickles_bytes(feed_server: FeedServer) -> None:
    url = feed_server.add_fault("/slow", "slow", body=b"0123456789", interval=0.05)
    with _client(timeout=1.0) as c:
        t = time.perf_counter()
        r = c.get(url)
        elapsed = time.perf_counter() - t
    assert r.content == b"0123456789"
    assert elapsed >= 0.45
    # A total-time budget shorter than the trickle must be enforceable by the client.
    with _client(timeout=1.0) as c, c.stream("GET", url) as r:
        t = time.perf_counter()
        got = b""
        for piece in r.iter_raw():
            got += piece
            if time.perf_counter() - t > 0.15:
                break
        assert len(got) < 10


def test_huge_streams_declared_size(feed_server: FeedServer) -> None:
    url = feed_server.add_fault("/huge", "huge")
    with _client() as c, c.stream("GET", url) as r:
        assert r.headers["content-length"] == str(50_000_000)
        seen = 0
        for piece in r.iter_raw():
            seen += len(piece)
            if seen >= 1_000_000:
                break
    assert seen >= 1_000_000
    url2 = feed_server.add_fault("/huge2", "huge", size=3_000_000, content_length=False)
    with _client() as c:
        r2 = c.get(url2)
    assert "content-length" not in r2.headers and len(r2.content) == 3_000_000
    assert r2.content.startswith(b"<?xml")


def test_redirects(feed_server: FeedServer) -> None:
    loop = feed_server.add_fault("/loop", "redirect_loop")
    feed_server.add("/target.xml", RSS)
    moved = feed_server.add_fault("/moved", "redirect", to="/target.xml", status=308)
    with httpx.Client(timeout=5, follow_redirects=True, max_redirects=5) as c:
        with pytest.raises(httpx.TooManyRedirects):
            c.get(loop)
        r = c.get(moved)
    assert r.status_code == 200 and r.url.path == "/target.xml"
    assert [h.status_code for h in r.history] == [308]
    assert feed_server.count("/loop") == 6


def test_status_faults(feed_server: FeedServer) -> None:
    gone = feed_server.add_fault("/gone", "status", code=410)
    busy = feed_server.add_fault("/busy", "status", code=429, headers={"Retry-After": "120"})
    with _client() as c:
        assert c.get(gone).status_code == 410
        r = c.get(busy)
    assert r.status_code == 429 and r.headers["retry-after"] == "120"


def test_gzip_bomb_is_small_on_the_wire_and_inflates_to_its_size(
    feed_server: FeedServer,
) -> None:
    url = feed_server.add_fault("/bomb", "gzip_bomb")
    with _client() as c, c.stream("GET", url) as r:
        assert r.headers["content-encoding"] == "gzip"
        raw = b"".join(r.iter_raw())
    assert len(raw) < 1_200_000
    d = zlib.decompressobj(31)
    head = d.decompress(raw, 10_000_000)
    assert len(head) == 10_000_000 and head.count(0) == len(head)
    # The full 1 GiB is checked on a small bomb built the same way (CRC and size trailer).
    small = gzip_bomb(5 * (1 << 20) + 123)
    d2 = zlib.decompressobj(31)
    total = 0
    buf = small
    while buf:
        total += len(d2.decompress(buf, 1 << 20))
        buf = d2.unconsumed_tail
    assert d2.eof and total == 5 * (1 << 20) + 123


def test_billion_laughs_wrong_charset_and_html(feed_server: FeedServer) -> None:
    laughs = feed_server.add_fault("/laughs", "billion_laughs")
    wrong = feed_server.add_fault("/wrong", "wrong_charset")
    page = feed_server.add_fault("/page", "html")
    with _client() as c:
        body = c.get(laughs).content
        w = c.get(wrong)
        p = c.get(page)
    assert body == billion_laughs() and len(body) < 2000 and b"<!ENTITY lol9" in body
    assert w.headers["content-type"].endswith("charset=utf-8")
    with pytest.raises(UnicodeDecodeError):
        w.content.decode("utf-8")
    assert "视频号" in w.content.decode("gb18030")
    assert p.headers["content-type"].startswith("text/html")
    assert p.content.lower().startswith(b"<!doctype html")


def test_unknown_fault_kind_is_rejected(feed_server: FeedServer) -> None:
    with pytest.raises(ValueError):
        feed_server.add_fault("/x", "teapot")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- OpenAIServer


def _oa(server: OpenAIServer, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0,
                         timeout=timeout)


def _ask(client: openai.OpenAI, json_mode: bool = False) -> openai.types.chat.ChatCompletion:
    kwargs: dict[str, object] = {}
    if json_mode:
        kwargs["response_format"] = {"type": "json_object"}
    return client.chat.completions.create(  # type: ignore[call-overload]
        model="m1",
        messages=[
            {"role": "system", "content": "你是编辑。"},
            {"role": "user", "content": "请用一句话总结下面的文章，输出JSON。\n标题：双十一\n正文："
             + ARTICLE},
        ],
        **kwargs,
    )


def test_openai_client_plain_and_json(openai_server: OpenAIServer) -> None:
    client = _oa(openai_server)
    plain = _ask(client)
    text = plain.choices[0].message.content or ""
    assert text and text in ARTICLE
    assert plain.usage is not None and plain.usage.total_tokens == (
        plain.usage.prompt_tokens + plain.usage.completion_tokens)
    assert plain.model == "m1"

    answer = _ask(client, json_mode=True)
    data = json.loads(answer.choices[0].message.content or "")
    assert set(data) == {"summary", "category", "key_facts"}
    assert data["summary"] in ARTICLE and data["category"] == "行业观察"
    assert data["key_facts"] and all(f in ARTICLE for f in data["key_facts"])

    assert openai_server.request_count == 2
    req = openai_server.requests[1]
    assert req.json["response_format"] == {"type": "json_object"}
    assert req.headers["authorization"] == "Bearer test"
    assert [m.id for m in client.models.list()] == ["loopback-model"]


def test_openai_queued_failures_then_default(openai_server: OpenAIServer) -> None:
    client = _oa(openai_server)
    openai_server.queue(
        Status(500),
        Status(429, headers={"Retry-After": "1"}),
        Garbage(),
        Reply("固定答案", reasoning_content="先想一想"),
    )
    with pytest.raises(openai.InternalServerError):
        _ask(client)
    with pytest.raises(openai.RateLimitError) as rl:
        _ask(client)
    assert rl.value.response.headers["retry-after"] == "1"
    # The openai client lets a non-JSON 200 escape as json.JSONDecodeError (a ValueError).
    with pytest.raises((openai.APIError, ValueError)):
        _ask(client)
    scripted = _ask(client)
    assert scripted.choices[0].message.content == "固定答案"
    assert getattr(scripted.choices[0].message, "reasoning_content", None) == "先想一想"
    assert openai_server.pending == 0
    assert (_ask(client).choices[0].message.content or "") in ARTICLE
    assert openai_server.request_count == 5

    openai_server.default = Func(
        lambda req: Status(400) if req.get("model") == "m1" else Reply("ok"))
    with pytest.raises(openai.BadRequestError):
        _ask(client)


def test_openai_hang_times_out_and_stop_is_prompt() -> None:
    server = OpenAIServer()
    server.start()
    server.queue(Hang(30))
    t = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        _ask(_oa(server, timeout=0.3))
    assert time.perf_counter() - t < 2
    server.queue(Hang(0.05))  # a short hang answers afterwards
    assert _ask(_oa(server)).choices[0].message.content
    server.default = Hang(30)
    outcome: list[BaseException] = []

    def waiting() -> None:
        try:
            _ask(_oa(server, 30))
        except openai.APIError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=waiting, daemon=True)
    worker.start()
    time.sleep(0.2)
    t = time.perf_counter()
    server.stop()
    worker.join(5)
    assert time.perf_counter() - t < 2
    # The in-flight request is cut off rather than answered.
    assert len(outcome) == 1 and isinstance(outcome[0], openai.APIConnectionError)


def test_openai_api_key_and_streaming() -> None:
    with OpenAIServer(api_key="sk-right") as server:
        with pytest.raises(openai.AuthenticationError):
            _ask(_oa(server))
        good = openai.OpenAI(base_url=server.base_url, api_key="sk-right", max_retries=0)
        stream = good.chat.completions.create(
            model="m", messages=[{"role": "user", "content": ARTICLE}], stream=True,
            stream_options={"include_usage": True},
        )
        parts: list[str] = []
        usage = None
        for ch in stream:
            if ch.choices and ch.choices[0].delta.content:
                parts.append(ch.choices[0].delta.content)
            usage = ch.usage or usage
        assert "".join(parts) in ARTICLE and "".join(parts)
        assert usage is not None and usage.total_tokens > 0


# ------------------------------------------------------------------------- demo feeds


def _expected_rows(demo_feeds_dir: Path) -> list[dict[str, str]]:
    lines = (demo_feeds_dir / "EXPECTED.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("| id | feed | published | relevant | story | title | why |")
    cols = ["id", "feed", "published", "relevant", "story", "title", "why"]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append(dict(zip(cols, cells, strict=True)))
    return rows


def test_demo_feeds_served_over_http_match_expected(demo_feeds_dir: Path) -> None:
    import feedparser  # the parser the pipeline uses; only to check the files themselves

    rows = _expected_rows(demo_feeds_dir)
    by_feed: dict[str, set[str]] = {}
    for row in rows:
        by_feed.setdefault(row["feed"].strip("`"), set()).add(row["title"])
    assert len(rows) >= 30
    assert 0.45 <= sum(row["relevant"] == "yes" for row in rows) / len(rows) <= 0.65
    assert len({row["feed"] for row in rows if row["story"] == "S1"}) == 3
    # The week ending 2026-11-25 in UTC+8, as UTC epoch seconds.
    lo = calendar.timegm((2026, 11, 17, 16, 0, 0))
    hi = calendar.timegm((2026, 11, 25, 16, 0, 0))
    with FeedServer(demo_feeds_dir) as server, _client() as c:
        for name, titles in sorted(by_feed.items()):
            r = c.get(server.url("/" + name))
            assert r.status_code == 200
            parsed = feedparser.parse(r.content)
            assert not parsed.bozo, (name, parsed.get("bozo_exception"))
            assert {e.title for e in parsed.entries} == titles
            for e in parsed.entries:
                assert lo <= calendar.timegm(e.published_parsed) < hi, e.title
            assert r.headers["etag"]
            again = c.get(server.url("/" + name), headers={"If-None-Match": r.headers["etag"]})
            assert again.status_code == 304
    gb = (demo_feeds_dir / "hangye-zixun-gb18030.xml").read_bytes()
    assert gb.startswith(b'<?xml version="1.0" encoding="GB18030"?>')
    with pytest.raises(UnicodeDecodeError):
        gb.decode("utf-8")
