"""Which network addresses belong to the studio's own side of the network.

User code (a job's proxy) and servers the studio calls on a user's behalf (a datastore's endpoint)
may reach public addresses only; anything on loopback, a private or carrier-grade NAT range,
link-local (cloud metadata services), multicast, or one of this host's own addresses is internal.
The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) count as public: some
networks route them to mirrors, and they are not the studio's own.
"""

import ipaddress
import socket
from functools import lru_cache

_INTERNAL_NETWORKS = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",  # local-use NAT64
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
    )
]


def _plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """An IPv4 address hidden in an IPv6 one (mapped ::ffff:a.b.c.d or 6to4/NAT64) as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


@lru_cache(maxsize=1)
def _own_addresses() -> frozenset:
    """This host's own addresses (a server listening on 0.0.0.0 is reachable on each of them): its
    interfaces' as the kernel lists them, and what its name resolves to."""
    found = set()
    try:
        with open("/proc/net/fib_trie") as trie:
            lines = trie.read().splitlines()
        for previous, line in zip(lines, lines[1:], strict=False):
            if line.strip() == "/32 host LOCAL":
                found.add(ipaddress.ip_address(previous.split("--")[-1].strip()))
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/net/if_inet6") as interfaces:
            for line in interfaces:
                found.add(ipaddress.IPv6Address(int(line.split()[0], 16)))
    except (OSError, ValueError):
        pass
    for name in {socket.gethostname(), socket.getfqdn()}:
        try:
            for info in socket.getaddrinfo(name, None):
                found.add(_plain(ipaddress.ip_address(info[4][0].split("%")[0])))
        except OSError:
            continue
    return frozenset(found)


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    return True


def is_internal(address: str) -> bool:
    """True for an address on the studio's side of the network (see the module's docstring)."""
    try:
        ip = _plain(ipaddress.ip_address(address.split("%")[0]))
    except ValueError:
        return True  # not an address at all: never trusted as a public one
    return any(ip in net for net in _INTERNAL_NETWORKS if net.version == ip.version) or ip in _own_addresses()


def resolve_public(host: str, port: int) -> list[str]:
    """The public addresses `host` resolves to (empty when it resolves to internal ones only).

    Raises OSError when the name does not resolve. Callers connect to one of these addresses, never
    to the name again, so a second lookup can't answer with an internal address (DNS rebinding).
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    return [a for a in addresses if not is_internal(a)]
