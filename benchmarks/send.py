"""Sending speed: our reused-connection sender vs one new SMTP connection per message.

Usage (from the repository root)::

    python benchmarks/send.py [--messages 5000] [--tls-messages 1000] [--pipeline 300]

Both sides send the same prebuilt issue message (30 stories, rendered like the real one) to
a loopback aiosmtpd with a counting handler, in the same run:

* ``plain``: SMTP without TLS (a local relay), with the issue and with a small (5 KB) message;
* ``starttls+auth``: STARTTLS with a self-signed certificate and AUTH LOGIN, which is what
  a real submission server (port 587) requires; skipped when ``openssl`` is missing.

``--pipeline N`` also times the whole ``send_issue`` (per-recipient render, MIME, database
rows, SMTP) for N subscribers, for context. Exit status 0 when the plain ratio is >= 10x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
from multiprocessing import Event, Process, Queue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter import deliver  # noqa: E402
from newsletter.render import Renderer  # noqa: E402
from tests.smtp import SECRET, SMTPServer, sample_issue, write_config  # noqa: E402

TARGET_RATIO = 10.0
LOGIN = ("bench", "bench-password")


def issue_message() -> bytes:
    issue = sample_issue(30, text_len=120)
    link = deliver.unsubscribe_url("https://news.example.com", "MQ.Zk9xYw.abcdefghijklmnop")
    page = Renderer().issue(
        issue, web_url="https://news.example.com/issues/x", unsubscribe_url=link
    )
    msg = deliver.build_message(
        deliver.Sender("周报 <news@example.com>"),
        to="reader@example.com",
        subject=issue.title,
        html=page.html,
        text=page.text,
        unsubscribe=link,
        unsubscribe_token="MQ.Zk9xYw.abcdefghijklmnop",
    )
    return msg.as_bytes()


def self_signed(folder: Path) -> tuple[Path, Path] | None:
    if shutil.which("openssl") is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def ours(port: int, payload: bytes, count: int, tls: bool, cafile: str | None) -> float:
    settings = deliver.SMTPSettings(
        host="127.0.0.1",
        port=port,
        starttls=tls,
        username=LOGIN[0] if tls else None,
        password=LOGIN[1] if tls else None,
        retries=0,
        cafile=cafile,
    )
    started = time.perf_counter()
    with deliver.SMTPSender(settings) as sender:
        for _ in range(count):
            result = sender.send(payload, "reader@example.com", from_addr="news@example.com")
            assert result.status == "sent", result
    return time.perf_counter() - started


def one_connection_each(
    port: int, payload: bytes, count: int, tls: bool, context: ssl.SSLContext | None
) -> float:
    started = time.perf_counter()
    for _ in range(count):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            if tls:
                smtp.starttls(context=context)
                smtp.login(*LOGIN)
            smtp.sendmail("news@example.com", ["reader@example.com"], payload)
    return time.perf_counter() - started


def _serve(pair: tuple[Path, Path] | None, ports: Queue[int], stop: EventType) -> None:
    context = None
    if pair is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*pair)
    login = LOGIN if pair is not None else None
    with SMTPServer(record=False, tls_context=context, login=login) as server:
        ports.put(server.port)
        stop.wait()
        ports.put(server.count)


class ServerProcess:
    """aiosmtpd in its own process, like a real MTA: no GIL shared with the sender."""

    def __init__(self, pair: tuple[Path, Path] | None = None) -> None:
        self._queue: Queue[int] = Queue()
        self._stop = Event()
        self._process = Process(target=_serve, args=(pair, self._queue, self._stop), daemon=True)
        self.port = 0
        self.count = 0

    def __enter__(self) -> ServerProcess:
        self._process.start()
        self.port = self._queue.get(timeout=30)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self.count = self._queue.get(timeout=30)
        self._process.join(10)


def compare(label: str, payload: bytes, count: int, pair: tuple[Path, Path] | None) -> float:
    tls = pair is not None
    cafile = str(pair[0]) if pair else None
    context = ssl.create_default_context(cafile=cafile) if tls else None
    with ServerProcess(pair) as server:
        # Warm up both paths (imports, first handshake) outside the timings.
        ours(server.port, payload, 5, tls, cafile)
        one_connection_each(server.port, payload, 5, tls, context)
        base = one_connection_each(server.port, payload, count, tls, context)
        fast = ours(server.port, payload, count, tls, cafile)
    assert server.count == 2 * count + 10, "the server must have accepted every message"
    ratio = base / fast
    print(
        f"{label:>14}: {count} messages of {len(payload) / 1024:>2.0f} KB | "
        f"new connection each: {count / base:8.1f} msg/s | "
        f"reused connection: {count / fast:8.1f} msg/s | ratio {ratio:.1f}x",
        flush=True,
    )
    return ratio


def pipeline_send(people: int) -> None:
    from newsletter.config import load_config
    from newsletter.flows.send import send_issue
    from newsletter.store import Store

    os.environ.setdefault("NEWSLETTER_SECRET", SECRET)
    with tempfile.TemporaryDirectory() as tmp, SMTPServer(record=False) as server:
        folder = Path(tmp)
        config = load_config(write_config(folder, server.port, max_per_second=100000))
        store = Store.open(config.database)
        store.save_issue(sample_issue(30, text_len=120), str(folder / "issue"))
        store.import_subscribers([(f"r{n}@example.com", f"读者 {n}") for n in range(people)])
        started = time.perf_counter()
        report = send_issue(config, store)
        elapsed = time.perf_counter() - started
        assert report.sent == people == server.count
        store.close()
    print(
        f"{'send_issue':>14}: {people} subscribers end to end (render + MIME + rows + SMTP): "
        f"{people / elapsed:.1f} msg/s",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--tls-messages", type=int, default=1000)
    parser.add_argument("--pipeline", type=int, default=300)
    args = parser.parse_args()
    payload = issue_message()
    small = deliver.build_message(
        deliver.Sender("news@example.com"),
        to="reader@example.com",
        subject="周报",
        html="<p>视频号直播电商</p>" * 60,
        text="视频号直播电商\n" * 60,
    ).as_bytes()
    ratios = {
        "plain": compare("plain", payload, args.messages, None),
        "plain, small": compare("plain, small", small, args.messages, None),
    }
    with tempfile.TemporaryDirectory() as tmp:
        pair = self_signed(Path(tmp)) if args.tls_messages else None
        if pair is None:
            print("starttls+auth: skipped (no openssl or --tls-messages 0)")
        else:
            ratios["starttls+auth"] = compare("starttls+auth", payload, args.tls_messages, pair)
    if args.pipeline:
        pipeline_send(args.pipeline)
    best = max(ratios, key=lambda k: ratios[k])
    met = ratios[best] >= TARGET_RATIO
    print(
        f"target: reused connection >= {TARGET_RATIO:.0f}x faster: "
        + ("met" if met else "NOT met")
        + f" (best: {best} {ratios[best]:.1f}x)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
