"""Addresses a feed may not reach: checked on every connection, against the address dialled.

A feed URL comes from the config, the command line or an OPML file someone sent, and every
redirect hop is chosen by the server. Checking the URL's host name before the request is not
enough: DNS can answer differently a moment later (rebinding). So the check sits in the
connection layer: the name is resolved here, each address is judged, and only an address
that passed is dialled; TLS still verifies the certificate against the host name.

Hand-written because no well-kept library does this for httpx: advocate and
requests-hardened wrap ``requests``; the httpx ones on PyPI are young single-author wrappers
around ``get()`` that would replace our streaming client.
"""

from __future__ import annotations

import ipaddress
import queue
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Never a feed, whatever the settings: where clouds answer with instance credentials, and
# addresses that cannot be a web server (a connect to 0.0.0.0 reaches this very host).
_NEVER = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # link-local: AWS, GCP, Azure, OpenStack metadata at .169.254
        "fe80::/10",  # IPv6 link-local
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "192.0.0.192/32",  # Oracle Cloud metadata
        "168.63.129.16/32",  # Azure's host agent (wireserver)
        "0.0.0.0/8",
        "::/128",
        "224.0.0.0/4",  # multicast
        "ff00::/8",
        "240.0.0.0/4",  # reserved, broadcast included
    )
)
# IPv6 prefixes that carry an IPv4 address a gateway connects to: NAT64 and 6to4. Python 3.11
# calls both global, so the address inside is what is judged.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

SETTING = "fetch.allow_private_addresses"


class AddressRefused(Exception):
    """The host resolved only to addresses a feed may not use; the message says which and why."""


def _inner(ip: Address) -> Address:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def refusal(ip: Address, *, allow_private: bool) -> str | None:
    """Why a feed may not connect to ``ip``, or None when it may."""
    ip = _inner(ip)
    if any(ip in net for net in _NEVER):
        return "a link-local, cloud metadata or non-unicast address, never fetched"
    if not ip.is_global and not allow_private:
        kind = "a loopback" if ip.is_loopback else "a private"
        return (
            f"{kind} address; set {SETTING}: true to poll feeds on your own network "
            "(a local RSSHub, say)"
        )
    return None


def _addresses(infos: Iterable[tuple[object, ...]]) -> list[Address]:
    seen: list[Address] = []
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        # A scoped IPv6 address (fe80::1%eth0) carries its zone after "%".
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def _refused_message(host: str, refused: Sequence[tuple[Address, str]]) -> str:
    ip, why = refused[0]
    shown = host if host == str(ip) else f"{host} resolves to {ip}"
    return f"refused: {shown}, {why}"


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer with the check between name resolution and connect."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout) if timeout else nullcontext():
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        refused: list[tuple[Address, str]] = []
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        # One address after another rather than anyio's happy eyeballs, which would resolve
        # the name again; the whole fetch stays bounded by its own timeout.
        for ip in _addresses(infos):
            why = refusal(ip, allow_private=self._allow_private)
            if why is not None:
                refused.append((ip, why))
                continue
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        if failure is not None:
            raise failure
        if not refused:
            raise httpcore.ConnectError(f"{host} has no address")
        raise AddressRefused(_refused_message(host, refused))

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("refused: feeds are never read from a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    ssl_context: ssl.SSLContext, limits: httpx.Limits, *, allow_private: bool
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection passes :func:`refusal` first."""
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits)
    # httpx has no parameter for httpcore's network backend: give the transport a pool
    # built with the same settings and ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(allow_private),
    )
    return transport


def _resolve(hosts: Sequence[str], timeout: float) -> dict[str, list[Address]]:
    """Each host's addresses, 32 lookups at a time; hosts not answered within ``timeout``
    (for all of them) are left out.

    Daemon threads rather than an executor: a lookup stuck in the system resolver must not
    hold the process at exit.
    """
    answers: queue.Queue[tuple[str, list[Address]]] = queue.Queue()

    def look_up(host: str) -> None:
        try:
            found = _addresses(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError, ValueError):
            found = []
        answers.put((host, found))

    found: dict[str, list[Address]] = {}
    deadline = time.monotonic() + timeout
    waiting = 0
    for host in [*hosts, None]:
        while waiting and (host is None or waiting >= 32):
            try:
                name, addresses = answers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return found
            found[name] = addresses
            waiting -= 1
        if host is not None:
            threading.Thread(target=look_up, args=(host,), daemon=True).start()
            waiting += 1
    return found


def unreachable(
    urls: Sequence[str], *, allow_private: bool, timeout: float = 5.0, resolve: bool = True
) -> dict[str, str]:
    """The URLs among ``urls`` a poll would refuse, each with the reason (``feeds add``,
    ``feeds import``).

    An early word for the operator, not the guard: the poll checks again at every connect.
    Other host names than ``localhost`` are resolved only with ``resolve``, within ``timeout``
    for all; one that does not resolve now passes, and its poll reports what happens then.
    """
    hosts: dict[str, str] = {}
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            hosts[url] = parts.hostname
    literal: dict[str, list[Address]] = {}
    names: list[str] = []
    for host in dict.fromkeys(hosts.values()):
        try:
            literal[host] = [ipaddress.ip_address(host)]
        except ValueError:
            if host == "localhost" or host.endswith(".localhost"):
                literal[host] = [ipaddress.ip_address("127.0.0.1")]  # RFC 6761: loopback
            else:
                names.append(host)
    if resolve:
        literal.update(_resolve(names, timeout))
    problems: dict[str, str] = {}
    for url, host in hosts.items():
        refused = [
            (ip, why)
            for ip in literal.get(host, [])
            if (why := refusal(ip, allow_private=allow_private)) is not None
        ]
        # Refused only when no address would pass, as at connect time.
        if refused and len(refused) == len(literal[host]):
            problems[url] = _refused_message(host, refused)
    return problems
