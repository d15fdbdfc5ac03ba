"""One scheduler's run on the simulator backend, written as a results directory.

The same tables as the emulator's replay (``analysis/RESULTS_FORMAT.md``),
from records of the same shape (:mod:`simulator.run`), through the same
:class:`~experiments.results.RunRecords`.  ``links.csv`` has no rows (the
simulator samples no queues) and ``fidelity.json`` holds the simulator's
own figures.
"""

import os

import pandas as pd

from experiments.results import RunRecords, write_csv
from netmodel.dilation import Dilation
from netmodel.routing import Routes
from policies import get_policy
from simulator.run import simulate_trace
from common.safe_files import write_json_atomic

UNDILATED = Dilation(1.0, 1.0)
LINK_COLUMNS = ["time_us", "link", "queue", "throughput_bps", "backlog_bytes"]


class SimReplay:
    def __init__(self, topology, trace, scheduler, out_dir, policy_params=None, policy_config=None,
                 start_lag=0.0):
        self.start_lag = start_lag
        self.topology, self.trace, self.scheduler = topology, trace, scheduler
        self.out_dir = os.path.abspath(out_dir)
        self.policy_params, self.policy_config = policy_params, policy_config

    def run(self):
        os.makedirs(self.out_dir, exist_ok=True)
        policy = get_policy(self.scheduler, self.policy_params, self.topology.links[0].queues,
                            self.policy_config)
        sim = simulate_trace(self.trace, self.topology, policy, start_lag=self.start_lag)
        write_csv(sim.queue_changes, os.path.join(self.out_dir, "queue_changes.csv"))
        run = RunRecords(self.trace, sim.records, 0.0, UNDILATED, Routes(self.topology),
                         sim.queue_changes, {})
        flows = run.flows()
        write_csv(flows, os.path.join(self.out_dir, "flows.csv"))
        write_csv(run.requests(), os.path.join(self.out_dir, "requests.csv"))
        write_csv(run.collectives(flows), os.path.join(self.out_dir, "collectives.csv"))
        write_csv(pd.DataFrame(columns=LINK_COLUMNS), os.path.join(self.out_dir, "links.csv"))
        fidelity = {**sim.stats, "flows_failed": int((flows["status"] != "ok").sum()),
                    "dependency_violations": run.dependency_violations(),
                    "emulated_seconds": sim.stats["wall_seconds"], "datapath": "fluid"}
        write_json_atomic(os.path.join(self.out_dir, "fidelity.json"), fidelity)
        return fidelity
