"""Replaying a contention scenario on the real fabric (needs root).

Request ``a``'s all-to-all (25 MB, needed by the layer running now) and
request ``b``'s P2D transfer (10 MB, 4 ms TTFT SLO) meet on the ToR port to
h3.  Mininet hosts send them as real TCP flows through Open vSwitch, and the
os-ken controller queues them by the policy: under ``fair`` they share the
port; MFS serves the all-to-all first and promotes the P2D in time.

    sudo python examples/replay_contention.py [OUT_DIR]
"""

import os
import sys
import tempfile

import pandas as pd

from experiments.replay import Replay
from netmodel.dilation import Dilation
from netmodel.topology import load_topology
from traces.scenarios import contention_trace


def main(out_dir=None):
    out_dir = out_dir or tempfile.mkdtemp(prefix="contention-")
    topology = load_topology("single_tor_8")
    ends = {}
    for scheduler in ("fair", "mfs"):
        directory = os.path.join(out_dir, scheduler)
        Replay(topology, Dilation.for_topology(topology), contention_trace(), scheduler,
               directory, timeout=120).run()
        flows = pd.read_csv(os.path.join(directory, "flows.csv")).set_index("flow_id")
        ends[scheduler] = flows["end_us"].to_dict()
        print(f"{scheduler:>4}: all-to-all done at {ends[scheduler]['a.a2a']:7.0f} us, "
              f"P2D at {ends[scheduler]['b.p2d']:7.0f} us (SLO 4000 us)")
    print(f"results: {out_dir}")
    return ends


if __name__ == "__main__":
    main(*sys.argv[1:])
