"""Generated topologies: fat-tree, leaf-spine and rail-optimized GPU fabrics.

Each generator returns the mapping of a topology file (the YAML of
``topologies/``), which :func:`netmodel.topology.parse_topology` validates;
``run_emulation.py topology generate KIND ... --out FILE`` writes it.

* ``fat_tree(k)``: Al-Fares et al.: k pods of k/2 edge and k/2 aggregation
  switches, (k/2)^2 core switches, k^3/4 hosts; every link at ``rate``.
  k = 16 gives 1,024 hosts.
* ``leaf_spine(leaves, spines, hosts_per_leaf)``: every leaf wired to every
  spine; the uplinks' rate makes a leaf's uplink capacity its hosts'
  capacity divided by ``oversubscription``.
* ``rail_optimized(servers, gpus_per_server, servers_per_rail_switch)``:
  one NIC (a host here) per GPU; GPU g of every server in a group of
  ``servers_per_rail_switch`` servers connects to that group's rail switch
  g, and every rail switch connects to every spine: same-rail traffic
  crosses one switch, cross-rail traffic a spine.
"""

from common.errors import UserError
from common.units import format_rate, parse_rate

DEFAULTS = {"rate": "100Gbps", "buffer": "16MiB", "queues": 8, "mtu": 9000}


def _topology(name, description, hosts, switches, links, rate):
    return {"name": name, "description": description, "defaults": {**DEFAULTS, "rate": rate},
            "hosts": hosts, "switches": switches, "links": links}


def fat_tree(k, rate="100Gbps"):
    if k < 2 or k % 2:
        raise UserError("--k", f"a fat-tree needs an even k >= 2, got {k}")
    half = k // 2
    hosts, all_edges, all_aggs = [], [], []
    down, middle, up = [], [], []       # host-edge, edge-agg, agg-core links
    cores = [f"core{i + 1}" for i in range(half * half)]
    for pod in range(1, k + 1):
        edges = [f"edge{pod}_{i + 1}" for i in range(half)]
        aggs = [f"agg{pod}_{i + 1}" for i in range(half)]
        all_edges += edges
        all_aggs += aggs
        for edge in edges:
            for _ in range(half):
                hosts.append(f"h{len(hosts) + 1}")
                down.append({"a": hosts[-1], "b": edge})
        for edge in edges:
            for agg in aggs:
                middle.append({"a": edge, "b": agg})
        for i, agg in enumerate(aggs):
            for j in range(half):
                up.append({"a": agg, "b": cores[i * half + j]})
    switches, links = all_edges + all_aggs + cores, down + middle + up
    return _topology(f"fat_tree_k{k}", f"k={k} fat-tree: {len(hosts)} hosts, {len(switches)} "
                     f"switches, {rate} links", hosts, switches, links, rate)


def leaf_spine(leaves, spines, hosts_per_leaf, rate="100Gbps", oversubscription=1.0):
    if min(leaves, spines, hosts_per_leaf) < 1:
        raise UserError("leaf-spine", "leaves, spines and hosts per leaf must be at least 1")
    if oversubscription < 1:
        raise UserError("--oversubscription", "must be at least 1 (1: non-blocking)")
    uplink = format_rate(parse_rate(rate) * hosts_per_leaf / (spines * oversubscription))
    hosts, links = [], []
    leaf_names = [f"leaf{i + 1}" for i in range(leaves)]
    spine_names = [f"spine{i + 1}" for i in range(spines)]
    for leaf in leaf_names:
        for _ in range(hosts_per_leaf):
            hosts.append(f"h{len(hosts) + 1}")
            links.append({"a": hosts[-1], "b": leaf})
    for leaf in leaf_names:
        for spine in spine_names:
            links.append({"a": leaf, "b": spine, "rate": uplink})
    return _topology(f"leaf_spine_{leaves}x{spines}x{hosts_per_leaf}",
                     f"leaf-spine: {leaves} leaves x {hosts_per_leaf} hosts, {spines} spines, "
                     f"uplinks {uplink} ({oversubscription:g}:1)",
                     hosts, leaf_names + spine_names, links, rate)


def rail_optimized(servers, gpus_per_server=8, servers_per_rail_switch=None, spines=None,
                   rate="400Gbps"):
    group = servers_per_rail_switch or servers
    if min(servers, gpus_per_server, group) < 1 or servers % group:
        raise UserError("rail", "servers must be a multiple of servers per rail switch, all >= 1")
    groups = servers // group
    spines = spines or gpus_per_server
    hosts, rails, links = [], [], []
    for gi in range(groups):
        rails += [f"rail{gi + 1}_{g + 1}" for g in range(gpus_per_server)]
    for s in range(servers):
        for g in range(gpus_per_server):
            hosts.append(f"s{s + 1}g{g + 1}")
            links.append({"a": hosts[-1], "b": f"rail{s // group + 1}_{g + 1}"})
    spine_names = [f"spine{i + 1}" for i in range(spines)] if groups * gpus_per_server > 1 else []
    # non-blocking: a rail switch's uplink capacity equals its hosts' capacity
    uplink = format_rate(parse_rate(rate) * group / max(len(spine_names), 1))
    for rail in rails:
        for spine in spine_names:
            links.append({"a": rail, "b": spine, "rate": uplink})
    return _topology(f"rail_{servers}x{gpus_per_server}",
                     f"rail-optimized: {servers} servers x {gpus_per_server} GPUs, "
                     f"{len(rails)} rail switches, {len(spine_names)} spines",
                     hosts, rails + spine_names, links, rate)
