from collections import Counter

from netmodel.routing import Routes
from netmodel.topology import load_topology


def test_single_tor_ports_follow_link_order():
    routes = Routes(load_topology("single_tor_8"))
    assert [routes.ports[("tor1", f"h{i}")] for i in range(1, 9)] == list(range(1, 9))
    assert [l.id for l in routes.path("h1", "h5")] == ["h1-tor1", "h5-tor1"]


def test_fat_tree_path_lengths():
    routes = Routes(load_topology("fat_tree_k4"))
    assert len(routes.path("h1", "h2")) == 2     # same edge switch
    assert len(routes.path("h1", "h3")) == 4     # same pod
    assert len(routes.path("h1", "h16")) == 6    # across the core


def test_ecmp_uses_every_core_and_is_stable():
    routes = Routes(load_topology("fat_tree_k4"))
    cores = Counter()
    for flow_hash in range(64):
        path = routes.path("h1", "h16", flow_hash)
        cores.update(n for l in path for n in (l.a, l.b) if n.startswith("core"))
        assert path == routes.path("h1", "h16", flow_hash)
    assert set(cores) == {"core1", "core2", "core3", "core4"}


def test_static_rules_forward_ip_and_arp_to_every_host():
    topo = load_topology("leaf_spine")
    routes = Routes(topo)
    rules = routes.static_flows("spine1")
    assert len(rules) == 2 * len(topo.hosts)
    assert "arp,arp_tpa=10.0.0.1," in rules[1] and "ip,nw_dst=10.0.0.1," in rules[0]
    # spine1 reaches h1 through leaf1's port
    assert rules[0].endswith(f"output:{routes.ports[('spine1', 'leaf1')]}")


def test_flow_hash_is_deterministic():
    assert Routes.flow_hash("10.0.0.1", "10.0.0.2", 6, 1, 2) == \
        Routes.flow_hash("10.0.0.1", "10.0.0.2", 6, 1, 2)
