"""Per-scheduler metrics of one results directory (formulas: RESULTS_FORMAT.md).

Each function takes the DataFrames read by :mod:`analysis.results_dir` and
returns an ordered {metric: number or None}; the key order is the column
order of summary.csv.  None means "no data" (e.g. no P2D flows), never 0.
"""

import pandas as pd

from analysis.schema import STAGES
from analysis.stats import mean, percentile, ratio

US_PER_S = 1e6


def request_metrics(requests):
    """TTFT SLO attainment, TTFT percentiles and SLO goodput."""
    n = len(requests)
    ttft = requests["ttft_us"]
    finished = ttft.notna()
    # A request that never finished has no TTFT and misses its SLO; a tie
    # meets it.  Attainment is over the requests that have an SLO: a
    # captured job has none, and reports no attainment rather than 0.
    has_slo = requests["ttft_slo_us"].notna()
    met = finished & (ttft <= requests["ttft_slo_us"])
    mismatches = int((requests["slo_met"].astype(bool) != met).sum())
    attainment = ratio(int(met.sum()), int(has_slo.sum())) if has_slo.any() else None
    arrivals = requests["arrival_us"]
    window_us = float(arrivals.max() - arrivals.min()) if n >= 2 else 0.0
    # n arrivals span n-1 inter-arrival gaps.
    offered = ratio((n - 1) * US_PER_S, window_us) if n >= 2 else None
    # Requests no scheduler could serve in time (requests.csv's ``feasible``:
    # empty without an SLO, and in results written before it existed).
    feasible = requests["feasible"]
    known = feasible.notna()
    feasible = feasible[known].astype(bool)
    met_feasible = int((met[known] & feasible).sum()) if known.any() else 0
    return {
        "requests": n,
        "requests_with_slo": int(has_slo.sum()),
        "requests_infeasible": int((~feasible).sum()) if known.any() else None,
        "slo_attainment_feasible": ratio(met_feasible, int(feasible.sum())) if known.any() else None,
        "requests_finished": int(finished.sum()),
        "requests_unfinished": int((~finished).sum()),
        "slo_met": int(met.sum()),
        "slo_attainment": attainment,
        "slo_met_column_mismatches": mismatches,
        "ttft_mean_us": mean(ttft),
        "ttft_p50_us": percentile(ttft, 50),
        "ttft_p90_us": percentile(ttft, 90),
        "ttft_p99_us": percentile(ttft, 99),
        "requests_scavenged": int(requests["scavenged"].astype(bool).sum()),
        "offered_rate_rps": offered,
        # requests that met their SLO per second of the arrival window
        "slo_goodput_rps": None if offered is None or attainment is None
        else int(met.sum()) / n * offered,
    }


def collective_metrics(collectives):
    """Collective completion time (CCT) over the collectives that finished."""
    cct = collectives["cct_us"]
    return {
        "collectives": len(collectives),
        "collectives_unfinished": int(cct.isna().sum()),
        "cct_mean_us": mean(cct),
        "cct_p50_us": percentile(cct, 50),
        "cct_p99_us": percentile(cct, 99),
    }


def completed_flows(flows):
    """Flows with status ok and an FCT, plus their isolated FCT and slowdown."""
    done = flows[(flows["status"] == "ok") & flows["fct_us"].notna()].copy()
    # Isolated FCT: the bytes alone at the line rate of the path's slowest
    # link, with no propagation, handshake or queueing delay.
    done["isolated_fct_us"] = done["bytes"].astype("float64") * 8 \
        / done["bottleneck_bps"] * US_PER_S
    done["slowdown"] = done["fct_us"] / done["isolated_fct_us"]
    return done


def flow_metrics(flows):
    """P2D FCT, per-stage slowdown and network goodput."""
    done = completed_flows(flows)
    p2d = done.loc[done["stage"] == "p2d", "fct_us"]
    out = {
        "flows": len(flows),
        "flows_completed": len(done),
        "flows_failed": int((flows["status"] == "failed").sum()),
        "p2d_flows": len(p2d),
        "p2d_fct_mean_us": mean(p2d),
        "p2d_fct_p50_us": percentile(p2d, 50),
        "p2d_fct_p99_us": percentile(p2d, 99),
        "slowdown_mean": mean(done["slowdown"]),
        "slowdown_p99": percentile(done["slowdown"], 99),
    }
    for stage in STAGES:
        slowdown = done.loc[done["stage"] == stage, "slowdown"]
        out[f"slowdown_{stage}_mean"] = mean(slowdown)
        out[f"slowdown_{stage}_p50"] = percentile(slowdown, 50)
        out[f"slowdown_{stage}_p99"] = percentile(slowdown, 99)
    span_us = float(done["end_us"].max() - done["start_us"].min()) if len(done) else 0.0
    out["goodput_bps"] = ratio(8 * float(done["bytes"].sum()) * US_PER_S, span_us) \
        if span_us > 0 else None
    out["promotions"] = int(flows["promotions"].sum())      # <NA> counts as 0
    out["retransmits"] = int(flows["retransmits"].sum())
    return out


def capture_comparison(measured, recorded):
    """Replayed against captured durations, for the pairs that have both.

    ``ratio`` is replayed / recorded; ``shape_error`` is how far each ratio
    lies from their median, ``|ratio / median - 1|``: it ignores one global
    factor (an unknown capture rate, a constant per-operation overhead) and
    shows whether the replay keeps the capture's relative timings.
    """
    both = pd.DataFrame({"measured": measured, "recorded": recorded}).dropna()
    both = both[both["recorded"] > 0]
    if both.empty:
        return 0, None, None, None
    ratios = both["measured"] / both["recorded"]
    middle = float(ratios.median())
    shape = (ratios / middle - 1).abs() if middle > 0 else pd.Series(dtype=float)
    return len(both), middle, percentile(shape, 50), percentile(shape, 90)


def capture_metrics(flows, collectives, requests):
    """Replay fidelity against a captured trace's own timings (None without)."""
    out = {}
    for name, kind, table, measured, recorded in (
            ("cct", "collectives", collectives, "cct_us", "capture_cct_us"),
            ("fct", "flows", flows, "fct_us", "capture_fct_us"),
            ("ttft", "requests", requests, "ttft_us", "capture_ttft_us")):
        count, middle, shape50, shape90 = capture_comparison(table[measured], table[recorded])
        out[f"capture_{kind}_compared"] = count
        out[f"capture_{name}_ratio_p50"] = middle
        out[f"capture_{name}_shape_error_p50"] = shape50
        out[f"capture_{name}_shape_error_p90"] = shape90
    return out


def scheduler_metrics(results):
    """Every metric of one :class:`~analysis.results_dir.SchedulerResults`."""
    return {**request_metrics(results.requests), **collective_metrics(results.collectives),
            **flow_metrics(results.flows),
            **capture_metrics(results.flows, results.collectives, results.requests)}


def attainment_ratios(metrics_by_scheduler, reference):
    """{baseline: reference's SLO attainment / baseline's}, None where undefined.

    Empty if ``reference`` is not among the schedulers.
    """
    if reference not in metrics_by_scheduler:
        return {}
    ours = metrics_by_scheduler[reference]["slo_attainment"]
    return {name: ratio(ours, m["slo_attainment"])
            for name, m in metrics_by_scheduler.items() if name != reference}
