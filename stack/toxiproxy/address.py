"""TCP addresses as Go's ``net`` package reads them: split, port lookup, resolution.

Toxiproxy compares listen addresses after ``net.ResolveTCPAddr`` (``Proxy.Differs``)
and listens on the resolved address, so ``localhost:N`` names the same proxy as
``127.0.0.1:N``. Errors carry Go's messages (``address 99999: invalid port``,
``lookup nowhere: no such host``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket


class AddressError(ValueError):
    """An address Go's ``net`` package refuses: bad syntax, bad port or unknown host."""


def _addr_error(address: str, why: str) -> AddressError:
    """Go's ``AddrError``: ``address <addr>: <why>``."""
    return AddressError(f"address {address}: {why}" if address else why)


def split_host_port(address: str) -> tuple[str, str]:
    """``host:port`` (``[v6]:port``, ``:port``) → (host, port) like Go's ``net.SplitHostPort``."""
    colon = address.rfind(":")
    if colon < 0:
        raise _addr_error(address, "missing port in address")
    start, end = 0, 0
    if address.startswith("["):
        close = address.find("]")
        if close < 0:
            raise _addr_error(address, "missing ']' in address")
        if close + 1 != colon:
            if close + 1 < len(address) and address[close + 1] == ":":
                raise _addr_error(address, "too many colons in address")
            raise _addr_error(address, "missing port in address")
        host = address[1:close]
        start, end = 1, close + 1
    else:
        host = address[:colon]
        if ":" in host:
            raise _addr_error(address, "too many colons in address")
    if "[" in address[start:]:
        raise _addr_error(address, "unexpected '[' in address")
    if "]" in address[end:]:
        raise _addr_error(address, "unexpected ']' in address")
    return host, address[colon + 1 :]


def lookup_port(service: str) -> int:
    """A port number or service name → port, like Go's ``LookupPort("tcp", service)``."""
    if service == "":
        return 0
    digits = service[1:] if service[0] in "+-" else service
    if digits.isascii() and digits.isdigit():
        port = int(digits) if service[0] != "-" else -int(digits)
    else:
        try:
            port = socket.getservbyname(service, "tcp")
        except OSError:
            raise AddressError(f"lookup tcp/{service}: unknown port") from None
    if not 0 <= port <= 65535:
        raise _addr_error(service, "invalid port")
    return port


def split_address(address: str) -> tuple[str, int]:
    """(host, port) of ``address``; the port may be a service name. :class:`AddressError` if bad."""
    host, port = split_host_port(address)
    return host, lookup_port(port)


def join_address(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort``: IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ip_string(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Go's ``IP.String()``: an IPv4-mapped IPv6 address prints as IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


async def resolve_host(host: str, want_ipv6: bool = False) -> str:
    """An IP literal as is, else the first IPv4 address of the host (IPv6 if ``want_ipv6``).

    Go's ``addrList.forResolve`` picks the first IPv4 address unless the address
    was written in brackets, and falls back to the first address of any family.
    """
    if host == "":
        return ""
    try:
        return _ip_string(ipaddress.ip_address(host))
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            raise AddressError(f"lookup {host}: no such host") from None
        raise AddressError(f"lookup {host}: {exc.strerror or exc}".lower()) from None
    ips = [str(info[4][0]) for info in infos]
    if not ips:
        raise AddressError(f"lookup {host}: no such host")
    wanted = next((ip for ip in ips if (":" in ip) == want_ipv6), ips[0])
    return _ip_string(ipaddress.ip_address(wanted.split("%", 1)[0]))


async def resolve_tcp(address: str) -> tuple[str, int]:
    """(IP, port) of ``address`` like Go's ``net.ResolveTCPAddr("tcp", address)``.

    An empty address or host means every interface (``""``).
    """
    if address == "":
        return "", 0
    host, port = split_address(address)
    return await resolve_host(host, want_ipv6="[" in address), port


async def resolved_address(address: str) -> str:
    """``address`` resolved and printed like Go's ``TCPAddr.String()`` (``127.0.0.1:80``)."""
    return join_address(*await resolve_tcp(address))
