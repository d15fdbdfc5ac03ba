"""Reading a results directory with pandas: every table is a plain CSV.

Each scheduler's folder holds ``requests.csv`` (TTFT, SLO met), ``flows.csv``
(FCT, queues, retransmissions) and ``collectives.csv``; the format is in
``analysis/RESULTS_FORMAT.md``.  This prints each scheduler's TTFT SLO
attainment and median TTFT, and the P2D flows' FCT p99.

    python examples/read_results.py RESULTS_DIR
"""

import json
import os
import sys

import pandas as pd


def main(results_dir):
    with open(os.path.join(results_dir, "run.json"), encoding="utf-8") as handle:
        schedulers = json.load(handle)["schedulers"]
    rows = []
    for name in schedulers:
        requests = pd.read_csv(os.path.join(results_dir, name, "requests.csv"))
        flows = pd.read_csv(os.path.join(results_dir, name, "flows.csv"))
        p2d = flows[flows["stage"] == "p2d"]["fct_us"]
        rows.append({"scheduler": name, "attainment": requests["slo_met"].mean(),
                     "ttft_p50_us": requests["ttft_us"].median(),
                     "p2d_fct_p99_us": p2d.quantile(0.99) if len(p2d) else None})
    table = pd.DataFrame(rows).set_index("scheduler")
    print(table.round(3).to_string())
    return table


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/read_results.py RESULTS_DIR")
    main(sys.argv[1])
