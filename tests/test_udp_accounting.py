"""UDP losses are what the sender sent minus what the receiver got, not the
flow's size minus what arrived (experiments/results.py)."""

import pandas as pd

from experiments.results import RunRecords
from netmodel.dilation import Dilation
from netmodel.routing import Routes
from netmodel.topology import load_topology
from tests.scenarios import MB, udp_trace


def records(sent, got, tcp_got=5 * MB):
    out = []
    for flow, s, g in (("u.alone", 5 * MB, 5 * MB), ("u.shared", sent, got), ("u.tcp", 5 * MB, tcp_got)):
        out += [{"role": "send", "flow_id": flow, "bytes": s, "start": 1.0, "status": "ok"},
                {"role": "recv", "flow_id": flow, "bytes_received": g, "first_byte": 1.1,
                 "last_byte": 1.2}]
    return out


def run_records(recs):
    return RunRecords(udp_trace(), recs, 1.0, Dilation(rate_scale=1), Routes(load_topology("single_tor_8")),
                      pd.DataFrame(columns=["flow_id", "new_queue", "reason"]), {})


def test_a_lossy_udp_flow_is_counted_and_named():
    run = run_records(records(sent=5 * MB, got=2 * MB))
    assert run.udp_losses() == (3 * MB, 1)
    assert run.byte_check() == 0                 # it sent every byte; the loss is counted apart
    flows = run.flows().set_index("flow_id")
    assert flows.loc["u.shared", "reason"] == f"udp: lost {3 * MB} of {5 * MB} bytes"
    assert flows.loc["u.alone", "reason"] == ""


def test_a_sender_that_stopped_short_is_a_mismatch_not_a_loss():
    # before: the sender claimed the flow's size and the receiver derived the
    # loss from it, so received + lost always equalled the size
    run = run_records(records(sent=1 * MB, got=1 * MB))
    assert run.udp_losses() == (0, 0) and run.byte_check() == 1


def test_tcp_must_deliver_every_byte():
    assert run_records(records(5 * MB, 5 * MB, tcp_got=4 * MB)).byte_check() == 1
