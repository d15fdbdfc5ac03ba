"""Topology files: what the emulated fabric is made of.

A topology file (``topologies/*.yaml``) names hosts (GPU servers), switches
and links, with real-world link rates, per-port buffers, the number of
strict-priority queues per port and the MTU::

    name: single_tor_8
    defaults: {rate: 100Gbps, buffer: 16MiB, queues: 8, mtu: 9000}
    hosts: [h1, h2]
    switches: [tor1]
    links:
      - {a: h1, b: tor1}
      - {a: h2, b: tor1, rate: 25Gbps}

Everything here is in real units; :mod:`netmodel.dilation` maps it onto the
emulated fabric.  Names from the file are labels only: the fabric gives every
node an internal name (``h1``.., ``s1``..) so nothing from a file ever reaches
a shell or an interface name.
"""

import ipaddress
import os
import re
from dataclasses import dataclass, field, replace
from functools import cached_property

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from common.errors import UserError
from common.units import parse_rate, parse_size
from common.yaml_file import load_yaml

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")
HERE = os.path.dirname(os.path.abspath(__file__))
TOPOLOGY_DIR = os.path.join(os.path.dirname(HERE), "topologies")
DEFAULT_TOPOLOGY = os.path.join(TOPOLOGY_DIR, "single_tor_8.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _rate(value):
    try:
        return None if value is None else parse_rate(value)
    except UserError as err:  # pydantic reports ValueErrors with their field
        raise ValueError(err.message) from None


def _size(value):
    try:
        return None if value is None else parse_size(value)
    except UserError as err:
        raise ValueError(err.message) from None


MIN_MTU = 576
MAX_MTU = 64000     # veth and OVS's userspace datapath carry it (measured); 65535 is veth's limit


class PortDefaults(_Strict):
    rate: float = 100e9
    buffer: int = 16 * 2**20
    queues: int = 8
    mtu: int = 9000

    _parse_rate = field_validator("rate", mode="before")(lambda v: _rate(v))
    _parse_buffer = field_validator("buffer", mode="before")(lambda v: _size(v))

    @field_validator("queues")
    @classmethod
    def _queues(cls, value):
        if not 1 <= value <= 8:
            raise ValueError("queues must be between 1 and 8 (HTB has 8 priorities)")
        return value

    @field_validator("mtu")
    @classmethod
    def _mtu(cls, value):
        if not MIN_MTU <= value <= MAX_MTU:
            raise ValueError(f"mtu must be between {MIN_MTU} and {MAX_MTU}")
        return value


class LinkSpec(_Strict):
    a: str
    b: str
    rate: float | None = None
    buffer: int | None = None

    _parse_rate = field_validator("rate", mode="before")(lambda v: _rate(v))
    _parse_buffer = field_validator("buffer", mode="before")(lambda v: _size(v))


class TopologySpec(_Strict):
    name: str
    description: str = ""
    defaults: PortDefaults = PortDefaults()
    hosts: list[str]
    switches: list[str]
    links: list[LinkSpec]

    @field_validator("hosts", "switches")
    @classmethod
    def _names(cls, names):
        for name in names:
            if not NAME_RE.match(name):
                raise ValueError(f"bad node name {name!r} (letters, digits, _ . -; max 32)")
        return names

    @model_validator(mode="after")
    def _graph(self):
        if not self.hosts:
            raise ValueError("a topology needs at least one host")
        if not self.switches:
            raise ValueError("a topology needs at least one switch")
        _check_graph(self)
        return self


def _check_graph(spec):
    seen = set()
    for name in spec.hosts + spec.switches:
        if name in seen:
            raise ValueError(f"duplicate node name {name!r}")
        seen.add(name)
    hosts = set(spec.hosts)
    pairs = set()
    host_links = {h: 0 for h in spec.hosts}
    adjacency = {n: set() for n in seen}
    for i, link in enumerate(spec.links):
        where = f"links[{i}]"
        for end in (link.a, link.b):
            if end not in seen:
                raise ValueError(f"{where}: unknown node {end!r}")
        if link.a == link.b:
            raise ValueError(f"{where}: a link needs two different nodes")
        if link.a in hosts and link.b in hosts:
            raise ValueError(f"{where}: hosts connect to switches, not to each other")
        pair = frozenset((link.a, link.b))
        if pair in pairs:
            raise ValueError(f"{where}: duplicate link {link.a}-{link.b}")
        pairs.add(pair)
        for end in (link.a, link.b):
            if end in hosts:
                host_links[end] += 1
        adjacency[link.a].add(link.b)
        adjacency[link.b].add(link.a)
    for host, count in host_links.items():
        if count == 0:
            raise ValueError(f"host {host!r} is disconnected (no link)")
        if count > 1:
            raise ValueError(f"host {host!r} has {count} links; a host has one NIC")
    reached, todo = {spec.hosts[0]}, [spec.hosts[0]]
    while todo:
        for peer in adjacency[todo.pop()]:
            if peer not in reached:
                reached.add(peer)
                todo.append(peer)
    unreached = [h for h in spec.hosts if h not in reached]
    if unreached:
        raise ValueError(f"host {unreached[0]!r} is disconnected from host {spec.hosts[0]!r}")


@dataclass(frozen=True)
class Node:
    name: str          # the label from the file
    internal: str      # Mininet/OVS name: h1.. or s1..
    is_host: bool
    ip: str = ""
    mac: str = ""


@dataclass(frozen=True)
class Link:
    index: int
    a: str
    b: str
    rate_bps: float    # real rate
    buffer_bytes: int  # real per-port buffer, each direction
    queues: int
    mtu: int

    @property
    def id(self):
        return f"{self.a}-{self.b}"


@dataclass
class Topology:
    """A validated topology with internal names and addresses assigned."""

    name: str
    description: str
    path: str
    nodes: dict = field(default_factory=dict)   # label -> Node
    links: list = field(default_factory=list)
    rate_factor: float = 1.0   # link rates relative to the file (bandwidth sweeps)

    @property
    def hosts(self):
        return [n for n in self.nodes.values() if n.is_host]

    @property
    def switches(self):
        return [n for n in self.nodes.values() if not n.is_host]

    def host_link(self, host):
        """The one link of a host (its NIC)."""
        return self._adjacency[host][0][1]

    def neighbours(self, node):
        """(peer, link) pairs of a node, in link order."""
        return self._adjacency.get(node, ())

    @cached_property
    def _adjacency(self):
        adjacency = {}
        for link in self.links:
            adjacency.setdefault(link.a, []).append((link.b, link))
            adjacency.setdefault(link.b, []).append((link.a, link))
        return adjacency

    def scaled_rates(self, factor):
        """This topology with every link rate multiplied by ``factor``."""
        links = [replace(l, rate_bps=l.rate_bps * factor) for l in self.links]
        return replace(self, links=links, rate_factor=self.rate_factor * factor)

    def with_mtu(self, mtu):
        """This topology with every link's MTU set to ``mtu`` (the emulation's)."""
        return replace(self, links=[replace(l, mtu=mtu) for l in self.links])

    def max_rate_bps(self):
        return max(l.rate_bps for l in self.links)

    def to_dict(self):
        """The topology as built, for results directories."""
        return {
            "name": self.name,
            "description": self.description,
            "path": self.path,
            "nodes": [vars(n) for n in self.nodes.values()],
            "links": [dict(vars(l), id=l.id) for l in self.links],
        }


def _where(path, loc):
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return f"{path}: {''.join(parts)}" if parts else str(path)


def _validation_error(path, err):
    first = err.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    loc = first["loc"]
    # Graph errors carry their own location ("links[3]: ...").
    return UserError(_where(path, loc), message)


def parse_topology(data, path="<topology>"):
    """Validate a topology mapping and assign internal names and addresses."""
    if not isinstance(data, dict):
        raise UserError(path, "a topology file must be a YAML mapping")
    try:
        spec = TopologySpec.model_validate(data)
    except ValidationError as err:
        raise _validation_error(path, err) from None
    topo = Topology(spec.name, spec.description, str(path))
    network = ipaddress.IPv4Network("10.0.0.0/16")
    for i, name in enumerate(spec.hosts, start=1):
        topo.nodes[name] = Node(name, f"h{i}", True, str(network[i]),
                                "02:00:00:00:%02x:%02x" % (i >> 8, i & 0xFF))
    for i, name in enumerate(spec.switches, start=1):
        topo.nodes[name] = Node(name, f"s{i}", False)
    d = spec.defaults
    for i, link in enumerate(spec.links):
        topo.links.append(Link(i, link.a, link.b, link.rate or d.rate,
                               link.buffer or d.buffer, d.queues, d.mtu))
    return topo


def load_topology(path=None):
    """Read and validate a topology file (the default when ``path`` is None)."""
    path = path or DEFAULT_TOPOLOGY
    if not os.path.exists(path):
        candidate = os.path.join(TOPOLOGY_DIR, path)
        if os.path.exists(candidate):
            path = candidate
        elif os.path.exists(candidate + ".yaml"):
            path = candidate + ".yaml"
        else:
            raise UserError(path, "no such topology file")
    data = load_yaml(path)
    return parse_topology(data, os.path.relpath(path))
