"""Mapping captured identities (ranks, host names, IP addresses) to emulated hosts.

``--rank-hosts 0-3=h1,4-7=h2`` maps ranks explicitly; otherwise rank ``r``
runs on ``h{r // ranks_per_host + 1}``.  ``--host-map name=h1,name2=h2``
maps captured host names or IP addresses; unmapped names get the next free
``hN`` in order of first appearance (or are rejected, with ``strict``).
"""

import re

from common.errors import UserError

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_pairs(spec, what):
    """``a=b,c=d`` -> {"a": "b", "c": "d"}."""
    pairs = {}
    for item in filter(None, (part.strip() for part in (spec or "").split(","))):
        name, sep, host = item.partition("=")
        if not sep or not name.strip() or not host.strip():
            raise UserError(what, f"expected NAME=HOST items, got {item!r}")
        pairs[name.strip()] = host.strip()
    return pairs


def rank_host_map(spec=None, ranks_per_host=1):
    """A function rank -> host name."""
    if ranks_per_host < 1:
        raise UserError("--ranks-per-host", "must be at least 1")
    explicit = {}
    for ranks, host in parse_pairs(spec, "--rank-hosts").items():
        match = _RANGE.match(ranks)
        if not match:
            raise UserError("--rank-hosts", f"expected a rank or a range like 0-3, got {ranks!r}")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        for rank in range(first, last + 1):
            explicit[rank] = host

    def host_of(rank):
        if spec:
            if rank not in explicit:
                raise UserError("--rank-hosts", f"rank {rank} has no host")
            return explicit[rank]
        return f"h{rank // ranks_per_host + 1}"

    return host_of


class NameHostMap:
    """Captured name (host name, IP address) -> emulated host."""

    def __init__(self, spec=None, strict=False, what="--host-map"):
        self.mapping = parse_pairs(spec, what)
        self.strict = strict
        self.auto = not self.mapping
        used = set(self.mapping.values())
        self._free = (f"h{i}" for i in range(1, 1 << 30) if f"h{i}" not in used)

    def __call__(self, name):
        """The host of ``name``, or None when a strict map does not list it."""
        if name not in self.mapping:
            if self.strict and not self.auto:
                return None
            self.mapping[name] = next(self._free)
        return self.mapping[name]
