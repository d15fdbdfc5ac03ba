import pytest
import yaml

from common.errors import UserError
from netmodel.topology import load_topology, parse_topology

BASE = {
    "name": "t",
    "hosts": ["h1", "h2"],
    "switches": ["s1"],
    "links": [{"a": "h1", "b": "s1"}, {"a": "h2", "b": "s1"}],
}


def topo(**changes):
    data = {k: (list(v) if isinstance(v, list) else v) for k, v in BASE.items()}
    data.update(changes)
    return data


@pytest.mark.parametrize("name, hosts, switches, links", [
    ("single_tor_8", 8, 1, 8), ("leaf_spine", 16, 6, 24), ("fat_tree_k4", 16, 20, 48)])
def test_shipped_topologies(name, hosts, switches, links):
    t = load_topology(name)
    assert (len(t.hosts), len(t.switches), len(t.links)) == (hosts, switches, links)
    assert all(l.rate_bps >= 100e9 and l.queues == 8 and l.mtu == 9000 for l in t.links)
    assert len({h.ip for h in t.hosts}) == hosts and len({h.mac for h in t.hosts}) == hosts


def test_defaults_and_overrides():
    t = parse_topology(topo(defaults={"rate": "25Gbps", "buffer": "1MiB", "queues": 4},
                            links=[{"a": "h1", "b": "s1", "rate": "50Gbps"}, {"a": "h2", "b": "s1"}]))
    assert [l.rate_bps for l in t.links] == [50e9, 25e9]
    assert t.links[1].buffer_bytes == 2**20 and t.links[1].queues == 4


def test_internal_names_never_come_from_the_file():
    t = parse_topology(topo(hosts=["gpu-server.a", "h2"],
                            links=[{"a": "gpu-server.a", "b": "s1"}, {"a": "h2", "b": "s1"}]))
    assert t.nodes["gpu-server.a"].internal == "h1"
    assert t.nodes["s1"].internal == "s1"


@pytest.mark.parametrize("changes, where, message", [
    ({"links": [{"a": "h1", "b": "s9"}, {"a": "h2", "b": "s1"}]}, "t.yaml", "links[0]: unknown node 's9'"),
    ({"links": [{"a": "h1", "b": "s1"}, {"a": "s1", "b": "h1"}, {"a": "h2", "b": "s1"}]},
     "t.yaml", "links[1]: duplicate link s1-h1"),
    ({"links": [{"a": "h1", "b": "s1", "rate": "0Gbps"}, {"a": "h2", "b": "s1"}]},
     "t.yaml: links[0].rate", "rate must be positive"),
    ({"links": [{"a": "h1", "b": "s1", "rate": "-5G"}, {"a": "h2", "b": "s1"}]},
     "t.yaml: links[0].rate", "cannot read"),
    ({"links": [{"a": "h1", "b": "s1"}]}, "t.yaml", "host 'h2' is disconnected"),
    ({"hosts": ["h1", "h2", "h3"], "switches": ["s1", "s2"],
      "links": [{"a": "h1", "b": "s1"}, {"a": "h2", "b": "s1"}, {"a": "h3", "b": "s2"}]},
     "t.yaml", "host 'h3' is disconnected from host 'h1'"),
    ({"hosts": ["h1", "h1"]}, "t.yaml", "duplicate node name 'h1'"),
    ({"switches": ["s1", "s2"], "links": [{"a": "h1", "b": "s1"}, {"a": "h1", "b": "s2"},
                                          {"a": "h2", "b": "s1"}]}, "t.yaml", "has 2 links"),
    ({"links": [{"a": "h1", "b": "h2"}]}, "t.yaml", "hosts connect to switches"),
    ({"hosts": ["h 1"]}, "t.yaml: hosts", "bad node name"),
    ({"defaults": {"queues": 9}}, "t.yaml: defaults.queues", "between 1 and 8"),
    ({"defaults": {"buffer": "big"}}, "t.yaml: defaults.buffer", "cannot read"),
    ({"links": [{"a": "h1", "b": "s1", "speed": "1G"}]}, "t.yaml: links[0].speed", "Extra inputs"),
    ({"hosts": []}, "t.yaml", "at least one host"),
])
def test_validation_names_file_and_field(changes, where, message):
    with pytest.raises(UserError) as err:
        parse_topology(topo(**changes), "t.yaml")
    assert err.value.where == where
    assert message in err.value.message


def test_missing_field():
    data = topo()
    del data["links"]
    with pytest.raises(UserError) as err:
        parse_topology(data, "t.yaml")
    assert err.value.where == "t.yaml: links" and "Field required" in err.value.message


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nhosts: [h1\nswitches: []\n")
    with pytest.raises(UserError) as err:
        load_topology(str(path))
    assert err.value.where.endswith("bad.yaml:3") or err.value.where.endswith("bad.yaml:2")


def test_missing_file():
    with pytest.raises(UserError, match="no such topology file"):
        load_topology("/nonexistent/topo.yaml")


def test_round_trip_dict_is_json_ready():
    import json
    t = load_topology("single_tor_8")
    data = json.loads(json.dumps(t.to_dict()))
    assert data["links"][0]["id"] == "h1-tor1"
    assert yaml.safe_load(open(t.path)) is not None
