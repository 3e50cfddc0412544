"""A tiny authoritative DNS server on 127.0.0.1 (UDP, dnspython wire format) for tests.

    with DNSServer({"example.org": ["v=spf1 -all"]}) as dns_server:
        resolver = dns_server.resolver()   # a dns.resolver.Resolver asking only this server

Answers TXT questions from the given records; any other name is NXDOMAIN.
"""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset


class DNSServer:
    def __init__(self, txt: dict[str, list[str]]) -> None:
        self.txt = {k.lower().rstrip("."): v for k, v in txt.items()}
        self.questions: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="DNSServer")

    def __enter__(self) -> DNSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def resolver(self) -> dns.resolver.Resolver:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = ["127.0.0.1"]
        res.port = self.port
        res.lifetime = 2.0
        return res

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            answer = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().lower().rstrip(".")
            self.questions.append(name)
            records = self.txt.get(name)
            if records is None:
                answer.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT and records:
                # Long values are split into 255-byte strings, as real zones do.
                texts = [
                    " ".join(
                        '"' + r[i : i + 255].replace('"', '\\"') + '"'
                        for i in range(0, len(r), 255)
                    )
                    for r in records
                ]
                answer.answer.append(dns.rrset.from_text(question.name, 300, "IN", "TXT", *texts))
            self._sock.sendto(answer.to_wire(), peer)
