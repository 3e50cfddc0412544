"""A throwaway Dovecot (Debian's dovecot-imapd / dovecot-pop3d) for the bounce-mailbox tests.

IMAPS and POP3S on free loopback ports, a self-signed certificate for 127.0.0.1 (the test
trusts it as its CA file), one password that any user name logs in with and a Maildir per
user name in a temp dir, so each test takes a mailbox of its own (:meth:`mailbox`) and no
test sees another's mail. As root the mail is owned by the ``dovecot`` user; otherwise
everything runs as the caller.

    with ThrowawayDovecot() as server:
        server.deliver(raw_message)   # into INBOX, over IMAP APPEND
        server.imaps_port, server.pop3s_port, server.cafile

Also usable from the shell (``.ci/run``)::

    python -m tests.imapserver start DIR   # prints host:imaps:pop3s:user:password:cafile
    python -m tests.imapserver stop DIR

No pytest imports here.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

USER = "bounces"
PASSWORD = "bounce-box-pass-0123"


class DovecotUnavailable(RuntimeError):
    """No dovecot binary, or it would not start; the message says which."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _certificate(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


class ThrowawayDovecot:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path(tempfile.mkdtemp(prefix="newsletter-dovecot-"))
        self._own_folder = folder is None
        self.imaps_port = 0
        self.pop3s_port = 0
        self.user = USER

    def mailbox(self, user: str) -> ThrowawayDovecot:
        """The same server seen as ``user``, whose Maildir starts empty (and is not owned:
        dropping it does not stop the server)."""
        other = ThrowawayDovecot(self.folder)
        other.imaps_port, other.pop3s_port, other.user = self.imaps_port, self.pop3s_port, user
        return other

    @property
    def cafile(self) -> str:
        return str(self.folder / "cert.pem")

    def spec(self) -> str:
        return f"127.0.0.1:{self.imaps_port}:{self.pop3s_port}:{USER}:{PASSWORD}:{self.cafile}"

    def start(self) -> ThrowawayDovecot:
        binary = shutil.which("dovecot") or (
            "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
        )
        if binary is None:
            raise DovecotUnavailable(
                "no dovecot binary (apt-get install dovecot-imapd dovecot-pop3d)"
            )
        root = os.geteuid() == 0
        if root:
            try:
                owner = pwd.getpwnam("dovecot")
            except KeyError:
                raise DovecotUnavailable("no dovecot user") from None
        else:
            owner = pwd.getpwuid(os.geteuid())
        for sub in ("run", "mail"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o755)
        _certificate(self.folder)
        if root:
            os.chown(self.folder / "mail", owner.pw_uid, owner.pw_gid)
        self.imaps_port, self.pop3s_port = _free_port(), _free_port()
        f = self.folder
        users = (
            ""
            if root
            else (
                f"default_internal_user = {owner.pw_name}\ndefault_login_user = {owner.pw_name}\n"
                f"default_internal_group = {owner.pw_name}\n"
            )
        )
        (f / "dovecot.conf").write_text(
            f"""base_dir = {f}/run
state_dir = {f}/run
instance_name = newsletter-test-{self.imaps_port}
protocols = imap pop3
listen = 127.0.0.1
log_path = {f}/dovecot.log
{users}ssl = required
ssl_cert = <{f}/cert.pem
ssl_key = <{f}/key.pem
auth_mechanisms = plain
disable_plaintext_auth = yes
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={f}/mail/%u
}}
mail_location = maildir:~/Maildir
first_valid_uid = 1
first_valid_gid = 1
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = {self.pop3s_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
        )
        # The master forks into the background: keep our pipes out of it, or run() would
        # wait for the daemon to close them.
        with open(f / "start.log", "w+") as out:
            done = subprocess.run(
                [binary, "-c", str(f / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                timeout=30,
            )
            out.seek(0)
            said = out.read()
        if done.returncode != 0:
            raise DovecotUnavailable(f"dovecot would not start: {said.strip()[:300]}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            # Listening, and its pid written: stop() finds the master even right away.
            if (f / "run" / "master.pid").exists():
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", self.imaps_port), timeout=1),
                ):
                    return self
            time.sleep(0.05)
        self.stop()
        raise DovecotUnavailable("dovecot did not listen within 10 s")

    def stop(self) -> None:
        pid_file = self.folder / "run" / "master.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> ThrowawayDovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def imap(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=self.cafile)
        client = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=context)
        client.login(self.user, PASSWORD)
        return client

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.imap()
        try:
            client.create(folder)
            client.append(folder, None, None, raw)
        finally:
            client.logout()

    def count(self, folder: str = "INBOX") -> int:
        client = self.imap()
        try:
            status, data = client.select(folder, readonly=True)
            return int(data[0] or 0) if status == "OK" else 0
        finally:
            client.logout()



def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print("usage: python -m tests.imapserver start|stop DIR", file=sys.stderr)
        return 2
    folder = Path(argv[2])
    server = ThrowawayDovecot(folder)
    if argv[1] == "stop":
        server.stop()
        return 0
    try:
        server.start()
    except DovecotUnavailable as exc:
        print(f"no IMAP server for tests: {exc}", file=sys.stderr)
        return 1
    print(server.spec())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
