"""Network policy: which hosts count as private (refused unless the workspace allows them)."""

from __future__ import annotations

import ipaddress
import socket


def private_address(host: str) -> str | None:
    """The first private, loopback, link-local or reserved address `host` resolves to, if any."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            return str(address)
    return None
