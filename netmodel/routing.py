"""Paths through a topology: port numbers, shortest-path next hops, ECMP.

Both data planes use this one place: the fabric's built-in static rules (used
when no controller runs) and the controller's per-flow rules.  Capacity comes
from the topology file, never from OpenFlow port descriptions (OVS reports
10 Gbit/s whatever the shaping).
"""

import zlib
from collections import deque


DATA_PORT = 7000          # every host receives its flows on this port
FIRST_SPORT, LAST_SPORT = 10000, 65535
IP_PROTO = {"tcp": 6, "udp": 17}


def source_ports(flows, limited=True):
    """{flow id: source port} for ``flows``, (flow id, source host) pairs in
    trace order: each host numbers the flows it sends from ``FIRST_SPORT``.
    Raises ValueError(host) for a host that sends more flows than ports,
    unless not ``limited`` (the simulator only hashes the numbers)."""
    next_port, ports = {}, {}
    for flow_id, host in flows:
        port = next_port.get(host, FIRST_SPORT)
        if limited and port > LAST_SPORT:
            raise ValueError(host)
        ports[flow_id] = port
        next_port[host] = port + 1
    return ports


class Routes:
    def __init__(self, topology):
        self.topology = topology
        self.ports = {}          # (switch, peer) -> OpenFlow port number
        self.links = {}          # frozenset((a, b)) -> Link
        counters = {}
        for link in topology.links:
            self.links[frozenset((link.a, link.b))] = link
            for node, peer in ((link.a, link.b), (link.b, link.a)):
                if not topology.nodes[node].is_host:
                    counters[node] = counters.get(node, 0) + 1
                    self.ports[(node, peer)] = counters[node]
        self._dist = {h.name: self._distances(h.name) for h in topology.hosts}
        self._next_hops = {}   # (switch, destination host) -> sorted next hops, as asked for

    def _distances(self, target):
        dist, todo = {target: 0}, deque([target])
        while todo:
            node = todo.popleft()
            for peer, _ in self.topology.neighbours(node):
                # hosts do not forward: only the target host starts the search
                if peer not in dist and (not self.topology.nodes[peer].is_host):
                    dist[peer] = dist[node] + 1
                    todo.append(peer)
        return dist

    def next_hops(self, switch, dst_host):
        """Neighbours of ``switch`` on a shortest path to ``dst_host`` (sorted)."""
        key = (switch, dst_host)
        hops = self._next_hops.get(key)
        if hops is None:
            dist = self._dist[dst_host]
            here = dist[switch]
            hops = self._next_hops[key] = sorted(peer for peer, _ in self.topology.neighbours(switch)
                                                 if dist.get(peer, here) == here - 1)
        return hops

    def choose_next_hop(self, switch, dst_host, flow_hash=0):
        """ECMP: one shortest-path neighbour, by the flow's hash salted per switch.

        The salt keeps successive hops from making the same choice (hash
        polarization: with one hash everywhere, half the cores would idle).
        """
        hops = self.next_hops(switch, dst_host)
        if len(hops) == 1:
            return hops[0]
        return hops[zlib.crc32(f"{flow_hash}@{switch}".encode()) % len(hops)]

    def out_port(self, switch, dst_host, flow_hash=0):
        return self.ports[(switch, self.choose_next_hop(switch, dst_host, flow_hash))]

    def path(self, src_host, dst_host, flow_hash=0):
        """The links a flow crosses, in order (ECMP choice by ``flow_hash``)."""
        first = self.topology.host_link(src_host)
        node = first.b if first.a == src_host else first.a
        links, nodes = [first], [src_host, node]
        while node != dst_host:
            peer = self.choose_next_hop(node, dst_host, flow_hash)
            links.append(self.links[frozenset((node, peer))])
            node = peer
            nodes.append(node)
        return links

    @staticmethod
    def flow_hash(src_ip, dst_ip, proto, sport, dport):
        """A stable 5-tuple hash (the same in every process, unlike hash())."""
        return zlib.crc32(f"{src_ip}|{dst_ip}|{proto}|{sport}|{dport}".encode())

    def destination_ports(self, switch):
        """(host IP, output port) per host: the per-destination default rules.

        Flows the controller has not registered (and, without a controller,
        all traffic) follow these; the destination's hash picks among equal
        paths so hosts spread over the uplinks.
        """
        return [(host.ip, self.out_port(switch, host.name, zlib.crc32(host.ip.encode())))
                for host in self.topology.hosts]

    def static_flows(self, switch):
        """OpenFlow rules (ovs-ofctl syntax) forwarding IP and ARP by destination.

        ARP follows the same per-destination path as IP, so nothing is flooded
        and topologies with loops (leaf-spine, fat-tree) need no spanning tree.
        """
        rules = []
        for ip, port in self.destination_ports(switch):
            rules.append(f"priority=10,ip,nw_dst={ip},actions=output:{port}")
            rules.append(f"priority=10,arp,arp_tpa={ip},actions=output:{port}")
        return rules

    def switch_hops(self, src_host, dst_host, flow_hash=0):
        """(switch, output port) for each switch a flow crosses, in order."""
        hops, node = [], src_host
        for link in self.path(src_host, dst_host, flow_hash):
            peer = link.b if link.a == node else link.a
            if not self.topology.nodes[node].is_host:
                hops.append((node, self.ports[(node, peer)]))
            node = peer
        return hops

    def directed_path(self, src_host, dst_host, flow_hash=0):
        """Directed link ids ("a->b") of a flow's path, as the scheduler names links."""
        ids, node = [], src_host
        for link in self.path(src_host, dst_host, flow_hash):
            peer = link.b if link.a == node else link.a
            ids.append(f"{node}->{peer}")
            node = peer
        return ids

    def flow_directed_path(self, src_host, dst_host, proto, sport, dport=DATA_PORT):
        """The directed path of one flow, ECMP-hashed on its 5-tuple as the controller pins it."""
        nodes = self.topology.nodes
        flow_hash = self.flow_hash(nodes[src_host].ip, nodes[dst_host].ip, IP_PROTO[proto], sport,
                                   dport)
        return self.directed_path(src_host, dst_host, flow_hash)

    def directed_link_rates(self):
        """{"a->b": real rate in bit/s} for both directions of every link."""
        rates = {}
        for link in self.topology.links:
            rates[f"{link.a}->{link.b}"] = link.rate_bps
            rates[f"{link.b}->{link.a}"] = link.rate_bps
        return rates
