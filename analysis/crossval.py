"""Cross-validation of two results directories of the same trace.

Typically the emulator (A) against the flow-level simulator (B): flows are
matched by ``flow_id`` and requests by ``request_id``; for each scheduler
in both, the error of B against A per flow (FCT) and per request (TTFT),
and attainment side by side; then whether both rank the schedulers the
same way by attainment.  Errors are relative: ``(B - A) / A``.
"""

import numpy as np
import pandas as pd

from analysis.stats import as_json_number

TOLERANCE = 0.05     # attainment difference the cross-validation target allows


def _relative_errors(a, b):
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    joined = joined[joined["a"] > 0]
    return (joined["b"] - joined["a"]) / joined["a"]


def _summary(errors):
    if errors.empty:
        return {"matched": 0, "median": None, "p90_abs": None}
    return {"matched": int(errors.size), "median": as_json_number(float(errors.median())),
            "p90_abs": as_json_number(float(np.percentile(errors.abs(), 90)))}


def _attainment(requests):
    judged = requests.dropna(subset=["ttft_slo_us"])
    return None if judged.empty else float(judged["slo_met"].astype(bool).mean())


def cross_validate(run_a, run_b):
    """{"schedulers": {name: {...}}, "ranking": {...}} for two RunResults."""
    names = [n for n in run_a.schedulers if n in run_b.schedulers]
    out = {}
    for name in names:
        a, b = run_a.schedulers[name], run_b.schedulers[name]
        fa, fb = a.flows.set_index("flow_id"), b.flows.set_index("flow_id")
        ra, rb = a.requests.set_index("request_id"), b.requests.set_index("request_id")
        by_stage = {stage: _summary(_relative_errors(fa.loc[fa["stage"] == stage, "fct_us"],
                                                      fb["fct_us"]))
                    for stage in sorted(set(fa["stage"]))}
        att_a, att_b = _attainment(a.requests), _attainment(b.requests)
        out[name] = {
            "flows_only_in_a": int(len(set(fa.index) - set(fb.index))),
            "flows_only_in_b": int(len(set(fb.index) - set(fa.index))),
            "fct_error": _summary(_relative_errors(fa["fct_us"], fb["fct_us"])),
            "fct_error_by_stage": by_stage,
            "ttft_error": _summary(_relative_errors(ra["ttft_us"], rb["ttft_us"])),
            "attainment_a": as_json_number(att_a), "attainment_b": as_json_number(att_b),
            "attainment_gap": None if att_a is None or att_b is None
            else as_json_number(round(att_b - att_a, 6)),
        }
    return {"schedulers": out, "ranking": ranking(out)}


def ranking(per_scheduler):
    """Both runs' scheduler orders by attainment, and whether they agree.

    Schedulers whose attainments are within ``TOLERANCE`` in a run are a tie
    there; the orders agree when no pair is strictly ordered one way in A
    and the other way in B.
    """
    names = [n for n, v in per_scheduler.items()
             if v["attainment_a"] is not None and v["attainment_b"] is not None]
    order_a = sorted(names, key=lambda n: -per_scheduler[n]["attainment_a"])
    order_b = sorted(names, key=lambda n: -per_scheduler[n]["attainment_b"])
    flipped = []
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            da = per_scheduler[x]["attainment_a"] - per_scheduler[y]["attainment_a"]
            db = per_scheduler[x]["attainment_b"] - per_scheduler[y]["attainment_b"]
            if abs(da) > TOLERANCE and abs(db) > TOLERANCE and da * db < 0:
                flipped.append([x, y])
    return {"order_a": order_a, "order_b": order_b, "flipped_pairs": flipped,
            "same_ranking": not flipped,
            "within_tolerance": all(abs(per_scheduler[n]["attainment_gap"]) <= TOLERANCE + 1e-9
                                    for n in names)}


def crossval_rows(result):
    """Rows of the side-by-side table: scheduler, attainment A / B, gap, errors."""
    rows = []
    for name, v in result["schedulers"].items():
        rows.append([name, _fmt(v["attainment_a"]), _fmt(v["attainment_b"]), _fmt(v["attainment_gap"]),
                     _pct(v["ttft_error"]["median"]), _pct(v["ttft_error"]["p90_abs"]),
                     _pct(v["fct_error"]["median"]), _pct(v["fct_error"]["p90_abs"])])
    return rows


def crossval_text(result):
    """The side-by-side table and the ranking verdict, for a terminal."""
    rows = [CROSSVAL_HEADER] + crossval_rows(result)
    widths = [max(len(r[i]) for r in rows) for i in range(len(CROSSVAL_HEADER))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    rank = result["ranking"]
    lines.append(f"ranking A: {' > '.join(rank['order_a'])}; B: {' > '.join(rank['order_b'])}; "
                 + ("same ranking" if rank["same_ranking"] else
                    "pairs ordered the other way: " + ", ".join("/".join(p) for p in
                                                               rank["flipped_pairs"]))
                 + ("; attainment within 0.05 for every scheduler" if rank["within_tolerance"]
                    else "; attainment differs by more than 0.05 for some"))
    return "\n".join(lines)


CROSSVAL_HEADER = ["scheduler", "att. A", "att. B", "B - A", "TTFT err. median", "TTFT |err| p90",
                   "FCT err. median", "FCT |err| p90"]


def _fmt(value):
    return "-" if value is None else f"{value:.3f}"


def _pct(value):
    return "-" if value is None else f"{100 * value:+.1f}%"
