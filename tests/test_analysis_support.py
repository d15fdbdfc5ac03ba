"""Helpers shared by the analysis tests (no tests here): results directories
written by hand, in the format of analysis/RESULTS_FORMAT.md."""

import csv
import json
import os
from pathlib import Path

import numpy as np

from analysis.schema import SCHEDULER_TABLES

FLOW_DEFAULTS = {
    "flow_id": "", "request_id": "r0", "stage": "p2d", "layer": "", "collective_id": "",
    "src": "h1", "dst": "h2", "protocol": "tcp", "bytes": 1000, "bottleneck_bps": 8e9,
    "ready_us": 0, "start_us": 0, "first_byte_us": "", "end_us": 10, "fct_us": 10,
    "queue_initial": 0, "queue_final": 0, "promotions": 0, "retransmits": 0,
    "status": "ok", "reason": "",
}
REQUEST_DEFAULTS = {
    "request_id": "r0", "arrival_us": 0, "ttft_slo_us": 100, "deadline_us": 100,
    "ttft_us": 50, "slo_met": "true", "scavenged": "false", "input_tokens": 100,
    "output_tokens": 10,
}
RUN_DEFAULTS = {
    "config": {"trace": "traces/default_workload.jsonl"}, "topology": {"name": "single_tor_8"},
    "dilation": {"rate_scale": 1000, "byte_scale": 1, "time_dilation": 1000},
    "versions": {"python": "3.11"}, "git_revision": "abc1234", "datapath": "netdev",
    "kernel": "6.1", "backend": "fluid", "reference": "mfs",
}


def flow(**fields):
    row = {**FLOW_DEFAULTS, **fields}
    if "fct_us" not in fields and row["end_us"] != "" and row["start_us"] != "":
        row["fct_us"] = row["end_us"] - row["start_us"]
    return row


def request(**fields):
    """A requests.csv row; deadline_us and slo_met follow from the other
    fields unless given (or unless those are not numbers)."""
    row = {**REQUEST_DEFAULTS, **fields}
    numbers = all(isinstance(row[k], (int, float)) for k in ("arrival_us", "ttft_slo_us"))
    if "deadline_us" not in fields and numbers:
        row["deadline_us"] = row["arrival_us"] + row["ttft_slo_us"]
    if "slo_met" not in fields:
        met = numbers and isinstance(row["ttft_us"], (int, float)) \
            and row["ttft_us"] <= row["ttft_slo_us"]
        row["slo_met"] = "true" if met else "false"
    return row


def write_csv(path, columns, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _cell(row.get(c, "")) for c in columns})


def _cell(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def write_run(directory, tables, **run_fields):
    """A results directory; ``tables`` is {scheduler: {"flows": rows, "requests":
    rows, ..., "fidelity": dict}}; tables not given are header-only."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    run = {**RUN_DEFAULTS, "schedulers": list(tables), **run_fields}
    (directory / "run.json").write_text(json.dumps(run))
    for name, given in tables.items():
        folder = directory / name
        folder.mkdir(exist_ok=True)
        for filename, (columns, _) in SCHEDULER_TABLES.items():
            write_csv(folder / filename, [c.name for c in columns],
                      given.get(filename.removesuffix(".csv"), []))
        (folder / "fidelity.json").write_text(json.dumps(given.get("fidelity", {})))
    return directory


def run_with_attainment(directory, met_of_ten, **run_fields):
    """A run where scheduler s meets the SLO of ``met_of_ten[s]`` of 10 requests."""
    tables = {}
    for name, met in met_of_ten.items():
        requests = [request(request_id=f"r{i}", arrival_us=100 * i,
                            ttft_us=50 if i < met else 150) for i in range(10)]
        tables[name] = {"requests": requests,
                        "flows": [flow(flow_id=f"f{i}", request_id=f"r{i}") for i in range(10)]}
    return write_run(directory, tables, **run_fields)


QUALITY = {"mfs": 1.0, "karuna": 1.5, "edf": 1.8, "sjf": 2.0, "pias": 2.2, "fair": 2.6}


def synthetic_run(directory, schedulers=("fair", "sjf", "karuna", "mfs"), load=1.0, seed=0,
                  requests=12, **run_fields):
    """A plausible run of ``requests`` requests whose TTFTs grow with ``load``
    and with the scheduler's QUALITY (mfs best); every table has rows."""
    tables = {}
    for name in schedulers:
        rng = np.random.default_rng([seed, sum(map(ord, name))])
        quality = QUALITY.get(name, 2.0)
        flows, reqs, colls, changes, links = [], [], [], [], []
        for r in range(requests):
            rid, arrival = f"r{r}", round(r * 2000 / load, 3)
            t = arrival
            specs = [("kv_fetch", None, 4_000_000)]
            specs += [("collective", layer, 500_000) for layer in range(2) for _ in range(3)]
            specs += [("p2d", layer, 2_000_000) for layer in range(2)]
            for k, (stage, layer, size) in enumerate(specs):
                fid = f"{rid}.f{k}"
                ideal = size * 8 / 100e9 * 1e6
                wait = rng.uniform(0, 20) * load * quality
                fct = ideal * (1 + rng.exponential(0.4 * load * quality))
                queue = {"kv_fetch": 1, "collective": 2, "p2d": 3}[stage]
                promoted = name in ("mfs", "karuna") and stage == "p2d" and rng.random() < 0.5
                cid = f"{rid}.c{layer}" if stage == "collective" else ""
                flows.append(flow(flow_id=fid, request_id=rid, stage=stage,
                                  layer="" if layer is None else layer, collective_id=cid,
                                  src=f"h{1 + k % 3}", dst=f"h{7 + r % 2}", bytes=size,
                                  bottleneck_bps=100e9, ready_us=round(t, 3),
                                  start_us=round(t + wait, 3),
                                  first_byte_us=round(t + wait + 5, 3),
                                  end_us=round(t + wait + fct, 3), queue_initial=queue,
                                  queue_final=queue - 1 if promoted else queue,
                                  promotions=int(promoted), retransmits=int(rng.random() < 0.1)))
                changes.append({"time_us": round(t, 3), "flow_id": fid, "request_id": rid,
                                "old_queue": "", "new_queue": queue, "reason": "initial"})
                if promoted:
                    changes.append({"time_us": round(t + wait + fct / 2, 3), "flow_id": fid,
                                    "request_id": rid, "old_queue": queue,
                                    "new_queue": queue - 1, "reason": "promotion"})
                if stage != "collective" or k % 3 == 0:
                    t += wait + fct
            for layer in range(2):
                members = [f for f in flows if f["collective_id"] == f"{rid}.c{layer}"]
                ready = min(f["ready_us"] for f in members)
                end = max(f["end_us"] for f in members)
                colls.append({"collective_id": f"{rid}.c{layer}", "request_id": rid,
                              "layer": layer, "kind": "all_to_all", "flows": len(members),
                              "ready_us": ready, "end_us": end, "cct_us": round(end - ready, 3)})
            ttft = round(t - arrival + 300, 3)
            unfinished = load > 1.5 and r == requests - 1 and name != "mfs"
            reqs.append(request(request_id=rid, arrival_us=arrival, ttft_slo_us=1800,
                                ttft_us="" if unfinished else ttft,
                                scavenged="true" if name == "mfs" and r == 3 else "false"))
        for i in range(60):
            for link in ("h1->s1", "s1->h7", "s1->h8"):
                for queue in (1, 3):
                    links.append({"time_us": i * 500, "link": link, "queue": queue,
                                  "throughput_bps": round(rng.uniform(0, 50e9), 1),
                                  "backlog_bytes": round(max(0.0, rng.normal(2e5, 2e5)), 1)})
        fidelity = {"start_lag_p50_us": 12.5, "start_lag_p99_us": 80.0,
                    "link_utilization": {"h1->s1": 0.4, "s1->h7": 0.7},
                    "switch_cpu": 0.2, "unmodelled_drops": 0, "notes": ["synthetic"]}
        tables[name] = {"flows": flows, "requests": reqs, "collectives": colls,
                        "queue_changes": changes, "links": links, "fidelity": fidelity}
    return write_run(directory, tables, **run_fields)


def synthetic_sweep(directory, values=(0.5, 1.0, 1.5, 2.0), parameter="rate",
                    schedulers=("fair", "sjf", "karuna", "mfs")):
    """A sweep directory of synthetic_run points, laid out by run_sweep."""
    from analysis.sweep import run_sweep

    def run_point(value, point_dir):
        synthetic_run(point_dir, schedulers, load=value,
                      sweep={"parameter": parameter, "value": value})
    return run_sweep(parameter, list(values), run_point, directory, list(schedulers))


def chromium_binary():
    import shutil
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def in_ci():
    return os.environ.get("CI") == "true"


def run_cli(capsys, *argv):
    """Run ``run_emulation.py ARGV`` in-process; returns (exit code, stdout, stderr)."""
    os.environ["EMU_NO_REEXEC"] = "1"
    import run_emulation
    code = run_emulation.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
